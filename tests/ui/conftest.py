"""Fixtures for the browser tests: the real `jmb` binary on a free loopback port with a throw-away
configuration and database (demo sign-in), and Debian's Chromium driven by Playwright.

axe-core (tests/ui/node_modules, pinned by tests/ui/package-lock.json, installed by
scripts/install-test-deps) is added to every page of every context as an init script, which the
page's Content-Security-Policy does not apply to; `axe_check` runs it.

Nothing is built here: the binary comes from $JMB_BIN, else $CARGO_TARGET_DIR/debug/jmb, else
target/debug/jmb (build it first with `cargo build`). The browser is /usr/bin/chromium unless
$CHROMIUM says otherwise; `playwright install` is never needed.
"""

import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parents[2]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def jmb_binary() -> Path:
    if os.environ.get("JMB_BIN"):
        return Path(os.environ["JMB_BIN"])
    target = os.environ.get("CARGO_TARGET_DIR")
    base = Path(target) if target else REPO / "target"
    if not base.is_absolute():
        base = REPO / base
    return base / "debug" / "jmb"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONFIG = """\
[server]
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
site_name = "Visio Test"
default_language = "fr"
display_time_zone = "Europe/Paris"

[database]
path = "{db}"

[jitsi]
base_url = "https://meet.example.org"
app_secret = "browser-test-secret-0123456789abcdef-xyz"

[auth]
mode = "demo"
editors = ["jdupont", "mmartin"]
demo_users = [
  {{ uid = "jdupont", mail = "jean.dupont@example.org", name = "Jean Dupont" }},
  {{ uid = "mmartin", mail = "marie.martin@example.org", name = "Marie Martin" }},
  {{ uid = "visitor", mail = "paul.visiteur@example.org", name = "Paul Visiteur" }},
]

[mail]
internal_domains = ["example.org"]
transport = "mailbox"
from = "noreply@example.org"
"""


@pytest.fixture(scope="session")
def jmb_server():
    """Starts jmb, yields its base URL, stops it."""
    binary = jmb_binary()
    if not binary.is_file():
        pytest.fail(f"jmb binary not found at {binary}: run `cargo build` or set JMB_BIN")
    workdir = Path(tempfile.mkdtemp(prefix="jmb-ui-"))
    port = free_port()
    config = workdir / "jmb.toml"
    config.write_text(CONFIG.format(port=port, db=(workdir / "jmb.db").as_posix()))
    log = open(workdir / "jmb.log", "wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JMB_")}
    env["RUST_LOG"] = env.get("RUST_LOG", "info")
    proc = subprocess.Popen(
        [str(binary), "serve", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jmb exited with {proc.returncode}: {(workdir / 'jmb.log').read_text()}")
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jmb did not answer /healthz within 30 s: {(workdir / 'jmb.log').read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), headless=True, args=CHROMIUM_ARGS
        )
        yield b
        b.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    """Where screenshots go: a temporary folder, or the user guide's folder when refreshing it with
    `JMB_SCREENSHOTS=docs/screenshots scripts/test` (so ordinary runs leave the work tree clean)."""
    wanted = os.environ.get("JMB_SCREENSHOTS")
    d = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return d


AXE = REPO / "tests" / "ui" / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2, levels A and AA: what the pages promise.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def with_axe(context):
    """Makes axe-core available on every page of `context`."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run scripts/install-test-deps")
    context.add_init_script(path=str(AXE))
    return context


def axe_violations(page) -> list:
    """axe-core's violations on the page as it is now, as readable lines."""
    found = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
            return r.violations.map(v => `${v.id} (${v.impact}): ${v.help} @ ${v.nodes.map(n => n.target.join(" ")).slice(0, 4).join(" | ")}`);
        }""",
        AXE_TAGS,
    )
    return found


def no_sideways_scroll(page) -> bool:
    """Nothing wider than the viewport (WCAG 1.4.10 reflow)."""
    return page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")


# The narrowest screen the pages must fit without sideways scrolling (WCAG 1.4.10: 320 CSS px).
NARROW = (320, 640)

class Audit:
    """Every axe-core violation and every page wider than 320 px seen during one test."""

    def __init__(self):
        self.problems = []
        self.states = 0

    def page(self, page: Page, label: str, all_widths: bool = True):
        """axe-core on the page as it is, at phone and desktop widths (`all_widths=False`: at its
        current width only), then the 320 px reflow."""
        self.states += 1
        size = page.viewport_size
        widths = [(390, 844), (1280, 800)] if all_widths else [(size["width"], size["height"])]
        for w, h in widths:
            page.set_viewport_size({"width": w, "height": h})
            for v in axe_violations(page):
                self.problems.append(f"{label} @ {w}px: {v}")
        page.set_viewport_size({"width": NARROW[0], "height": NARROW[1]})
        if not no_sideways_scroll(page):
            wide = page.evaluate(
                """() => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
                    .slice(0, 5).map(e => `${e.tagName}#${e.id}.${e.className} right=${e.getBoundingClientRect().right}`)
                    .concat([`scrollWidth=${document.documentElement.scrollWidth} clientWidth=${document.documentElement.clientWidth}`])"""
            )
            self.problems.append(f"{label}: scrolls sideways at 320 px: {wide}")
        page.set_viewport_size(size)

    def check(self):
        assert not self.problems, "\n".join(self.problems)


AUDIT = Audit()


@pytest.fixture(autouse=True)
def audit():
    """Each test starts with an empty audit and fails at its end on anything the audit saw."""
    AUDIT.problems.clear()
    AUDIT.states = 0
    yield AUDIT
    print(f"\naudit: {AUDIT.states} page states checked with axe-core and at 320 px")
    AUDIT.check()
