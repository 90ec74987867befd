"""Retention of sent mail: the body goes after a while, the delivery record stays.

A sent message's bytes (and what it was rendered from) hold names, addresses and links;
after the retention period only the row remains (kind, recipient, subject, when it was
sent), which answers "did we send it?". The payload keeps its references (invitation,
mailing, member ids) only: a GDPR erasure finds a member's mail by them.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, null, select, update
from sqlalchemy.orm import Session

from .models import OutboxMessage, OutboxStatus

REFERENCE_KEYS = frozenset({"invitation_id", "mailing_id", "member_id", "user_id"})


def _with_body():
    # A sent row always holds its bytes (deferred mail is rendered before the first send).
    return and_(OutboxMessage.status == OutboxStatus.SENT, OutboxMessage.sent_at.is_not(None),
                OutboxMessage.raw.is_not(None))


def bodies_held(session: Session) -> tuple[int, datetime | None]:
    """Sent messages that still hold a body, and the earliest send time among them."""
    count, first = session.execute(select(func.count(OutboxMessage.id),
                                          func.min(OutboxMessage.sent_at))
                                   .where(_with_body())).one()
    return count or 0, first


def bodies_due(session: Session, sent_before: datetime) -> int:
    """Sent messages with a body, sent before `sent_before`."""
    return session.scalar(select(func.count(OutboxMessage.id)).where(
        _with_body(), OutboxMessage.sent_at < sent_before)) or 0


def _references(payload):
    if not isinstance(payload, dict):
        return None
    kept = {k: v for k, v in payload.items() if k in REFERENCE_KEYS}
    return kept or None


def purge_bodies(session: Session, sent_before: datetime) -> list[int]:
    """Remove the bodies of mail sent before `sent_before` (flush only); returns the ids,
    so the caller can remove their .eml files too."""
    rows = session.execute(select(OutboxMessage.id, OutboxMessage.raw, OutboxMessage.payload)
                           .where(_with_body(), OutboxMessage.sent_at < sent_before)
                           .order_by(OutboxMessage.id)).all()
    purged = []
    for row in rows:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id)
                        .values(raw=None, payload=_references(row.payload) or null())
                        .execution_options(synchronize_session=False))
        purged.append(row.id)
    return purged
