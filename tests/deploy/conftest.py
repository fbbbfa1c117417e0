"""Shared helpers of the deployment suite: the Debian package and the example proxy configurations,
checked by the real tools (dpkg-deb, systemd-analyze, nginx -t, apache2ctl -t, a live nginx).

    .venv-it/bin/python -m pytest -q -p no:cacheprovider tests/deploy

Needs what `scripts/install-test-deps` installs (cargo-deb, nginx, apache2 and its SSO modules) and a
built jmb (`$JMB_BIN`, else `$CARGO_TARGET_DIR/debug/jmb`, else `target/debug/jmb`).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


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
    pytest.fail("jmb binary not found (looked at: " + ", ".join(map(str, candidates)) + "): run `cargo build`",
                pytrace=False)


def tool(name: str) -> str:
    """A program the tests need; missing means the machine was not prepared (never a skip)."""
    for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        if os.access(f"{d}/{name}", os.X_OK):
            return f"{d}/{name}"
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: run scripts/install-test-deps", pytrace=False)
    return found


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
