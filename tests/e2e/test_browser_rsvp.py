"""Browser journey (issue 5) on a phone: open the mail's link, accept with answers and a
consent, see the confirmation page and get the confirmation mail (PARTSTAT=ACCEPTED); a
second member is waitlisted, the first declines, the second is offered the seat by mail
and accepts. Screenshots: screenshots/rsvp-*.png."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import icalendar
import pytest

from engagement.events import rules, services
from engagement.events.models import EventConsent, EventQuestion
from engagement.extensions import db
from tests.factories import make_member
from tests.mail_fixtures import deliver_all

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 812}
NOW = datetime(2029, 1, 1, tzinfo=UTC)
BERLIN = rules.zone("Europe/Berlin")


def _no_horizontal_scroll(page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"page scrolls sideways by {overflow}px"


def _link(message) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"https?://\S+/i/[\w.\-]+", text).group(0)
    return link[link.index("/i/"):]


def _calendar(message):
    part = next(x for x in message.walk() if x.get_content_type() == "text/calendar")
    return icalendar.Calendar.from_ical(part.get_payload(decode=True))


def _last_to(smtp, address, subject_part):
    return [m.message for m in smtp.messages if m.rcpt_tos[0] == address
            and subject_part in m.message["Subject"]][-1]


def test_rsvp_accept_waitlist_decline_offer_on_a_phone(live_server, browser, screenshot,
                                                       smtp_server):
    app = live_server.app
    smtp_server.configure(app)
    with app.app_context():
        values = rules.validate_event(rules.EventInput(
            title="Rooftop Meetup", description="Drinks and talks.", venue="Rooftop",
            address="Köln", starts_at=rules.parse_local("2030-11-05T18:00", BERLIN),
            ends_at=rules.parse_local("2030-11-05T22:00", BERLIN), timezone="Europe/Berlin",
            organizer_name="Team", organizer_email="events@example.org", capacity=1))
        event = services.create_event(db.session, values, now=NOW, base_url="http://x")
        event.questions.append(EventQuestion(position=0, kind="choice", label="Diet",
                                             choices=["vegan", "anything"], required=True))
        db.session.add(EventConsent(event_id=event.id, key="photos", version=1,
                                    text="Photos of me may be published.", required=True))
        services.publish_event(db.session, event, now=NOW)
        anna = make_member(display_name="Anna", email="anna@example.org", locale="en")
        ben = make_member(display_name="Ben", email="ben@example.org", locale="en")
        services.invite(db.session, event, now=NOW, member_ids=[anna.id, ben.id])
        db.session.commit()
    assert deliver_all(app).sent == 2
    anna_link = _link(_last_to(smtp_server, "anna@example.org", "Invitation"))
    ben_link = _link(_last_to(smtp_server, "ben@example.org", "Invitation"))

    phone = browser.new_context(locale="en-GB", viewport=PHONE, is_mobile=True)
    try:
        p = phone.new_page()
        p.set_default_timeout(10_000)
        p.goto(f"{live_server.url}{anna_link}")
        assert "Rooftop Meetup" in p.locator("h1").inner_text()
        screenshot(p, "rsvp-1-form-phone")
        _no_horizontal_scroll(p)
        p.check("input[name=status][value=accepted]")
        p.click("button:has-text('Send answer')")
        # Required answer and consent missing: a clear error, the form again.
        assert "Please answer: Diet" in p.locator(".rsvp-form").inner_text()
        p.check("input[name=status][value=accepted]")
        p.select_option("select[name^=q]", "vegan")
        p.check("input[name=consent_photos]")
        p.click("button:has-text('Send answer')")
        assert "your place is confirmed" in p.locator(".flash-success").inner_text()
        assert "Accepted" in p.locator(".status").first.inner_text()
        screenshot(p, "rsvp-2-confirmed-phone")
        _no_horizontal_scroll(p)

        assert deliver_all(app).sent == 1
        confirmation = _last_to(smtp_server, "anna@example.org", "Confirmed")
        cal = _calendar(confirmation)
        assert str(cal["METHOD"]) == "REQUEST"
        assert cal.walk("VEVENT")[0]["ATTENDEE"].params["PARTSTAT"] == "ACCEPTED"

        # Ben: the only seat is taken, so he is put on the waiting list.
        b = phone.new_page()
        b.goto(f"{live_server.url}{ben_link}")
        b.check("input[name=status][value=accepted]")
        b.select_option("select[name^=q]", "anything")
        b.check("input[name=consent_photos]")
        b.click("button:has-text('Send answer')")
        assert "waiting list at position 1" in b.locator(".flash-success").inner_text()
        screenshot(b, "rsvp-3-waitlisted-phone")

        # Anna changes her mind: her calendar entry is cancelled, Ben is offered the seat.
        p.goto(f"{live_server.url}{anna_link}")
        p.check("input[name=status][value=declined]")
        p.click("button:has-text('Send answer')")
        assert "you will not attend" in p.locator(".flash-success").inner_text()
        assert deliver_all(app).sent == 3  # Ben's waiting-list mail, Anna's CANCEL, the offer
        cancel = _last_to(smtp_server, "anna@example.org", "Cancelled")
        assert str(_calendar(cancel)["METHOD"]) == "CANCEL"
        offer = _last_to(smtp_server, "ben@example.org", "A seat is free")
        b.goto(f"{live_server.url}{_link(offer)}")
        assert "A seat is free for you until" in b.locator(".flash-info").inner_text()
        screenshot(b, "rsvp-4-offer-phone")
        b.check("input[name=status][value=accepted]")
        b.click("button:has-text('Send answer')")
        assert "your place is confirmed" in b.locator(".flash-success").inner_text()
        screenshot(b, "rsvp-5-offer-accepted-phone")
        _no_horizontal_scroll(b)
        assert deliver_all(app).sent == 1
        assert _last_to(smtp_server, "ben@example.org", "Confirmed")
    finally:
        phone.close()


def test_phone_consents_are_separate_labelled_checkboxes(live_server, browser, screenshot):
    """Issue 12.5: on a 390 px phone the second consent's checkbox sat mid-sentence of the
    first. Each consent is its own row: checkbox, label (tapping it ticks the box), link."""
    app = live_server.app
    with app.app_context():
        values = rules.validate_event(rules.EventInput(
            title="Summit", description="Talks.", venue="Haus am Dom", address="Köln",
            starts_at=rules.parse_local("2030-11-05T18:00", BERLIN),
            ends_at=rules.parse_local("2030-11-05T22:00", BERLIN), timezone="Europe/Berlin",
            organizer_name="Team", organizer_email="events@example.org", capacity=5,
            rsvp_deadline=rules.parse_local("2030-10-20T23:59", BERLIN)))
        event = services.create_event(db.session, values, now=NOW, base_url="http://x")
        db.session.add(EventConsent(event_id=event.id, key="photos", version=2, required=True,
                                    text="Photos and video of me taken at the event may be "
                                         "published on the community site."))
        db.session.add(EventConsent(event_id=event.id, key="venue", version=1, required=False,
                                    text="My name may be passed to the venue."))
        services.publish_event(db.session, event, now=NOW)
        anna = make_member(display_name="Anna", email="anna@example.org", locale="en")
        services.invite(db.session, event, now=NOW, member_ids=[anna.id])
        db.session.commit()
        from engagement.events import notifications
        from engagement.events.models import Invitation
        inv = db.session.query(Invitation).one()
        link = f"/i/{notifications.make_token(inv.id, inv.nonce)}"
    phone = browser.new_context(locale="en-GB", viewport={"width": 390, "height": 844},
                                is_mobile=True)
    try:
        p = phone.new_page()
        p.goto(f"{live_server.url}{link}")
        _no_horizontal_scroll(p)
        first, second = p.locator("#consent_photos"), p.locator("#consent_venue")
        label = p.locator("label[for=consent_photos]").bounding_box()
        box1, box2 = first.bounding_box(), second.bounding_box()
        assert box2["y"] >= label["y"] + label["height"]  # below the first text, not in it
        assert abs(box1["x"] - box2["x"]) < 1  # both at the start of their own row
        assert "Full text (version 2)" in p.locator(".consent").first.inner_text()
        assert not re.search(r"\d:\d\d:\d\d", p.locator("main").inner_text())
        p.click("label[for=consent_venue]")
        assert second.is_checked() and not first.is_checked()
        screenshot(p, "rsvp-consents-phone")
        p.click("text=Full text (version 2)")
        assert "Consent: full text" in p.locator("h1").inner_text()
    finally:
        phone.close()
