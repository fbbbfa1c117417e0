"""Shared fixtures for the interop suite: a real `jmb serve` on a free loopback port, per test module.

Run the whole suite with (after `scripts/install-test-deps` and `cargo build`):

    .venv-it/bin/pytest -q tests/interop

The binary is `$JMB_BIN`, else `$CARGO_TARGET_DIR/debug/jmb`, else `target/debug/jmb`. Each test module
gets its own server and database (module-scoped fixture), so counts of meetings are exact per module.
Identity comes from the trusted proxy headers (requests from 127.0.0.1 are trusted).
"""
from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
SECRET = "interop-test-secret-0123456789abcdef0123"
JITSI = "https://meet.example.org"

USERS = {
    "jdupont": ("jean.dupont@example.org", "Jean Dupont"),
    "mmartin": ("marie.martin@example.org", "Marie Martin"),
    "visitor": ("paul.visiteur@example.org", "Paul Visiteur"),
}


def jmb_binary() -> Path:
    candidates = []
    if os.environ.get("JMB_BIN"):
        candidates.append(Path(os.environ["JMB_BIN"]))
    if os.environ.get("CARGO_TARGET_DIR"):
        candidates.append(Path(os.environ["CARGO_TARGET_DIR"]) / "debug" / "jmb")
    candidates.append(ROOT / "target" / "debug" / "jmb")
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    pytest.fail(
        "jmb binary not found (looked at: " + ", ".join(map(str, candidates)) + "). "
        "Build it with `cargo build` or run `scripts/test`, which installs the test peers and builds first.",
        pytrace=False,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def identity(uid: str) -> dict[str, str]:
    mail, name = USERS[uid]
    return {"X-Remote-User": uid, "X-Remote-Mail": mail, "X-Remote-Name": name}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def quarter_in(days: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    """A start `days` days from today at hour:minute UTC (always in the future for days >= 1)."""
    d = utc_now().date() + dt.timedelta(days=days)
    return dt.datetime(d.year, d.month, d.day, hour, minute, tzinfo=dt.timezone.utc)


def next_quarter_soon() -> dt.datetime:
    """The next quarter hour that is in the future and at most 14.5 minutes away (sleeps ≤ 50 s if needed),
    so a moderator (15 min early) may already enter it."""
    now = utc_now()
    base = (now + dt.timedelta(seconds=20)).replace(second=0, microsecond=0)
    start = base + dt.timedelta(minutes=(-base.minute) % 15)
    if start <= now + dt.timedelta(seconds=20):
        start += dt.timedelta(minutes=15)
    wait = (start - now).total_seconds() - 14.5 * 60
    if wait > 0:
        time.sleep(wait)
    return start


def extract(pattern: str, text: str) -> str:
    m = re.search(pattern, text)
    assert m, f"pattern {pattern!r} not found in page:\n{text[:2000]}"
    return html.unescape(m.group(1))


def form_csrf(page: str, action: str) -> str:
    """The CSRF token of the form posting to `action` (each form carries the token bound to the identity
    the request posting it will carry; the layout's language switch has a browser-bound one)."""
    for form in page.split("<form")[1:]:
        if f'action="{action}"' in form:
            return extract(r'name="csrf" value="([^"]+)"', form)
    raise AssertionError(f"no form posting to {action} in page:\n{page[:2000]}")


def as_entry(attendee: dict) -> str:
    """An attendee as typed in the booking form: `Name <mail>` or the bare address."""
    return f"{attendee['name']} <{attendee['mail']}>" if attendee.get("name") else attendee["mail"]


@dataclass
class Jmb:
    url: str
    proc: subprocess.Popen
    log: Path
    _passwords: dict[str, str] = field(default_factory=dict)
    _feeds: dict[str, str] = field(default_factory=dict)

    def session(self, uid: str | None = None) -> requests.Session:
        s = requests.Session()
        if uid:
            s.headers.update(identity(uid))
        return s

    def api(self, method: str, path: str, uid: str, body=None) -> requests.Response:
        return requests.request(method, self.url + path, headers=identity(uid), json=body, timeout=10,
                                allow_redirects=False)

    def book(self, subject: str, start: dt.datetime, duration: int = 60, *, uid: str = "jdupont",
             moderators=(), guests=("guest.one@example.com",)) -> dict:
        body = {"subject": subject, "start": iso(start), "duration": duration,
                "moderators": list(moderators), "guests": list(guests)}
        r = self.api("POST", "/api/v1/meetings", uid, body)
        assert r.status_code == 201, f"booking failed: {r.status_code} {r.text}"
        return r.json()

    def update(self, meeting: dict, **changes) -> dict:
        body = {
            "subject": meeting["subject"],
            "start": meeting["start"],
            "duration": meeting["duration"],
            "moderators": [as_entry(a) for a in meeting["attendees"] if a["role"] == "moderator"],
            "guests": [as_entry(a) for a in meeting["attendees"] if a["role"] == "guest"],
        }
        body.update(changes)
        r = self.api("PUT", f"/api/v1/meetings/{meeting['id']}", "jdupont", body)
        assert r.status_code == 200, f"update failed: {r.status_code} {r.text}"
        return r.json()

    def delete(self, meeting: dict) -> None:
        r = self.api("DELETE", f"/api/v1/meetings/{meeting['id']}", "jdupont")
        assert r.status_code == 204, f"delete failed: {r.status_code} {r.text}"

    def _access_page(self, uid: str) -> tuple[requests.Session, str]:
        s = self.session(uid)
        r = s.get(self.url + "/calendar", timeout=10)
        assert r.status_code == 200, r.text
        return s, r.text

    def feed_url(self, uid: str = "jdupont") -> str:
        if uid not in self._feeds:
            _, page = self._access_page(uid)
            self._feeds[uid] = extract(r'id="feed-https"[^>]*value="([^"]+)"', page)
        return self._feeds[uid]

    def dav_password(self, uid: str = "jdupont") -> str:
        """Generates the user's CalDAV password once per server (a new one replaces the old)."""
        if uid not in self._passwords:
            s, page = self._access_page(uid)
            csrf = form_csrf(page, "/calendar/password")
            assert "jmb_csrf" in s.cookies, "the access page sets the CSRF cookie"
            r = s.post(self.url + "/calendar/password", data={"csrf": csrf}, timeout=10)
            assert r.status_code == 200, r.text
            self._passwords[uid] = extract(r'id="dav-password"[^>]*value="([^"]+)"', r.text)
        return self._passwords[uid]

    def rsvp(self, rsvp_url: str, answer: str) -> requests.Response:
        """Answers through the web flow as a browser would: show the page, then POST with its CSRF token."""
        token = rsvp_url.rstrip("/").rsplit("/", 1)[-1]
        s = requests.Session()
        r = s.get(f"{self.url}/rsvp/{token}", timeout=10)
        assert r.status_code == 200, r.text
        csrf = form_csrf(r.text, f"/rsvp/{token}")
        r = s.post(f"{self.url}/rsvp/{token}", data={"answer": answer, "csrf": csrf}, timeout=10)
        assert r.status_code == 200, f"{r.status_code} {r.text[:500]}"
        return r

    def dav_url(self, uid: str = "jdupont") -> str:
        return f"{self.url}/dav/principals/{uid}/meetings/"


def start_jmb(workdir: Path, mail: str = 'transport = "mailbox"', port: int | None = None,
              env: dict[str, str] | None = None) -> Jmb:
    """Starts `jmb serve` on a throw-away configuration in `workdir` (its database stays there, so a
    second call with the same folder is a restart). `mail`: lines of the [mail] section (further sections
    may follow them). `env`: extra environment variables."""
    binary = jmb_binary()
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    config = workdir / "jmb.toml"
    config.write_text(f"""\
[server]
listen = "127.0.0.1:{port}"
public_url = "{url}"
[database]
path = "{workdir / 'jmb.sqlite3'}"
[jitsi]
base_url = "{JITSI}"
app_secret = "{SECRET}"
[auth]
mode = "trusted-header"
editors = ["jdupont", "mmartin"]
[mail]
internal_domains = ["example.org"]
{mail}
""")
    log = workdir / "jmb.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(binary), "serve", "--config", str(config)], stdout=out,
                                stderr=subprocess.STDOUT, cwd=workdir, env={**os.environ, **(env or {})})
    for _ in range(100):  # bounded: 10 s
        if proc.poll() is not None:
            pytest.fail(f"jmb exited with {proc.returncode}:\n{log.read_text()}", pytrace=False)
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                return Jmb(url=url, proc=proc, log=log)
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"jmb did not answer /healthz within 10 s:\n{log.read_text()}", pytrace=False)


def kill_jmb(server: Jmb) -> None:
    """kill -9: no chance to finish anything."""
    server.proc.kill()
    server.proc.wait(timeout=10)


def stop_jmb(server: Jmb) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def jmb():
    workdir = Path(tempfile.mkdtemp(prefix="jmb-interop-"))
    server = start_jmb(workdir)
    try:
        yield server
    finally:
        stop_jmb(server)
        shutil.rmtree(workdir, ignore_errors=True)


# ---- a real SMTP server on loopback ----

@dataclass
class Received:
    raw: bytes
    mail_from: str
    rcpt_tos: list[str]

    @property
    def msg(self):
        import email
        import email.policy
        return email.message_from_bytes(self.raw, policy=email.policy.default)


@dataclass
class Sink:
    port: int
    dir: Path
    proc: subprocess.Popen

    def mails(self) -> list[Received]:
        out = []
        for eml in sorted(self.dir.glob("*.eml")):
            meta = json.loads(eml.with_suffix(".json").read_text())
            out.append(Received(eml.read_bytes(), meta["mail_from"], meta["rcpt_tos"]))
        return out

    def wait_for(self, n: int, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while True:
            mails = self.mails()
            if len(mails) >= n:
                time.sleep(0.3)  # catch any extra one
                return self.mails()
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {n} mails, got {len(mails)}: "
                                     f"{[(m.rcpt_tos, m.msg['subject']) for m in mails]}")
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_sink(port: int | None = None, *args: str) -> Sink:
    """aiosmtpd (tests/interop/smtp_sink.py) on loopback, storing each message as received."""
    port = port or free_port()
    d = Path(tempfile.mkdtemp(prefix="jmb-smtp-"))
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests/interop/smtp_sink.py"), "--port", str(port),
                             "--dir", str(d / "mails"), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    line = proc.stdout.readline().decode()
    if "READY" not in line:
        proc.kill()
        pytest.fail(f"the SMTP sink did not start: {line}{proc.stdout.read().decode()}", pytrace=False)
    return Sink(port, d / "mails", proc)


@pytest.fixture()
def sink():
    s = start_sink()
    try:
        yield s
    finally:
        s.stop()
