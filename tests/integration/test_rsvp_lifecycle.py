"""Issue 12, items 1-6: the RSVP lifecycle. Calendar accepts that miss required answers
hold the seat ("accepted, action needed"); cancelling stays possible until the start;
offers end at the start; the ticket stays reachable; the phone form and the mails say
what they mean; a waitlisted calendar accept is told to the calendar."""
from __future__ import annotations

import email
import re
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
from sqlalchemy import select

import engagement.events.rsvp.manager_views as mv
import engagement.events.rsvp.views as rv
from engagement.audit import AuditEntry
from engagement.events import notifications, rules, services
from engagement.events.calendar import inbound
from engagement.events.models import EventConsent, EventQuestion, Invitation, InvitationConsent
from engagement.events.rsvp import services as rsvp
from engagement.extensions import db
from engagement.mail.models import OutboxMessage
from tests.conftest import csrf_token
from tests.factories import make_member
from tests.imip_helpers import google_mail, reply_calendar

NOW = datetime(2030, 10, 1, 9, 0, tzinfo=UTC)
BERLIN = rules.zone("Europe/Berlin")
START = rules.parse_local("2030-11-05T18:00", BERLIN)
DEADLINE = rules.parse_local("2030-10-20T23:59", BERLIN)
SECONDS = re.compile(r"\d:\d\d:\d\d")


def event_with_requirements(**changes):
    values = dict(
        title="Power User Summit", description="Talks.", venue="Haus am Dom",
        address="Domkloster 3\n50667 Köln", starts_at=START,
        ends_at=rules.parse_local("2030-11-05T22:00", BERLIN), timezone="Europe/Berlin",
        organizer_name="Community Events", organizer_email="events@example.org", capacity=2,
        rsvp_deadline=DEADLINE)
    values.update(changes)
    event = services.create_event(db.session, rules.validate_event(rules.EventInput(**values)),
                                  now=NOW - timedelta(days=2), base_url="http://localhost")
    event.questions.append(EventQuestion(position=0, kind="choice", label="Diet",
                                         choices=["vegan", "any"], required=True))
    db.session.add(EventConsent(event_id=event.id, key="photos", version=1, required=True,
                                text="Photos of me taken at the event may be published."))
    db.session.add(EventConsent(event_id=event.id, key="venue", version=1, required=False,
                                text="My name may be passed to the venue."))
    services.publish_event(db.session, event, now=NOW - timedelta(days=2))
    return event


def invite(event, *emails):
    members = [make_member(email=e, display_name=e.split("@")[0].title(), locale="en")
               for e in emails]
    services.invite(db.session, event, now=NOW - timedelta(days=1),
                    member_ids=[m.id for m in members])
    by_member = {i.member_id: i for i in db.session.scalars(
        select(Invitation).where(Invitation.event_id == event.id))}
    return [by_member[m.id] for m in members]


def calendar_accept(event, address, *, at=NOW, partstat="ACCEPTED"):
    raw = google_mail(reply_calendar(event, address, partstat, dtstamp=at - timedelta(minutes=5),
                                     client="google"), address, message_id=f"<{address}@x>")
    [outcome] = inbound.ingest_message(db.session, raw, now=at)
    return outcome


def mails(kind=rsvp.MAIL_KIND):
    rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)
                              .order_by(OutboxMessage.id)).all()
    return [email.message_from_bytes(bytes(r.raw), policy=email.policy.default) for r in rows]


def text_of(message):
    return message.get_body(preferencelist=("plain",)).get_content()


def calendar_of(message):
    part = next((p for p in message.walk() if p.get_content_type() == "text/calendar"
                 and p.get_content_disposition() != "attachment"), None)
    return None if part is None else icalendar.Calendar.from_ical(part.get_payload(decode=True))


def token(inv):
    return notifications.make_token(inv.id, inv.nonce)


def at(monkeypatch, when):
    monkeypatch.setattr(rv, "utcnow", lambda: when)
    monkeypatch.setattr(mv, "utcnow", lambda: when)


# --- 1. a calendar accept that misses required answers --------------------------------------

def test_calendar_accept_without_required_answers_holds_the_seat_only_for_a_while(app_any):
    with app_any.app_context():
        event = event_with_requirements(capacity=1)
        anna, ben = invite(event, "anna@example.org", "ben@example.org")
        out = calendar_accept(event, "anna@example.org")
        assert (out.result, out.status) == ("applied", "accepted")
        db.session.refresh(anna)
        # The seat is held, but not confirmed: no photo consent, no diet answer.
        assert anna.action_needed_until == NOW + timedelta(hours=48)
        [mail] = mails()
        assert "Action needed" in mail["Subject"]
        body = text_of(mail)
        assert re.search(r"/i/\S+\?answer=accepted#rsvp", body) and "until" in body
        assert not any(p.get_filename() == "ticket-qr.png" for p in mail.walk())
        # Ben's calendar accept lands on the waiting list behind the held seat.
        assert calendar_accept(event, "ben@example.org").status == "waitlisted"
        assert [i.id for i in rsvp.incomplete(db.session, event.id)] == [anna.id]
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "invitation.rsvp", AuditEntry.object_id == str(anna.id))).one()
        assert entry.after["missing"] == [f"q{event.questions[0].id}", "consent:photos"]
        # Nobody completes it: after the hold the seat goes to the waiting list.
        assert rsvp.expire_offers(db.session, now=NOW + timedelta(hours=47)) == 0
        assert rsvp.expire_offers(db.session, now=NOW + timedelta(hours=48)) == 1
        db.session.refresh(anna)
        db.session.refresh(ben)
        assert (str(anna.status), anna.action_needed_until, anna.rsvp_source) == (
            "invited", None, "hold-expired")
        assert ben.offer_expires_at is not None
        released = next(m for m in mails() if "was released" in m["Subject"])
        assert released["To"].addresses[0].addr_spec == "anna@example.org"


def test_completing_online_confirms_the_held_seat(app, client, monkeypatch):
    with app.app_context():
        event = event_with_requirements()
        (anna,) = invite(event, "anna@example.org")
        calendar_accept(event, "anna@example.org")
        db.session.commit()
        tok, qid, anna_id = token(anna), event.questions[0].id, anna.id
    at(monkeypatch, NOW + timedelta(hours=1))
    page = client.get(f"/i/{tok}?answer=accepted").get_data(as_text=True)
    assert "We hold your seat until" in page and "Diet" in page
    assert "Show my ticket" not in page
    # The ticket page itself shows no QR code while the answers are missing.
    held = client.get(f"/i/{tok}/ticket").get_data(as_text=True)
    assert "ticket-qr" not in held and "Complete your answer" in held
    csrf = csrf_token(client, f"/i/{tok}")
    r = client.post(f"/i/{tok}/rsvp", data={"csrf_token": csrf, "status": "accepted",
                                            f"q{qid}": "vegan", "consent_photos": "1"})
    assert r.status_code == 302
    with app.app_context():
        inv = db.session.get(Invitation, anna_id)
        assert (str(inv.status), inv.action_needed_until) == ("accepted", None)
        last = mails()[-1]
        assert last["Subject"].startswith("Confirmed")
        assert any(p.get_filename() == "ticket-qr.png" for p in last.walk())
    assert "ticket-qr" in client.get(f"/i/{tok}/ticket").get_data(as_text=True)


def test_manager_sees_incomplete_and_records_consent_source(app, client, login_as,
                                                            monkeypatch):
    with app.app_context():
        event = event_with_requirements()
        (anna,) = invite(event, "anna@example.org")
        calendar_accept(event, "anna@example.org")
        db.session.commit()
        event_id, anna_id, qid = event.id, anna.id, event.questions[0].id
    at(monkeypatch, NOW + timedelta(hours=1))
    _uid, manager_email = login_as("manager")
    detail = client.get(f"/events/{event_id}").get_data(as_text=True)
    assert "Accepted, action needed" in detail and "Anna" in detail
    url = f"/events/{event_id}/invitations/{anna_id}/answer"
    csrf = csrf_token(client, url)
    # A ticked consent without saying how the member gave it is refused.
    r = client.post(url, data={"csrf_token": csrf, "status": "accepted", f"q{qid}": "any",
                               "consent_photos": "1"})
    assert r.status_code == 422 and "how the member gave" in r.get_data(as_text=True)
    r = client.post(url, data={"csrf_token": csrf, "status": "accepted", f"q{qid}": "any",
                               "consent_photos": "1", "consent_source": "by phone on 3 Oct"})
    assert r.status_code == 302
    with app.app_context():
        row = db.session.scalars(select(InvitationConsent).where(
            InvitationConsent.key == "photos")).one()
        assert row.given and row.source == f"manager {manager_email}: by phone on 3 Oct"
        assert db.session.get(Invitation, anna_id).action_needed_until is None


# --- 2. after the deadline: cancel until the start; managers change and overbook --------------

def test_member_cancels_after_the_deadline_and_the_seat_goes_to_the_waiting_list(
        app, client, monkeypatch):
    with app.app_context():
        event = event_with_requirements(capacity=1)
        anna, ben = invite(event, "anna@example.org", "ben@example.org")
        answers = {str(event.questions[0].id): "vegan"}
        rsvp.respond(db.session, anna, "accepted", now=NOW, answers=answers,
                     consents={"photos": True})
        rsvp.respond(db.session, ben, "accepted", now=NOW, answers=answers,
                     consents={"photos": True})
        db.session.commit()
        tok, ben_id = token(anna), ben.id
    sick = START - timedelta(hours=3)  # after the deadline, before the start
    at(monkeypatch, sick)
    page = client.get(f"/i/{tok}").get_data(as_text=True)
    assert "you can still cancel your place" in page
    assert 'value="declined"' in page and 'value="accepted"' not in page
    assert "Show my ticket" in page  # issue 12.4: the ticket stays reachable
    csrf = csrf_token(client, f"/i/{tok}")
    refused = client.post(f"/i/{tok}/rsvp", data={"csrf_token": csrf, "status": "tentative"})
    assert refused.status_code == 200  # closed for "maybe": the page says so
    r = client.post(f"/i/{tok}/rsvp", data={"csrf_token": csrf, "status": "declined"})
    assert r.status_code == 302
    with app.app_context():
        ben = db.session.get(Invitation, ben_id)
        # Issue 12.3: the offer ends at the start, not 48 hours later.
        assert ben.offer_expires_at == START
        offer = next(m for m in mails() if "A seat is free" in m["Subject"])
        assert "5 Nov 2030, 18:00" in text_of(offer) or "Nov 5, 2030, 6:00" in text_of(offer)
        assert not SECONDS.search(text_of(offer))
        # Ben takes the offered seat after the deadline.
        took = rsvp.respond(db.session, ben, "accepted", now=sick + timedelta(minutes=5))
        assert str(took.status) == "accepted"
        with pytest.raises(rsvp.RsvpClosed):
            rsvp.respond(db.session, ben, "declined", now=START)


def test_manager_answers_after_the_deadline_and_overbooks_with_a_reason(app, client, login_as,
                                                                        monkeypatch):
    with app.app_context():
        event = event_with_requirements(capacity=1)
        anna, ben = invite(event, "anna@example.org", "ben@example.org")
        answers = {str(event.questions[0].id): "vegan"}
        rsvp.respond(db.session, anna, "accepted", now=NOW, answers=answers,
                     consents={"photos": True})
        db.session.commit()
        event_id, anna_id, ben_id, qid = event.id, anna.id, ben.id, event.questions[0].id
    at(monkeypatch, DEADLINE + timedelta(days=1))
    login_as("manager")
    csrf = csrf_token(client, f"/events/{event_id}")
    r = client.post(f"/events/{event_id}/invitations/{anna_id}/rsvp",
                    data={"csrf_token": csrf, "status": "declined"})
    assert r.status_code == 302
    url = f"/events/{event_id}/invitations/{ben_id}/answer"
    # Overbooking needs a reason.
    r = client.post(url, data={"csrf_token": csrf, "status": "accepted", f"q{qid}": "any",
                               "overbook": "y"})
    assert r.status_code == 422 and "reason" in r.get_data(as_text=True)
    with app.app_context():
        # Fill the seat again, then seat Ben beyond capacity.
        anna = db.session.get(Invitation, anna_id)
        rsvp.respond(db.session, anna, "accepted", now=DEADLINE + timedelta(days=1),
                     by_manager=True)
        db.session.commit()
    r = client.post(url, data={"csrf_token": csrf, "status": "accepted", f"q{qid}": "any",
                               "overbook": "y", "overbook_reason": "Speaker"})
    assert r.status_code == 302
    with app.app_context():
        assert str(db.session.get(Invitation, ben_id).status) == "accepted"
        entries = {e.object_id: e for e in db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "invitation.rsvp"))}
        assert entries[str(ben_id)].after["overbooked"] == "Speaker"
        assert entries[str(ben_id)].after["after_deadline"] is True
        with pytest.raises(rsvp.RsvpNotAllowed):
            rsvp.respond(db.session, db.session.get(Invitation, anna_id), "accepted",
                         now=NOW, overbook_reason="no manager")


# --- 4./5. ticket, venue, consents, tentative, expired offer, times, invitation mail --------

def test_confirmation_mail_names_the_venue_and_explains_the_qr(app):
    with app.app_context():
        event = event_with_requirements()
        (anna,) = invite(event, "anna@example.org")
        rsvp.respond(db.session, anna, "accepted", now=NOW,
                     answers={str(event.questions[0].id): "any"}, consents={"photos": True})
        body = text_of(mails()[-1])
        assert "Where: Haus am Dom, Domkloster 3, 50667 Köln" in body
        assert "ticket-qr.png" in body and "entrance" in body and "/ticket" in body


def test_phone_form_consents_tentative_expired_offer_and_times(app, client, monkeypatch):
    with app.app_context():
        event = event_with_requirements(capacity=1)
        anna, ben, cleo = invite(event, "anna@example.org", "ben@example.org",
                                 "cleo@example.org")
        db.session.commit()
        tok, ben_tok = token(anna), token(ben)
        anna_id, ben_id, cleo_id = anna.id, ben.id, cleo.id
        qid = event.questions[0].id
    at(monkeypatch, NOW)
    html = client.get(f"/i/{tok}").get_data(as_text=True)
    # Each consent its own labelled checkbox with a link to its full text.
    for key in ("photos", "venue"):
        assert f'<input type="checkbox" id="consent_{key}" name="consent_{key}"' in html
        assert f'<label for="consent_{key}">' in html
        assert f"/i/{tok}/consents/{key}" in html
    full = client.get(f"/i/{tok}/consents/photos").get_data(as_text=True)
    assert "Photos of me taken at the event may be published." in full and "Version 1" in full
    assert client.get(f"/i/{tok}/consents/nope").status_code == 404
    assert not SECONDS.search(html)
    # "Maybe" is not asked for the diet or the photo consent.
    csrf = csrf_token(client, f"/i/{tok}")
    r = client.post(f"/i/{tok}/rsvp", data={"csrf_token": csrf, "status": "tentative"})
    assert r.status_code == 302
    with app.app_context():
        assert str(db.session.get(Invitation, anna_id).status) == "tentative"
        full_ans = {str(qid): "any"}
        cleo = db.session.get(Invitation, cleo_id)
        rsvp.respond(db.session, cleo, "accepted", now=NOW, answers=full_ans,
                     consents={"photos": True})
        ben = db.session.get(Invitation, ben_id)
        rsvp.respond(db.session, ben, "accepted", now=NOW, answers=full_ans,
                     consents={"photos": True})
        rsvp.respond(db.session, cleo, "declined", now=NOW)
        rsvp.expire_offers(db.session, now=NOW + timedelta(hours=49))
        db.session.commit()
    at(monkeypatch, NOW + timedelta(hours=49))
    ben_page = client.get(f"/i/{ben_tok}").get_data(as_text=True)
    assert "Offer expired" in ben_page and ">Declined<" not in ben_page
    # A one-tap link from the mail preselects the answer; the GET changes nothing.
    pre = client.get(f"/i/{tok}?answer=declined").get_data(as_text=True)
    assert re.search(r'<input checked[^>]*value="declined"', pre)
    assert "Your answer is chosen below" in pre
    with app.app_context():
        assert str(db.session.get(Invitation, anna_id).status) == "tentative"


def test_invitation_mail_states_the_deadline_and_has_answer_links(app):
    with app.app_context():
        event = event_with_requirements()
        (anna,) = invite(event, "anna@example.org")
        recipient = notifications.Recipient(anna.id, anna.nonce, "invited", "Anna",
                                            "anna@example.org", "en")
        message = notifications.build_mail(event, recipient, kind="invitation", now=NOW)
        body = message.get_body(preferencelist=("plain",)).get_content()
        assert "Please answer by: Oct 20, 2030, 11:59" in body
        assert "?answer=accepted#rsvp" in body and "?answer=declined#rsvp" in body
        assert not SECONDS.search(body)


# --- 6. a calendar accept into a full event is told to the calendar -------------------------

def test_waitlisted_calendar_accept_gets_a_calendar_update(app):
    with app.app_context():
        event = event_with_requirements(capacity=1)
        anna, ben = invite(event, "anna@example.org", "ben@example.org")
        rsvp.respond(db.session, anna, "accepted", now=NOW,
                     answers={str(event.questions[0].id): "any"}, consents={"photos": True})
        assert calendar_accept(event, "ben@example.org").status == "waitlisted"
        waitlist_mail = mails()[-1]
        assert waitlist_mail["Subject"].startswith("Waiting list")
        cal = calendar_of(waitlist_mail)
        assert cal is not None and str(cal["METHOD"]) == "REQUEST"
        attendee = cal.walk("VEVENT")[0]["ATTENDEE"]
        assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
        assert str(cal.walk("VEVENT")[0]["UID"]) == event.uid
        assert "not yet confirmed" in text_of(waitlist_mail)
