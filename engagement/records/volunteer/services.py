"""Use cases for volunteer records: per member-year figures summed in the database, sign-off."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ... import audit
from ...accounts.models import User
from ...community.members.services import contributions_by_member
from ...events import attendance
from ...events.models import Event, Invitation, InvitationConsent
from ...rewards import services as reward_services
from ...rewards.rules import Flag, flag_for
from ...settings import Setting, get_setting, set_setting
from ...timeutil import year_bounds_utc
from .. import rules
from ..models import Agreement, AgreementAcceptance, EventRole, RecordSignoff


@dataclass
class MemberYear:
    member_id: int
    year: int
    figures: rules.Figures
    reward_flag: Flag
    missing_agreement: bool
    signoff: RecordSignoff | None = None
    changes: list[rules.FigureChange] = field(default_factory=list)
    # When the sign-off this record was computed against was made: a re-sign applies only
    # if nobody signed in between.
    seen_signed_at: datetime | None = None

    @property
    def changed(self) -> list[str]:
        """Names of the figures changed since the sign-off."""
        return [c.name for c in self.changes]

    @property
    def needs_signoff(self) -> bool:
        return rules.needs_signoff(self.signoff is not None, self.changes)


MINUTES_KEYS = ("records.minutes_per_answer", "records.minutes_per_accepted")
BASIS_KEY = "records.minutes_basis"
MAX_MINUTES = 600


@dataclass(frozen=True)
class MinutesSettings:
    """The hours estimate's rates and where they come from: the built-in defaults, or who
    set them when (from the audit log), with the basis HR gave (e.g. a time study)."""

    per_answer: int
    per_accepted: int
    basis: str = ""
    is_default: bool = True
    changed_by: str | None = None
    changed_at: datetime | None = None


def minutes_settings(session: Session) -> tuple[int, int]:
    def number(key, default):
        try:
            return max(0, int(get_setting(session, key, default)))
        except (TypeError, ValueError):
            return default
    return (number(MINUTES_KEYS[0], rules.DEFAULT_MINUTES_PER_ANSWER),
            number(MINUTES_KEYS[1], rules.DEFAULT_MINUTES_PER_ACCEPTED))


def minutes_source(session: Session) -> MinutesSettings:
    """The rates in force with their source."""
    per_answer, per_accepted = minutes_settings(session)
    stored = session.scalars(select(Setting.key).where(Setting.key.in_(MINUTES_KEYS))).all()
    last = session.scalar(select(audit.AuditEntry)
                          .where(audit.AuditEntry.action == "records.settings")
                          .order_by(audit.AuditEntry.id.desc()).limit(1))
    return MinutesSettings(per_answer, per_accepted, str(get_setting(session, BASIS_KEY, "")),
                           is_default=not stored, changed_by=_who(session, last),
                           changed_at=last.at if last else None)


def _who(session: Session, entry: audit.AuditEntry | None) -> str | None:
    """The person behind an audit entry: the user's name and e-mail, else the actor."""
    if entry is None:
        return None
    user = session.get(User, entry.actor_user_id) if entry.actor_user_id else None
    if user is None:
        return entry.actor
    return f"{user.name} ({user.email})" if user.name else user.email


def parse_minutes(raw: object) -> int:
    try:
        minutes = int(str(raw).strip())
    except ValueError as exc:
        raise RecordError("minutes") from exc
    if not 0 <= minutes <= MAX_MINUTES:
        raise RecordError("minutes")
    return minutes


def save_minutes_settings(session: Session, *, per_answer: object, per_accepted: object,
                          basis: str) -> MinutesSettings:
    """Store the hours estimate's rates (audited with before and after); they apply to every
    year's figures from now on, so signed years show the change as drift."""
    new = (parse_minutes(per_answer), parse_minutes(per_accepted))
    basis = (basis or "").strip()[:500]
    before = minutes_source(session)
    set_setting(session, MINUTES_KEYS[0], new[0])
    set_setting(session, MINUTES_KEYS[1], new[1])
    set_setting(session, BASIS_KEY, basis)
    audit.record(session, "records.settings", "setting", "records.minutes",
                 before={"per_answer": before.per_answer, "per_accepted": before.per_accepted,
                         "basis": before.basis, "default": before.is_default},
                 after={"per_answer": new[0], "per_accepted": new[1], "basis": basis})
    return minutes_source(session)


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
            changes=rules.changes_since_signoff(figures, signoff.snapshot if signoff else None),
            seen_signed_at=signoff.signed_at if signoff else None)
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


@dataclass(frozen=True)
class AgreementLine:
    """One agreement version and the member's latest acceptance of it (if any)."""

    agreement: Agreement
    accepted_at: datetime | None = None
    source: str = ""


def member_agreement_lines(session: Session, member_id: int) -> list[AgreementLine]:
    """Every agreement version, newest first per key, with the member's latest acceptance."""
    latest: dict[int, AgreementAcceptance] = {}
    for row in session.scalars(select(AgreementAcceptance)
                               .where(AgreementAcceptance.member_id == member_id)
                               .order_by(AgreementAcceptance.accepted_at,
                                         AgreementAcceptance.id)):
        latest[row.agreement_id] = row
    lines = []
    for a in session.scalars(select(Agreement).order_by(Agreement.key,
                                                        Agreement.version.desc())):
        acc = latest.get(a.id)
        lines.append(AgreementLine(a, acc.accepted_at if acc else None,
                                   acc.source if acc else ""))
    return lines


def member_agreements(session: Session, member_id: int):
    """(agreement, accepted_at or None) for every agreement version, newest first."""
    return [(ln.agreement, ln.accepted_at) for ln in member_agreement_lines(session, member_id)]


def agreement_withdrawals(session: Session, member_id: int) -> dict[int, datetime]:
    """{agreement version id: when the member withdrew it} for versions withdrawn and not
    accepted again."""
    rows = session.execute(
        select(AgreementAcceptance.agreement_id, AgreementAcceptance.withdrawn_at)
        .where(AgreementAcceptance.member_id == member_id)
        .order_by(AgreementAcceptance.accepted_at, AgreementAcceptance.id)).all()
    out: dict[int, datetime] = {}
    for agreement_id, withdrawn_at in rows:  # a later acceptance puts it back in force
        if withdrawn_at is None:
            out.pop(agreement_id, None)
        else:
            out[agreement_id] = withdrawn_at
    return out


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
    record.signoff, record.changes, record.seen_signed_at = row, [], now
    return row


@dataclass(frozen=True)
class BulkResult:
    """What a bulk sign-off did: member-years signed for the first time and re-signed."""

    signed: int
    resigned: int

    @property
    def total(self) -> int:
        return self.signed + self.resigned


def bulk_sign_off(session: Session, records: list[MemberYear], *, year: int, filter_name: str,
                  by_user_id: int | None, now: datetime) -> BulkResult:
    """Sign every record of `records` that waits for it (never signed, or changed since) with
    its figures as they are now; one audit entry names them all with their old and new
    figures.

    Safe to run twice or at once (a double click): a first sign-off is INSERT ... ON CONFLICT
    DO NOTHING and a re-sign only updates the row still carrying the sign-off it saw, so the
    second run signs nothing and writes no audit entry.
    """
    waiting = [r for r in records if r.year == year and r.needs_signoff]
    fresh = [r for r in waiting if r.seen_signed_at is None]
    again = [r for r in waiting if r.seen_signed_at is not None]
    table = RecordSignoff.__table__
    signed_ids: list[int] = []
    if fresh:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (insert(table)
                     .on_conflict_do_nothing(index_elements=["member_id", "year"])
                     .returning(table.c.member_id))
        for start in range(0, len(fresh), 1000):
            chunk = fresh[start:start + 1000]
            signed_ids += [m for (m,) in session.execute(statement, [
                {"member_id": r.member_id, "year": year, "signed_by_user_id": by_user_id,
                 "signed_at": now, "snapshot": r.figures.snapshot()} for r in chunk])]
    resigned: dict[str, dict] = {}
    for r in again:
        # Only if nobody re-signed it meanwhile (the sign-off time this request saw).
        done = session.execute(
            update(table).where(table.c.member_id == r.member_id, table.c.year == year,
                                table.c.signed_at == r.seen_signed_at)
            .values(snapshot=r.figures.snapshot(), signed_by_user_id=by_user_id,
                    signed_at=now)).rowcount
        if done:
            resigned[str(r.member_id)] = {c.name: [c.old, c.new] for c in r.changes}
    session.expire_all()  # the ORM rows of this session are stale after the Core writes
    result = BulkResult(len(signed_ids), len(resigned))
    if result.total:
        audit.record(session, "records.bulk_sign_off", "record_year", year, after={
            "year": year, "filter": filter_name, "count": result.total,
            "signed": sorted(signed_ids), "resigned": resigned})
    return result


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
                             now: datetime, withdrawable: bool = False) -> Agreement:
    """A new version of agreement `key` (version 1 for a new key); texts are never edited so
    an acceptance always points at the words the member saw."""
    key, title, text = key.strip().lower(), title.strip(), text.strip()
    if not key or len(key) > 64 or not title or not text:
        raise RecordError("agreement")
    latest = session.scalar(select(func.max(Agreement.version)).where(Agreement.key == key))
    row = Agreement(key=key, version=(latest or 0) + 1, title=title[:200], text=text,
                    created_at=now, withdrawable=withdrawable)
    session.add(row)
    session.flush()
    audit.record(session, "records.agreement_created", "agreement", row.id,
                 after={"key": key, "version": row.version, "title": row.title,
                        "withdrawable": withdrawable})
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
