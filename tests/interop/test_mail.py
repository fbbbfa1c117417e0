"""Mail end to end, against a real `jmb serve` and a real SMTP server on loopback (aiosmtpd,
tests/interop/smtp_sink.py): every message parsed by Python's `email` package, every iTIP part by
python `icalendar` and by ical.js (Thunderbird's parser); the links in a guest's mail followed as a guest
would; a user who chose English reads English; an SMTP outage and a kill -9 in the middle of a burst lose
no mail and send none twice.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import icalendar
import pytest
import requests

from conftest import (Received, extract, form_csrf, free_port, iso, jmb_binary, kill_jmb, quarter_in, start_jmb,
                      start_sink, stop_jmb)
from test_ics_validators import check, node_check


def smtp_config(port: int, **extra) -> str:
    lines = ['transport = "smtp"', f'smtp_url = "smtp://127.0.0.1:{port}"', 'from = "noreply@example.org"',
             'retry_initial_seconds = 1', 'retry_max_seconds = 2']
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def mailed(tmp_path_factory):
    """A sink and a jmb sending to it, for the whole module."""
    sink = start_sink()
    workdir = tmp_path_factory.mktemp("jmb-mail")
    server = start_jmb(workdir, smtp_config(sink.port))
    try:
        yield server, sink
    finally:
        stop_jmb(server)
        sink.stop()


def defects(msg) -> list[str]:
    """Everything Python's parser had to repair, in headers and in every part."""
    found = []
    for part in msg.walk():
        found += [f"{part.get_content_type()}: {d!r}" for d in part.defects]
        for name, value in part.items():
            found += [f"{name}: {d!r}" for d in getattr(value, "defects", ())]
    return found


def body(msg, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    return part.get_content()


def itip(msg) -> tuple[bytes, str]:
    """The text/calendar alternative: its bytes and the method= parameter of its Content-Type."""
    parts = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, [p.get_content_type() for p in msg.walk()]
    return parts[0].get_payload(decode=True), parts[0].get_param("method")


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs += [v for k, v in attrs if k == "href"]


def hrefs(html: str) -> list[str]:
    p = Links()
    p.feed(html)
    return p.hrefs


def for_rcpt(mails: list[Received], rcpt: str) -> list[Received]:
    return [m for m in mails if m.rcpt_tos == [rcpt]]


def test_invitations_parse_everywhere_and_carry_only_their_own_links(mailed, tmp_path):
    server, sink = mailed
    before = len(sink.mails())
    m = server.book("Revue « budget » ; l'équipe", quarter_in(4, 13), 90, moderators=["marie.martin@example.org"],
                    guests=["Zoé Ærøskøbing <zoe@partner.net>", "guest.one@example.com"])
    mails = sink.wait_for(before + 4)[before:]
    assert len(mails) == 4, [(x.rcpt_tos, x.msg["subject"]) for x in mails]
    feed = icalendar.Calendar.from_ical(requests.get(server.feed_url(), timeout=10).content)
    feed_uids = {str(ev["UID"]) for ev in feed.walk("VEVENT")}
    assert m["uid"] in feed_uids

    invitees = {a["mail"]: a for a in m["attendees"] if a["role"] != "owner"}
    assert set(invitees) == {"marie.martin@example.org", "zoe@partner.net", "guest.one@example.com"}
    files = []
    for rcpt, attendee in invitees.items():
        [mail] = for_rcpt(mails, rcpt)
        msg = mail.msg
        assert defects(msg) == [], defects(msg)
        assert mail.mail_from == "noreply@example.org", "envelope sender"
        assert msg["To"].addresses[0].addr_spec == rcpt
        assert msg["From"].addresses[0].addr_spec == "noreply@example.org"
        assert msg["Reply-To"].addresses[0].addr_spec == "jean.dupont@example.org"
        assert msg["Subject"] == "Invitation visioconférence : Revue « budget » ; l'équipe"
        assert msg["Auto-Submitted"] == "auto-generated"
        assert re.fullmatch(r"<[^<>@\s]+@127\.0\.0\.1>", msg["Message-ID"]), msg["Message-ID"]
        assert msg.get_content_type() == "multipart/mixed"
        raw_ics, method = itip(msg)
        assert method == "REQUEST"
        assert check(raw_ics) == [], check(raw_ics)
        cal = icalendar.Calendar.from_ical(raw_ics)
        assert str(cal["METHOD"]) == "REQUEST"
        [ev] = cal.walk("VEVENT")
        assert str(ev["UID"]) == m["uid"], "the same UID as the feed and CalDAV: clients update one event"
        assert int(ev["SEQUENCE"]) == 0
        assert str(ev["SUMMARY"]) == m["subject"]
        assert ev["DTSTART"].dt == dt.datetime.fromisoformat(m["start"].replace("Z", "+00:00"))
        att = ev["ATTENDEE"]
        assert not isinstance(att, list), "only the recipient is an attendee of their copy"
        assert str(att).lower() == f"mailto:{rcpt}"
        assert str(ev["ORGANIZER"]).lower() == "mailto:jean.dupont@example.org"
        # The same object attached as a file, for clients that ignore the alternative.
        attached = [p for p in msg.iter_attachments() if p.get_content_type() == "application/ics"]
        assert len(attached) == 1 and attached[0].get_payload(decode=True) == raw_ics
        # Their own links and nobody else's, in both bodies.
        text, html = body(msg, "plain"), body(msg, "html")
        join = attendee["join_url"]
        assert join in text and join in hrefs(html), (join, text)
        answers = [h for h in hrefs(html) if "/rsvp/" in h]
        assert answers and all(h.startswith(attendee["rsvp_url"]) for h in answers), answers
        for other in invitees.values():
            if other is not attendee:
                secret = other["join_url"].rsplit("/", 1)[-1]
                assert secret.encode() not in mail.raw, f"{rcpt}'s mail holds {other['mail']}'s link"
        f = tmp_path / f"{rcpt}.ics"
        f.write_bytes(raw_ics)
        files.append(f)
    # The organiser's copy.
    [own] = for_rcpt(mails, "jean.dupont@example.org")
    assert own.msg["Subject"] == "Réservation visioconférence : Revue « budget » ; l'équipe"
    raw_ics, method = itip(own.msg)
    assert method == "PUBLISH" and check(raw_ics) == []
    assert "ATTENDEE" not in icalendar.Calendar.from_ical(raw_ics).walk("VEVENT")[0]
    f = tmp_path / "owner.ics"
    f.write_bytes(raw_ics)
    files.append(f)

    res = node_check(*map(str, files))
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("ok ") == 4, res.stdout


def test_a_guest_follows_the_links_in_their_mail(mailed):
    server, sink = mailed
    before = len(sink.mails())
    m = server.book("Point guest links", quarter_in(5, 8, 30), 30, guests=["guest.two@example.com"])
    [mail] = for_rcpt(sink.wait_for(before + 2)[before:], "guest.two@example.com")
    text = body(mail.msg, "plain")
    join = extract(r"(http://127\.0\.0\.1:\d+/j/[A-Za-z0-9_-]+)", text)
    accept = extract(r"(http://127\.0\.0\.1:\d+/rsvp/[A-Za-z0-9_-]+\?answer=accept)", text)

    # The join link, before the meeting: a page that says when it opens (no sign-in).
    r = requests.get(join, timeout=10)
    assert r.status_code == 200 and "Point guest links" in r.text

    # The answer link: GET changes nothing (mail scanners follow links), the button does.
    s = requests.Session()
    r = s.get(accept, timeout=10)
    assert r.status_code == 200
    assert 'value="accept"' in r.text
    guest = next(a for a in server.api("GET", f"/api/v1/meetings/{m['id']}", "jdupont").json()["attendees"]
                 if a["mail"] == "guest.two@example.com")
    assert guest["partstat"] == "NEEDS-ACTION", "a GET never answers"
    path = "/rsvp/" + accept.split("/rsvp/")[1].split("?")[0]
    csrf = form_csrf(r.text, path)
    r = s.post(accept.split("?")[0], data={"answer": "accept", "csrf": csrf}, timeout=10)
    assert r.status_code == 200, r.text[:500]
    guest = next(a for a in server.api("GET", f"/api/v1/meetings/{m['id']}", "jdupont").json()["attendees"]
                 if a["mail"] == "guest.two@example.com")
    assert guest["partstat"] == "ACCEPTED"
    # The organiser hears of it, without a calendar part (their calendar follows the feed).
    [told] = for_rcpt(sink.wait_for(before + 3)[before + 2:], "jean.dupont@example.org")
    assert told.msg["Subject"].startswith("Réponse de "), told.msg["Subject"]
    assert "a accepté" in body(told.msg, "plain") or "accept" in body(told.msg, "plain"), body(told.msg, "plain")
    assert not [p for p in told.msg.walk() if p.get_content_type() == "text/calendar"]
    assert defects(told.msg) == []
    # Without the form's token, nothing changes.
    r = requests.post(accept.split("?")[0], data={"answer": "decline"}, timeout=10)
    assert r.status_code == 403


def test_changes_and_cancellations_follow_the_sequence(mailed, tmp_path):
    server, sink = mailed
    before = len(sink.mails())
    m = server.book("Comité de suivi", quarter_in(6, 10), 60, guests=["stay@example.com", "leave@example.com"])
    sink.wait_for(before + 3)
    moved = quarter_in(7, 11)
    m2 = server.update(m, start=iso(moved), guests=["stay@example.com"])
    assert m2["sequence"] == 1
    mails = sink.wait_for(before + 6)[before + 3:]
    [update] = for_rcpt(mails, "stay@example.com")
    assert update.msg["Subject"] == "Invitation visioconférence (mise à jour) : Comité de suivi"
    raw, method = itip(update.msg)
    ev = icalendar.Calendar.from_ical(raw).walk("VEVENT")[0]
    assert (method, int(ev["SEQUENCE"]), ev["DTSTART"].dt) == ("REQUEST", 1, moved)
    [removed] = for_rcpt(mails, "leave@example.com")
    raw_removed, method = itip(removed.msg)
    ev = icalendar.Calendar.from_ical(raw_removed).walk("VEVENT")[0]
    assert method == "CANCEL" and str(ev["STATUS"]) == "CANCELLED" and int(ev["SEQUENCE"]) == 1
    assert str(ev["ATTENDEE"]).lower() == "mailto:leave@example.com"

    server.delete(m2)
    mails = sink.wait_for(before + 8)[before + 6:]
    [cancel] = for_rcpt(mails, "stay@example.com")
    raw_cancel, method = itip(cancel.msg)
    ev = icalendar.Calendar.from_ical(raw_cancel).walk("VEVENT")[0]
    assert (method, str(ev["STATUS"]), int(ev["SEQUENCE"]), str(ev["UID"])) == ("CANCEL", "CANCELLED", 2, m["uid"])
    assert [x.rcpt_tos for x in mails if x.rcpt_tos != ["stay@example.com"]] == [["jean.dupont@example.org"]]
    files = []
    for name, raw in [("update", raw), ("removed", raw_removed), ("cancel", raw_cancel)]:
        assert check(raw) == [], name
        (tmp_path / f"{name}.ics").write_bytes(raw)
        files.append(str(tmp_path / f"{name}.ics"))
    res = node_check(*files)
    assert res.returncode == 0, res.stdout + res.stderr


def test_a_user_who_chose_english_gets_english_mail(mailed):
    server, sink = mailed
    # Marie switches the interface to English (the header's form, with its CSRF token).
    s = server.session("mmartin")
    page = s.get(server.url + "/meetings", timeout=10)
    assert page.status_code == 200
    csrf = form_csrf(page.text, "/lang")
    r = s.post(server.url + "/lang", data={"csrf": csrf, "lang": "en", "next": "/meetings"}, timeout=10,
               allow_redirects=False)
    assert r.status_code in (302, 303), r.text
    before = len(sink.mails())
    server.book("Weekly sync", quarter_in(8, 9), 30, moderators=["marie.martin@example.org"],
                guests=["guest.three@example.com"])
    mails = sink.wait_for(before + 3)[before:]
    [marie] = for_rcpt(mails, "marie.martin@example.org")
    assert marie.msg["Subject"] == "Video meeting invitation: Weekly sync", marie.msg["Subject"]
    assert marie.msg["Content-Language"] == "en"
    assert "moderat" in body(marie.msg, "plain").lower()
    # Everyone else keeps the site's language.
    [guest] = for_rcpt(mails, "guest.three@example.com")
    assert guest.msg["Content-Language"] == "fr"


def test_an_smtp_outage_delays_mail_and_loses_none():
    port = free_port()  # nothing listens there yet
    workdir = Path(tempfile.mkdtemp(prefix="jmb-outage-"))
    server = start_jmb(workdir, smtp_config(port))
    sink = None
    try:
        m = server.book("Pendant la panne", quarter_in(3, 15), 30, guests=["a@example.com", "b@example.com"])
        assert m["id"], "booking works while the mail server is down"
        time.sleep(1.5)  # at least one failed attempt
        pending = outbox_list(workdir)
        assert pending.count("pending") == 3, pending
        assert "Connection refused" in pending or "connection" in pending.lower(), pending
        sink = start_sink(port)
        mails = sink.wait_for(3, timeout=30)
        ids = Counter(x.msg["Message-ID"] for x in mails)
        assert len(ids) == 3 and set(ids.values()) == {1}, ids
    finally:
        stop_jmb(server)
        if sink:
            sink.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def outbox_list(workdir: Path) -> str:
    """`jmb outbox list`, as an administrator runs it beside the server."""
    res = subprocess.run([str(jmb_binary()), "outbox", "--config", str(workdir / "jmb.toml"), "list"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_kill_9_during_a_burst_sends_every_mail_exactly_once():
    """A slow server (0.2 s per message), 30 invitations, jmb killed with SIGKILL mid-burst and restarted on
    the same database: every Message-ID arrives exactly once."""
    sink = start_sink(None, "--delay", "0.2")
    workdir = Path(tempfile.mkdtemp(prefix="jmb-kill-"))
    server = start_jmb(workdir, smtp_config(sink.port))
    try:
        guests = [f"guest{i:02d}@example.com" for i in range(30)]
        server.book("Rafale", quarter_in(3, 16), 30, guests=guests)
        sink.wait_for(6, timeout=30)
        kill_jmb(server)
        sent_before = len(sink.mails())
        assert sent_before < 31, "killed mid-burst"
        server = start_jmb(workdir, smtp_config(sink.port))
        mails = sink.wait_for(31, timeout=60)
        ids = Counter(x.msg["Message-ID"] for x in mails)
        assert len(ids) == 31, f"{len(ids)} distinct of 31"
        assert set(ids.values()) == {1}, [i for i, n in ids.items() if n > 1]
        assert sorted(r for x in mails for r in x.rcpt_tos) == sorted(guests + ["jean.dupont@example.org"])
    finally:
        stop_jmb(server)
        sink.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def test_starttls_to_a_relay_with_an_internal_ca(tmp_path):
    """STARTTLS required, the relay's certificate from the organisation's own CA (`mail.smtp_ca_file`):
    mails go out encrypted; without the CA, none goes out in clear and the outbox says why."""
    import trustme
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    cert_pem, key_pem, ca_pem = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_pem))
    cert.private_key_pem.write_to_path(str(key_pem))
    ca.cert_pem.write_to_path(str(ca_pem))
    sink = start_sink(None, "--tls-cert", str(cert_pem), "--tls-key", str(key_pem))
    url = f'smtp://localhost:{sink.port}?tls=required'
    trusting = Path(tempfile.mkdtemp(prefix="jmb-tls-"))
    doubting = Path(tempfile.mkdtemp(prefix="jmb-tls-"))
    servers = []
    try:
        servers.append(start_jmb(doubting, smtp_config(sink.port).replace(f"smtp://127.0.0.1:{sink.port}", url)))
        servers[-1].book("Sans l'AC", quarter_in(3, 9), 30, guests=["x@example.com"])
        servers.append(start_jmb(trusting, smtp_config(sink.port).replace(f"smtp://127.0.0.1:{sink.port}", url)
                                 + f'\nsmtp_ca_file = "{ca_pem}"'))
        servers[-1].book("Avec l'AC", quarter_in(3, 10), 30, guests=["y@example.com"])
        mails = sink.wait_for(2)
        assert sorted(r for m in mails for r in m.rcpt_tos) == ["jean.dupont@example.org", "y@example.com"]
        metas = [json.loads(p.read_text()) for p in sink.dir.glob("*.json")]
        assert all(m["tls"] for m in metas), metas
        pending = outbox_list(doubting)
        assert pending.count("pending") == 2, pending
        assert "certificate" in pending.lower() or "unknownissuer" in pending.lower(), pending
    finally:
        for s in servers:
            stop_jmb(s)
        sink.stop()
        shutil.rmtree(trusting, ignore_errors=True)
        shutil.rmtree(doubting, ignore_errors=True)
