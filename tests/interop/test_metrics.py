"""`GET /metrics` read by the Prometheus project's own text-format parser after a scripted session:
every counter matches what was done; the endpoint is refused to a proxied (public) request and to a
wrong token, and answered with the right one."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import next_quarter_soon, quarter_in, start_jmb, stop_jmb


def scrape(url: str, headers: dict | None = None) -> dict[tuple, float]:
    r = requests.get(url + "/metrics", headers=headers or {}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_counters_match_a_scripted_session(jmb):
    # Two bookings, one of them starting within the quarter hour so its external moderator may enter.
    soon = jmb.book("Bientôt", next_quarter_soon(), moderators=["ext.mod@partner.net"],
                    guests=["guest.one@example.com", "guest.two@example.com"])
    jmb.book("Plus tard", quarter_in(3), guests=["guest.three@example.com"])
    by_mail = {a["mail"]: a for a in soon["attendees"]}
    # Answers: one accept, one decline, and a repeated accept that changes nothing.
    jmb.rsvp(by_mail["guest.one@example.com"]["rsvp_url"], "accept")
    jmb.rsvp(by_mail["guest.two@example.com"]["rsvp_url"], "decline")
    jmb.rsvp(by_mail["guest.one@example.com"]["rsvp_url"], "accept")
    # One join: the external moderator's personal link.
    r = requests.get(by_mail["ext.mod@partner.net"]["join_url"], allow_redirects=False, timeout=10)
    assert r.status_code == 302 and "jwt=" in r.headers["location"], r.text
    # Two feed requests and one CalDAV request.
    feed = jmb.feed_url("jdupont")
    for _ in range(2):
        assert requests.get(feed, timeout=10).status_code == 200
    r = requests.request("PROPFIND", jmb.dav_url("jdupont"), auth=("jdupont", jmb.dav_password("jdupont")),
                         headers={"Depth": "0"}, timeout=10)
    assert r.status_code == 207, r.text

    m = scrape(jmb.url)
    assert value(m, "jmb_meetings_booked_total") == 2
    assert value(m, "jmb_answers_total", answer="accept") == 1
    assert value(m, "jmb_answers_total", answer="decline") == 1
    assert value(m, "jmb_joins_total", role="moderator") == 1
    assert value(m, "jmb_joins_total", role="guest") == 0
    assert value(m, "jmb_feed_requests_total") == 2
    assert value(m, "jmb_caldav_requests_total") == 1
    assert value(m, "jmb_http_requests_total", route="/api/v1/meetings", method="POST", status="201") == 2
    assert value(m, "jmb_http_requests_total", route="/j/{token}", method="GET", status="302") == 1
    # The latency histogram: a count per route, cumulative buckets ending at +Inf.
    count = value(m, "jmb_http_request_duration_seconds_count", route="/api/v1/meetings")
    assert count == 2
    buckets = sorted((float(dict(k[1])["le"]), v) for k, v in m.items()
                     if k[0] == "jmb_http_request_duration_seconds_bucket" and dict(k[1])["route"] == "/api/v1/meetings")
    assert buckets[-1] == (float("inf"), count)
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:]))
    # From the store: mails queued by the bookings and answers, none failed; no reminder late.
    mails = sum(value(m, "jmb_mails", status=s) for s in ("pending", "sent", "failed"))
    assert mails >= 4 and value(m, "jmb_mails", status="failed") == 0
    assert value(m, "jmb_reminders_late") == 0
    # Tokens never appear in the exposition (route templates only).
    text = requests.get(jmb.url + "/metrics", timeout=10).text
    assert by_mail["ext.mod@partner.net"]["join_url"].rsplit("/", 1)[1] not in text


def test_metrics_are_never_public():
    workdir = Path(tempfile.mkdtemp(prefix="jmb-metrics-"))
    token = "metrics-token-0123456789abcdef0123456789"
    (workdir / "token").write_text(token + "\n")
    server = start_jmb(workdir, mail=f'transport = "mailbox"\n[metrics]\ntoken_file = "{workdir / "token"}"')
    try:
        relayed = {"X-Forwarded-For": "203.0.113.9"}
        r = requests.get(server.url + "/metrics", headers=relayed, timeout=10)
        assert r.status_code == 404 and "jmb_" not in r.text
        # Whatever header the proxy is configured to add.
        for header in ({"X-Real-IP": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"}, {"Via": "1.1 proxy"},
                       {"X-Forwarded-Proto": "https"}, {"X-Forwarded-Host": "meet.example.org"}):
            assert requests.get(server.url + "/metrics", headers=header, timeout=10).status_code == 404, header
        r = requests.get(server.url + "/metrics", headers={**relayed, "Authorization": "Bearer wrong"}, timeout=10)
        assert r.status_code == 404
        m = scrape(server.url, {**relayed, "Authorization": f"Bearer {token}"})
        assert value(m, "jmb_meetings_booked_total") == 0
        # Local and not relayed: answered without a token.
        assert requests.get(server.url + "/metrics", timeout=10).status_code == 200
    finally:
        stop_jmb(server)
        shutil.rmtree(workdir, ignore_errors=True)
