"""python `caldav` (3.6) against jmb's read-only CalDAV server, walking the path real clients take
(test-peers.md §4): discovery from the server root URL, calendar listing, time-range search, PARTSTAT
values, sync-token deltas after an answer given through jmb's RSVP web flow, refused writes, wrong password.
"""
import datetime as dt
import textwrap

import caldav
import caldav.lib.error
import icalendar
import pytest

from conftest import quarter_in


@pytest.fixture(scope="module")
def seeded(jmb):
    """Three meetings of jdupont: two in the window [day 3, day 6), one on day 10; visitor is a guest of A."""
    a = jmb.book("Comité A", quarter_in(3, 9), 90, moderators=["marie.martin@example.org"],
                 guests=["paul.visiteur@example.org", "guest.one@example.com"])
    b = jmb.book("Revue B", quarter_in(5, 23, 30), 60, guests=["guest.two@example.com"])  # crosses midnight
    c = jmb.book("Atelier C", quarter_in(10, 14), 60, guests=["guest.three@example.com"])
    return {"a": a, "b": b, "c": c, "password": jmb.dav_password("jdupont")}


def client(jmb, password, user="jdupont"):
    # The server ROOT URL, as a user would type it: the client must find the principal itself.
    return caldav.DAVClient(url=jmb.url + "/", username=user, password=password)


def uids(objs) -> list[str]:
    return sorted(str(o.get_icalendar_component()["uid"]) for o in objs)


def partstats(obj) -> dict[str, str]:
    comp = obj.get_icalendar_component()
    att = comp.get("ATTENDEE")
    att = att if isinstance(att, list) else [att]
    return {str(a).lower().removeprefix("mailto:"): str(a.params["PARTSTAT"]) for a in att}


def test_discovery_and_listing(jmb, seeded):
    with client(jmb, seeded["password"]) as c:
        principal = c.principal()
        assert str(principal.url).endswith("/dav/principals/jdupont/")
        cals = principal.get_calendars()
        assert len(cals) == 1
        assert str(cals[0].url) == jmb.dav_url("jdupont")
        assert cals[0].get_display_name() == "Visio Jitsi Meet"  # default calendar name: "Visio <site_name>"
        assert uids(cals[0].get_events()) == sorted(seeded[k]["uid"] for k in "abc")


def test_time_range_search(jmb, seeded):
    with client(jmb, seeded["password"]) as c:
        cal = c.principal().get_calendars()[0]
        start = quarter_in(3, 0)
        found = cal.search(start=start, end=start + dt.timedelta(days=3), event=True, expand=False)
        assert uids(found) == sorted([seeded["a"]["uid"], seeded["b"]["uid"]])
        # A window that only touches the end of B (it crosses midnight) still finds it: overlap rule.
        found = cal.search(start=quarter_in(6, 0), end=quarter_in(6, 0, 15), event=True, expand=False)
        assert uids(found) == [seeded["b"]["uid"]]
        # Open-ended range (DAVx5 with a past-days limit).
        later = cal.search(start=quarter_in(7, 0), event=True, expand=False)
        assert uids(later) == [seeded["c"]["uid"]]
        assert cal.search(start=quarter_in(40, 0), end=quarter_in(41, 0), event=True, expand=False) == []


def test_partstat_values(jmb, seeded):
    with client(jmb, seeded["password"]) as c:
        cal = c.principal().get_calendars()[0]
        ev = cal.event_by_url(cal.url.join(seeded["a"]["uid"] + ".ics"))
        ev.load()
        comp = ev.get_icalendar_component()
        assert str(comp["ORGANIZER"]).lower() == "mailto:jean.dupont@example.org"
        ps = partstats(ev)
        assert ps["paul.visiteur@example.org"] == "NEEDS-ACTION"
        assert ps["marie.martin@example.org"] == "NEEDS-ACTION"
        roles = {str(a).lower(): str(a.params["ROLE"]) for a in comp["ATTENDEE"]}
        assert roles["mailto:marie.martin@example.org"] == "CHAIR"
        assert roles["mailto:paul.visiteur@example.org"] == "REQ-PARTICIPANT"
        assert "METHOD" not in icalendar.Calendar.from_ical(ev.data)


def test_event_by_uid(jmb, seeded):
    """python-caldav's `event_by_uid` sends a calendar-query with `<C:prop-filter name="UID"><C:text-match>`
    (RFC 4791 §9.7.2, §9.7.5); many clients look events up this way."""
    with client(jmb, seeded["password"]) as c:
        cal = c.principal().get_calendars()[0]
        ev = cal.event_by_uid(seeded["b"]["uid"])
        assert str(ev.get_icalendar_component()["SUMMARY"]) == "Revue B"
        with pytest.raises(caldav.lib.error.NotFoundError):
            cal.event_by_uid("no-such-event@example.org")


def test_sync_token_delta_after_rsvp(jmb, seeded):
    with client(jmb, seeded["password"]) as c:
        cal = c.principal().get_calendars()[0]
        objs = cal.get_objects_by_sync_token(load_objects=True, disable_fallback=True)
        assert uids(objs) == sorted(seeded[k]["uid"] for k in "abc")
        token = objs.sync_token
        assert token
        empty = cal.get_objects_by_sync_token(sync_token=token, load_objects=True, disable_fallback=True)
        assert list(empty) == []

        visitor = next(x for x in seeded["a"]["attendees"] if x["mail"] == "paul.visiteur@example.org")
        page = jmb.rsvp(visitor["rsvp_url"], "accept")
        assert "csrf" in page.text  # the confirmation page is the same form

        delta = cal.get_objects_by_sync_token(sync_token=token, load_objects=True, disable_fallback=True)
        changed = list(delta)
        assert uids(changed) == [seeded["a"]["uid"]], "exactly the answered meeting"
        assert partstats(changed[0])["paul.visiteur@example.org"] == "ACCEPTED"
        assert partstats(changed[0])["guest.one@example.com"] == "NEEDS-ACTION"
        assert delta.sync_token != token
        # And nothing more after the new token.
        again = cal.get_objects_by_sync_token(sync_token=delta.sync_token, load_objects=True,
                                              disable_fallback=True)
        assert list(again) == []
        # A token the server never issued is refused, not silently treated as "everything".
        with pytest.raises(caldav.lib.error.DAVError):
            cal.get_objects_by_sync_token(sync_token=token + "999", load_objects=True, disable_fallback=True)


def test_writes_are_refused(jmb, seeded):
    with client(jmb, seeded["password"]) as c:
        cal = c.principal().get_calendars()[0]
        ics = textwrap.dedent("""\
            BEGIN:VCALENDAR
            VERSION:2.0
            PRODID:-//test//x//EN
            BEGIN:VEVENT
            UID:new-event@example.org
            DTSTAMP:20261201T000000Z
            DTSTART:20261207T090000Z
            DTEND:20261207T100000Z
            SUMMARY:nope
            END:VEVENT
            END:VCALENDAR
            """)
        with pytest.raises(caldav.lib.error.DAVError):
            cal.save_event(ics)
        with pytest.raises(caldav.lib.error.DAVError):
            c.principal().make_calendar(name="new")
        ev = cal.event_by_url(cal.url.join(seeded["c"]["uid"] + ".ics"))
        with pytest.raises(caldav.lib.error.DAVError):
            ev.delete()
        # Nothing changed.
        assert uids(cal.get_events()) == sorted(seeded[k]["uid"] for k in "abc")


def test_wrong_password(jmb, seeded):
    with client(jmb, "not-the-password") as c:
        with pytest.raises(caldav.lib.error.AuthorizationError):
            c.principal()
    with client(jmb, seeded["password"], user="mmartin") as c:
        with pytest.raises(caldav.lib.error.AuthorizationError):
            c.principal()


def test_other_users_calendar_is_invisible(jmb, seeded):
    with client(jmb, seeded["password"]) as c:
        other = c.calendar(url=jmb.dav_url("mmartin"))
        with pytest.raises(caldav.lib.error.DAVError):
            other.get_events()
