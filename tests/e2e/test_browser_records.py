"""Browser journey (issue 6): HR opens the volunteer records of a year, opens one member-year,
signs it off and sees it signed; the page prints without navigation and fits a phone.
Screenshots: screenshots/records-*.png."""
from __future__ import annotations

from datetime import date

import pytest

from engagement.extensions import db
from tests.factories import add_days, make_member, make_user

pytestmark = pytest.mark.browser


def test_hr_reviews_and_signs_off_a_member_year(live_server, page, login, screenshot):
    app = live_server.app
    with app.app_context():
        helper = make_member(display_name="Hanna Helper")
        add_days(helper, {date(2025, 4, 2): {"answers": 24, "accepted_solutions": 6}})
        idle = make_member(display_name="Ida Idle")
        add_days(idle, {date(2025, 4, 3): {"answers": 1}})
        make_user(role="hr", email="hr@example.org")
        helper_id = helper.id
        db.session.commit()

    login(page, "hr@example.org")
    page.goto(f"{live_server.url}/records?year=2025")
    assert page.locator("h1").inner_text() == "Volunteer records 2025"
    rows = page.locator("tbody tr")
    assert rows.count() == 2
    assert "Hanna Helper" in rows.nth(0).inner_text()  # most hours first
    assert "Not signed off" in rows.nth(0).inner_text()
    screenshot(page, "records-1-list")

    page.click("text=Hanna Helper")
    assert page.url.endswith(f"/records/{helper_id}/2025")
    figures = page.locator("table.figures").inner_text()
    assert "Answers\t24" in figures and "Total hours\t4.5" in figures  # 24x10 + 6x5 min
    page.click("button:has-text('Sign off')")
    page.wait_for_load_state("networkidle")
    assert "was signed off" in page.locator("body").inner_text()
    assert page.locator("p.signed").inner_text().startswith("Signed off by")
    assert page.locator("button:has-text('Sign off again')").is_visible()
    screenshot(page, "records-2-signed")

    page.emulate_media(media="print")
    assert not page.locator(".topbar").is_visible()
    assert not page.locator("button:has-text('Sign off again')").is_visible()
    screenshot(page, "records-3-print")
    page.emulate_media(media="screen")

    page.set_viewport_size({"width": 375, "height": 812})
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"page scrolls sideways by {overflow}px"
    page.goto(f"{live_server.url}/records?year=2025")
    assert "Signed off" in page.locator("tbody tr").nth(0).inner_text()
    screenshot(page, "records-4-list-phone")
