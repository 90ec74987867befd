"""Consents an event asks for (versioned texts) and the answers invitees gave to them.

Also the hook for an agreement an event requires (an NDA for a summit): agreements live in
records, above events, so records registers an `AgreementSource` at start-up
(`register_agreement_source`) and the RSVP asks it; events never imports records.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from ... import audit
from ..models import Event, EventConsent, Invitation, InvitationConsent


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
        answer = "withdrawn" if r.withdrawn else ("yes" if r.given else "no")
        out.setdefault(r.invitation_id, {})[r.key] = (
            f"{answer} (v{r.version}, {r.at.isoformat()})")
    return out


class NothingToWithdraw(Exception):
    """The invitee has not given this consent (or withdrew it already)."""


def withdraw_consent(session: Session, inv: Invitation, key: str, *, now: datetime,
                     actor: str | None = None) -> InvitationConsent:
    """Withdraw a given consent: allowed at any time, after the deadline and the event too
    (Art. 7(3) GDPR). A new row records the withdrawal with the version it ends; audited."""
    latest = current_consents(session, inv.id).get(key)
    if latest is None or not latest.given:
        raise NothingToWithdraw(key)
    row = InvitationConsent(invitation_id=inv.id, key=key, version=latest.version,
                            text=latest.text, given=False, withdrawn=True, at=now)
    session.add(row)
    session.flush()
    audit.record(session, "invitation.consent_withdrawn", "invitation", inv.id,
                 before={"consent": key, "given": True, "version": latest.version},
                 after={"consent": key, "given": False, "version": latest.version,
                        "withdrawn_at": now},
                 actor=actor, at=now, subject_member_id=inv.member_id)
    return row


def withdrawals(session: Session, event_id: int) -> list[tuple[InvitationConsent, int]]:
    """The event's consent withdrawals, newest first, with the member id (managers see them)."""
    return [(c, member_id) for c, member_id in session.execute(
        select(InvitationConsent, Invitation.member_id)
        .join(Invitation, Invitation.id == InvitationConsent.invitation_id)
        .where(Invitation.event_id == event_id, InvitationConsent.withdrawn.is_(True))
        .order_by(InvitationConsent.at.desc(), InvitationConsent.id.desc()))]


# --- the agreement an event may require ---------------------------------------------------

@dataclass(frozen=True)
class RequiredAgreement:
    """The current version of the agreement an event requires, as the RSVP shows it."""

    agreement_id: int
    key: str
    version: int
    title: str
    text: str


class AgreementSource(Protocol):
    """What the RSVP needs from the agreements (implemented in records)."""

    def choices(self, session: Session) -> list[tuple[str, str]]:
        """(key, title) of every agreement an event can require."""

    def current(self, session: Session, key: str) -> RequiredAgreement | None:
        """The current version of `key` (None when no such agreement exists)."""

    def accepted(self, session: Session, member_id: int, agreement_id: int) -> bool:
        """Whether the member accepted this version and has not withdrawn it."""

    def accept(self, session: Session, member_id: int, agreement_id: int, *, source: str,
               now: datetime, actor: str | None = None) -> None:
        """Record the member's acceptance of this version (audited)."""


_source: AgreementSource | None = None


def register_agreement_source(source: AgreementSource | None) -> None:
    """Called by records.init_app; None unregisters (tests)."""
    global _source
    _source = source


def agreement_choices(session: Session) -> list[tuple[str, str]]:
    """(key, title) pairs for the event form; empty without agreements."""
    return _source.choices(session) if _source is not None else []


def required_agreement(session: Session, event: Event) -> RequiredAgreement | None:
    """The agreement version the event requires now, or None."""
    if not event.required_agreement_key or _source is None:
        return None
    return _source.current(session, event.required_agreement_key)


def agreement_accepted(session: Session, member_id: int, required: RequiredAgreement) -> bool:
    assert _source is not None  # required_agreement found one
    return _source.accepted(session, member_id, required.agreement_id)


def accept_agreement(session: Session, member_id: int, required: RequiredAgreement, *,
                     source: str, now: datetime, actor: str | None = None) -> None:
    assert _source is not None
    _source.accept(session, member_id, required.agreement_id, source=source, now=now,
                   actor=actor)


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


@dataclass(frozen=True)
class MemberConsent:
    """The latest answer to one consent of one of the member's invitations."""

    invitation_id: int
    event_title: str
    event_starts_at: datetime
    event_timezone: str
    latest: InvitationConsent


def member_consents(session: Session, member_id: int) -> list[MemberConsent]:
    """The member's latest answer per invitation and consent key, newest event first."""
    rows = session.execute(
        select(InvitationConsent, Event.title, Event.starts_at, Event.timezone)
        .join(Invitation, Invitation.id == InvitationConsent.invitation_id)
        .join(Event, Event.id == Invitation.event_id)
        .where(Invitation.member_id == member_id)
        .order_by(InvitationConsent.id)).all()
    latest: dict[tuple[int, str], MemberConsent] = {}
    for c, title, starts_at, tz in rows:  # later rows win
        latest[(c.invitation_id, c.key)] = MemberConsent(c.invitation_id, title, starts_at,
                                                          tz, c)
    return sorted(latest.values(), key=lambda m: (m.event_starts_at, m.invitation_id),
                  reverse=True)
