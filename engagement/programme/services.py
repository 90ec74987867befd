"""Aggregates for the value dashboard: grouped SQL on indexed columns, no per-member loops."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import audit
from ..community.members.services import (
    month_starts,
    tier_changes_by_month,
    tier_distribution,
    tiers_by_rank,
    window_as_of,
    window_totals_by_tier,
)
from ..community.models import Member, Tier
from ..events import attendance
from ..events.models import Event, EventStatus
from ..rewards.models import Grant
from ..rewards.rules import GrantStatus
from ..settings import get_setting, set_setting
from . import rules

YEAR_WINDOW = 365  # days: the window statistics the yearly figures come from


@dataclass
class TierRow:
    tier: Tier | None
    members: int = 0
    answers: int = 0
    accepted_solutions: int = 0
    spend: Decimal = Decimal("0")
    grants: int = 0


@dataclass
class EventRate:
    event: Event
    invited: int
    accepted: int
    checked_in: int
    acceptance: float | None
    attendance: float | None


@dataclass
class ValueData:
    tiers: list[TierRow]
    members: int
    answers: int
    accepted_solutions: int
    power_users: int
    top_tier: Tier | None
    as_of: date | None
    months: list[date]
    movements: dict[str, list[int]]  # kind -> count per month
    events: list[EventRate]
    invited: int
    accepted: int
    past_accepted: int
    checked_in: int
    spend_year: int
    spend_total: Decimal
    assumptions: rules.Assumptions
    deflection: rules.Deflection
    acceptance: float | None = None
    attendance: float | None = None
    assumption_errors: dict[str, str] = field(default_factory=dict)


def load_assumptions(session: Session) -> tuple[rules.Assumptions, dict[str, str]]:
    return rules.parse_assumptions(get_setting(session, rules.SETTING_KEY))


def save_assumptions(session: Session, values: rules.Assumptions) -> None:
    """Store new assumptions and audit the change (before/after)."""
    before = get_setting(session, rules.SETTING_KEY)
    after = values.as_dict()
    set_setting(session, rules.SETTING_KEY, after)
    audit.record(session, "programme.assumptions.update", "setting", rules.SETTING_KEY,
                 before=before, after=after)


def movements_per_month(session: Session, today: date,
                        months: int = 12) -> tuple[list[date], dict[str, list[int]]]:
    """Tier changes per month and kind (promotion, demotion, ...) for the last months."""
    starts = month_starts(today, months)
    since = datetime(starts[0].year, starts[0].month, 1, tzinfo=UTC)
    rows = tier_changes_by_month(session, since)
    index = {m.strftime("%Y-%m"): i for i, m in enumerate(starts)}
    result: dict[str, list[int]] = {k: [0] * len(starts)
                                    for k in ("promotion", "demotion", "override",
                                              "override-removed")}
    for month, kind, count in rows:
        if month in index:
            result.setdefault(kind, [0] * len(starts))[index[month]] += count
    return starts, result


def _spend_by_tier(session: Session, year: int) -> dict[int | None, tuple[Decimal, int]]:
    rows = session.execute(
        select(Member.tier_id, func.sum(Grant.value), func.count())
        .join(Member, Member.id == Grant.member_id)
        .where(Grant.status == GrantStatus.APPROVED, Grant.year == year)
        .group_by(Member.tier_id)).all()
    return {t: (Decimal(str(v or 0)), n) for t, v, n in rows}


def invitation_rates(session: Session, now: datetime,
                     limit: int = 10) -> tuple[list[EventRate], tuple[int, int, int, int]]:
    """Acceptance (accepted / invited) and attendance (checked in / accepted, past events).

    Overall figures: (invited, accepted, accepted at past events, checked in at past events).
    "Invited" counts everyone who got an invitation, whatever they answered; walk-ins were
    never invited and are left out of both rates.
    """
    per_event = attendance.door_figures_per_event().subquery()
    live = Event.status != EventStatus.DRAFT
    rows = session.execute(
        select(Event, per_event.c.invited, per_event.c.accepted, per_event.c.checked_in)
        .join(per_event, per_event.c.event_id == Event.id)
        .where(live, Event.starts_at <= now)
        .order_by(Event.starts_at.desc(), Event.id.desc()).limit(limit)).all()
    events = [EventRate(e, i or 0, a or 0, c or 0, rules.rate(a or 0, i or 0),
                        rules.rate(c or 0, a or 0)) for e, i, a, c in rows]
    invited, accepted = session.execute(
        select(func.coalesce(func.sum(per_event.c.invited), 0),
               func.coalesce(func.sum(per_event.c.accepted), 0))
        .join(Event, Event.id == per_event.c.event_id).where(live)).one()
    past_accepted, checked_in = session.execute(
        select(func.coalesce(func.sum(per_event.c.accepted), 0),
               func.coalesce(func.sum(per_event.c.checked_in), 0))
        .join(Event, Event.id == per_event.c.event_id)
        .where(live, Event.status != EventStatus.CANCELLED, Event.ends_at <= now)).one()
    return events, (int(invited), int(accepted), int(past_accepted), int(checked_in))


def value_dashboard(session: Session, today: date, now: datetime) -> ValueData:
    """Everything the value dashboard shows, as of `today` / `now`."""
    counts = tier_distribution(session)
    activity = window_totals_by_tier(session, YEAR_WINDOW)
    spend = _spend_by_tier(session, today.year)
    tiers = []
    for tier, n in counts:
        key = tier.id if tier else None
        answers, accepted = activity.get(key, (0, 0))
        money, grants = spend.get(key, (Decimal("0"), 0))
        tiers.append(TierRow(tier, n, answers, accepted, money, grants))
    ranked = tiers_by_rank(session)
    top_tier = ranked[0] if ranked else None
    power_users = next((r.members for r in tiers if r.tier is not None and top_tier
                        and r.tier.id == top_tier.id), 0)
    answers = sum(r.answers for r in tiers)
    accepted = sum(r.accepted_solutions for r in tiers)
    assumptions, errors = load_assumptions(session)
    months, movements = movements_per_month(session, today)
    events, (invited, acc, past_acc, checked_in) = invitation_rates(session, now)
    as_of = window_as_of(session, YEAR_WINDOW)
    return ValueData(
        tiers=tiers, members=sum(r.members for r in tiers), answers=answers,
        accepted_solutions=accepted, power_users=power_users, top_tier=top_tier, as_of=as_of,
        months=months, movements=movements, events=events, invited=invited, accepted=acc,
        past_accepted=past_acc, checked_in=checked_in, spend_year=today.year,
        spend_total=sum((r.spend for r in tiers), Decimal("0")), assumptions=assumptions,
        deflection=rules.deflection(accepted, answers, power_users, assumptions),
        acceptance=rules.rate(acc, invited), attendance=rules.rate(checked_in, past_acc),
        assumption_errors=errors)
