"""Invitations end to end: services -> outbox -> a real SMTP server -> parsed mails."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
import vobject
from ical.calendar_stream import IcsCalendarStream
from sqlalchemy import select

from engagement.events import rules, services
from engagement.events.models import Invitation, InvitationStatus
from engagement.extensions import db
from engagement.mail.models import OutboxMessage
from tests.factories import make_member
from tests.helpers import BERLIN
from tests.helpers import EVENT_NOW as NOW
from tests.helpers import event_values as _values
from tests.helpers import published_event as _published_event
from tests.mail_fixtures import deliver_all


# Created in summer for a November event. Delivery runs on the real clock, so the event
# lies in the future and its reminders are not due yet.
def _calendar_part(message):
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    inline = [p for p in parts if p.get_content_disposition() != "attachment"]
    attached = [p for p in parts if p.get_content_disposition() == "attachment"]
    return inline, attached


@pytest.fixture
def mail_app(app, smtp_server):
    smtp_server.configure(app)
    return app


def test_invitation_mails_arrive_with_structure_headers_links_and_calendar(mail_app,
                                                                           smtp_server):
    app = mail_app
    with app.app_context():
        anna = make_member(display_name="Anna Müller", email="anna@example.org", locale="de")
        bob = make_member(display_name="Bob Smith", email="bob@example.org", locale="en-GB")
        nomail = make_member(display_name="No Mail", email=None)
        opted = make_member(display_name="Opted Out", email="o@example.org",
                            invite_opt_out_at=NOW)
        event = _published_event()
        result = services.invite(db.session, event, now=NOW,
                                 member_ids=[anna.id, bob.id, nomail.id, opted.id, 999999])
        assert result.created == 2
        assert {(s.member_id, s.reason) for s in result.skipped} == {
            (nomail.id, "no_email"), (opted.id, "opted_out"), (999999, "not_found")}
        again = services.invite(db.session, event, now=NOW, member_ids=[anna.id])
        assert again.created == 0 and again.skipped[0].reason == "already_invited"
        db.session.commit()
        kinds = sorted(db.session.scalars(select(OutboxMessage.kind)))
        assert kinds == ["event-invitation", "event-invitation", "event-reminder",
                         "event-reminder"]
        reminder = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "event-reminder")).first()
        assert reminder.next_attempt_at == event.starts_at - timedelta(days=2)
        uid = event.uid

    deliver_all(app)  # reminders are not due yet: only the two invitations go out
    by_rcpt = {m.rcpt_tos[0]: m for m in smtp_server.messages}
    assert set(by_rcpt) == {"anna@example.org", "bob@example.org"}

    for address, lang, subject_start, greeting in (
            ("anna@example.org", "de", "Einladung: Power User Summit", "Hallo Anna Müller"),
            ("bob@example.org", "en", "Invitation: Power User Summit", "Hello Bob Smith")):
        msg = by_rcpt[address].message
        assert msg.get_content_type() == "multipart/mixed"
        alternative = msg.get_payload()[0]
        assert alternative.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in alternative.get_payload()] == [
            "text/plain", "text/html", "text/calendar"]
        cal_part = alternative.get_payload()[2]
        assert cal_part.get_param("method") == "REQUEST"
        assert cal_part.get_param("charset").lower() == "utf-8"
        inline, attached = _calendar_part(msg)
        assert len(inline) == 1 and len(attached) == 1
        assert attached[0].get_filename() == "invite.ics"
        assert inline[0].get_payload(decode=True) == attached[0].get_payload(decode=True)

        assert re.fullmatch(r"<[0-9a-f]{32}@[^>]+>", msg["Message-ID"])
        assert msg["Date"] and msg["Reply-To"] == "events@example.org"
        assert str(msg["Subject"]).startswith(subject_start)
        assert f'<html lang="{lang}">' in alternative.get_payload()[1].get_content()

        text = alternative.get_payload()[0].get_content()
        html = alternative.get_payload()[1].get_content()
        assert greeting in text and greeting in html
        link = re.search(r"http://localhost/i/[A-Za-z0-9_.\-]+", text).group(0)
        assert link in html
        assert "https://calendar.google.com/calendar/render?action=TEMPLATE" in text
        assert "dates=20271105T170000Z%2F20271105T210000Z" in text
        assert "ctz=Europe%2FBerlin" in text

        ics = inline[0].get_payload(decode=True)
        cal = icalendar.Calendar.from_ical(ics)
        vevent = cal.walk("VEVENT")[0]
        assert cal["METHOD"] == "REQUEST" and str(vevent["UID"]) == uid
        assert vevent["SEQUENCE"] == 0 and str(vevent["URL"]) == link
        assert str(vevent["ATTENDEE"]) == f"mailto:{address}"
        assert str(vevent["ORGANIZER"]) == "mailto:events@example.org"
        local = vevent.decoded("DTSTART")
        assert (local.hour, local.utcoffset()) == (18, timedelta(hours=1))  # CET in November
        v = vobject.readOne(ics.decode())
        assert v.vevent.dtstart.value.utcoffset() == timedelta(hours=1)
        assert IcsCalendarStream.calendar_from_ics(ics.decode()).events[0].dtstart.hour == 18

        # The personal link opens the invitation page; a tampered one does not.
        client = app.test_client()
        page = client.get(link.replace("http://localhost", ""))
        assert page.status_code == 200 and "Power User Summit" in page.get_data(as_text=True)
        assert client.get(link.replace("http://localhost", "") + "x").status_code == 404
        download = client.get(link.replace("http://localhost", "") + "/event.ics")
        assert download.status_code == 200 and download.mimetype == "text/calendar"


def test_update_goes_to_everyone_not_declined_with_higher_sequence(mail_app,
                                                                    smtp_server):
    app = mail_app
    with app.app_context():
        members = [make_member(email=f"u{i}@example.org", locale="en") for i in range(3)]
        event = _published_event()
        services.invite(db.session, event, now=NOW, member_ids=[m.id for m in members])
        db.session.commit()
        event_id, first_member, third = event.id, members[0].id, members[2].id
    deliver_all(app)
    assert len(smtp_server.messages) == 3
    smtp_server.handler.messages.clear()
    with app.app_context():  # the third declines after receiving the invitation
        declined = db.session.scalars(select(Invitation).where(
            Invitation.member_id == third)).one()
        declined.status = InvitationStatus.DECLINED
        db.session.commit()

    with app.app_context():
        from engagement.events.models import Event

        event = db.session.get(Event, event_id)
        uid = event.uid
        later = NOW + timedelta(days=1)
        moved = _values(starts_at=rules.parse_local("2027-11-06T19:00", BERLIN),
                        ends_at=rules.parse_local("2027-11-06T23:00", BERLIN))
        result = services.update_event(db.session, event, moved, now=later)
        assert result.notified == 2 and "starts_at" in result.changed
        assert event.sequence == 1
        # Unchanged values: no update, no new sequence.
        assert services.update_event(db.session, event, moved, now=later).changed == []
        assert event.sequence == 1
        # The reminders moved with the event: the old ones are withdrawn.
        reminders = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "event-reminder")).all()
        assert sorted((r.status, r.next_attempt_at) for r in reminders) == sorted(
            # three invited at first; the one who declined since gets no new reminder
            [("cancelled", datetime(2027, 11, 3, 17, tzinfo=UTC))] * 3
            + [("queued", datetime(2027, 11, 4, 18, tzinfo=UTC))] * 2)
        db.session.commit()
    deliver_all(app)
    updates = smtp_server.messages
    assert sorted(m.rcpt_tos[0] for m in updates) == ["u0@example.org", "u1@example.org"]
    for m in updates:
        assert str(m.message["Subject"]).startswith("Updated: ")
        inline, attached = _calendar_part(m.message)
        cal = icalendar.Calendar.from_ical(inline[0].get_payload(decode=True))
        vevent = cal.walk("VEVENT")[0]
        assert cal["METHOD"] == "REQUEST"
        assert str(vevent["UID"]) == uid and vevent["SEQUENCE"] == 1
        assert vevent.decoded("DTSTART").hour == 19
    smtp_server.handler.messages.clear()

    with app.app_context():
        event = db.session.get(Event, event_id)
        assert services.cancel_event(db.session, event, now=NOW + timedelta(days=2)) == 2
        assert event.sequence == 2
        assert db.session.scalar(select(db.func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == "event-reminder", OutboxMessage.status == "queued")) == 0
        with pytest.raises(services.EventCancelled):
            services.invite(db.session, event, now=NOW, member_ids=[first_member])
        with pytest.raises(services.EventCancelled):
            services.update_event(db.session, event, _values(), now=NOW)
        db.session.commit()
    deliver_all(app)
    assert len(smtp_server.messages) == 2
    for m in smtp_server.messages:
        assert str(m.message["Subject"]).startswith("Cancelled: ")
        inline, _attached = _calendar_part(m.message)
        assert inline[0].get_param("method") == "CANCEL"
        cal = icalendar.Calendar.from_ical(inline[0].get_payload(decode=True))
        vevent = cal.walk("VEVENT")[0]
        assert cal["METHOD"] == "CANCEL" and str(vevent["STATUS"]) == "CANCELLED"
        assert str(vevent["UID"]) == uid and vevent["SEQUENCE"] == 2


def test_draft_cannot_be_invited_to(app):
    with app.app_context():
        member = make_member()
        event = services.create_event(db.session, _values(), now=NOW,
                                      base_url="http://localhost")
        with pytest.raises(services.EventNotPublished):
            services.invite(db.session, event, now=NOW, member_ids=[member.id])
        services.publish_event(db.session, event, now=NOW)
        with pytest.raises(services.EventError):
            services.publish_event(db.session, event, now=NOW)


def test_segment_invite_in_batches_skips_and_counts(app_any):
    from engagement.community.segments.rules import criteria_from_dict
    from engagement.community.segments.services import segment_query

    with app_any.app_context():
        for i in range(1203):  # more than two INSERT batches
            db.session.add(make_member.__globals__["Member"](
                source="seg", external_id=str(i), display_name=f"Seg {i}",
                email=None if i % 100 == 0 else f"seg{i}@example.org", locale="en",
                region="Köln" if i % 2 else "Berlin"))
        db.session.flush()
        event = _published_event(reminder_days=None)
        query = segment_query(db.session, criteria_from_dict({"regions": ["Köln"]}))
        result = services.invite(db.session, event, now=NOW, member_query=query)
        # odd i are in Köln: 601 members; none of them is a multiple of 100, so all have mail
        assert result.created == 601 and result.skipped == []
        query = segment_query(db.session, criteria_from_dict({}))
        result = services.invite(db.session, event, now=NOW, member_query=query)
        assert result.counts() == {"already_invited": 601, "no_email": 13}
        assert result.created == 1203 - 601 - 13
        db.session.commit()
        counts = services.invitation_counts(db.session, [event.id])[event.id]
        assert counts == {"total": 1203 - 13, "invited": 1203 - 13}
        assert db.session.scalar(select(db.func.count()).select_from(OutboxMessage)) == 1190


def test_deferred_mails_render_the_current_event_and_drop_stale_ones(mail_app,
                                                                     smtp_server):
    """Mails are built at delivery: a queued invitation shows the event as it is now (with
    its current SEQUENCE); an update overtaken by a newer one is dropped, not sent twice."""
    app = mail_app
    with app.app_context():
        de = make_member(display_name="Dora", email="dora@example.org", locale="de-AT")
        en = make_member(display_name="Eve", email="eve@example.org", locale="en")
        event = _published_event(reminder_days=None)
        assert services.invite(db.session, event, now=NOW,
                               member_ids=[de.id, en.id]).created == 2
        for hour in ("19", "20"):  # two edits before the worker ran
            services.update_event(db.session, event, _values(
                reminder_days=None, starts_at=rules.parse_local(f"2027-11-05T{hour}:00", BERLIN),
                ends_at=rules.parse_local("2027-11-05T23:00", BERLIN)), now=NOW)
        assert event.sequence == 2
        db.session.commit()
    report = deliver_all(app)
    assert (report.sent, report.cancelled) == (4, 2)
    for m in smtp_server.messages:
        inline, _attached = _calendar_part(m.message)
        vevent = icalendar.Calendar.from_ical(inline[0].get_payload(decode=True)).walk(
            "VEVENT")[0]
        assert vevent["SEQUENCE"] == 2 and vevent.decoded("DTSTART").hour == 20
        lang = "de" if m.rcpt_tos[0] == "dora@example.org" else "en"
        assert m.message["Content-Language"] == lang
    subjects = sorted(str(m.message["Subject"]).split(":")[0] for m in smtp_server.messages)
    assert subjects == ["Einladung", "Geändert", "Invitation", "Updated"]
    with app.app_context():
        dropped = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.status == "cancelled")).all()
        assert [(r.kind, r.last_error) for r in dropped] == [
            ("event-update", "superseded by the update with sequence 2")] * 2

    smtp_server.handler.messages.clear()
    with app.app_context():  # invited, then the event is cancelled before delivery
        from engagement.events.models import Event

        late = make_member(display_name="Late", email="late@example.org", locale="en")
        event = db.session.scalars(select(Event)).one()
        services.invite(db.session, event, now=NOW, member_ids=[late.id])
        assert services.cancel_event(db.session, event, now=NOW) == 3
        db.session.commit()
    report = deliver_all(app)
    assert (report.sent, report.cancelled) == (3, 1)
    assert all(str(m.message["Subject"]).startswith(("Cancelled", "Abgesagt"))
               for m in smtp_server.messages)
    with app.app_context():
        row = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.to_addr == "late@example.org",
            OutboxMessage.kind == "event-invitation")).one()
        assert (row.status, row.last_error) == ("cancelled", "the event was cancelled")


def test_inviting_thousands_queues_one_deferred_mail_each(app):
    with app.app_context():
        from engagement.community.models import Member
        from engagement.community.segments.rules import criteria_from_dict
        from engagement.community.segments.services import segment_query

        db.session.execute(Member.__table__.insert(), [
            dict(source="many", external_id=str(i), display_name=f"Many {i}",
                 email=f"many{i}@example.org", locale="en", posts=0, answers=0,
                 accepted_solutions=0, kudos_received=0, score=0, created_at=NOW,
                 updated_at=NOW) for i in range(3000)])
        event = _published_event(reminder_days=2)
        result = services.invite(db.session, event, now=NOW,
                                 member_query=segment_query(db.session, criteria_from_dict({})))
        db.session.commit()
        assert result.created == 3000 and result.skipped == []
        kinds = dict(db.session.execute(
            select(OutboxMessage.kind, db.func.count()).where(OutboxMessage.raw.is_(None))
            .group_by(OutboxMessage.kind)).all())
        assert kinds == {"event-invitation": 3000, "event-reminder": 3000}
        assert db.session.scalar(select(db.func.count(db.func.distinct(
            OutboxMessage.payload["invitation_id"].as_integer())))) == 3000


def test_an_invite_racing_another_reports_already_invited(app, monkeypatch):
    """The member looked uninvited when read, but another request inserted first."""
    with app.app_context():
        member = make_member(email="race@example.org")
        event = _published_event(reminder_days=None)
        services.invite(db.session, event, now=NOW, member_ids=[member.id])
        db.session.commit()
        stale = [(member.id, member.display_name, member.email, None, None)]
        monkeypatch.setattr(services, "_candidate_rows", lambda *a, **k: iter(stale))
        result = services.invite(db.session, event, now=NOW, member_ids=[member.id])
        assert result.created == 0 and result.counts() == {"already_invited": 1}
        db.session.commit()
        assert db.session.scalar(select(db.func.count()).select_from(OutboxMessage)) == 1


def test_two_simultaneous_invites_on_postgresql(pg_app):
    """Two transactions invite the same member at once: one invites, the other skips."""
    import threading

    from sqlalchemy.orm import Session

    from engagement.events.models import Event

    with pg_app.app_context():
        member_id = make_member(email="both@example.org").id
        event_id = _published_event(reminder_days=None).id
        db.session.commit()
        first = services.invite(db.session, db.session.get(Event, event_id), now=NOW,
                                member_ids=[member_id])  # not committed yet
        assert first.created == 1
        outcome = {}

        def second():
            with pg_app.app_context(), Session(db.engine) as other:
                # Blocks on the first transaction's uncommitted row, then does nothing.
                outcome["result"] = services.invite(other, other.get(Event, event_id),
                                                    now=NOW, member_ids=[member_id])
                other.commit()

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=1)
        assert thread.is_alive()  # waiting for the first transaction
        db.session.commit()
        thread.join(timeout=30)
        assert outcome["result"].created == 0
        assert outcome["result"].counts() == {"already_invited": 1}
        assert db.session.scalar(select(db.func.count()).select_from(Invitation)) == 1
        assert db.session.scalar(select(db.func.count()).select_from(OutboxMessage)) == 1
