"""Browser journey (issue 15, item 8) on a 390 px phone: a door-staff login signs in, lands
on its doors, checks in a guest with their plus-one, records a walk-in guest who is not a
member, and is refused the door list of an event it is not assigned to; the manager assigns
door staff on the event page. Screenshots: screenshots/door-*.png."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engagement.events.checkin import services as checkin
from engagement.events.models import Invitation, WalkInGuest
from engagement.extensions import db
from tests.checkin_helpers import accepted, future_event
from tests.factories import make_user

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DOORS_OPEN = datetime(2030, 11, 5, 17, 5, tzinfo=UTC)


def _no_horizontal_scroll(page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"page scrolls sideways by {overflow}px"


def test_door_staff_journey_on_a_phone(live_server, browser, login, screenshot, monkeypatch):
    from engagement.events.checkin import views as checkin_views

    monkeypatch.setattr(checkin_views, "utcnow", lambda: DOORS_OPEN)
    app = live_server.app
    with app.app_context():
        event = future_event(title="Rooftop Meetup", capacity=10)
        other = future_event(title="Secret Board Dinner")
        (inv,) = accepted(event)
        inv.plus_one = True
        door = make_user(role="door", email="door@example.org", name="Dora Door")
        make_user(role="manager", email="manager@example.org")
        checkin.assign_door_staff(db.session, event, door.id, now=DOORS_OPEN)
        db.session.commit()
        event_id, other_id, inv_id = event.id, other.id, inv.id

    ctx = browser.new_context(locale="en-GB", viewport=PHONE, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    login(page, "door@example.org")
    assert page.url.endswith("/door")
    assert page.locator("h1").inner_text() == "My doors"
    assert "Secret Board Dinner" not in page.content()
    nav = page.locator("nav.mainnav a").all_inner_texts()
    assert nav == ["My doors"]
    _no_horizontal_scroll(page)
    screenshot(page, "door-1-my-doors-phone")

    page.click("a.button:has-text('Door list')")
    page.wait_for_load_state("networkidle")
    page.click("button:has-text('Check in with plus-one')")
    page.wait_for_load_state("networkidle")
    assert "is checked in" in page.content()
    assert page.locator(".door-plus-ones").inner_text() == "1"
    page.fill("#guest-name", "Gisela Gast")
    page.fill("#guest-email", "gisela@example.org")
    page.click("button:has-text('Record guest')")
    page.wait_for_load_state("networkidle")
    assert page.locator(".door-guests").inner_text() == "1"
    _no_horizontal_scroll(page)
    screenshot(page, "door-2-door-list-phone")

    r = page.goto(f"{live_server.url}/events/{other_id}/door")
    assert r.status == 403
    r = page.goto(f"{live_server.url}/events/{event_id}")
    assert r.status == 403
    ctx.close()

    with app.app_context():
        got = db.session.get(Invitation, inv_id)
        assert got.checked_in_at is not None and got.plus_one_checked_in
        assert db.session.scalar(select(WalkInGuest.name)) == "Gisela Gast"

    desk = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    mpage = desk.new_page()
    login(mpage, "manager@example.org")
    mpage.goto(f"{live_server.url}/events/{event_id}")
    assert "Dora Door" in mpage.locator(".door-staff").inner_text()
    screenshot(mpage, "door-3-event-page-desktop")
    desk.close()
