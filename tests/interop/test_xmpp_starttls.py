"""The bot over STARTTLS (`xmpp.security = "starttls"`, the default) to a real Prosody whose certificate comes
from an internal CA (trustme) given to jmb as `xmpp.ca_file`: the warning arrives, over TLS. With a CA jmb does
not trust, the bot refuses to sign in: nothing is posted, the warning is kept as failed."""
from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import trustme

from conftest import start_jmb, stop_jmb
from xmpp_peer import (BOT, BOT_NICK, DOMAIN, MUC, Clock, metric, next_start, start_observer,
                       start_prosody)


def jmb_config(prosody, ca_file: Path) -> str:
    return f"""\
transport = "mailbox"
[xmpp]
jid = "{BOT[0]}@{DOMAIN}"
password = "{BOT[1]}"
muc_domain = "{MUC}"
server = "127.0.0.1:{prosody.port}"
security = "starttls"
ca_file = "{ca_file}"
timeout_seconds = 5
"""


@pytest.fixture(scope="module")
def tls_prosody():
    ca = trustme.CA()
    cert = ca.issue_cert(DOMAIN)
    chain = b"".join(p.bytes() for p in cert.cert_chain_pems)
    prosody = start_prosody(cert=(chain, cert.private_key_pem.bytes()))
    workdir = Path(tempfile.mkdtemp(prefix="jmb-xmpp-tls-"))
    ca.cert_pem.write_to_path(str(workdir / "ca.pem"))
    trustme.CA().cert_pem.write_to_path(str(workdir / "other-ca.pem"))
    try:
        yield prosody, workdir
    finally:
        prosody.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(prosody.dir, ignore_errors=True)


@pytest.mark.parametrize("trusted", [True, False], ids=["internal-ca", "untrusted-ca"])
def test_the_bot_signs_in_over_starttls_only_to_a_server_it_trusts(tls_prosody, trusted):
    prosody, base = tls_prosody
    workdir = Path(tempfile.mkdtemp(prefix="jmb-", dir=base))
    clock = Clock(workdir / "clock-offset")
    ca = base / ("ca.pem" if trusted else "other-ca.pem")
    server = start_jmb(workdir, mail=jmb_config(prosody, ca), env={"JMB_TEST_CLOCK_FILE": str(clock.path)})
    try:
        start = next_start(clock)
        end = start + dt.timedelta(minutes=30)
        meeting = server.book("Réunion chiffrée", start, 30)
        observer = start_observer(prosody, [meeting["room"]])
        try:
            starttls_before = prosody.log.read_text(errors="replace").count("<starttls")
            clock.set(end - dt.timedelta(minutes=15, seconds=1))
            if trusted:
                observer.next_line("MSG ", timeout=10)
                assert observer.messages(wait=1.0) == [
                    f"{meeting['room']} {BOT_NICK}: La réunion se termine dans 15 minutes ..."]
            else:
                deadline = time.monotonic() + 10
                while metric(server, 'jmb_room_warnings{outcome="failed"}') < 1:
                    assert time.monotonic() < deadline, server.log.read_text()[-3000:]
                    time.sleep(0.1)
                assert observer.messages(wait=1.0) == []
                assert "room warning refused" in server.log.read_text()
            # Either way the bot asked for TLS (the observer stays on plain TCP).
            assert prosody.log.read_text(errors="replace").count("<starttls") > starttls_before
        finally:
            observer.stop()
    finally:
        stop_jmb(server)
