"""Erasure by reference: a hostile member's name or address cannot reach other people's data.

Each case imports a community member whose display name or e-mail matches staff
identities or common audit values, erases them, and checks that every staff actor and
value, other users' sign-in throttle and their mail are exactly as before, while the
member's own data is gone and `audit verify` still passes.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engagement import audit
from engagement.accounts.models import LoginAttempt
from engagement.audit import AuditEntry
from engagement.community.models import ImportIssue, ImportRun, Member
from engagement.events.models import InvitationStatus
from engagement.extensions import db
from engagement.mail.models import OutboxMessage
from engagement.records.gdpr import services as gdpr
from tests.factories import make_event, make_invitation, make_member, make_user

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
STAFF_EMAIL = "manager@demo.example"
STAFF_ACTOR = f"manager:{STAFF_EMAIL}"

# (display name, imported e-mail) of the member who gets erased.
HOSTILE = [
    pytest.param("manager@demo.example", "hostile1@example.net", id="name-is-staff-address"),
    pytest.param("manager", "hostile2@example.net", id="name-is-role"),
    pytest.param("published", "hostile3@example.net", id="name-is-status"),
    pytest.param("Harmless Hannah", STAFF_EMAIL, id="email-is-staff-address"),
]


def _mail(to: str, **refs) -> OutboxMessage:
    row = OutboxMessage(kind="test", from_addr="org@example.org", to_addr=to,
                        subject="Hello", message_id=f"<{to}-{len(refs)}@test>",
                        raw=f"To: {to}\r\n\r\nHello".encode(), **refs)
    db.session.add(row)
    return row


def _seed(name: str, email: str) -> dict:
    staff = make_user(role="manager", email=STAFF_EMAIL, name="manager")
    other = make_member(display_name="Other Person", email="other@example.org")
    victim = make_member(display_name=name, email=email, external_id="victim-1")
    login = make_user(role="member", email="victim-login@example.net", name=name,
                      member_id=victim.id)
    event = make_event()
    inv = make_invitation(event, victim, InvitationStatus.ACCEPTED)
    other_inv = make_invitation(event, other)
    # Staff's sign-in throttle and mail: addressed to the same text as the victim's e-mail.
    for minutes in range(3):
        db.session.add(LoginAttempt(email=STAFF_EMAIL, ip="10.0.0.9",
                                    at=NOW - timedelta(minutes=minutes), success=False))
    _mail(STAFF_EMAIL, user_id=staff.id)
    _mail("other@example.org", member_id=other.id)
    # The victim's own mail, by reference.
    _mail(email, member_id=victim.id)
    _mail(login.email, user_id=login.id)
    # An import issue about someone else that quotes the same words, and one about the victim.
    run = ImportRun(format="csv", source="test")
    db.session.add(run)
    db.session.flush()
    db.session.add(ImportIssue(run_id=run.id, file="members.csv", line=2, external_id="x9",
                               reason=f"bad row by manager {STAFF_EMAIL}: status published"))
    db.session.add(ImportIssue(run_id=run.id, file="members.csv", line=3,
                               external_id="victim-1",
                               reason=f"duplicate e-mail {email} for {name}"))
    # Staff entries that the old text search rewrote.
    audit.record(db.session, "event.publish", "event", event.id, before={"status": "draft"},
                 after={"status": "published", "by": STAFF_ACTOR}, actor=STAFF_ACTOR)
    audit.record(db.session, "user.update", "user", staff.id,
                 before={"email": STAFF_EMAIL, "name": "manager"},
                 after={"email": STAFF_EMAIL, "name": "manager"}, actor="admin:root@demo.example")
    audit.record(db.session, "invitation.rsvp", "invitation", other_inv.id,
                 before={"status": "invited"}, after={"status": "accepted", "note": "manager"},
                 actor=STAFF_ACTOR)
    # Staff acting on the victim: the entry is about them, but the actor is staff.
    audit.record(db.session, "member.override", "member", victim.id,
                 before={"tier": "Expert"},
                 after={"tier": "Legend", "reason": "manager decision", "by": STAFF_ACTOR,
                        "email": email}, actor=STAFF_ACTOR)
    # The victim's own entries.
    audit.record(db.session, "invitation.rsvp", "invitation", inv.id,
                 before={"status": "invited"},
                 after={"status": "accepted", "answers": {"1": "vegan"}},
                 actor=f"member:{login.email}")
    audit.record(db.session, "calendar_feed.create", "feed", 7, after={"feed_id": 7},
                 actor=f"member:{login.email}", subject_member_id=victim.id)
    db.session.commit()
    return {"staff": staff.id, "victim": victim.id, "login": login.id, "other": other.id,
            "invitation": inv.id, "login_email": login.email}


def _untouched_entries(victim_id: int, invitation_id: int) -> dict[int, tuple]:
    """Every entry not about or by the victim: (actor, before, after, salt)."""
    rows = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    return {e.id: (e.actor, e.before, e.after, e.salt) for e in rows
            if not (e.object_type == "member" and e.object_id == str(victim_id))
            and not (e.object_type == "invitation" and e.object_id == str(invitation_id))
            and e.subject_member_id != victim_id}


@pytest.mark.parametrize(("name", "email"), HOSTILE)
def test_erasing_a_hostile_member_leaves_staff_and_others_alone(app, name, email):
    with app.app_context():
        ids = _seed(name, email)
        before = _untouched_entries(ids["victim"], ids["invitation"])
        assert len(before) == 3

        counts = gdpr.erase_member(db.session, ids["victim"], key="k")
        db.session.commit()

        # Staff and other people: byte for byte as before (no redaction, salt kept).
        after = _untouched_entries(ids["victim"], ids["invitation"])
        assert {k: after[k] for k in before} == before
        override = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "member.override")).one()
        assert override.actor == STAFF_ACTOR
        assert override.after["by"] == STAFF_ACTOR
        assert override.after["tier"] == "Legend" and override.after["email"] == "[erased]"
        assert db.session.scalar(select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.email == STAFF_EMAIL)) == 3
        left = db.session.scalars(select(OutboxMessage.to_addr).order_by(OutboxMessage.id)).all()
        assert left == [STAFF_EMAIL, "other@example.org"]
        other_issue = db.session.scalars(select(ImportIssue).where(
            ImportIssue.external_id == "x9")).one()
        assert other_issue.reason == f"bad row by manager {STAFF_EMAIL}: status published"

        # The victim's own data is gone.
        assert counts["outbox_messages"] == 2 and counts["import_issues_scrubbed"] == 1
        victim = db.session.get(Member, ids["victim"])
        assert victim.email is None and victim.display_name == f"Erased member #{victim.id}"
        mine = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action.in_(["invitation.rsvp", "calendar_feed.create"]),
            AuditEntry.actor.like("member:%"))).all()
        assert len(mine) == 2
        assert all(e.actor == f"member:Erased member #{victim.id}" for e in mine)
        rsvp = next(e for e in mine if e.action == "invitation.rsvp")
        assert rsvp.after["answers"] == "[erased]"
        issue = db.session.scalars(select(ImportIssue).where(ImportIssue.line == 3)).one()
        assert email not in issue.reason and issue.external_id is None
        result = audit.verify(db.session)
        assert result.ok, result.problem
        assert result.redacted == counts["audit_entries_redacted"] == 3


def test_entries_record_their_subject_member(app):
    with app.app_context():
        member = make_member()
        entry = audit.record(db.session, "member.update", "member", member.id, after={})
        other = audit.record(db.session, "rewards.grant", "reward_grant", 5, after={},
                             subject_member_id=member.id)
        neutral = audit.record(db.session, "tier.update", "tier", 1, after={})
        assert (entry.subject_member_id, other.subject_member_id) == (member.id, member.id)
        assert neutral.subject_member_id is None


def test_a_redaction_cannot_move_the_subject_reference(app):
    """The append-only trigger also guards the reference erasure relies on."""
    from sqlalchemy import text
    from sqlalchemy.exc import DatabaseError

    with app.app_context():
        member = make_member()
        entry = audit.record(db.session, "member.update", "member", member.id, after={})
        db.session.commit()
        with pytest.raises(DatabaseError):
            db.session.execute(text(
                "UPDATE audit_log SET subject_member_id = NULL, salt = NULL,"
                " redacted_by = :later WHERE id = :id"), {"id": entry.id, "later": entry.id + 1})
        db.session.rollback()


def test_erasure_forgets_calendar_delegates_and_logged_replies(app):
    """Both hold addresses about the member; another member's rows stay."""
    from datetime import UTC, datetime

    from engagement.events.calendar import delegates
    from engagement.events.calendar.models import CalendarDelegate, CalendarReplyLog
    from engagement.records.gdpr import services as gdpr
    from tests.factories import make_event, make_invitation, make_member

    now = datetime(2026, 12, 2, 9, tzinfo=UTC)
    with app.app_context():
        event = make_event()
        victim, other = make_member(), make_member()
        mine, theirs = make_invitation(event, victim), make_invitation(event, other)
        delegates.add_delegate(db.session, victim.id, "assistant@example.org", now=now)
        delegates.add_delegate(db.session, other.id, "helper@example.org", now=now)
        for inv, sender in ((mine, victim.email), (theirs, other.email)):
            db.session.add(CalendarReplyLog(
                received_at=now, source="cli", sender=sender, event_id=event.id,
                invitation_id=inv.id, attendee=sender, result="applied"))
        db.session.commit()
        counts = gdpr.erase_member(db.session, victim.id, key="k")
        db.session.commit()
        assert counts["calendar_delegates"] == 1 and counts["calendar_replies"] == 1
        assert [d.member_id for d in db.session.scalars(select(CalendarDelegate))] == [other.id]
        assert [r.invitation_id for r in db.session.scalars(select(CalendarReplyLog))] == [
            theirs.id]
