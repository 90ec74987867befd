"""Agreements a member accepts and withdraws on their own page, and the RSVP's agreement hook.

Texts are versioned (a new text is a new version, never an edit); an acceptance points at
the version the member saw. A withdrawal sets `withdrawn_at` on that acceptance and is
audited; the row stays, so HR sees what was in force when. Functions flush only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import audit
from ..events.rsvp.consents import RequiredAgreement
from . import rules
from .models import Agreement, AgreementAcceptance
from .rules import AgreementRefused, AgreementState

__all__ = ["AgreementRefused", "AgreementState", "MemberAgreement", "RecordsAgreementSource",
           "accept", "current_agreements", "member_overview", "withdraw"]


def current_agreements(session: Session) -> list[Agreement]:
    """The newest version of every agreement key, by title."""
    latest = (select(Agreement.key, func.max(Agreement.version).label("v"))
              .group_by(Agreement.key).subquery())
    return list(session.scalars(select(Agreement).join(
        latest, (latest.c.key == Agreement.key) & (latest.c.v == Agreement.version))
        .order_by(Agreement.title, Agreement.key)))


def _current(session: Session, key: str) -> Agreement | None:
    return session.scalar(select(Agreement).where(Agreement.key == key)
                          .order_by(Agreement.version.desc()).limit(1))


@dataclass
class MemberAgreement:
    """One agreement key on the member's page: its current text and the member's history."""

    current: Agreement
    state: AgreementState
    history: list[tuple[AgreementAcceptance, Agreement]] = field(default_factory=list)

    @property
    def in_force(self) -> AgreementAcceptance | None:
        """The member's acceptance of the current version that is not withdrawn."""
        return next((a for a, ag in self.history
                     if ag.id == self.current.id and a.withdrawn_at is None), None)


def _acceptances(session: Session, member_id: int, keys: list[str] | None = None):
    query = (select(AgreementAcceptance, Agreement)
             .join(Agreement, Agreement.id == AgreementAcceptance.agreement_id)
             .where(AgreementAcceptance.member_id == member_id)
             .order_by(AgreementAcceptance.accepted_at.desc(), AgreementAcceptance.id.desc()))
    if keys is not None:
        query = query.where(Agreement.key.in_(keys))
    return session.execute(query).all()


def member_overview(session: Session, member_id: int) -> list[MemberAgreement]:
    """Every agreement's current version with the member's state and acceptances."""
    by_key: dict[str, list] = {}
    for acceptance, agreement in _acceptances(session, member_id):
        by_key.setdefault(agreement.key, []).append((acceptance, agreement))
    out = []
    for agreement in current_agreements(session):
        history = by_key.get(agreement.key, [])
        state = rules.agreement_state(agreement.version, [
            rules.Acceptance(ag.version, a.withdrawn_at is not None) for a, ag in history])
        out.append(MemberAgreement(agreement, state, history))
    return out


def _state(session: Session, member_id: int, agreement: Agreement) -> AgreementState:
    rows = _acceptances(session, member_id, [agreement.key])
    current = _current(session, agreement.key)
    return rules.agreement_state(current.version if current else agreement.version, [
        rules.Acceptance(ag.version, a.withdrawn_at is not None) for a, ag in rows])


def accept(session: Session, member_id: int, agreement_id: int, *, source: str,
           now: datetime, actor: str | None = None) -> AgreementAcceptance:
    """The member accepts the current version of an agreement (audited).
    Raises LookupError for an unknown agreement, AgreementRefused otherwise."""
    agreement = session.get(Agreement, agreement_id)
    if agreement is None:
        raise LookupError(agreement_id)
    current = _current(session, agreement.key)
    rules.check_accept(version=agreement.version, current_version=current.version,
                       state=_state(session, member_id, agreement))
    row = AgreementAcceptance(member_id=member_id, agreement_id=agreement.id,
                              accepted_at=now, source=source[:64])
    session.add(row)
    session.flush()
    audit.record(session, "records.agreement_accepted", "agreement_acceptance", row.id,
                 after={"member_id": member_id, "agreement_id": agreement.id,
                        "key": agreement.key, "version": agreement.version,
                        "source": row.source}, actor=actor, at=now,
                 subject_member_id=member_id)
    return row


def withdraw(session: Session, member_id: int, agreement_id: int, *, now: datetime,
             actor: str | None = None) -> AgreementAcceptance:
    """Withdraw the member's acceptance of a withdrawable version, at any time (audited).
    Raises LookupError when they never accepted it, AgreementRefused otherwise."""
    row = session.scalar(
        select(AgreementAcceptance).where(AgreementAcceptance.member_id == member_id,
                                          AgreementAcceptance.agreement_id == agreement_id)
        .order_by(AgreementAcceptance.withdrawn_at.is_not(None),
                  AgreementAcceptance.accepted_at.desc()).limit(1))
    if row is None:
        raise LookupError(agreement_id)
    agreement = session.get(Agreement, agreement_id)
    rules.check_withdraw(withdrawable=agreement.withdrawable,
                         withdrawn=row.withdrawn_at is not None)
    row.withdrawn_at = now
    session.flush()
    audit.record(session, "records.agreement_withdrawn", "agreement_acceptance", row.id,
                 before={"accepted_at": row.accepted_at},
                 after={"key": agreement.key, "version": agreement.version,
                        "withdrawn_at": now}, actor=actor, at=now,
                 subject_member_id=member_id)
    return row


class RecordsAgreementSource:
    """The RSVP's view of agreements (registered by records.init_app)."""

    def choices(self, session: Session) -> list[tuple[str, str]]:
        return [(a.key, f"{a.title} (v{a.version})") for a in current_agreements(session)]

    def current(self, session: Session, key: str) -> RequiredAgreement | None:
        a = _current(session, key)
        return None if a is None else RequiredAgreement(a.id, a.key, a.version, a.title,
                                                          a.text)

    def accepted(self, session: Session, member_id: int, agreement_id: int) -> bool:
        return session.scalar(select(func.count()).where(
            AgreementAcceptance.member_id == member_id,
            AgreementAcceptance.agreement_id == agreement_id,
            AgreementAcceptance.withdrawn_at.is_(None))) > 0

    def accept(self, session: Session, member_id: int, agreement_id: int, *, source: str,
               now: datetime, actor: str | None = None) -> None:
        accept(session, member_id, agreement_id, source=source, now=now, actor=actor)
