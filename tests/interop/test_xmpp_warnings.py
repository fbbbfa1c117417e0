"""End-of-meeting warnings (`[xmpp]`) against a real Prosody, seen by a real client in the room (slixmpp).

jmb's clock is moved by the test (`JMB_TEST_CLOCK_FILE`, a test-only switch of `jmb serve`): each step puts
jmb one second before a warning's time, and the observer must read the warning shortly after, not before,
once, in the organiser's language. Prosody restricts room creation as Jitsi does, so the bot can never
create a room; a meeting nobody joined gets no room and no message. Prosody is stopped while a warning is
due: the warning fails, is retried, and arrives once when Prosody is back.
"""
from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from conftest import form_csrf, start_jmb, stop_jmb
from xmpp_peer import (BOT, BOT_NICK, DOMAIN, MUC, Clock, metric, next_start, start_observer,
                       start_prosody)

@pytest.fixture(scope="module")
def stack():
    prosody = start_prosody()
    workdir = Path(tempfile.mkdtemp(prefix="jmb-xmpp-"))
    clock = Clock(workdir / "clock-offset")
    xmpp = f"""\
transport = "mailbox"
[xmpp]
jid = "{BOT[0]}@{DOMAIN}"
password = "{BOT[1]}"
muc_domain = "{MUC}"
server = "127.0.0.1:{prosody.port}"
security = "plaintext-loopback"
timeout_seconds = 5
retry_initial_seconds = 30
retry_max_seconds = 60
"""
    server = start_jmb(workdir, mail=xmpp, env={"JMB_TEST_CLOCK_FILE": str(clock.path)})
    try:
        yield server, prosody, clock
    finally:
        stop_jmb(server)
        prosody.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(prosody.dir, ignore_errors=True)


def choose_english(server, uid: str) -> None:
    s = server.session(uid)
    page = s.get(server.url + "/meetings", timeout=10)
    assert page.status_code == 200, page.text
    r = s.post(server.url + "/lang", data={"csrf": form_csrf(page.text, "/lang"), "lang": "en", "next": "/"},
               timeout=10, allow_redirects=False)
    assert r.status_code in (302, 303), r.text


def test_each_warning_arrives_once_at_its_time_in_the_organisers_language(stack):
    server, prosody, clock = stack
    choose_english(server, "mmartin")
    start = next_start(clock)
    end = start + dt.timedelta(minutes=30)
    fr = server.book("Point hebdo", start, 30)
    en = server.book("Weekly sync", start, 30, uid="mmartin")
    nobody = server.book("Personne", start, 30)
    rooms = {fr["room"]: "fr", en["room"]: "en"}
    observer = start_observer(prosody, [fr["room"], en["room"]])
    try:
        expected = []
        for minutes in (15, 5, 0):
            # Nothing before its time.
            assert sorted(observer.messages(wait=1.0)) == sorted(expected), "a warning came early or twice"
            clock.set(end - dt.timedelta(minutes=minutes, seconds=1))
            moved = time.monotonic()
            fr_text = f"La réunion se termine dans {minutes} minutes ..." if minutes else "La réunion est terminée !!"
            en_text = f"The meeting ends in {minutes} minutes..." if minutes else "The meeting is over!"
            arrivals = [observer.next_line("MSG ", timeout=10)[0] for _ in rooms]
            expected += [f"{fr['room']} {BOT_NICK}: {fr_text}", f"{en['room']} {BOT_NICK}: {en_text}"]
            assert sorted(observer.messages()) == sorted(expected)
            # At its time: one second after the move (plus the clock's rounding and the exchange).
            assert all(0.5 < t - moved < 6 for t in arrivals), [t - moved for t in arrivals]
        # Each once: nothing more comes.
        assert sorted(observer.messages(wait=2.0)) == sorted(expected)

        # The meeting nobody joined: its warnings were skipped, and Prosody never had its room.
        listed = observer.command("ITEMS", "ITEMS ").split(" ", 1)[1].split(",")
        assert fr["room"] in listed and en["room"] in listed and nobody["room"] not in listed, listed
        assert observer.command(f"INFO {nobody['room']}", f"INFO {nobody['room']}") == \
            f"INFO {nobody['room']} item-not-found"
        prosody_log = prosody.log.read_text(errors="replace")
        assert f'"{nobody["room"]}@{MUC}" empty, destroying' not in prosody_log
        # The bot did ask, once per warning, and each join was refused (creation is restricted); having
        # never been in the room, it sends nothing more there.
        about = [l for l in prosody_log.splitlines() if f"{nobody['room']}@{MUC}/{BOT_NICK}" in l]
        joins = [l for l in about if "Received[c2s]" in l and "id='join'" in l]
        refusals = [l for l in about if "Sending[c2s]" in l and "id='join'" in l and "type='error'" in l]
        assert len(joins) == 3 and len(refusals) == 3 and len(about) == 6, "\n".join(about)
        assert metric(server, 'jmb_room_warnings{outcome="not-running"}') == 3
        assert metric(server, 'jmb_room_warnings{outcome="sent"}') == 6
        assert metric(server, 'jmb_room_warnings{outcome="pending"}') == 0
        assert "room not running, skipped" in server.log.read_text()
    finally:
        observer.stop()


def test_prosody_restarts_and_a_warning_that_failed_meanwhile_arrives_once(stack):
    server, prosody, clock = stack
    start = next_start(clock)
    end = start + dt.timedelta(minutes=30)
    meeting = server.book("Réunion de service", start, 30)
    room = meeting["room"]
    observer = start_observer(prosody, [room])
    try:
        clock.set(end - dt.timedelta(minutes=15, seconds=1))
        observer.next_line("MSG ", timeout=10)
        assert observer.messages() == [f"{room} {BOT_NICK}: La réunion se termine dans 15 minutes ..."]
    finally:
        observer.stop()

    # Prosody goes down; the 5-minute warning falls due and fails.
    prosody.stop()
    failures_before = server.log.read_text().count("room warning failed, will retry")
    clock.set(end - dt.timedelta(minutes=5, seconds=1))
    deadline = time.monotonic() + 15
    while server.log.read_text().count("room warning failed, will retry") == failures_before:
        assert time.monotonic() < deadline, server.log.read_text()[-3000:]
        time.sleep(0.1)

    # Prosody is back (rooms are not persistent: people join again); the retry, 30 s later on jmb's clock,
    # posts it once, with the minutes really left.
    prosody.start()
    observer = start_observer(prosody, [room], nick="Alice2")
    try:
        assert observer.messages(wait=1.0) == [], "posted before its retry time"
        clock.set(end - dt.timedelta(minutes=5) + dt.timedelta(seconds=31))
        observer.next_line("MSG ", timeout=10)
        assert observer.messages(wait=2.0) == [f"{room} {BOT_NICK}: La réunion se termine dans 4 minutes ..."]
        # The next warning after the restart arrives too, once.
        clock.set(end - dt.timedelta(seconds=1))
        observer.next_line("MSG ", timeout=10)
        assert observer.messages(wait=2.0) == [
            f"{room} {BOT_NICK}: La réunion se termine dans 4 minutes ...",
            f"{room} {BOT_NICK}: La réunion est terminée !!",
        ]
    finally:
        observer.stop()


def test_without_the_restriction_the_bots_join_creates_nothing_that_stays(stack):
    """A Prosody without `restrict_room_creation` would let the bot's join create the room: jmb sees the
    creation (status 201), posts nothing, leaves at once, and the empty room is gone."""
    server, prosody, clock = stack
    prosody.stop()
    prosody.config.write_text(prosody.config.read_text().replace("restrict_room_creation = true",
                                                                 "restrict_room_creation = false"))
    prosody.start()
    start = next_start(clock)
    end = start + dt.timedelta(minutes=30)
    meeting = server.book("Personne non plus", start, 30)
    room = f"{meeting['room']}@{MUC}"
    skipped = metric(server, 'jmb_room_warnings{outcome="not-running"}')
    clock.set(end - dt.timedelta(minutes=15, seconds=1))
    deadline = time.monotonic() + 10
    while metric(server, 'jmb_room_warnings{outcome="not-running"}') == skipped:
        assert time.monotonic() < deadline, server.log.read_text()[-3000:]
        time.sleep(0.1)
    observer = start_observer(prosody, [])
    try:
        listed = observer.command("ITEMS", "ITEMS ").split(" ", 1)[1].split(",")
        assert meeting["room"] not in listed, listed
        assert observer.command(f"INFO {meeting['room']}", f"INFO {meeting['room']}") == \
            f"INFO {meeting['room']} item-not-found"
    finally:
        observer.stop()
    about = [l for l in prosody.log.read_text(errors="replace").splitlines() if room in l]
    # Joined (Prosody answered with the room's presence), left, destroyed; the bot never sent a message.
    log = "\n".join(about)
    assert any("Received[c2s]" in l and "id='join'" in l for l in about), log
    assert any("Received[c2s]" in l and "type='unavailable'" in l for l in about), log
    assert any("empty, destroying" in l for l in about), log
    assert not any("Received[c2s]: <message" in l for l in about), log
