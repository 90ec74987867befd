"""Browser journey (issue 6): HR opens the volunteer records of a year, opens one member-year,
signs it off and sees it signed; the page prints without navigation and fits a phone.
Screenshots: screenshots/records-*.png."""
from __future__ import annotations

from datetime import date

import pytest

from engagement.extensions import db
from tests.e2e.conftest import SCREENSHOTS as SCREENSHOTS_DIR
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


def _itemised_member(app):
    """A member-year with a line in every section of the itemised record."""
    from datetime import UTC, datetime

    from engagement.events.models import InvitationConsent, InvitationStatus
    from engagement.records.volunteer import services
    from tests.factories import make_event, make_grant, make_invitation, make_reward_item

    with app.app_context():
        member = make_member(display_name="Hanna Helper")
        make_user(role="member", name="Hanna Hilfreich", member_id=member.id)
        add_days(member, {date(2025, 3, 4): {"answers": 24, "accepted_solutions": 6},
                          date(2025, 11, 20): {"answers": 6}})
        summit = make_event("Community Summit Berlin",
                            starts_at=datetime(2025, 5, 6, 7, tzinfo=UTC))
        invitation = make_invitation(summit, member, InvitationStatus.ACCEPTED,
                                     checked_in_at=datetime(2025, 5, 6, 7, tzinfo=UTC))
        db.session.add(InvitationConsent(invitation_id=invitation.id, key="photo", version=2,
                                         text="Photos", given=True,
                                         at=datetime(2025, 4, 1, 10, tzinfo=UTC)))
        services.add_role(db.session, event_id=summit.id, member_id=member.id,
                          role="speaker", hours="1.5", note="Keynote")
        make_grant(member, make_reward_item("Headset", "74.99"), year=2025,
                   granted_at=datetime(2025, 5, 6, 18, tzinfo=UTC))
        v1 = services.create_agreement_version(db.session, key="volunteer",
                                               title="Volunteer terms", text="Be kind.",
                                               now=datetime(2025, 1, 2, tzinfo=UTC))
        services.record_acceptance(db.session, member_id=member.id, agreement_id=v1.id,
                                   source="paper form",
                                   now=datetime(2025, 2, 3, 9, 30, tzinfo=UTC))
        other = make_member(display_name="Ida Idle")
        add_days(other, {date(2025, 4, 3): {"answers": 1}})
        make_user(role="hr", email="hr@example.org", name="Rita HR")
        db.session.commit()
        return member.id


def test_itemised_record_prints_and_bulk_sign_off_on_a_phone(live_server, page, login,
                                                               screenshot, tmp_path):
    member_id = _itemised_member(live_server.app)
    login(page, "hr@example.org")
    page.goto(f"{live_server.url}/records/{member_id}/2025")
    events = page.locator("table.record-events").inner_text()
    assert "Community Summit Berlin" in events and "Speaker (Keynote)" in events
    assert "Headset" in page.locator("table.record-rewards").inner_text()
    assert "Hanna Hilfreich" in page.locator(".record-identity").inner_text()
    screenshot(page, "records-5-itemised")

    page.emulate_media(media="print")
    assert not page.locator(".topbar").is_visible()
    assert not page.locator(".record-actions").is_visible()
    assert page.locator("table.record-months").is_visible()
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    screenshot(page, "records-6-itemised-print")
    pdf = tmp_path / "record.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 5000
    (SCREENSHOTS_DIR / "records-itemised.pdf").write_bytes(pdf.read_bytes())
    page.emulate_media(media="screen")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"record page scrolls sideways by {overflow}px"
    screenshot(page, "records-7-itemised-phone")

    page.goto(f"{live_server.url}/records?year=2025&only=unsigned")
    page.click("text=Sign off 2 waiting records…")
    assert "2 records wait for sign-off." in page.locator(".bulk-count").inner_text()
    screenshot(page, "records-8-bulk-confirm-phone")
    page.click("form.bulk-sign-off button")
    page.wait_for_load_state("networkidle")
    assert "2 records for 2025 were signed off." in page.locator("body").inner_text()
    page.goto(f"{live_server.url}/records?year=2025")
    assert page.locator("tbody tr:has-text('Signed off')").count() == 2
    assert page.locator("text=waiting record").count() == 0
