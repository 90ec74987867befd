"""Browser journey (issue 6) on a phone: the guest opens their ticket (QR code); a manager's
phone camera opens the scan URL, signs in, lands back on the confirm page and checks the
guest in with one tap. Screenshots: screenshots/checkin-*.png."""
from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from engagement.events import notifications, rules, services
from engagement.events.checkin import tickets
from engagement.events.models import Invitation
from engagement.events.rsvp import services as rsvp
from engagement.extensions import db
from tests.factories import PASSWORD, make_member, make_user

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 812}
NOW = datetime(2029, 1, 1, tzinfo=UTC)
BERLIN = rules.zone("Europe/Berlin")


def _no_horizontal_scroll(page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"page scrolls sideways by {overflow}px"


def test_scan_url_check_in_on_a_phone(live_server, browser, screenshot, monkeypatch):
    from engagement.events.checkin import views as checkin_views

    # The evening of the event (18:05 in Köln): check-in is open.
    monkeypatch.setattr(checkin_views, "utcnow", lambda: datetime(2030, 11, 5, 17, 5, tzinfo=UTC))
    app = live_server.app
    with app.app_context():
        values = rules.validate_event(rules.EventInput(
            title="Rooftop Meetup", description="", venue="Rooftop", address="Köln",
            starts_at=rules.parse_local("2030-11-05T18:00", BERLIN),
            ends_at=rules.parse_local("2030-11-05T22:00", BERLIN), timezone="Europe/Berlin",
            organizer_name="Team", organizer_email="events@example.org", capacity=10))
        event = services.create_event(db.session, values, now=NOW, base_url="http://x")
        services.publish_event(db.session, event, now=NOW)
        guest = make_member(email="guest@example.org", display_name="Greta Guest")
        services.invite(db.session, event, now=NOW, member_ids=[guest.id])
        inv = db.session.scalar(select(Invitation).where(Invitation.event_id == event.id))
        rsvp.respond(db.session, inv, "accepted", now=NOW)
        make_user(role="manager", email="door@example.org")
        inv_id, event_id = inv.id, event.id
        ticket_path = f"/i/{notifications.make_token(inv.id, inv.nonce)}/ticket"
        scan_path = urlsplit(tickets.checkin_url(inv.id, inv.nonce)).path
        db.session.commit()

    guest_ctx = browser.new_context(locale="en-GB", viewport=PHONE, is_mobile=True)
    guest_page = guest_ctx.new_page()
    guest_page.goto(live_server.url + ticket_path)
    qr = guest_page.locator(".ticket-qr svg")
    assert qr.is_visible()
    assert qr.bounding_box()["width"] >= 150  # big enough for a phone camera
    assert guest_page.locator(".ticket-qr").get_attribute("data-checkin-url").endswith(scan_path)
    _no_horizontal_scroll(guest_page)
    screenshot(guest_page, "checkin-1-ticket-phone")
    guest_ctx.close()

    ctx = browser.new_context(locale="en-GB", viewport=PHONE, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    # What the camera app opens: not signed in yet, so the login comes first, then back.
    page.goto(live_server.url + scan_path)
    assert "/login" in page.url
    page.fill("input[name=email]", "door@example.org")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.card button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert urlsplit(page.url).path == scan_path
    assert page.locator("h1").inner_text() == "Greta Guest"
    button = page.locator("button.checkin-button")
    assert button.is_visible() and button.bounding_box()["height"] >= 44
    _no_horizontal_scroll(page)
    screenshot(page, "checkin-2-confirm-phone")
    with page.expect_navigation():
        button.tap()
    assert page.locator(".checkin-done").is_visible()
    assert "Greta Guest is checked in." in page.content()
    screenshot(page, "checkin-3-done-phone")
    with app.app_context():
        assert db.session.get(Invitation, inv_id).checked_in_at is not None
    # The door list shows the count on the same phone.
    page.goto(f"{live_server.url}/events/{event_id}/door")
    assert "Checked in: 1" in page.locator(".door-counts").inner_text()
    _no_horizontal_scroll(page)
    screenshot(page, "checkin-4-door-phone")
    # The same ticket scanned again: a warning, not the green tick.
    page.goto(live_server.url + scan_path)
    assert page.locator(".checkin-again").is_visible()
    assert "Already checked in at 18:05." in page.locator(".checkin-again").inner_text()
    assert page.locator(".checkin-done").count() == 0
    _no_horizontal_scroll(page)
    ctx.close()
