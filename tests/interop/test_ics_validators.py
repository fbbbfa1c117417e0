"""jmb's iCalendar output (the per-user feed and every CalDAV object) through two real parsers: python
`icalendar` 7.3 with the checks of test-peers.md §6, and ical.js (Thunderbird's and Nextcloud's parser)
via `node tests/interop/check_ics.mjs` (after `npm ci` in tests/interop, done by scripts/install-test-deps).
Hostile and long non-ASCII subjects must survive both parsers unchanged.
"""
import json
import re
import shutil
import subprocess
from pathlib import Path

import icalendar
import pytest
import requests

from conftest import ROOT, quarter_in

NASTY = "l'équipe, \"quoted\"; semi; <script>"
LONG = ("Réunion trimestrielle « Œuvres complètes » — ünïcødé ✓ 東京 😀 " * 4).strip()[:190]

PROPFIND = """<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:getcontenttype/></d:prop></d:propfind>"""


def check(raw: bytes, *, caldav_resource: bool = False) -> list[str]:
    """The checks of test-peers.md §6, plus UTF-8 integrity of folded lines and VALARM descriptions."""
    problems = []
    if not raw.endswith(b"\r\n"):
        problems.append("last line does not end with CRLF")
    for n, line in enumerate(raw.split(b"\r\n")[:-1], 1):
        if b"\n" in line or b"\r" in line:
            problems.append(f"line {n}: bare LF or CR")
        if len(line) > 75:
            problems.append(f"line {n}: {len(line)} octets, not folded")
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(f"line {n}: folding split a UTF-8 sequence")
    try:
        cal = icalendar.Calendar.from_ical(raw)
    except ValueError as e:
        return problems + [f"parse error: {e}"]
    if raw.count(b"\r\nPRODID:") + raw.startswith(b"PRODID:") != 1:
        problems.append("PRODID must appear exactly once")
    if str(cal.get("VERSION")) != "2.0":
        problems.append("VERSION:2.0 missing")
    if caldav_resource and "METHOD" in cal:
        problems.append("METHOD is not allowed in a CalDAV resource (RFC 4791 4.1)")
    if caldav_resource and len(cal.walk("VEVENT")) != 1:
        problems.append("a CalDAV resource holds exactly one VEVENT")
    for comp in cal.walk():
        for _name, err in getattr(comp, "errors", []):  # lines the parser dropped
            problems.append(f"{comp.name}: unparsable line dropped: {err}")
    tzids = {str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")}
    for ev in cal.walk("VEVENT"):
        uid = str(ev.get("UID", ""))
        if "@" not in uid:
            problems.append(f"UID {uid!r} has no @domain part")
        stamp = ev.get("DTSTAMP")
        if stamp is None or stamp.dt.utcoffset() is None or stamp.dt.utcoffset().total_seconds() != 0:
            problems.append(f"{uid}: DTSTAMP missing or not UTC")
        for name in ("DTSTART", "DTEND"):
            prop = ev.get(name)
            tzid = prop.params.get("TZID") if prop is not None else None
            if tzid and tzid not in tzids:
                problems.append(f"{uid}: {name} uses TZID {tzid} without a VTIMEZONE")
        att = ev.get("ATTENDEE")
        people = [ev.get("ORGANIZER")] + (att if isinstance(att, list) else [att])
        for p in filter(None, people):
            if not str(p).lower().startswith("mailto:"):
                problems.append(f"{uid}: calendar address {str(p)!r} is not a mailto: URI")
        for alarm in ev.walk("VALARM"):
            if "DESCRIPTION" not in alarm:
                problems.append(f"{uid}: VALARM without DESCRIPTION")
    return problems


def test_checker_catches_legacy_mistakes():
    """The checker itself must be able to fail: the legacy ical.cgi shapes are all reported."""
    lines = [b"BEGIN:VCALENDAR", b"VERSION:2.0", b"PRODID:x", b"BEGIN:VEVENT", b"UID:42",
             b"DTSTAMP:20261201T100000", b"DTSTART;TZID=Europe/Paris:20261205T100000",
             b"ORGANIZER;CN=X;MAILTO:x@example.org", b"SUMMARY:" + "\u00e9".encode() * 40,
             b"DESCRIPTION:a\nb", b"END:VEVENT", b"END:VCALENDAR"]
    bad = b"\r\n".join(lines) + b"\r\n"
    found = "\n".join(check(bad, caldav_resource=True))
    for expected in ("bare LF", "not folded", "no @domain", "DTSTAMP", "without a VTIMEZONE", "unparsable line"):
        assert expected in found, found


@pytest.fixture(scope="module")
def outputs(jmb, tmp_path_factory) -> dict:
    """Books hostile meetings, then saves the feed and every CalDAV object (GET) into a folder."""
    m = {
        "nasty": jmb.book(NASTY, quarter_in(2, 9), 90, moderators=["Zoé Ærøskøbing <zoe@partner.net>"],
                          guests=["guest.one+jmb@example.com", "paul.visiteur@example.org"]),
        "long": jmb.book(LONG, quarter_in(3, 14, 45), 480, guests=["Ünïcødé Gäst <gast@example.com>"]),
        "plain": jmb.book("Point hebdo", quarter_in(9, 7, 15), 30, moderators=["marie.martin@example.org"],
                          guests=["guest.two@example.com"]),
    }
    # One answer, so a non-default PARTSTAT is in the output too.
    visitor = next(a for a in m["nasty"]["attendees"] if a["mail"] == "paul.visiteur@example.org")
    jmb.rsvp(visitor["rsvp_url"], "decline")

    out = tmp_path_factory.mktemp("ics")
    feed = requests.get(jmb.feed_url("jdupont"), timeout=10)
    assert feed.status_code == 200
    assert feed.headers["content-type"] == "text/calendar; charset=utf-8"
    (out / "feed.ics").write_bytes(feed.content)

    auth = ("jdupont", jmb.dav_password("jdupont"))
    r = requests.request("PROPFIND", jmb.dav_url(), data=PROPFIND, auth=auth,
                         headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"}, timeout=10)
    assert r.status_code == 207, r.text
    hrefs = sorted(h for h in re.findall(r"<(?:\w+:)?href>([^<]+)</(?:\w+:)?href>", r.text) if h.endswith(".ics"))
    assert len(hrefs) == 3, r.text
    resources = []
    for i, href in enumerate(hrefs):
        g = requests.get(jmb.url + href, auth=auth, timeout=10)
        assert g.status_code == 200
        assert g.headers["content-type"].startswith("text/calendar"), g.headers
        assert g.headers["etag"] in r.text, "GET ETag equals the PROPFIND getetag"
        path = out / f"resource{i}.ics"
        path.write_bytes(g.content)
        resources.append(path)
    return {"dir": out, "feed": out / "feed.ics", "resources": resources, "meetings": m}


def test_python_icalendar_accepts_feed(outputs):
    raw = outputs["feed"].read_bytes()
    assert check(raw) == []
    cal = icalendar.Calendar.from_ical(raw)
    assert len(cal.walk("VEVENT")) == 3
    # A feed is a snapshot, not an iTIP message: no METHOD (RFC 5546 §3.2.1 forbids ATTENDEE lines under
    # METHOD:PUBLISH, and libical's iTIP check rejected every feed that had one).
    assert "METHOD" not in cal
    assert all(ev.get("ATTENDEE") for ev in cal.walk("VEVENT")), "every attendee with their answer"
    assert b"REFRESH-INTERVAL;VALUE=DURATION:" in raw


def test_python_icalendar_accepts_caldav_objects(outputs):
    for f in outputs["resources"]:
        assert check(f.read_bytes(), caldav_resource=True) == [], f.name


def test_hostile_text_round_trips(outputs):
    m = outputs["meetings"]
    by_uid = {}
    for f in [outputs["feed"], *outputs["resources"]]:
        for ev in icalendar.Calendar.from_ical(f.read_bytes()).walk("VEVENT"):
            by_uid.setdefault(str(ev["UID"]), []).append(ev)
    assert {k: len(v) for k, v in by_uid.items()} == {x["uid"]: 2 for x in m.values()}, "feed + resource each"
    for ev in by_uid[m["nasty"]["uid"]]:
        assert str(ev["SUMMARY"]) == NASTY
        att = {str(a).lower(): a for a in ev["ATTENDEE"]}
        assert str(att["mailto:zoe@partner.net"].params["CN"]) == "Zoé Ærøskøbing"
        assert str(att["mailto:paul.visiteur@example.org"].params["PARTSTAT"]) == "DECLINED"
        assert str(att["mailto:guest.one+jmb@example.com"].params["PARTSTAT"]) == "NEEDS-ACTION"
    for ev in by_uid[m["long"]["uid"]]:
        assert str(ev["SUMMARY"]) == LONG
        assert (ev["DTEND"].dt - ev["DTSTART"].dt).total_seconds() == 480 * 60


def node_check(*args: str) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    assert node, "node is missing: run scripts/install-test-deps"
    assert (ROOT / "tests/interop/node_modules/ical.js").is_dir(), "ical.js missing: run scripts/install-test-deps"
    return subprocess.run([node, str(ROOT / "tests/interop/check_ics.mjs"), *args], capture_output=True,
                          text=True, timeout=60)


def test_ical_js_accepts_everything(outputs):
    res = node_check(str(outputs["feed"]))
    assert res.returncode == 0, res.stdout + res.stderr
    res2 = node_check("--caldav", *map(str, outputs["resources"]))
    assert res2.returncode == 0, res2.stdout + res2.stderr
    events = [json.loads(line) for line in (res.stdout + res2.stdout).splitlines() if line.startswith("{")]
    assert len(events) == 6
    m = outputs["meetings"]
    for ev in events:
        meeting = next(x for x in m.values() if x["uid"] == ev["uid"])
        assert ev["summary"] == meeting["subject"]
        assert ev["start"].rstrip("Z") == meeting["start"].rstrip("Z")
        expected = {a["mail"]: a["partstat"].upper().replace("_", "-") for a in meeting["attendees"]
                    if a["role"] != "owner"}
        got = {k: v for k, v in ev["attendees"].items() if k in expected}
        assert set(got) == set(expected), ev
    nasty = [e for e in events if e["uid"] == m["nasty"]["uid"]]
    assert all(e["attendees"]["paul.visiteur@example.org"] == "DECLINED" for e in nasty)


def test_ical_js_checker_can_fail(tmp_path):
    broken = tmp_path / "broken.ics"
    broken.write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    res = node_check("--caldav", str(broken))
    assert res.returncode == 1 and "FAIL" in res.stdout, res.stdout + res.stderr
