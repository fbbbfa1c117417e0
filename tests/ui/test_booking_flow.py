"""The booking pages in a real browser (Debian's Chromium, headless), against the real jmb binary on
the demo sign-in: create a meeting with two moderators and three guests, see it listed, edit it, open a
guest's answer link and accept, see the answer on the tracking page, delete it after confirming.

Every page is screenshotted in French and English, at desktop (1280) and phone (390) widths, into a
temporary folder, or into docs/screenshots/ (the user guide shows them) with JMB_SCREENSHOTS=docs/screenshots. A console error, an uncaught exception, a failed request
or a 4xx/5xx response fails the test, except the deliberate ones listed in `Watch.allowed`.

Run: cargo build && .venv-it/bin/python -m pytest tests/ui -q
"""

import datetime as dt
import email
import email.policy
import re

from playwright.sync_api import Page, expect

from conftest import AUDIT, with_axe

WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
LANGS = ("fr", "en")



class Watch:
    """Collects everything that went wrong in a browser context."""

    def __init__(self, context):
        self.problems = []
        # (status, path) pairs that the test provokes on purpose.
        self.allowed = set()
        context.on("page", self.attach)

    def attach(self, page: Page):
        page.on("console", self.console)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", self.failed)
        page.on("response", self.response)

    def console(self, message):
        if message.type != "error":
            return
        # Chromium also logs every 4xx/5xx response; the deliberate ones are allowed.
        status = re.search(r"status of (\d+)", message.text)
        path = re.sub(r"^https?://[^/]+", "", message.location.get("url", ""))
        if status and (int(status.group(1)), path) in self.allowed:
            return
        self.problems.append(f"console: {message.text} @ {message.location.get('url')}")

    def failed(self, request):
        # A download navigates nowhere, and a navigation cancels the loads of the page it leaves: Chromium
        # reports both as aborted. Real failures are refused connections, resets, or 4xx/5xx (below).
        if request.failure == "net::ERR_ABORTED":
            return
        self.problems.append(f"request failed: {request.method} {request.url} {request.failure}")

    def response(self, response):
        if response.status >= 400:
            path = re.sub(r"^https?://[^/]+", "", response.url)
            if (response.status, path) not in self.allowed:
                self.problems.append(f"HTTP {response.status}: {response.request.method} {path}")

    def check(self):
        assert not self.problems, "\n".join(self.problems)


def new_context(browser, base, lang="fr"):
    context = browser.new_context(
        locale="fr-FR" if lang == "fr" else "en-GB",
        timezone_id="Europe/Paris",
        viewport={"width": 1280, "height": 800},
        accept_downloads=True,
    )
    context.add_cookies([{"name": "jmb_lang", "value": lang, "url": base}])
    return with_axe(context)


def shoot(page: Page, shots, name: str, base: str, reload=True):
    """Screenshots the current page in both languages at both widths, running axe-core on each and
    checking that it fits 320 px; comes back to French desktop.

    `reload=False` is for a page that answered a POST (a form with errors): it is only resized."""
    langs = LANGS if reload else (None,)
    for lang in langs:
        if lang:
            page.context.add_cookies([{"name": "jmb_lang", "value": lang, "url": base}])
            page.reload()
            expect(page.locator("html")).to_have_attribute("lang", lang)
        for width, (w, h) in WIDTHS.items():
            page.set_viewport_size({"width": w, "height": h})
            suffix = lang or page.locator("html").get_attribute("lang")
            AUDIT.page(page, f"{name}-{suffix}", all_widths=False)
            page.screenshot(path=str(shots / f"{name}-{suffix}-{width}.png"), full_page=True)
    w, h = WIDTHS["desktop"]
    page.set_viewport_size({"width": w, "height": h})
    if reload:
        page.context.add_cookies([{"name": "jmb_lang", "value": "fr", "url": base}])
        page.reload()
        expect(page.locator("html")).to_have_attribute("lang", "fr")


def meeting_row(page: Page, subject: str):
    return page.locator("tr[data-meeting]").filter(has_text=subject)


def test_booking_flow(jmb_server, browser, screenshot_dir):
    base = jmb_server
    shots = screenshot_dir
    owner_ctx = new_context(browser, base)
    watch = Watch(owner_ctx)
    page = owner_ctx.new_page()

    # Sign in (demo) as an editor.
    page.goto(base + "/meetings")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fmeetings$"))
    shoot(page, shots, "login", base)
    page.get_by_role("button", name="Se connecter en tant que Jean Dupont").click()
    expect(page.get_by_role("heading", name="Mes réunions", level=1)).to_be_visible()

    # The booking form, with the original's defaults.
    page.get_by_role("link", name="Nouvelle réunion").click()
    expect(page.get_by_role("heading", name="Nouvelle réunion", level=1)).to_be_visible()
    expect(page.get_by_label("Objet")).to_have_value("Réunion sans objet")
    expect(page.get_by_label("Durée")).to_have_value("90")
    assert re.fullmatch(r"\d\d:(00|15|30|45)", page.get_by_label("Heure").input_value())
    shoot(page, shots, "new-form", base)

    # A mistake: the error shows next to the field, the input is kept, the answer is 400.
    day = (dt.date.today() + dt.timedelta(days=7)).isoformat()
    page.get_by_label("Objet").fill("Revue de projet")
    page.get_by_label("Date").fill(day)
    page.get_by_label("Heure").fill("10:00")
    page.get_by_label("Durée").select_option("60")
    page.get_by_label(re.compile("^Modérateurs")).fill(
        "Marie Martin <marie.martin@example.org>, ext.moderator@partner.net"
    )
    page.get_by_label(re.compile("^Invités")).fill("pas-une-adresse")
    watch.allowed.add((400, "/meetings/new"))
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Créer la réunion").click()
    assert posted.value.status == 400
    guests = page.get_by_label(re.compile("^Invités"))
    expect(guests).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-guests-err")).to_contain_text("L'adresse « pas-une-adresse » est incorrecte.")
    expect(page.get_by_label("Objet")).to_have_value("Revue de projet")
    expect(page.locator("#error-summary")).to_be_visible()
    shoot(page, shots, "form-errors", base, reload=False)

    # Two moderators and three guests, pasted as a mail client copies them.
    guests.fill('Paul Visiteur <paul.visiteur@example.org>\n"Durand, Anne" <anne.durand@partner.net>; bob@partner.net')
    page.get_by_role("button", name="Créer la réunion").click()
    expect(page.get_by_role("status")).to_contain_text("Réunion créée")
    row = meeting_row(page, "Revue de projet")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Propriétaire")
    expect(row).to_contain_text("Planifiée")
    # Counted as on the tracking page: five invitees, nobody has accepted yet.
    expect(row).to_contain_text("0/5")
    expect(row).to_contain_text("10:00")
    meeting_id = row.get_attribute("data-meeting")
    shoot(page, shots, "list", base)

    # List tools: search by attendee, then "duplicate" opens a form with the same subject and people.
    page.get_by_label("Objet ou participant").fill("durand")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.locator("#found")).to_have_text("1 réunion trouvée.")
    expect(meeting_row(page, "Revue de projet")).to_have_count(1)
    shoot(page, shots, "list-search", base)
    meeting_row(page, "Revue de projet").get_by_role("link", name="Dupliquer").click()
    expect(page.get_by_role("heading", name="Nouvelle réunion", level=1)).to_be_visible()
    expect(page.get_by_label("Objet")).to_have_value("Revue de projet")
    expect(page.get_by_label(re.compile("^Invités"))).to_have_value(re.compile(r"anne\.durand@partner\.net"))
    page.goto(base + "/meetings")
    row = meeting_row(page, "Revue de projet")

    # Edit: one address per line, who will be told, then a new subject and time.
    row.get_by_role("link", name="Modifier").click()
    expect(page.get_by_role("heading", name="Modification de la réunion", level=1)).to_be_visible()
    expect(page.get_by_label(re.compile("^Invités"))).to_have_value(
        re.compile(r"paul\.visiteur@example\.org>\n.*anne\.durand@partner\.net>\n.*bob@partner\.net")
    )
    expect(page.locator("#f-notified")).to_contain_text("paul.visiteur@example.org")
    shoot(page, shots, "edit-form", base)
    page.get_by_label("Objet").fill("Revue de projet (v2)")
    page.get_by_label("Heure").fill("11:30")
    page.get_by_role("button", name="Modifier la réunion").click()
    expect(page.get_by_role("status")).to_contain_text("Les participants seront informés du changement")
    row = meeting_row(page, "Revue de projet (v2)")
    expect(row).to_contain_text("11:30")

    # Attendee tracking: six people, nobody answered yet.
    row.get_by_role("link", name="Participants").click()
    expect(page.get_by_role("heading", name="Suivi des participants", level=1)).to_be_visible()
    expect(page.locator("#attendees-table tbody tr")).to_have_count(6)
    paul = page.locator('tr[data-mail="paul.visiteur@example.org"]')
    expect(paul).to_contain_text("Sans réponse")
    rsvp_url = paul.get_by_role("link").get_attribute("href")
    assert "/rsvp/" in rsvp_url

    # The guest opens the answer link (no sign-in) and accepts.
    guest_ctx = new_context(browser, base)
    guest_watch = Watch(guest_ctx)
    guest = guest_ctx.new_page()
    guest.goto(rsvp_url)
    expect(guest.get_by_text("Revue de projet (v2)")).to_be_visible()
    shoot(guest, shots, "rsvp", base)
    guest.get_by_role("button", name="Accepter l'invitation").click()
    expect(guest.locator("#current-answer")).to_have_text("Acceptée")
    AUDIT.page(guest, "rsvp-accepted-fr")
    guest_watch.check()
    guest_ctx.close()

    # The owner sees the answer; the invitation text and each personal link can be copied.
    page.reload()
    expect(paul).to_contain_text("Acceptée")
    expect(page.locator("#invitation-text")).to_have_value(re.compile(r"Revue de projet \(v2\)[\s\S]*11:30 – 12:30 \(Europe/Paris\)"))
    copy = paul.get_by_role("button", name="Copier le lien de réponse de paul.visiteur@example.org")
    # Copying is confirmed on the button and said to screen readers (a polite live region).
    owner_ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    copy.click()
    expect(copy).to_have_attribute("data-done", "1")
    expect(page.locator("#live")).to_have_text("Copié dans le presse-papiers.")
    assert page.evaluate("() => navigator.clipboard.readText()") == rsvp_url
    expect(page.locator("#totals")).to_contain_text("1 acceptées")
    shoot(page, shots, "attendees", base)
    csv = page.request.get(f"{base}/meetings/{meeting_id}/attendees.csv")
    assert csv.status == 200
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    # For French Excel: a byte-order mark, `;` between cells, a name that says what it holds.
    assert csv.body().startswith("\ufeff".encode())
    assert '"Paul Visiteur";"paul.visiteur@example.org";"Invité";"Acceptée"' in csv.text()
    assert re.fullmatch(r'attachment; filename="participants-\d{4}-\d\d-\d\d-revue-de-projet-v2\.csv"',
                        csv.headers["content-disposition"])

    # A guest who is also a user sees the meeting in their own list and can decline inline.
    visitor_ctx = new_context(browser, base)
    visitor_watch = Watch(visitor_ctx)
    visitor = visitor_ctx.new_page()
    visitor.goto(base + "/meetings")
    visitor.get_by_role("button", name="Se connecter en tant que Paul Visiteur").click()
    vrow = meeting_row(visitor, "Revue de projet (v2)")
    expect(vrow).to_contain_text("Invité")
    expect(vrow).to_contain_text("Acceptée")
    expect(vrow.get_by_role("link", name="Modifier")).to_have_count(0)
    shoot(visitor, shots, "list-guest", base)
    vrow.get_by_role("button", name="Décliner").click()
    expect(visitor.get_by_role("status")).to_contain_text("Vous avez décliné")
    expect(meeting_row(visitor, "Revue de projet (v2)")).to_contain_text("Déclinée")
    # Not the owner: the tracking page is refused (deliberate 403).
    visitor_watch.allowed.add((403, f"/meetings/{meeting_id}/attendees"))
    response = visitor.goto(f"{base}/meetings/{meeting_id}/attendees")
    assert response.status == 403
    expect(visitor.get_by_role("heading", name="Accès refusé")).to_be_visible()
    AUDIT.page(visitor, "forbidden-fr")
    visitor_watch.check()
    visitor_ctx.close()

    # The calendar page: a new password is shown once; a reload neither shows it again nor makes another.
    page.goto(base + "/calendar")
    shoot(page, shots, "calendar", base)
    page.get_by_role("button", name=re.compile("mot de passe d'agenda")).click()
    expect(page.locator("#dav-password")).to_be_visible()
    AUDIT.page(page, "calendar-password-fr")
    page.reload()
    expect(page.locator("#dav-password")).to_have_count(0)

    # Delete, after confirming on a page that works without JavaScript.
    page.goto(base + "/meetings")
    meeting_row(page, "Revue de projet (v2)").get_by_role("link", name="Supprimer").click()
    expect(page.get_by_role("heading", name="Supprimer la réunion", level=1)).to_be_visible()
    expect(page.get_by_text("paul.visiteur@example.org")).to_be_visible()
    shoot(page, shots, "delete-confirm", base)
    page.get_by_role("button", name="Oui, supprimer la réunion").click()
    expect(page.get_by_role("status")).to_contain_text("Réunion supprimée")
    expect(meeting_row(page, "Revue de projet (v2)")).to_have_count(0)

    # The language switch keeps what was typed, and the list's search.
    page.goto(base + "/meetings/new")
    page.get_by_label("Objet").fill("Tapé avant de changer de langue")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="New meeting", level=1)).to_be_visible()
    expect(page.get_by_label("Subject")).to_have_value("Tapé avant de changer de langue")
    page.goto(base + "/meetings?q=revue&show=past")
    page.get_by_role("button", name="Français").click()
    expect(page).to_have_url(re.compile(r"/meetings\?q=revue&show=past$"))
    expect(page.get_by_label("Objet ou participant")).to_have_value("revue")

    # The language switch is remembered.
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="My meetings", level=1)).to_be_visible()
    page.goto(base + "/meetings/new")
    expect(page.get_by_role("heading", name="New meeting", level=1)).to_be_visible()

    watch.check()
    owner_ctx.close()


def test_pages_work_without_javascript(jmb_server, browser):
    """The whole flow is plain forms and links: with JavaScript off, booking and deleting still work."""
    base = jmb_server
    context = browser.new_context(java_script_enabled=False, locale="en-GB")
    context.add_cookies([{"name": "jmb_lang", "value": "en", "url": base}])
    watch = Watch(context)
    page = context.new_page()
    page.goto(base + "/")
    page.get_by_role("button", name="Sign in as Marie Martin").click()
    page.get_by_role("link", name="New meeting").click()
    page.get_by_label("Subject").fill("No-JS meeting")
    page.get_by_label("Date").fill((dt.date.today() + dt.timedelta(days=3)).isoformat())
    page.get_by_label("Time").fill("14:00")
    page.get_by_label(re.compile("^Guests")).fill("someone@partner.net")
    page.get_by_role("button", name="Book the meeting").click()
    row = meeting_row(page, "No-JS meeting")
    expect(row).to_contain_text("Planned")
    row.get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Yes, delete the meeting").click()
    expect(page.get_by_role("status")).to_contain_text("Meeting deleted")
    watch.check()
    context.close()


def test_the_guest_reaches_the_meeting_through_their_invitation(jmb_server, browser, screenshot_dir):
    """Demo mailbox: book, read the guest's invitation at /mailbox, follow its answer link as the guest.
    (Marie books: Jean chose English in the first test, so his own mails are in English.)"""
    base = jmb_server
    owner_ctx = new_context(browser, base)
    watch = Watch(owner_ctx)
    page = owner_ctx.new_page()
    page.goto(base + "/")
    page.get_by_role("button", name="Se connecter en tant que Marie Martin").click()
    page.get_by_role("link", name="Nouvelle réunion").click()
    page.get_by_label("Objet").fill("Atelier invitations")
    page.get_by_label("Date").fill((dt.date.today() + dt.timedelta(days=9)).isoformat())
    page.get_by_label("Heure").fill("15:00")
    page.get_by_label(re.compile("^Invités")).fill("Claire Invitée <claire@partner.net>")
    page.get_by_role("button", name="Créer la réunion").click()
    expect(page.get_by_role("status")).to_contain_text("Réunion créée")

    # The mailbox: the guest's invitation and the owner's confirmation.
    page.get_by_role("link", name="Courrier (démo)").click()
    expect(page.get_by_role("heading", name="Boîte aux lettres de démonstration", level=1)).to_be_visible()
    def mail_to(address: str):
        return page.locator("details.mail").filter(has=page.locator("summary", has_text=address)).filter(
            has_text="Atelier invitations")

    invitation = mail_to("claire@partner.net")
    expect(invitation).to_have_count(1)
    expect(invitation.locator(".mail-subject")).to_have_text("Invitation visioconférence : Atelier invitations")
    if invitation.get_attribute("open") is None:  # only the newest mail is open
        invitation.locator("summary").click()
    expect(mail_to("marie.martin@example.org").locator(".mail-subject")).to_have_text(
        "Réservation visioconférence : Atelier invitations")
    body = invitation.locator(".mail-body")
    expect(body).to_contain_text("Marie Martin vous invite à une visioconférence")
    shoot(page, screenshot_dir, "mailbox", base)
    # The .eml download is the message as a mail program gets it.
    eml = page.request.get(base + invitation.get_by_role("link", name="Télécharger (.eml)").get_attribute("href"))
    assert eml.status == 200 and eml.headers["content-type"].startswith("message/rfc822")
    assert b"Content-Type: text/calendar" in eml.body() and b"METHOD:REQUEST" in eml.body()
    accept_href = body.get_by_role("link", name=re.compile(r"answer=accept$")).get_attribute("href")
    # The HTML part, as a mail program shows it (for the user guide): its buttons carry the same links.
    message = email.message_from_bytes(eml.body(), policy=email.policy.default)
    html_page = owner_ctx.new_page()
    html_page.set_content(message.get_body(preferencelist=("html",)).get_content())
    expect(html_page.get_by_role("link", name="Accepter")).to_have_attribute("href", accept_href)
    expect(html_page.get_by_role("link", name="Rejoindre la réunion")).to_be_visible()
    for width, (w, h) in WIDTHS.items():
        html_page.set_viewport_size({"width": w, "height": h})
        html_page.screenshot(path=str(screenshot_dir / f"invitation-fr-{width}.png"), full_page=True)
    html_page.close()
    watch.check()
    owner_ctx.close()

    # The guest follows the link from their mail (a fresh browser, no sign-in): the page asks, the button answers.
    guest_ctx = new_context(browser, base)
    guest_watch = Watch(guest_ctx)
    guest = guest_ctx.new_page()
    guest.goto(accept_href)
    expect(guest.get_by_text("Atelier invitations")).to_be_visible()
    expect(guest.locator("#current-answer")).to_have_text("Sans réponse")
    guest.get_by_role("button", name="Accepter l'invitation").click()
    expect(guest.locator("#current-answer")).to_have_text("Acceptée")
    guest_watch.check()
    guest_ctx.close()
