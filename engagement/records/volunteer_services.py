"""Use cases for volunteer records: per member-year figures summed in the database, sign-off."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import audit
from ..community.members.services import contributions_by_member
from ..events import attendance
from ..events.models import Event, Invitation, InvitationConsent
from ..rewards import services as reward_services
from ..rewards.rules import Flag, flag_for
from ..settings import get_setting
from ..timeutil import year_bounds_utc
from . import rules
from .models import Agreement, AgreementAcceptance, EventRole, RecordSignoff


@dataclass
class MemberYear:
    member_id: int
    year: int
    figures: rules.Figures
    reward_flag: Flag
    missing_agreement: bool
    signoff: RecordSignoff | None = None
    changed: list[str] = field(default_factory=list)


def minutes_settings(session: Session) -> tuple[int, int]:
    def number(key, default):
        try:
            return max(0, int(get_setting(session, key, default)))
        except (TypeError, ValueError):
            return default
    return (number("records.minutes_per_answer", rules.DEFAULT_MINUTES_PER_ANSWER),
            number("records.minutes_per_accepted", rules.DEFAULT_MINUTES_PER_ACCEPTED))


def year_records(session: Session, year: int, tz_name: str,
                 member_ids: list[int] | None = None) -> dict[int, MemberYear]:
    """Every member with activity in `year` (or just `member_ids`): one grouped query per
    figure, so the cost does not grow with a query per member."""
    start, end = year_bounds_utc(year, tz_name)

    def limited(query, column):
        return query.where(column.in_(member_ids)) if member_ids is not None else query

    forum = contributions_by_member(session, date(year, 1, 1), date(year + 1, 1, 1),
                                    member_ids)
    attended = attendance.attended_per_member(session, start, end, member_ids)
    role_hours = {m: Decimal(h or 0) for m, h in session.execute(limited(
        select(EventRole.member_id, func.sum(EventRole.hours))
        .join(Event, Event.id == EventRole.event_id)
        .where(Event.starts_at >= start, Event.starts_at < end)
        .group_by(EventRole.member_id), EventRole.member_id))}
    settings = reward_services.tax_settings(session, year)
    rewards = reward_services._totals(session, year, tz_name, settings, member_ids)
    ids = set(forum) | set(attended) | set(role_hours) | set(rewards)
    if member_ids is not None:
        ids |= set(member_ids)
    ids = {m for m in ids if m is not None}
    per_answer, per_accepted = minutes_settings(session)
    missing = _missing_agreements(session, list(ids) if member_ids is not None else None)
    signoffs = {s.member_id: s for s in session.scalars(limited(
        select(RecordSignoff).where(RecordSignoff.year == year), RecordSignoff.member_id))}
    out = {}
    for m in ids:
        answers, accepted = forum.get(m, (0, 0))
        figures = rules.Figures(
            answers=answers, accepted=accepted,
            estimated_hours=rules.estimated_hours(answers, accepted, per_answer, per_accepted),
            role_hours=role_hours.get(m, Decimal("0")).quantize(rules.HOURS),
            events_attended=int(attended.get(m, 0)),
            rewards_value=rewards.get(m, Decimal("0")).quantize(Decimal("0.01")))
        signoff = signoffs.get(m)
        out[m] = MemberYear(
            m, year, figures, flag_for(figures.rewards_value, settings.gift_limit),
            missing_agreement=(missing is not None and m in missing), signoff=signoff,
            changed=rules.changed_since_signoff(figures, signoff.snapshot if signoff else None))
    return out


def _missing_agreements(session: Session, member_ids: list[int] | None) -> set[int] | None:
    """Members (of `member_ids`, or of all acceptors) lacking the current version of some
    agreement; None when no agreement exists at all (nothing can be missing)."""
    latest = (select(Agreement.key, func.max(Agreement.version).label("v"))
              .group_by(Agreement.key).subquery())
    current_ids = session.scalars(select(Agreement.id).join(
        latest, (latest.c.key == Agreement.key) & (latest.c.v == Agreement.version))).all()
    if not current_ids:
        return None
    query = (select(AgreementAcceptance.member_id,
                    func.count(func.distinct(AgreementAcceptance.agreement_id)))
             .where(AgreementAcceptance.agreement_id.in_(current_ids))
             .group_by(AgreementAcceptance.member_id))
    if member_ids is not None:
        query = query.where(AgreementAcceptance.member_id.in_(member_ids))
    complete = {m for m, n in session.execute(query) if n >= len(current_ids)}
    return _Missing(complete)


class _Missing(set):
    """'Every member not in `complete`' without listing all members."""

    def __init__(self, complete: set[int]):
        super().__init__()
        self.complete = complete

    def __contains__(self, member_id) -> bool:
        return member_id not in self.complete


def member_agreements(session: Session, member_id: int):
    """(agreement, accepted_at or None) for every agreement version, newest first."""
    accepted = dict(session.execute(
        select(AgreementAcceptance.agreement_id, func.max(AgreementAcceptance.accepted_at))
        .where(AgreementAcceptance.member_id == member_id)
        .group_by(AgreementAcceptance.agreement_id)).all())
    rows = session.scalars(select(Agreement).order_by(Agreement.key, Agreement.version.desc()))
    return [(a, accepted.get(a.id)) for a in rows]


def member_roles(session: Session, member_id: int, year: int, tz_name: str):
    start, end = year_bounds_utc(year, tz_name)
    return session.execute(
        select(EventRole, Event).join(Event, Event.id == EventRole.event_id)
        .where(EventRole.member_id == member_id, Event.starts_at >= start, Event.starts_at < end)
        .order_by(Event.starts_at)).all()


def sign_off(session: Session, record: MemberYear, *, by_user_id: int | None,
             now: datetime) -> RecordSignoff:
    """Sign (or re-sign) a member-year with the figures as they are now."""
    snapshot = record.figures.snapshot()
    row = record.signoff
    before = row.snapshot if row else None
    if row is None:
        row = RecordSignoff(member_id=record.member_id, year=record.year, snapshot=snapshot,
                            signed_by_user_id=by_user_id, signed_at=now)
        session.add(row)
    else:
        row.snapshot, row.signed_by_user_id, row.signed_at = snapshot, by_user_id, now
    session.flush()
    audit.record(session, "records.sign_off", "member_year",
                 f"{record.member_id}/{record.year}", before=before, after=snapshot)
    record.signoff, record.changed = row, []
    return row


def member_consents(session: Session, member_id: int, year: int, tz_name: str):
    """Consent answers the member gave or refused in `year`: (event title, consent row)."""
    start, end = year_bounds_utc(year, tz_name)
    return session.execute(
        select(Event.title, InvitationConsent)
        .join(Invitation, Invitation.id == InvitationConsent.invitation_id)
        .join(Event, Event.id == Invitation.event_id)
        .where(Invitation.member_id == member_id, InvitationConsent.at >= start,
               InvitationConsent.at < end)
        .order_by(InvitationConsent.at)).all()


class RecordError(ValueError):
    """A bad value from a form or the API, with a message for the user."""


def parse_hours(raw: object) -> Decimal:
    try:
        hours = Decimal(str(raw).strip().replace(",", "."))
    except ArithmeticError as exc:
        raise RecordError("hours") from exc
    if not hours.is_finite() or hours < 0 or hours > 999:
        raise RecordError("hours")
    return hours.quantize(rules.HOURS)


def add_role(session: Session, *, event_id: int, member_id: int, role: str, hours: object,
             note: str) -> EventRole:
    try:
        kind = rules.EventRoleKind(role)
    except ValueError as exc:
        raise RecordError("role") from exc
    row = EventRole(event_id=event_id, member_id=member_id, role=kind,
                    hours=parse_hours(hours), note=note.strip()[:2000])
    session.add(row)
    session.flush()
    audit.record(session, "records.role_added", "event_role", row.id,
                 after={"event_id": event_id, "member_id": member_id, "role": str(kind),
                        "hours": str(row.hours), "note": row.note})
    return row


def remove_role(session: Session, row: EventRole) -> None:
    before = {"event_id": row.event_id, "member_id": row.member_id, "role": str(row.role),
              "hours": str(row.hours)}
    session.delete(row)
    session.flush()
    audit.record(session, "records.role_removed", "event_role", row.id, before=before)


def create_agreement_version(session: Session, *, key: str, title: str, text: str,
                             now: datetime) -> Agreement:
    """A new version of agreement `key` (version 1 for a new key); texts are never edited so
    an acceptance always points at the words the member saw."""
    key, title, text = key.strip().lower(), title.strip(), text.strip()
    if not key or len(key) > 64 or not title or not text:
        raise RecordError("agreement")
    latest = session.scalar(select(func.max(Agreement.version)).where(Agreement.key == key))
    row = Agreement(key=key, version=(latest or 0) + 1, title=title[:200], text=text,
                    created_at=now)
    session.add(row)
    session.flush()
    audit.record(session, "records.agreement_created", "agreement", row.id,
                 after={"key": key, "version": row.version, "title": row.title})
    return row


def record_acceptance(session: Session, *, member_id: int, agreement_id: int, source: str,
                      now: datetime) -> AgreementAcceptance:
    row = AgreementAcceptance(member_id=member_id, agreement_id=agreement_id,
                              accepted_at=now, source=source[:64])
    session.add(row)
    session.flush()
    audit.record(session, "records.agreement_accepted", "agreement_acceptance", row.id,
                 after={"member_id": member_id, "agreement_id": agreement_id,
                        "source": row.source})
    return row
