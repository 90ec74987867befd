"""Browser journey (issue 12, items 11-13): a manager reads the 2023 and 2024 gift ledgers
with each year's rules, edits one year's rules, opens a § 37b notice; every page fits a
390 px phone. Screenshots: screenshots/tax-*.png (and $TAX_SHOTS if set)."""
from __future__ import annotations

import dataclasses
import os
import shutil
from datetime import UTC, datetime

import pytest

from engagement.extensions import db
from engagement.rewards import services
from tests.factories import make_member, make_user

pytestmark = pytest.mark.browser
TZ = "Europe/Berlin"


def _give(member, item, at, proposer, approver):
    plan = services.plan_grants(db.session, item_id=item.id, member_ids=[member.id], now=at,
                                tz_name=TZ)
    grant = services.execute_plan(db.session, plan, reason="Top-Antworten", event_id=None,
                                  by_user_id=proposer.id, now=at, target="member")
    services.decide(db.session, grant, approve=True, by_user_id=approver.id, now=at)


def _fits_phone(page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{page.url} scrolls sideways by {overflow}px"


def test_manager_reads_ledgers_by_year_and_a_notice(live_server, page, login, screenshot):
    app = live_server.app
    at_2023 = datetime(2023, 5, 10, 10, tzinfo=UTC)
    at_2024 = datetime(2024, 9, 3, 10, tzinfo=UTC)
    with app.app_context():
        erika = make_member(display_name="Erika Muster")
        jonas = make_member(display_name="Jonas Adler")
        proposer, approver = make_user(), make_user()
        make_user(role="manager", email="cm@example.org")
        bag = services.create_item(db.session, name="Community-Rucksack", kind="gift",
                                   net_value="25.21", vat_rate="19", now=at_2023)
        pen = services.create_item(db.session, name="Kugelschreiber-Set", kind="gift",
                                   net_value="8.40", vat_rate="19", now=at_2023)
        hoodie = services.create_item(db.session, name="Power-User-Hoodie", kind="gift",
                                      net_value="42.02", vat_rate="19", now=at_2024)
        for who, item, at in [(erika, bag, at_2023), (erika, pen, at_2023),
                              (jonas, bag, at_2023), (jonas, hoodie, at_2023),
                              (erika, hoodie, at_2024), (jonas, hoodie, at_2024)]:
            _give(who, item, at, proposer, approver)
        rules_2024 = services.tax_settings(db.session, 2024)
        services.save_tax_year(db.session, 2024, dataclasses.replace(
            rules_2024, flat_tax_opted_in=True), now=at_2024, current_year=2026)
        services.save_company_name(db.session, "Beispiel Telekom GmbH")
        erika_id = erika.id
        db.session.commit()

    login(page, "cm@example.org")
    page.goto(f"{live_server.url}/rewards/ledger?year=2023")
    rules = page.locator("section.tax-rules").inner_text()
    assert "35.00 EUR per recipient and year" in rules and "not opted in" in rules
    rows = page.locator("table.ledger tbody tr")
    assert "Erika Muster" in rows.nth(0).inner_text() and "33.61" in rows.nth(0).inner_text()
    assert "over the limit" in rows.nth(1).inner_text()  # 25.21 + 42.02 net > 35
    screenshot(page, "tax-1-ledger-2023")

    page.goto(f"{live_server.url}/rewards/ledger?year=2024")
    assert "50.00 EUR per recipient and year" in page.locator("section.tax-rules").inner_text()
    assert "15.00" in page.locator("table.ledger").inner_text()
    screenshot(page, "tax-2-ledger-2024")

    page.click(f"a[href='/rewards/ledger/2024/notice/{erika_id}']")
    notice = page.locator("pre.notice-text").inner_text()
    assert "Erika Muster" in notice and "Power-User-Hoodie  50,00 EUR" in notice
    screenshot(page, "tax-3-notice")

    page.goto(f"{live_server.url}/rewards/settings?year=2023")
    assert page.locator("#gift_limit").input_value() == "35.00"
    page.check("#flat_tax_opted_in")
    page.click("button:has-text('Save the rules for 2023')")
    page.wait_for_load_state("networkidle")
    assert "other years are unchanged" in page.locator("body").inner_text()
    screenshot(page, "tax-4-settings")
    with app.app_context():
        assert services.tax_settings(db.session, 2023).flat_tax_opted_in
        assert not services.tax_settings(db.session, 2025).flat_tax_opted_in

    page.set_viewport_size({"width": 390, "height": 844})
    for path, name in [("/rewards/ledger?year=2023", "tax-5-ledger-phone"),
                       (f"/rewards/ledger/2024/notice/{erika_id}", "tax-6-notice-phone"),
                       ("/rewards/settings?year=2024", "tax-7-settings-phone"),
                       ("/rewards/items", "tax-8-items-phone")]:
        page.goto(live_server.url + path)
        _fits_phone(page)
        shot = screenshot(page, name)
        if os.environ.get("TAX_SHOTS"):
            os.makedirs(os.environ["TAX_SHOTS"], exist_ok=True)
            shutil.copy(shot, os.environ["TAX_SHOTS"])
    page.set_viewport_size({"width": 1280, "height": 900})
    for path, name in [("/rewards/items", "tax-9-items")]:
        page.goto(live_server.url + path)
        screenshot(page, name)
