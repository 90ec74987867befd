"""Consents an event asks for (versioned texts) and the answers invitees gave to them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ... import audit
from ..models import EventConsent, Invitation, InvitationConsent


def event_consents(session: Session, event_id: int) -> list[EventConsent]:
    """The event's consents in the order they were added."""
    return list(session.scalars(select(EventConsent).where(EventConsent.event_id == event_id)
                                .order_by(EventConsent.id)))


def current_consents(session: Session, invitation_id: int) -> dict[str, InvitationConsent]:
    """The latest recorded answer per consent key of one invitation."""
    rows = session.scalars(select(InvitationConsent)
                           .where(InvitationConsent.invitation_id == invitation_id)
                           .order_by(InvitationConsent.id))
    return {r.key: r for r in rows}


def record_consents(session: Session, inv: Invitation, defs: list[EventConsent],
                    given: dict[str, bool], *, now: datetime, source: str | None = None) -> bool:
    """Record the answers that differ from the latest ones, with who recorded them
    (`source`); True when any was recorded."""
    latest = current_consents(session, inv.id)
    changed = False
    for c in defs:
        old = latest.get(c.key)
        if old is not None and old.given == given[c.key] and old.version == c.version:
            continue
        # A new row per change: the history shows which text was agreed to, and when.
        session.add(InvitationConsent(invitation_id=inv.id, key=c.key, version=c.version,
                                      text=c.text, given=given[c.key], at=now,
                                      source=(source or "")[:200] or None))
        changed = True
    return changed


def latest_answers(session: Session, invitation_ids: list[int]) -> dict[int, dict[str, str]]:
    """{invitation id: {key: "yes (v2, <time>)"}}: the latest answer per key, for exports."""
    out: dict[int, dict[str, str]] = {}
    rows = session.scalars(select(InvitationConsent)
                           .where(InvitationConsent.invitation_id.in_(invitation_ids))
                           .order_by(InvitationConsent.id))
    for r in rows:  # later rows win: the latest answer per key
        out.setdefault(r.invitation_id, {})[r.key] = (
            f"{'yes' if r.given else 'no'} (v{r.version}, {r.at.isoformat()})")
    return out


@dataclass(frozen=True)
class ConsentInput:
    """A consent as the manager enters it."""

    key: str
    text: str
    required: bool


def save_consent(session: Session, event_id: int, values: ConsentInput) -> EventConsent:
    """Add a consent, or change one by key (a changed text is a new version); audited."""
    text = values.text.strip()
    row = session.scalar(select(EventConsent).where(EventConsent.event_id == event_id,
                                                    EventConsent.key == values.key))
    before = None if row is None else {"text": row.text, "version": row.version,
                                       "required": row.required}
    if row is None:
        row = EventConsent(event_id=event_id, key=values.key, text=text, version=1,
                           required=values.required)
        session.add(row)
    else:
        if row.text != text:
            # Answers given to the old text stay recorded with it; the new text asks again.
            row.version += 1
            row.text = text
        row.required = values.required
    session.flush()
    audit.record(session, "event.consent", "event", event_id, before=before,
                 after={"key": row.key, "text": row.text, "version": row.version,
                        "required": row.required})
    return row


def delete_consent(session: Session, event_id: int, consent_id: int) -> bool:
    """Remove one of the event's consents (answers given stay); False when it is not there."""
    row = session.get(EventConsent, consent_id)
    if row is None or row.event_id != event_id:
        return False
    audit.record(session, "event.consent_delete", "event", event_id,
                 before={"key": row.key, "text": row.text, "version": row.version})
    session.delete(row)
    return True
