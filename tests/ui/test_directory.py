"""Address completion on the booking form, in a real browser against a real slapd (tests/ldap/, the data of
the Rust directory tests): the search field appears (it is the script's), suggestions come from the
directory, "Add as moderator" adds the chosen person; axe-core finds nothing on the form with the field,
nor with the notice shown once slapd is stopped (which jmb must also say without waiting).

Run: cargo build && .venv-it/bin/python -m pytest tests/ui/test_directory.py -q
"""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from conftest import AUDIT, CONFIG, REPO, free_port, jmb_binary, with_axe


def tool(name: str) -> str:
    for d in ("/usr/sbin", "/usr/bin", "/usr/local/sbin"):
        if os.access(f"{d}/{name}", os.X_OK):
            return f"{d}/{name}"
    pytest.fail(f"{name} is not installed: run scripts/install-test-deps (Debian packages slapd and ldap-utils)")


class Slapd:
    """slapd in the foreground on a free loopback port, in its own folder; stopped by its PID."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="jmb-ldap-"))
        (self.dir / "slapd.d").mkdir()
        (self.dir / "db").mkdir()
        config = (REPO / "tests/ldap/config.ldif").read_text().replace("@DIR@", str(self.dir))
        (self.dir / "config.ldif").write_text(config)
        for db, ldif in (("0", self.dir / "config.ldif"), ("1", REPO / "tests/ldap/data.ldif")):
            subprocess.run(
                [tool("slapadd"), "-q", "-n", db, "-F", str(self.dir / "slapd.d"), "-l", str(ldif)],
                check=True,
                capture_output=True,
            )
        self.port = free_port()
        self.proc = subprocess.Popen(
            [tool("slapd"), "-d", "0", "-F", str(self.dir / "slapd.d"), "-h", f"ldap://127.0.0.1:{self.port}/"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        pytest.fail(f"slapd did not answer on port {self.port}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture()
def slapd():
    s = Slapd()
    yield s
    s.close()


@pytest.fixture()
def jmb_with_directory(slapd):
    workdir = Path(tempfile.mkdtemp(prefix="jmb-ui-dir-"))
    port = free_port()
    (workdir / "bind.pw").write_text("bindpw\n")
    config = CONFIG.format(port=port, db=(workdir / "jmb.db").as_posix()) + f"""
[directory]
url = "ldap://127.0.0.1:{slapd.port}"
security = "plaintext-loopback"
bind_dn = "uid=jmb-bind,ou=system,dc=example,dc=org"
bind_password_file = "{(workdir / 'bind.pw').as_posix()}"
base_dn = "dc=example,dc=org"
timeout_seconds = 1
"""
    (workdir / "jmb.toml").write_text(config)
    log = open(workdir / "jmb.log", "wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JMB_")}
    proc = subprocess.Popen(
        [str(jmb_binary()), "serve", "--config", str(workdir / "jmb.toml")],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            if proc.poll() is not None:
                pytest.fail(f"jmb exited: {(workdir / 'jmb.log').read_text()}")
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def test_completion_adds_people_and_the_form_says_when_the_directory_is_down(jmb_with_directory, slapd, browser):
    base = jmb_with_directory
    context = with_axe(browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 800}))
    errors = []
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "/meetings/new")
    page.get_by_role("button", name="Se connecter en tant que Jean Dupont").click()
    expect(page.get_by_role("heading", name="Nouvelle réunion", level=1)).to_be_visible()

    search = page.get_by_label("Chercher une personne dans l'annuaire")
    expect(search).to_be_visible()
    search.fill("Mar")
    option = page.locator("#dir-results option")
    expect(option).to_have_count(1)
    assert option.get_attribute("value") == "Marie Martin <marie.martin@example.org>"
    search.fill("Marie Martin <marie.martin@example.org>")
    page.get_by_role("button", name="Ajouter comme modérateur").click()
    expect(page.get_by_label(re.compile("^Modérateurs"))).to_have_value("Marie Martin <marie.martin@example.org>")
    expect(search).to_have_value("")
    AUDIT.page(page, "form-with-completion")

    # The directory stops: the form says so (in the page, not after a wait), and the field is gone.
    slapd.stop()
    started = time.monotonic()
    page.reload()
    expect(page.locator("#directory-down")).to_contain_text("L'annuaire ne répond pas")
    assert time.monotonic() - started < 3.5
    expect(page.locator("#dir-search")).to_have_count(0)
    AUDIT.page(page, "form-directory-down")
    assert not errors, errors
    context.close()
