#!/usr/bin/env python3
"""Seeds a running jmb for bench/calendar.sh and copies the same events into a Radicale storage folder.

Usage (called by bench/calendar.sh, with the venv's python):
    seed.py <jmb-url> <radicale-collections-dir> <out.env> UID:COUNT [UID:COUNT...]

For each UID:COUNT (UID an editor, e.g. jdupont:200 mmartin:2000) it books COUNT meetings through the JSON
API as that user (a moderator, two guests, starts every few hours over the coming ~90 days, so about a third
fall in the next 30 days), generates the user's CalDAV password, reads every CalDAV object of the user's
calendar (PROPFIND Depth 1 + GET) and writes them as files into
<radicale-collections-dir>/collection-root/<uid>/meetings/ (Radicale's on-disk layout). It writes shell
variables to <out.env>: FEED_<uid>, PASS_<uid>, COUNT_<uid>, plus REPORT_START / REPORT_END (the next 30 days).
"""
import concurrent.futures as cf
import datetime as dt
import html
import json
import re
import sys
from pathlib import Path

import requests

IDENTITY = {
    "jdupont": ("jean.dupont@example.org", "Jean Dupont"),
    "mmartin": ("marie.martin@example.org", "Marie Martin"),
}
HORIZON_DAYS = 90


def headers(uid):
    mail, name = IDENTITY[uid]
    return {"X-Remote-User": uid, "X-Remote-Mail": mail, "X-Remote-Name": name}


def first_start() -> dt.datetime:
    """Tomorrow, on the quarter hour: always in the future, on the booking step."""
    t = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    return t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0)


def book_all(url: str, uid: str, count: int) -> None:
    base = first_start()
    step_min = max(15, (HORIZON_DAYS * 24 * 60 // count) // 15 * 15)
    session = requests.Session()
    session.headers.update(headers(uid))

    def book(i: int) -> None:
        start = base + dt.timedelta(minutes=i * step_min)
        body = {
            "subject": f"Réunion de suivi n°{i} — équipe {uid}, \"projet\"; lot {i % 7}",
            "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration": 30 * (1 + i % 4),
            "moderators": [f"Modérateur {i % 5} <mod{i % 5}.{uid}@partner.net>"],
            "guests": [f"guest{i % 11}.{uid}@example.com", f"Invité {i % 13} <invite{i % 13}.{uid}@example.net>"],
        }
        r = session.post(f"{url}/api/v1/meetings", json=body, timeout=30)
        if r.status_code != 201:
            raise SystemExit(f"booking {i} for {uid} failed: {r.status_code} {r.text}")

    with cf.ThreadPoolExecutor(4) as pool:
        list(pool.map(book, range(count)))


def calendar_access(url: str, uid: str) -> tuple[str, str]:
    s = requests.Session()
    s.headers.update(headers(uid))
    page = s.get(f"{url}/calendar", timeout=10).text
    feed = html.unescape(re.search(r'id="feed-https"[^>]*value="([^"]+)"', page).group(1))
    # The token of the password form (the layout's language switch carries another one).
    form = page.split('action="/calendar/password"', 1)[1]
    csrf = html.unescape(re.search(r'name="csrf" value="([^"]+)"', form).group(1))
    r = s.post(f"{url}/calendar/password", data={"csrf": csrf}, timeout=10)
    r.raise_for_status()
    password = html.unescape(re.search(r'id="dav-password"[^>]*value="([^"]+)"', r.text).group(1))
    return feed, password


def copy_to_radicale(url: str, uid: str, password: str, collections: Path) -> int:
    target = collections / "collection-root" / uid / "meetings"
    target.mkdir(parents=True, exist_ok=True)
    (target / ".Radicale.props").write_text(json.dumps({"tag": "VCALENDAR", "D:displayname": "Meetings"}))
    auth = (uid, password)
    body = '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>'
    r = requests.request("PROPFIND", f"{url}/dav/principals/{uid}/meetings/", data=body, auth=auth,
                         headers={"Depth": "1"}, timeout=60)
    r.raise_for_status()
    hrefs = [h for h in re.findall(r"<(?:\w+:)?href>([^<]+)</(?:\w+:)?href>", r.text) if h.endswith(".ics")]
    session = requests.Session()
    session.auth = auth

    def fetch(href: str) -> None:
        g = session.get(url + href, timeout=30)
        g.raise_for_status()
        (target / href.rsplit("/", 1)[1]).write_bytes(g.content)

    with cf.ThreadPoolExecutor(4) as pool:
        list(pool.map(fetch, hrefs))
    return len(hrefs)


def main() -> None:
    url, collections, out = sys.argv[1].rstrip("/"), Path(sys.argv[2]), Path(sys.argv[3])
    lines = []
    for spec in sys.argv[4:]:
        uid, count = spec.split(":")
        book_all(url, uid, int(count))
        feed, password = calendar_access(url, uid)
        copied = copy_to_radicale(url, uid, password, collections)
        if copied != int(count):
            raise SystemExit(f"{uid}: {copied} CalDAV objects, expected {count}")
        lines += [f"FEED_{uid}='{feed}'", f"PASS_{uid}='{password}'", f"COUNT_{uid}={count}"]
        print(f"seeded {uid}: {count} meetings", file=sys.stderr)
    now = dt.datetime.now(dt.timezone.utc)
    lines += [f"REPORT_START={now:%Y%m%dT%H%M%SZ}", f"REPORT_END={now + dt.timedelta(days=30):%Y%m%dT%H%M%SZ}"]
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
