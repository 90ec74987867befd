"""Browser journey (issue 15, item 14): a manager finds a member by part of the name, picks
them, sees their name and the warning that they are already over the gift limit, proposes,
and finds them flagged in the grants list; desktop and a 390 px phone. Screenshots:
screenshots/grants-*.png (and $GRANT_SHOTS if set)."""
from __future__ import annotations

import os
import shutil

import pytest

from engagement.extensions import db
from engagement.rewards import services
from engagement.timeutil import local_year, utcnow
from tests.factories import make_grant, make_member, make_user

pytestmark = pytest.mark.browser


def _fits_phone(page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{page.url} scrolls sideways by {overflow}px"


def _keep(shot) -> None:
    if os.environ.get("GRANT_SHOTS"):
        os.makedirs(os.environ["GRANT_SHOTS"], exist_ok=True)
        shutil.copy(shot, os.environ["GRANT_SHOTS"])


def test_manager_picks_a_member_by_search_and_is_warned(live_server, page, login,
                                                        screenshot):
    app = live_server.app
    year = local_year("Europe/Berlin")
    with app.app_context():
        make_user(role="manager", email="cm@example.org")
        headset = services.create_item(db.session, name="Bluetooth-Headset", kind="gift",
                                       net_value="42.01", vat_rate="19", now=utcnow())
        services.create_item(db.session, name="Community-Tasse", kind="gift",
                             net_value="8.40", vat_rate="19", now=utcnow())
        jana = make_member(display_name="Jana Schmidt", email="jana.schmidt@example.org")
        make_member(display_name="Uwe Schmidt-Berg", email="uwe@example.org")
        make_member(display_name="Karl Meier", email="karl@example.org")
        make_grant(jana, headset, year=year)
        make_grant(jana, headset, year=year)
        jana_id = jana.id
        db.session.commit()

    login(page, "cm@example.org")
    page.goto(f"{live_server.url}/rewards/grants/new")
    page.select_option("#item_id", label="Community-Tasse (10.00 EUR)")
    page.fill("#member_q", "schmidt")
    page.click("button[name=search]")
    page.wait_for_load_state("networkidle")
    picks = page.locator("ul.pick-list li")
    assert picks.count() == 2
    assert "over the limit" in picks.nth(0).inner_text()  # Jana
    assert "over the limit" not in picks.nth(1).inner_text()  # Uwe
    screenshot(page, "grants-1-search")
    page.check("ul.pick-list li:first-child input[type=radio]")
    page.click("button:text-is('Preview')")
    page.wait_for_load_state("networkidle")
    body = page.locator("body").inner_text()
    assert "Recipient: Jana Schmidt" in body
    assert "Jana Schmidt is already over the gift limit" in body
    shot = screenshot(page, "grants-2-preview")
    _keep(shot)
    page.click("button[name=confirm]")
    page.wait_for_load_state("networkidle")
    assert "1 recipient was over the gift limit" in page.locator("body").inner_text()
    page.goto(f"{live_server.url}/rewards/grants")
    rows = page.locator("table tbody tr")
    assert all("over the limit" in rows.nth(i).inner_text()
               for i in range(rows.count()))
    _keep(screenshot(page, "grants-3-list"))

    page.set_viewport_size({"width": 390, "height": 844})
    for path, name in [("/rewards/grants/new?member_q=schmidt&search=1",
                        "grants-4-search-phone"),
                       (f"/rewards/grants/new?member_id={jana_id}", "grants-5-chosen-phone"),
                       ("/rewards/grants", "grants-6-list-phone")]:
        page.goto(live_server.url + path)
        _fits_phone(page)
        _keep(screenshot(page, name))
