"""A real Prosody (the Debian package) for the XMPP tests, started unprivileged on a free loopback port, and the
observer (tests/interop/muc_observer.py, slixmpp) that sits in rooms and reports what it reads.

Prosody: one VirtualHost `meet.test` (internal_hashed storage: SCRAM-SHA-1 over plain TCP, as Jitsi's `auth.`
host offers), a MUC component `conference.meet.test` with `restrict_room_creation = true` (only admins create
rooms, as Jicofo does for Jitsi), the accounts `jmb-bot` (jmb's bot, not an admin) and `alice` (the observer, an
admin). Prosody refuses to run as root: as root (CI), the folder is given to the `prosody` user and the daemon
runs as that user (see /work/shared/reference/test-peers.md §2).
"""
from __future__ import annotations

import datetime as dt
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = "meet.test"
MUC = "conference.meet.test"
BOT = ("jmb-bot", "botpw-0123456789")
OBSERVER = ("alice", "alicepw-0123456789")

INSTALL_HINT = "install the test peers with scripts/install-test-deps (Debian package `prosody`)"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Prosody:
    dir: Path
    port: int
    proc: subprocess.Popen | None = None

    @property
    def config(self) -> Path:
        return self.dir / "prosody.cfg.lua"

    @property
    def log(self) -> Path:
        return self.dir / "prosody.log"

    def _as_prosody(self) -> list[str]:
        return ["runuser", "-u", "prosody", "--"] if os.geteuid() == 0 else []

    def start(self) -> None:
        out = open(self.dir / "stdout.log", "ab")
        self.proc = subprocess.Popen(self._as_prosody() + ["prosody", "--config", str(self.config), "-F"],
                                     stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while not port_open(self.port):
            if self.proc.poll() is not None:
                pytest.fail(f"prosody exited with {self.proc.returncode}:\n{self.tail()}", pytrace=False)
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"prosody did not listen on {self.port} within 15 s:\n{self.tail()}", pytrace=False)
            time.sleep(0.1)

    def stop(self) -> None:
        """Stops the daemon by its PID (the one this harness started) and waits until the port is closed."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None
        deadline = time.monotonic() + 10
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.1)

    def tail(self, n: int = 40) -> str:
        text = ""
        for f in (self.dir / "stdout.log", self.log):
            if f.exists():
                text += f"--- {f.name}\n" + "\n".join(f.read_text(errors="replace").splitlines()[-n:]) + "\n"
        return text


def start_prosody(cert: tuple[bytes, bytes] | None = None) -> Prosody:
    """`cert`: PEM certificate chain and key for `meet.test`; Prosody then offers STARTTLS (not required,
    so the observer may stay on plain TCP)."""
    if shutil.which("prosody") is None or shutil.which("prosodyctl") is None:
        pytest.fail(f"prosody is not installed: {INSTALL_HINT}", pytrace=False)
    d = Path(tempfile.mkdtemp(prefix="jmb-prosody-"))
    (d / "data").mkdir()
    (d / "certs").mkdir()
    if cert:
        (d / "certs" / f"{DOMAIN}.crt").write_bytes(cert[0])
        (d / "certs" / f"{DOMAIN}.key").write_bytes(cert[1])
        (d / "certs" / f"{DOMAIN}.key").chmod(0o600)
    port = free_port()
    p = Prosody(d, port)
    p.config.write_text(f"""\
pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
certificates = "{d}/certs"
log = {{ {{ levels = {{ min = "debug" }}, to = "file", filename = "{p.log}" }} }}
c2s_ports = {{ {port} }}
c2s_interfaces = {{ "127.0.0.1" }}
s2s_ports = {{ }}
component_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
modules_enabled = {{ "roster"; "saslauth"; "disco"; "ping"{'; "tls"' if cert else ""} }}
modules_disabled = {{ "s2s" }}
c2s_require_encryption = false
authentication = "internal_hashed"
storage = "internal"
admins = {{ "{OBSERVER[0]}@{DOMAIN}" }}

VirtualHost "{DOMAIN}"
{f'    ssl = {{ certificate = "{d}/certs/{DOMAIN}.crt"; key = "{d}/certs/{DOMAIN}.key" }}' if cert else ""}

Component "{MUC}" "muc"
    restrict_room_creation = true
    muc_room_locking = false
    muc_room_default_public = true
""")
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "prosody:prosody", str(d)], check=True)
    for user, password in (BOT, OBSERVER):
        r = subprocess.run(["prosodyctl", "--config", str(p.config), "register", user, DOMAIN, password],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            pytest.fail(f"prosodyctl register {user} failed: {r.stdout}{r.stderr}", pytrace=False)
    p.start()
    return p


@dataclass
class Observer:
    """The observer process; its lines are collected with the time they arrived."""
    proc: subprocess.Popen
    lines: "queue.Queue[tuple[float, str]]" = field(default_factory=queue.Queue)
    seen: list[tuple[float, str]] = field(default_factory=list)

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put((time.monotonic(), line.rstrip("\n")))

    def next_line(self, prefix: str, timeout: float) -> tuple[float, str]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                t, line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {prefix!r} line within {timeout} s; seen: {self.seen}") from None
            self.seen.append((t, line))
            if line.startswith(prefix):
                return t, line

    def messages(self, wait: float = 0.0) -> list[str]:
        """Every MSG line received so far (after waiting `wait` seconds for more)."""
        end = time.monotonic() + wait
        while True:
            try:
                self.seen.append(self.lines.get(timeout=max(0.0, end - time.monotonic())))
            except queue.Empty:
                break
        return [line[4:] for _, line in self.seen if line.startswith("MSG ")]

    def command(self, line: str, answer: str, timeout: float = 10) -> str:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.next_line(answer, timeout)[1]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start_observer(prosody: Prosody, rooms: list[str], nick: str = "Alice") -> Observer:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/interop/muc_observer.py"), str(prosody.port), f"{OBSERVER[0]}@{DOMAIN}",
         OBSERVER[1], MUC, nick, *rooms],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    obs = Observer(proc)
    threading.Thread(target=obs._pump, daemon=True).start()
    try:
        obs.next_line("JOINED", timeout=20)
    except AssertionError:
        obs.stop()
        raise
    return obs


# The bot's nickname (the default of xmpp.nick).
BOT_NICK = "Jitsi-Bot"


class Clock:
    """jmb's clock: the real time shifted by the offset in a file jmb re-reads every 50 ms."""

    def __init__(self, path: Path):
        self.path, self.offset = path, 0
        self.path.write_text("0")

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(time.time() + self.offset, dt.timezone.utc)

    def set(self, target: dt.datetime) -> None:
        self.offset = round(target.timestamp() - time.time())
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(str(self.offset))
        tmp.replace(self.path)
        time.sleep(0.2)  # jmb reads it within 50 ms


def next_start(clock: Clock) -> dt.datetime:
    """The first quarter hour at least a minute after jmb's now."""
    t = (clock.now() + dt.timedelta(minutes=1)).replace(second=0, microsecond=0)
    return t + dt.timedelta(minutes=(-t.minute) % 15)


def metric(server, name: str) -> float:
    text = requests.get(server.url + "/metrics", timeout=10).text
    m = re.search(r"^" + re.escape(name) + r" (\S+)$", text, re.M)
    assert m, f"{name} not in /metrics"
    return float(m.group(1))
