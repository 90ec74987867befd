"""RSVP use case and pages: capacity, waiting list, offers, deadline, mails, manager tools."""
from __future__ import annotations

import email
import re
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
from sqlalchemy import select

from engagement.audit import AuditEntry
from engagement.events import notifications, rules, services
from engagement.events.models import (
    EventConsent,
    EventQuestion,
    Invitation,
    InvitationConsent,
)
from engagement.events.rsvp import services as rsvp
from engagement.extensions import db
from engagement.mail.models import OutboxMessage
from tests.conftest import csrf_token
from tests.factories import make_member, make_tier

NOW = datetime(2027, 7, 1, 10, 0, tzinfo=UTC)
BERLIN = rules.zone("Europe/Berlin")


def published_event(**changes):
    values = dict(
        title="Power User Summit", description="Talks.", venue="Haus am Dom", address="Köln",
        starts_at=rules.parse_local("2027-11-05T18:00", BERLIN),
        ends_at=rules.parse_local("2027-11-05T22:00", BERLIN), timezone="Europe/Berlin",
        organizer_name="Community Team", organizer_email="events@example.org", capacity=2)
    values.update(changes)
    event = services.create_event(db.session, rules.validate_event(rules.EventInput(**values)),
                                  now=NOW - timedelta(days=1), base_url="http://localhost")
    services.publish_event(db.session, event, now=NOW - timedelta(days=1))
    return event


def invite(event, n, **member_fields):
    members = [make_member(**member_fields) for _ in range(n)]
    services.invite(db.session, event, now=NOW - timedelta(days=1),
                    member_ids=[m.id for m in members])
    return list(db.session.scalars(select(Invitation).where(Invitation.event_id == event.id)
                                   .order_by(Invitation.id)))[-n:]


def rsvp_mails():
    rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == rsvp.MAIL_KIND)
                              .order_by(OutboxMessage.id)).all()
    return [email.message_from_bytes(bytes(r.raw), policy=email.policy.default) for r in rows]


def calendar_of(message):
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar"
                and p.get_content_disposition() != "attachment")
    return icalendar.Calendar.from_ical(part.get_payload(decode=True))


def test_capacity_waitlist_offer_and_accept(app_any):
    with app_any.app_context():
        event = published_event(capacity=2)
        a, b, c, d = invite(event, 4)
        assert rsvp.respond(db.session, a, "accepted", now=NOW).status == "accepted"
        assert rsvp.respond(db.session, b, "accepted", now=NOW).status == "accepted"
        rc = rsvp.respond(db.session, c, "accepted", now=NOW)
        rd = rsvp.respond(db.session, d, "accepted", now=NOW)
        assert (rc.status, rc.waitlist_position) == ("waitlisted", 1)
        assert (rd.status, rd.waitlist_position) == ("waitlisted", 2)
        # Accepting again changes nothing and sends nothing.
        mails_before = len(rsvp_mails())
        assert not rsvp.respond(db.session, a, "accepted", now=NOW).changed
        assert len(rsvp_mails()) == mails_before
        # A declines: the first waitlisted person is offered the seat, not given it.
        out = rsvp.respond(db.session, a, "declined", now=NOW)
        assert out.status == "declined" and out.promoted == [c.id]
        db.session.refresh(c)
        assert c.status == "waitlisted" and c.offer_expires_at == NOW + timedelta(hours=48)
        # d, still waiting without an offer, cannot take the reserved seat.
        assert rsvp.respond(db.session, d, "accepted", now=NOW).status == "waitlisted"
        taken = rsvp.respond(db.session, c, "accepted", now=NOW + timedelta(hours=1))
        assert taken.status == "accepted" and taken.waitlist_position is None
        db.session.refresh(d)
        assert (d.status, d.waitlist_position) == ("waitlisted", 1)
        db.session.commit()
        statuses = sorted(str(s) for s in db.session.scalars(
            select(Invitation.status).where(Invitation.event_id == event.id)))
        assert statuses == ["accepted", "accepted", "declined", "waitlisted"]
        subjects = [m["Subject"] for m in rsvp_mails()]
        # The members speak German (the factory default): the offer mail is in German.
        assert sum("Ein Platz ist für Sie frei" in s for s in subjects) == 1


def test_expired_offer_moves_on_and_capacity_raise_offers(app_any):
    with app_any.app_context():
        event = published_event(capacity=1)
        a, b, c, d = invite(event, 4)
        for inv in (a, b, c, d):
            rsvp.respond(db.session, inv, "accepted", now=NOW)
        rsvp.respond(db.session, a, "declined", now=NOW)
        db.session.refresh(b)
        assert b.offer_expires_at is not None
        assert rsvp.expire_offers(db.session, now=NOW + timedelta(hours=47)) == 0
        assert rsvp.expire_offers(db.session, now=NOW + timedelta(hours=48)) == 1
        db.session.refresh(b)
        db.session.refresh(c)
        db.session.refresh(d)
        assert b.status == "declined" and b.waitlist_position is None
        assert c.offer_expires_at == NOW + timedelta(hours=96)
        assert (c.waitlist_position, d.waitlist_position) == (1, 2)
        # Capacity raised by one: d is offered the new seat as well (c's is reserved).
        event.capacity = 2
        promoted = rsvp.offer_free_seats(db.session, event, now=NOW + timedelta(hours=50))
        assert promoted == [d.id]
        db.session.commit()
        actions = set(db.session.scalars(select(AuditEntry.action)))
        assert {"invitation.rsvp", "invitation.offer", "invitation.offer_expired"} <= actions


def test_tier_priority_waitlist(app):
    with app.app_context():
        gold, silver = make_tier("RsvpGold", 930, "score >= 100"), make_tier("RsvpSilver", 920,
                                                                     "score >= 1")
        event = published_event(capacity=1)
        event.waitlist_by_tier = True
        (first,) = invite(event, 1)
        (low,) = invite(event, 1)
        (mid,) = invite(event, 1, tier_id=silver.id)
        (top,) = invite(event, 1, tier_id=gold.id)
        (mid2,) = invite(event, 1, tier_id=silver.id)
        for inv in (first, low, mid, top, mid2):
            rsvp.respond(db.session, inv, "accepted", now=NOW)
        db.session.flush()
        for inv in (low, mid, top, mid2):
            db.session.refresh(inv)
        assert [top.waitlist_position, mid.waitlist_position, mid2.waitlist_position,
                low.waitlist_position] == [1, 2, 3, 4]
        assert rsvp.respond(db.session, first, "declined", now=NOW).promoted == [top.id]


def test_deadline_closes_and_plus_one_counts(app):
    with app.app_context():
        event = published_event(capacity=3, plus_one_allowed=True,
                                rsvp_deadline=NOW + timedelta(days=1))
        a, b, c = invite(event, 3)
        assert rsvp.respond(db.session, a, "accepted", now=NOW, plus_one=True).status == "accepted"
        assert rsvp.respond(db.session, b, "accepted", now=NOW, plus_one=True).status == (
            "waitlisted")
        assert rsvp.respond(db.session, c, "accepted", now=NOW).status == "waitlisted"
        # After the deadline nobody new gets in and "maybe" is closed...
        with pytest.raises(rsvp.RsvpClosed):
            rsvp.respond(db.session, c, "accepted", now=NOW + timedelta(days=1))
        with pytest.raises(rsvp.RsvpClosed):
            rsvp.respond(db.session, a, "tentative", now=NOW + timedelta(days=1))
        with pytest.raises(rsvp.RsvpNotAllowed):
            rsvp.respond(db.session, a, "maybe", now=NOW)


def test_mails_carry_partstat_and_cancel(app):
    with app.app_context():
        event = published_event(capacity=5)
        (a,) = invite(event, 1)
        rsvp.respond(db.session, a, "accepted", now=NOW)
        rsvp.respond(db.session, a, "tentative", now=NOW)
        rsvp.respond(db.session, a, "accepted", now=NOW)
        rsvp.respond(db.session, a, "declined", now=NOW)
        mails = rsvp_mails()
        assert len(mails) == 4
        cals = [calendar_of(m) for m in mails]
        assert [str(c["METHOD"]) for c in cals] == ["REQUEST", "REQUEST", "REQUEST", "CANCEL"]
        partstats = [c.walk("VEVENT")[0]["ATTENDEE"].params["PARTSTAT"] for c in cals[:3]]
        assert partstats == ["ACCEPTED", "TENTATIVE", "ACCEPTED"]
        assert cals[0].walk("VEVENT")[0]["UID"] == event.uid


def _token(inv):
    return notifications.make_token(inv.id, inv.nonce)


def test_public_page_form_answers_consents_and_closed_page(app, client, monkeypatch):
    with app.app_context():
        event = published_event(capacity=5)
        event.questions.append(EventQuestion(position=0, kind="choice", label="Diet",
                                             choices=["vegan", "any"], required=True))
        db.session.add(EventConsent(event_id=event.id, key="photos",
                                    text="Photos of me may be published.", version=3,
                                    required=True))
        (a,) = invite(event, 1, display_name="Anna")
        db.session.commit()
        token, qid = _token(a), event.questions[0].id
    page = client.get(f"/i/{token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="status"' in html and "Photos of me" in html
    csrf = csrf_token(client, f"/i/{token}")
    bad = client.post(f"/i/{token}/rsvp", data={"csrf_token": csrf, "status": "accepted"})
    assert bad.status_code == 422
    assert "Please answer: Diet" in bad.get_data(as_text=True)
    ok = client.post(f"/i/{token}/rsvp", data={"csrf_token": csrf, "status": "accepted",
                                               f"q{qid}": "vegan", "consent_photos": "1"})
    assert ok.status_code == 302
    assert "your place is confirmed" in client.get(f"/i/{token}").get_data(as_text=True)
    with app.app_context():
        inv = db.session.get(Invitation, a.id)
        assert inv.status == "accepted" and inv.answers == {str(qid): "vegan"}
        consent = db.session.scalars(select(InvitationConsent)).one()
        assert (consent.key, consent.version, consent.given) == ("photos", 3, True)
        assert consent.text == "Photos of me may be published."
    import engagement.events.rsvp.views as rv
    monkeypatch.setattr(rv, "utcnow", lambda: datetime(2027, 11, 5, 18, 0, tzinfo=UTC))
    closed = client.get(f"/i/{token}").get_data(as_text=True)
    assert "RSVPs are closed." in closed and 'name="status"' not in closed


def test_manager_csv_remind_and_manual_rsvp(app, client, login_as):
    with app.app_context():
        event = published_event(capacity=5)
        a, b = invite(event, 2)
        a.member.display_name = "=HYPERLINK(\"http://x\")"
        rsvp.respond(db.session, a, "accepted", now=NOW)
        db.session.commit()
        event_id, b_id = event.id, b.id
    login_as("manager")
    csv_text = client.get(f"/events/{event_id}/invitations.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in csv_text and ",accepted," in csv_text
    csrf = csrf_token(client, f"/events/{event_id}")
    r = client.post(f"/events/{event_id}/remind", data={"csrf_token": csrf})
    assert r.status_code == 302
    client.post(f"/events/{event_id}/remind", data={"csrf_token": csrf})
    r = client.post(f"/events/{event_id}/invitations/{b_id}/rsvp",
                    data={"csrf_token": csrf, "status": "tentative"})
    assert r.status_code == 302
    with app.app_context():
        reminders = db.session.scalars(select(OutboxMessage.dedupe_key).where(
            OutboxMessage.kind == "event-reminder",
            OutboxMessage.dedupe_key.like("%nudge%"))).all()
        assert len(reminders) == 1  # b only (a answered); the second click is deduplicated
        assert db.session.get(Invitation, b_id).status == "tentative"
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "invitation.rsvp", AuditEntry.object_id == str(b_id))).one()
        assert entry.after["source"] == "manager" and entry.actor != "anonymous"
        assert re.match(r".+", entry.actor)


def test_api_rsvp_and_list(app_any):
    from engagement.accounts.services import create_token
    from tests.factories import make_user

    with app_any.app_context():
        event = published_event(capacity=1, plus_one_allowed=False)
        a, b = invite(event, 2)
        _t, token = create_token(db.session, make_user(role="manager"), "t")
        _t, hr_token = create_token(db.session, make_user(role="hr"), "t")
        db.session.commit()
        event_id, a_id, b_id, qless = event.id, a.id, b.id, event.questions == []
    assert qless
    client = app_any.test_client()

    def call(method, path, tok=None, **kw):
        return client.open("/api/v1" + path, method=method,
                           headers={"Authorization": f"Bearer {tok or token}"}, **kw)

    r = call("POST", f"/invitations/{a_id}/rsvp", json={"status": "accepted"})
    assert r.status_code == 200 and r.json["status"] == "accepted" and r.json["changed"]
    r = call("POST", f"/invitations/{b_id}/rsvp", json={"status": "accepted"})
    assert (r.json["status"], r.json["waitlist_position"]) == ("waitlisted", 1)
    r = call("POST", f"/invitations/{a_id}/rsvp", json={"status": "declined"})
    assert r.json["offered"] == [b_id]
    assert call("POST", f"/invitations/{a_id}/rsvp", json={"status": "yes"}).status_code == 422
    assert call("POST", f"/invitations/{a_id}/rsvp",
                json={"status": "accepted", "plus_one": True}).status_code == 409
    assert call("POST", "/invitations/999999/rsvp", json={"status": "accepted"}
                ).status_code == 404
    assert call("POST", f"/invitations/{a_id}/rsvp", hr_token,
                json={"status": "accepted"}).status_code == 403
    items = call("GET", f"/events/{event_id}/invitations", hr_token).json["items"]
    by_id = {i["id"]: i for i in items}
    assert by_id[b_id]["offer_expires_at"] and by_id[a_id]["source"] == "api"


def test_detail_page_shows_counts_answers_and_tools(app, client, login_as):
    with app.app_context():
        event = published_event(capacity=1)
        a, b, c = invite(event, 3)
        rsvp.respond(db.session, a, "accepted", now=NOW)
        rsvp.respond(db.session, b, "accepted", now=NOW)
        db.session.commit()
        event_id = event.id
    login_as("manager")
    html = client.get(f"/events/{event_id}").get_data(as_text=True)
    assert "No answer" in html and "Remind 1 non-responders" in html
    assert "#1" in html and "Export CSV" in html and "Answer for them" in html


def test_expire_offers_command_and_page_check(app, runner, client):
    with app.app_context():
        event = published_event(capacity=1)
        a, b, c = invite(event, 3)
        for inv in (a, b, c):
            rsvp.respond(db.session, inv, "accepted", now=NOW)
        rsvp.respond(db.session, a, "declined", now=NOW)
        # The page and the command run on the real clock: b's offer ran out an hour ago.
        b.offer_expires_at = datetime.now(UTC) - timedelta(hours=1)
        db.session.commit()
        b_id, c_id, c_token = b.id, c.id, _token(c)
    # Opening c's page passes b's expired offer on to c.
    assert "A seat is free for you until" in client.get(f"/i/{c_token}").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Invitation, b_id).status == "declined"
        inv = db.session.get(Invitation, c_id)
        assert inv.offer_expires_at > datetime.now(UTC)
        inv.offer_expires_at = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()
    result = runner.invoke(args=["expire-offers"])
    assert result.exit_code == 0 and "1 expired offers passed on." in result.output
    with app.app_context():
        inv = db.session.get(Invitation, c_id)
        assert (inv.status, inv.waitlist_position) == ("declined", None)
        assert "Pass expired" in runner.invoke(args=["expire-offers", "--help"]).output


def test_manager_edits_consents_with_versions(app, client, login_as):
    with app.app_context():
        event = published_event(capacity=5)
        (a,) = invite(event, 1)
        db.session.commit()
        event_id, a_id = event.id, a.id
    login_as("manager")
    csrf = csrf_token(client, f"/events/{event_id}")
    url = f"/events/{event_id}/consents"
    assert client.post(url, data={"csrf_token": csrf, "key": "Bad Key!", "text": "x"}
                       ).status_code == 302
    client.post(url, data={"csrf_token": csrf, "key": "venue", "text": "Share my name.",
                           "required": "y"})
    with app.app_context():
        a = db.session.get(Invitation, a_id)
        rsvp.respond(db.session, a, "accepted", now=NOW, consents={"venue": True})
        db.session.commit()
    client.post(url, data={"csrf_token": csrf, "key": "venue",
                           "text": "Share my name and company.", "required": "y"})
    html = client.get(f"/events/{event_id}").get_data(as_text=True)
    assert "v2" in html and "Share my name and company." in html
    with app.app_context():
        (row,) = db.session.scalars(select(EventConsent)).all()
        assert (row.key, row.version, row.required) == ("venue", 2, True)
        given = db.session.scalars(select(InvitationConsent)).one()
        assert (given.version, given.text) == (1, "Share my name.")
        cid = row.id
    client.post(f"/events/{event_id}/consents/{cid}/delete", data={"csrf_token": csrf})
    with app.app_context():
        assert db.session.scalars(select(EventConsent)).all() == []
        assert db.session.scalars(select(InvitationConsent)).one().given is True


def test_waitlist_order_switch_only_while_nobody_waits(app, client, login_as):
    with app.app_context():
        event = published_event(capacity=1)
        a, b = invite(event, 2)
        db.session.commit()
        event_id, a_id, b_id = event.id, a.id, b.id
    login_as("manager")
    csrf = csrf_token(client, f"/events/{event_id}")
    client.post(f"/events/{event_id}/waitlist-order", data={"csrf_token": csrf, "order": "tier"})
    with app.app_context():
        from engagement.events.models import Event
        assert db.session.get(Event, event_id).waitlist_by_tier is True
        for inv_id in (a_id, b_id):
            rsvp.respond(db.session, db.session.get(Invitation, inv_id), "accepted", now=NOW)
        db.session.commit()
    r = client.post(f"/events/{event_id}/waitlist-order",
                    data={"csrf_token": csrf, "order": "first_come"}, follow_redirects=True)
    assert "only change while nobody is waiting" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Event, event_id).waitlist_by_tier is True
