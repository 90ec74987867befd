"""Browser journey (issue 12, items 14 and 18) on a 390 px phone: a member accepts the
summit NDA on their own page, withdraws a photo consent after the RSVP deadline, answers an
invitation that requires the NDA, and reads their data page.
Screenshots: screenshots/consent-*.png."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engagement.events import notifications
from engagement.events.models import EventConsent, EventQuestion, InvitationConsent
from engagement.extensions import db
from engagement.records.volunteer.services import create_agreement_version
from tests.factories import make_event, make_invitation, make_member, make_user

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def _no_sideways_scroll(page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"page scrolls sideways by {overflow}px"


def test_member_agreements_consents_and_data_on_a_phone(live_server, page, login, screenshot):
    app = live_server.app
    now = datetime.now(UTC).replace(microsecond=0)
    with app.app_context():
        nda = create_agreement_version(
            db.session, key="nda", title="Summit NDA", now=now - timedelta(days=3),
            text="Everything shown at the summit about unreleased products stays "
                 "confidential until it is announced publicly.")
        create_agreement_version(db.session, key="data", title="Data processing",
                                 text="You may use my forum statistics for the programme.",
                                 now=now - timedelta(days=3), withdrawable=True)
        member = make_member(display_name="Petra Phone", email="petra@example.net")
        make_user(role="member", email="petra@example.net", member_id=member.id)
        past = make_event("Spring Meetup", days=2,
                          rsvp_deadline=now - timedelta(days=1))
        db.session.add(EventConsent(event_id=past.id, key="photos", version=1, required=False,
                                    text="Photos of me taken at the event may be published."))
        inv = make_invitation(past, member, status="accepted")
        db.session.add(InvitationConsent(invitation_id=inv.id, key="photos", version=1,
                                         text="Photos of me taken at the event may be "
                                              "published.", given=True,
                                         at=now - timedelta(days=5)))
        summit = make_event("Power User Summit", days=20, capacity=30,
                            required_agreement_key="nda")
        db.session.add(EventQuestion(event_id=summit.id, position=0, kind="text",
                                     label="Dietary needs", required=False))
        summit_inv = make_invitation(summit, member)
        db.session.commit()
        token = notifications.make_token(summit_inv.id, summit_inv.nonce)
        nda_id = nda.id

    page.set_viewport_size(PHONE)
    # The summit asks for the NDA before a "yes": its own labelled checkbox with the text.
    page.goto(f"{live_server.url}/i/{token}")
    page.check("input[name=status][value=accepted]")
    page.click("button:has-text('Send answer')")
    assert "Please accept the agreement to attend." in page.locator("body").inner_text()
    assert page.locator("fieldset.rsvp-agreement label.check").is_visible()
    _no_sideways_scroll(page)
    screenshot(page, "consent-0-invitation-asks-nda-phone")
    login(page, "petra@example.net")
    page.goto(f"{live_server.url}/me/agreements")
    assert page.locator("h1").inner_text() == "My agreements and consents"
    _no_sideways_scroll(page)
    screenshot(page, "consent-1-agreements-phone")
    page.click(f"form[action$='/me/agreements/{nda_id}/accept'] button")
    page.wait_for_load_state("networkidle")
    assert "your acceptance is recorded" in page.locator("body").inner_text()
    page.click("button:has-text('Withdraw this consent')")
    page.wait_for_load_state("networkidle")
    consents = page.locator("#consents + ul").inner_text()
    assert "withdrawn" in consents and "Spring Meetup" in consents
    screenshot(page, "consent-2-agreements-after-phone")

    # The summit requires the NDA, which is already accepted: the form says so.
    page.goto(f"{live_server.url}/i/{token}")
    assert "You accepted “Summit NDA” (version 1)" in page.locator("body").inner_text()
    _no_sideways_scroll(page)
    screenshot(page, "consent-3-invitation-nda-phone")

    page.goto(f"{live_server.url}/me/data")
    body = page.locator("body").inner_text()
    for text in ("Power User Summit", "Spring Meetup", "Summit NDA (version 1)",
                 "Sign-in links", "Change log entries about you"):
        assert text in body, text
    _no_sideways_scroll(page)
    screenshot(page, "consent-4-data-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/me/agreements")
    screenshot(page, "consent-5-agreements-desktop")
    page.goto(f"{live_server.url}/me/data")
    screenshot(page, "consent-6-data-desktop")
