"""The guest's side in a real browser: a guest in New York reading the meeting in their own time (with
the organiser's beside it), answering "maybe" with a note, changing their answer, downloading the
meeting as .ics (read back with python icalendar), recovering from an expired form, and waiting on the
"not started yet" page; then the booking and answer flows walked with the keyboard only, the focus
checked after every submit. axe-core runs on every page and state, in both languages at 390 and 1280 px,
and every page must fit 320 px (conftest's audit).

Run: cargo build && .venv-it/bin/python -m pytest tests/ui -q
"""

import datetime as dt
import re
import time

import icalendar
import pytest
from playwright.sync_api import Page, expect

from conftest import AUDIT, with_axe
from test_booking_flow import WIDTHS, Watch, new_context, shoot


def book(browser, base, owner: str, subject: str, day: dt.date, time: str, guests: str) -> str:
    """Books through the pages as `owner` (French); returns the first guest's answer link."""
    ctx = new_context(browser, base)
    watch = Watch(ctx)
    page = ctx.new_page()
    page.goto(base + "/")
    page.get_by_role("button", name=f"Se connecter en tant que {owner}").click()
    page.get_by_role("link", name="Nouvelle réunion").click()
    page.get_by_label("Objet").fill(subject)
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_label("Heure").fill(time)
    page.get_by_label(re.compile("^Invités")).fill(guests)
    page.get_by_role("button", name="Créer la réunion").click()
    expect(page.get_by_role("status")).to_contain_text("Réunion créée")
    page.locator("tr[data-meeting]").filter(has_text=subject).get_by_role("link", name="Participants").click()
    first = guests.split(",")[0].strip().lower()
    href = page.locator(f'tr[data-mail="{first}"]').get_by_role("link", name="Lien de réponse personnel").get_attribute("href")
    watch.check()
    ctx.close()
    return href


# What the guest's pages say, in each language.
WORDS = {
    "fr": {
        "locale": "fr-FR", "join_early": "Rejoindre (pas encore ouvert)", "decline": "Décliner l'invitation",
        "accept": "Accepter l'invitation", "maybe": "Peut-être", "no_answer": "Sans réponse",
        "note": "Un mot pour l'organisateur (facultatif)", "note_text": "J'aurai dix minutes de retard.",
        "maybe_recorded": "Votre réponse « peut-être » est enregistrée", "change": "Modifier ma réponse",
        "declined": "Déclinée", "accepted": "Acceptée", "ics": "Télécharger l'invitation (.ics)",
        "google": "Ajouter à Google Agenda", "outlook": "Ajouter à Outlook.com", "expired": "Cette page avait expiré",
        "denied": "Accès refusé", "too_early": "La réunion n'a pas encore commencé",
        "unknown": "Ouvrez le lien de votre mail d'invitation", "organiser_time": "heure de l'organisateur",
    },
    "en": {
        "locale": "en-US", "join_early": "Join (not open yet)", "decline": "Decline the invitation",
        "accept": "Accept the invitation", "maybe": "Maybe", "no_answer": "No answer",
        "note": "A note for the organiser (optional)", "note_text": "I will be ten minutes late.",
        "maybe_recorded": 'Your "maybe" is recorded', "change": "Change my answer",
        "declined": "Declined", "accepted": "Accepted", "ics": "Download the invitation (.ics)",
        "google": "Add to Google Calendar", "outlook": "Add to Outlook.com", "expired": "This page had expired",
        "denied": "Access denied", "too_early": "The meeting has not started yet",
        "unknown": "Open the link in your invitation mail", "organiser_time": "organiser's time",
    },
}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_guest_in_new_york(jmb_server, browser, screenshot_dir, tmp_path, lang):
    base = jmb_server
    w = WORDS[lang]
    # A Monday a week or more ahead, 15:00 in Paris: 09:00 in New York (both on winter time in December;
    # the date is chosen outside the weeks when only one of them has changed its clocks).
    day = dt.date.today() + dt.timedelta(days=7)
    while day.weekday() != 0 or day.month in (3, 10, 11) and day.day < 8:
        day += dt.timedelta(days=1)
    guest_mail = f"ny.guest.{lang}@partner.net"
    rsvp = book(browser, base, "Marie Martin", f"Revue trimestrielle ({lang})", day, "15:00", guest_mail)
    ctx = with_axe(browser.new_context(locale=w["locale"], timezone_id="America/New_York",
                                       viewport={"width": 1280, "height": 800}, accept_downloads=True))
    ctx.add_cookies([{"name": "jmb_lang", "value": lang, "url": base}])
    watch = Watch(ctx)
    guest = ctx.new_page()
    guest.goto(rsvp)

    # The time in the guest's zone, named, with the organiser's beside it.
    when = guest.locator("#when time")
    ny_start = dt.datetime.combine(day, dt.time(15, 0), tzinfo=_paris()).astimezone(_new_york())
    expect(when).to_contain_text(f"{ny_start:%H:%M} – {(ny_start + dt.timedelta(minutes=90)):%H:%M} (America/New_York)")
    expect(when).to_contain_text(str(ny_start.day))
    expect(guest.locator("#when .site-time")).to_be_visible()
    expect(guest.locator("#when .site-time")).to_contain_text(w["organiser_time"])
    expect(guest.locator("#when .site-time")).to_contain_text("15:00 – 16:30 (Europe/Paris)")
    # The join button says when it opens, in the guest's zone too, and is not the primary action yet.
    expect(guest.locator("#join time")).to_contain_text("(America/New_York)")
    expect(guest.get_by_role("link", name=w["join_early"])).to_have_class("button secondary")
    expect(guest.get_by_role("link", name=re.compile("@example.org"))).to_have_attribute("href", re.compile("^mailto:marie.martin@example.org"))
    if lang == "fr":
        shoot(guest, screenshot_dir, "rsvp-new-york", base)
    else:
        AUDIT.page(guest, "rsvp-new-york-en")

    # The link from the mail that declines highlights that button and changes nothing.
    guest.goto(rsvp + "?answer=decline")
    expect(guest.get_by_role("button", name=w["decline"])).not_to_have_class(re.compile("secondary"))
    expect(guest.get_by_role("button", name=w["accept"])).to_have_class("secondary")
    expect(guest.locator("#current-answer")).to_have_text(w["no_answer"])
    AUDIT.page(guest, f"rsvp-suggested-{lang}")

    # "Maybe", with a note: the confirmation comes first, focused and announced.
    guest.get_by_label(w["note"]).fill(w["note_text"])
    guest.get_by_role("button", name=w["maybe"], exact=True).click()
    confirmation = guest.locator("#confirmation")
    expect(confirmation).to_be_focused()
    expect(confirmation).to_have_attribute("role", "status")
    expect(confirmation).to_contain_text(w["maybe_recorded"])
    expect(guest.locator("#current-answer")).to_have_text(w["maybe"])
    expect(guest.locator("#current-note")).to_have_text(w["note_text"])
    expect(guest.get_by_role("heading", name=w["change"])).to_be_visible()
    shoot(guest, screenshot_dir, "rsvp-answered", base, reload=False)

    # Change of answer.
    guest.get_by_role("button", name=w["decline"]).click()
    expect(guest.locator("#confirmation")).to_be_focused()
    expect(guest.locator("#current-answer")).to_have_text(w["declined"])
    AUDIT.page(guest, f"rsvp-changed-{lang}")

    # The .ics: the guest's own view, their answer, the right instant.
    with guest.expect_download() as download:
        guest.get_by_role("link", name=w["ics"]).click()
    path = tmp_path / "invitation.ics"
    download.value.save_as(path)
    cal = icalendar.Calendar.from_ical(path.read_bytes())
    events = [c for c in cal.walk("VEVENT")]
    assert len(events) == 1
    event = events[0]
    assert str(event["SUMMARY"]) == f"Revue trimestrielle ({lang})"
    assert event.decoded("DTSTART") == dt.datetime.combine(day, dt.time(15, 0), tzinfo=_paris()).astimezone(dt.timezone.utc)
    assert event.decoded("DTEND") - event.decoded("DTSTART") == dt.timedelta(minutes=90)
    attendees = event.get("ATTENDEE")
    attendees = attendees if isinstance(attendees, list) else [attendees]
    mine = [a for a in attendees if str(a).lower() == f"mailto:{guest_mail}"]
    assert mine and mine[0].params["PARTSTAT"] == "DECLINED", attendees
    token = rsvp.rstrip("/").split("/")[-1]
    assert f"/j/{token}" in str(event["DESCRIPTION"])
    # Google and Outlook links carry the same instant.
    start_utc = event.decoded("DTSTART").strftime("%Y%m%dT%H%M%SZ")
    expect(guest.get_by_role("link", name=w["google"])).to_have_attribute("href", re.compile(f"dates={start_utc}"))
    expect(guest.get_by_role("link", name=w["outlook"])).to_have_attribute("href", re.compile("outlook.live.com"))

    # A tab restored after the cookie went: the answer is not refused with "access denied", the page
    # comes back fresh with that answer highlighted, and one click records it.
    guest.goto(rsvp)
    ctx.clear_cookies()
    ctx.add_cookies([{"name": "jmb_lang", "value": lang, "url": base}])
    watch.allowed.add((403, f"/rsvp/{token}"))
    guest.get_by_role("button", name=w["accept"]).click()
    alert = guest.locator("#confirmation")
    expect(alert).to_have_attribute("role", "alert")
    expect(alert).to_contain_text(w["expired"])
    expect(alert).to_be_focused()
    expect(guest.get_by_role("heading", name=w["denied"])).to_have_count(0)
    expect(guest.locator("#current-answer")).to_have_text(w["declined"])
    expect(guest.get_by_role("button", name=w["accept"])).not_to_have_class(re.compile("secondary"))
    AUDIT.page(guest, f"rsvp-expired-{lang}")
    guest.get_by_role("button", name=w["accept"]).click()
    expect(guest.locator("#current-answer")).to_have_text(w["accepted"])
    AUDIT.page(guest, f"rsvp-accepted-{lang}")

    # The join link before it opens: no self-refreshing page; a countdown, in the guest's zone.
    guest.goto(rsvp)
    guest.get_by_role("link", name=w["join_early"]).click()
    expect(guest.get_by_role("heading", name=w["too_early"])).to_be_visible()
    assert guest.locator('meta[http-equiv="refresh"]').count() == 0
    expect(guest.get_by_role("timer")).to_have_text(re.compile(r"\d\d min \d\d s"))
    expect(guest.locator("time").first).to_contain_text("(America/New_York)")
    if lang == "fr":
        shoot(guest, screenshot_dir, "too-early", base)
    else:
        AUDIT.page(guest, "too-early-en")
    # The site name leads back to the answer page, not to a sign-in.
    expect(guest.locator("a.brand")).to_have_attribute("href", f"/rsvp/{token}")

    # An unknown link: the page says where the way in is, and links to no sign-in page.
    watch.allowed.add((404, "/rsvp/no-such-token-0000000000"))
    guest.goto(base + "/rsvp/no-such-token-0000000000")
    expect(guest.get_by_text(w["unknown"])).to_be_visible()
    assert guest.locator('a[href="/meetings"], a[href^="/login"]').count() == 0
    AUDIT.page(guest, f"not-found-{lang}")
    watch.check()
    ctx.close()


def _paris():
    from zoneinfo import ZoneInfo
    return ZoneInfo("Europe/Paris")


def _new_york():
    from zoneinfo import ZoneInfo
    return ZoneInfo("America/New_York")


def tab_to(page: Page, selector: str, limit: int = 80):
    """Presses Tab until the element matching `selector` has the focus (fails after `limit` presses)."""
    target = page.locator(selector).first
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("(e) => e === document.activeElement"):
            return
    raise AssertionError(f"{selector} never got the focus with Tab")


def test_keyboard_only_booking_and_answer(jmb_server, browser):
    """The booking and the answer, with the keyboard only: every control reached with Tab, every
    submit with Enter or Space, and the focus where a keyboard user needs it after each submit."""
    base = jmb_server
    # The form proposes the next quarter hour as the start; a walk that crossed that instant would
    # submit a start already past (refused, rightly). Start the walk well before the next one.
    now = dt.datetime.now(dt.timezone.utc)
    to_next_quarter = (15 - now.minute % 15) * 60 - now.second
    if to_next_quarter < 120:
        time.sleep(to_next_quarter + 1)
    ctx = new_context(browser, base)
    watch = Watch(ctx)
    page = ctx.new_page()
    page.goto(base + "/")
    tab_to(page, "form[action^='/login'] button:has-text('Marie Martin')")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Mes réunions", level=1)).to_be_visible()
    tab_to(page, "a[href='/meetings/new']")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Nouvelle réunion", level=1)).to_be_visible()

    # A refused submit: the focus goes to the error summary.
    tab_to(page, "#f-subject")
    page.keyboard.press("Control+A")
    page.keyboard.type("Clavier seulement")
    tab_to(page, "#f-guests")
    page.keyboard.type("pas-une-adresse")
    watch.allowed.add((400, "/meetings/new"))
    tab_to(page, "button[type=submit]:has-text('Créer la réunion')")
    page.keyboard.press("Enter")
    expect(page.locator("#error-summary")).to_be_focused()
    AUDIT.page(page, "form-errors-keyboard-fr")
    # The summary links to the field; the field is then fixed and the form sent.
    tab_to(page, "#error-summary a[href='#f-guests']")
    page.keyboard.press("Enter")
    expect(page.locator("#f-guests")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("clavier@partner.net")
    tab_to(page, "button[type=submit]:has-text('Créer la réunion')")
    page.keyboard.press("Enter")
    # Booked: the confirmation has the focus.
    expect(page.locator("#confirmation")).to_be_focused()
    expect(page.locator("#confirmation")).to_contain_text("Réunion créée")
    row = page.locator("tr[data-meeting]").filter(has_text="Clavier seulement")
    tab_to(page, f"tr[data-meeting='{row.get_attribute('data-meeting')}'] a:has-text('Participants')")
    page.keyboard.press("Enter")
    rsvp = page.locator('tr[data-mail="clavier@partner.net"] a.small-link').get_attribute("href")
    watch.check()
    ctx.close()

    # The guest answers with the keyboard: note, then "maybe" with Space.
    ctx = new_context(browser, base)
    watch = Watch(ctx)
    guest = ctx.new_page()
    guest.goto(rsvp)
    tab_to(guest, "#note")
    guest.keyboard.type("Au clavier")
    tab_to(guest, "button[value=tentative]")
    guest.keyboard.press("Space")
    expect(guest.locator("#confirmation")).to_be_focused()
    expect(guest.locator("#current-answer")).to_have_text("Peut-être")
    # Then a change of answer, with Enter.
    tab_to(guest, "button[value=accept]")
    guest.keyboard.press("Enter")
    expect(guest.locator("#confirmation")).to_be_focused()
    expect(guest.locator("#current-answer")).to_have_text("Acceptée")
    # The skip link is the first stop and leads to the content.
    guest.keyboard.press("Control+Home")
    guest.evaluate("() => document.activeElement && document.activeElement.blur()")
    guest.goto(rsvp)
    guest.keyboard.press("Tab")
    expect(guest.locator("a.skip")).to_be_focused()
    watch.check()
    ctx.close()


def test_the_audit_can_fail(jmb_server, browser):
    """The audit is not vacuous: axe-core is there and reports a page with a nameless button, a missing
    language and an image without text, and the reflow check sees a page wider than 320 px."""
    base = jmb_server
    ctx = with_axe(browser.new_context())
    page = ctx.new_page()
    page.route(base + "/broken-on-purpose", lambda route: route.fulfill(
        status=200, content_type="text/html",
        body='<!DOCTYPE html><html><head><title>x</title></head><body><main><button></button><img src="data:,">'
             '<div style="width:600px">wide</div></main></body></html>'))
    page.goto(base + "/broken-on-purpose")
    from conftest import axe_violations, no_sideways_scroll
    found = " ".join(axe_violations(page))
    for rule in ("button-name", "html-has-lang", "image-alt"):
        assert rule in found, found
    page.set_viewport_size({"width": 320, "height": 640})
    assert not no_sideways_scroll(page)
    ctx.close()
