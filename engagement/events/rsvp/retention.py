"""Retention of RSVP answers: cleared a while after the event, the attendance stays.

Answers (dietary needs, accessibility, free text) are only needed to run the event. The
purge clears them on the invitation and in the audit trail of that invitation's RSVPs
(through a logged redaction, so `audit verify` still passes); status, seat and check-in
stay for the records.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, and_, cast, func, null, select, update
from sqlalchemy.orm import Session

from ... import audit
from ...audit import AuditEntry
from ..models import Event, Invitation

EXPIRED = "[expired]"
_CHUNK = 500


def _has_answers():
    # JSON null and {} (a form with nothing filled in) are no answers.
    return and_(Invitation.answers.is_not(None),
                cast(Invitation.answers, Text).not_in(["null", "{}"]))


def answers_held(session: Session) -> tuple[int, datetime | None]:
    """Invitations holding answers, and the end of the earliest of their events."""
    count, first = session.execute(
        select(func.count(Invitation.id), func.min(Event.ends_at))
        .join(Event, Event.id == Invitation.event_id).where(_has_answers())).one()
    return count or 0, first


def answers_due(session: Session, ended_before: datetime) -> int:
    """Invitations with answers whose event ended before `ended_before`."""
    return session.scalar(
        select(func.count(Invitation.id)).join(Event, Event.id == Invitation.event_id)
        .where(_has_answers(), Event.ends_at < ended_before)) or 0


def purge_answers(session: Session, ended_before: datetime) -> int:
    """Clear the answers of invitations to events that ended before `ended_before`
    (flush only); returns how many invitations lost their answers."""
    ids = list(session.scalars(
        select(Invitation.id).join(Event, Event.id == Invitation.event_id)
        .where(_has_answers(), Event.ends_at < ended_before).order_by(Invitation.id)))
    for start in range(0, len(ids), _CHUNK):
        session.execute(update(Invitation).where(Invitation.id.in_(ids[start:start + _CHUNK]))
                        .values(answers=null()).execution_options(synchronize_session=False))
    _redact_trail(session, ids)
    return len(ids)


def _strip(content):
    if isinstance(content, dict) and content.get("answers") not in (None, {}, EXPIRED):
        return {**content, "answers": EXPIRED}
    return content


def _redact_trail(session: Session, invitation_ids: list[int]) -> None:
    changes: dict[int, audit.Redaction] = {}
    keys = [str(i) for i in invitation_ids]
    for start in range(0, len(keys), _CHUNK):
        rows = session.execute(
            select(AuditEntry.id, AuditEntry.actor, AuditEntry.before, AuditEntry.after)
            .where(AuditEntry.object_type == "invitation",
                   AuditEntry.object_id.in_(keys[start:start + _CHUNK]),
                   AuditEntry.action != audit.REDACTED)).all()
        for row in rows:
            before, after = _strip(row.before), _strip(row.after)
            if (before, after) != (row.before, row.after):
                changes[row.id] = audit.Redaction(actor=row.actor, before=before, after=after)
    audit.redact(session, changes, object_type="retention", object_id="rsvp_answers",
                 reason="retention period of RSVP answers ended")
