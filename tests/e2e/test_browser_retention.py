"""Browser journey (issue 12, items 16-17): HR erases a gift recipient, still sees the name
in the gift ledger (a manager sees the pseudonym), opens the retention page, changes a
period with its source; both pages fit a 390 px phone. Screenshots: retention-*.png."""
from __future__ import annotations

from datetime import timedelta

import pytest

from engagement.extensions import db
from engagement.records.gdpr import services as gdpr
from engagement.timeutil import utcnow
from tests.factories import make_grant, make_member, make_reward_item, make_user

pytestmark = pytest.mark.browser
NAME = "Gisela Geschenkt"


def _no_sideways_scroll(page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"page scrolls sideways by {overflow}px"


def test_hr_sees_restricted_names_and_what_goes_when(live_server, page, login, screenshot):
    app = live_server.app
    now = utcnow()
    with app.app_context():
        member = make_member(display_name=NAME, email="gisela@example.org")
        make_grant(member, make_reward_item("Fountain pen", "45.00"), year=now.year,
                   granted_at=now - timedelta(days=3))
        make_user(role="hr", email="hr@example.org")
        make_user(role="manager", email="mgr@example.org")
        member_id = member.id
        gdpr.erase_member(db.session, member_id, key="k", now=now)
        db.session.commit()

    login(page, "hr@example.org")
    page.goto(f"{live_server.url}/rewards/ledger?year={now.year}")
    row = page.locator("tbody tr").nth(0).inner_text()
    assert NAME in row and "restricted, Art. 18" in row
    screenshot(page, "retention-1-ledger-hr")

    page.goto(f"{live_server.url}/records/retention")
    assert page.locator("h1").inner_text() == "Retention: what goes when"
    table = page.locator("table.retention").inner_text()
    assert "Names of erased gift recipients" in table and "10 years" in table
    page.select_option("select[name=kind]", "rsvp_answers")
    page.fill("input[name=amount]", "30")
    page.fill("input[name=source]", "Works agreement of 2026")
    page.click("section.card button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "Retention period saved." in page.locator("body").inner_text()
    assert "Works agreement of 2026" in page.locator("table.retention").inner_text()
    screenshot(page, "retention-2-page")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    _no_sideways_scroll(page)
    screenshot(page, "retention-3-page-phone")
    page.goto(f"{live_server.url}/rewards/ledger?year={now.year}")
    _no_sideways_scroll(page)
    screenshot(page, "retention-4-ledger-phone")

    page.context.clear_cookies()
    login(page, "mgr@example.org")
    page.goto(f"{live_server.url}/rewards/ledger?year={now.year}")
    row = page.locator("tbody tr").nth(0).inner_text()
    assert NAME not in row and f"Erased member #{member_id}" in row

    screenshot(page, "retention-5-ledger-manager")
