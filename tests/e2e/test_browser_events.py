"""Browser journey (issue 4): a manager creates and publishes an event, previews a segment,
invites it, sees the mails queued in the outbox, runs delivery, sees them sent; an invitee
opens the link from the received mail on a phone. Screenshots: screenshots/events-*.png."""
from __future__ import annotations

import re

import pytest

from engagement.extensions import db
from tests.factories import make_member, make_user
from tests.mail_fixtures import deliver_all

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 812}


def _no_horizontal_scroll(page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"page scrolls sideways by {overflow}px at {page.viewport_size}"


def test_manager_invites_a_segment_and_the_mails_go_out(live_server, page, browser, login,
                                                       screenshot, smtp_server):
    app = live_server.app
    smtp_server.configure(app)
    with app.app_context():
        make_user("manager", email="manager@example.org")
        for i in range(4):
            make_member(display_name=f"Köln Fan {i}", region="Köln", locale="de" if i % 2 else "en",
                        email=f"koeln{i}@example.org")
        make_member(display_name="Berlin Fan", region="Berlin", email="berlin@example.org")
        db.session.commit()

    login(page, "manager@example.org")
    page.goto(f"{live_server.url}/events/new")
    page.fill("input[name=title]", "Community Summit")
    page.fill("input[name=starts_at]", "2030-11-05T18:00")
    page.fill("input[name=ends_at]", "2030-11-05T22:00")
    page.select_option("select[name=timezone]", "Europe/Berlin")
    page.fill("input[name=venue]", "Haus am Dom")
    page.fill("input[name=organizer_email]", "events@example.org")
    screenshot(page, "events-1-form")
    page.click("form button[type=submit]:has-text('Save')")
    assert re.search(r"/events/\d+$", page.url), page.url
    event_url = page.url
    assert page.locator("h1").inner_text().startswith("Community Summit")

    page.click("button:has-text('Publish')")
    assert "Published" in page.locator("h1 .status").inner_text()

    page.fill("input[name=regions]", "Köln")
    page.click("button[name=action][value=preview]")
    preview = page.locator("#preview")
    assert "4 members match." in preview.inner_text()
    assert "Berlin Fan" not in preview.inner_text()
    screenshot(page, "events-2-preview")

    page.click("button[name=action][value=invite]")
    assert "4 invitations created" in page.locator(".flash-success").inner_text()
    screenshot(page, "events-3-invited")
    page.goto(event_url)
    invited = page.locator(".kpi").first
    assert invited.locator(".value").inner_text() == "4"
    assert page.locator("table tbody tr").count() == 4

    # Queued: the invitations (and reminders, not due yet) wait in the outbox, not yet built.
    page.goto(f"{live_server.url}/mail/outbox?status=queued")
    rows = page.locator("table tbody tr")
    kinds = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert sum("event-invitation" in k for k in kinds) == 4
    screenshot(page, "events-4-outbox-queued")

    report = deliver_all(app)  # the real worker code, over SMTP to the test server
    assert report.sent == 4 and report.failed == 0
    received = smtp_server.messages
    assert sorted(m.rcpt_tos[0] for m in received) == [f"koeln{i}@example.org"
                                                         for i in range(4)]

    page.goto(f"{live_server.url}/mail/outbox?status=sent")
    sent_rows = page.locator("table tbody tr")
    assert sent_rows.count() == 4
    assert all("Invitation: Community Summit" in sent_rows.nth(i).inner_text()
               or "Einladung: Community Summit" in sent_rows.nth(i).inner_text()
               for i in range(4))
    screenshot(page, "events-5-outbox-sent")
    page.locator("table tbody tr a").first.click()
    assert "text/calendar" in page.locator(".mail-parts").inner_text()
    screenshot(page, "events-6-message")
    _no_horizontal_scroll(page)

    # The invitee opens the personal link from the mail on a phone (no session).
    english = next(m for m in received if m.rcpt_tos[0] == "koeln0@example.org")
    text = english.message.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"https?://\S+/i/[\w.\-]+", text).group(0)
    path = link[link.index("/i/"):]
    phone = browser.new_context(locale="en-GB", viewport=PHONE, is_mobile=True)
    try:
        invitee = phone.new_page()
        invitee.goto(f"{live_server.url}{path}")
        assert "Community Summit" in invitee.locator("h1").inner_text()
        assert "Köln Fan 0" in invitee.content()
        screenshot(invitee, "events-7-invitation-phone")
        _no_horizontal_scroll(invitee)
    finally:
        phone.close()
