"""The itemised volunteer record of one member-year: every line behind the signed totals.

Events come from `events.attendance` (the same rule the totals count by: the event's start
year, checked in or accepted where nobody was checked in), rewards from the rewards feature's
published lines, contributions per month from the community feature.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...accounts.services import person_name
from ...community.members.services import MonthActivity, member_activity
from ...events import attendance
from ...events.models import Event
from ...rewards import rules as reward_rules
from ...rewards import services as reward_services
from ...timeutil import year_bounds_utc
from ..models import EventRole
from . import services


@dataclass
class EventLine:
    """One event of the year the member attended or held a role at."""

    event_id: int
    title: str
    starts_at: datetime
    timezone: str
    attended: bool = False
    roles: list[EventRole] = field(default_factory=list)

    @property
    def hours(self) -> Decimal:
        return sum((r.hours for r in self.roles), Decimal("0.00"))


@dataclass(frozen=True)
class ItemisedRecord:
    record: services.MemberYear
    person_name: str | None
    events: list[EventLine]
    rewards: list[reward_services.RewardLine]
    ledger: reward_rules.LedgerLine
    gift_limit: Decimal
    months: list[MonthActivity]
    agreements: list[services.AgreementLine]
    consents: list
    minutes: services.MinutesSettings


def member_events(session: Session, member_id: int, year: int, tz_name: str) -> list[EventLine]:
    """Events starting in `year` the member attended (as `events.attendance` counts it) or
    held a role at, in date order."""
    start, end = year_bounds_utc(year, tz_name)
    attended = attendance.attendances_between(start, end).subquery()
    lines: dict[int, EventLine] = {}
    for event in session.scalars(select(Event).join(attended, attended.c.event_id == Event.id)
                                 .where(attended.c.member_id == member_id)):
        lines[event.id] = EventLine(event.id, event.title, event.starts_at, event.timezone,
                                    attended=True)
    for role, event in services.member_roles(session, member_id, year, tz_name):
        line = lines.setdefault(event.id, EventLine(event.id, event.title, event.starts_at,
                                                    event.timezone))
        line.roles.append(role)
    return sorted(lines.values(), key=lambda ln: (ln.starts_at, ln.event_id))


def itemised_record(session: Session, member_id: int, year: int,
                    tz_name: str) -> ItemisedRecord:
    """The member-year's figures with every line they are made of."""
    record = services.year_records(session, year, tz_name, [member_id])[member_id]
    settings = reward_services.tax_settings(session, year)
    rewards = reward_services.member_reward_lines(session, member_id, year, tz_name)
    return ItemisedRecord(
        record=record, person_name=person_name(session, member_id),
        events=member_events(session, member_id, year, tz_name), rewards=rewards,
        ledger=reward_rules.ledger_line(member_id, year, record.figures.rewards_value,
                                        settings),
        gift_limit=settings.gift_limit,
        months=member_activity(session, member_id, date(year, 12, 31), months=12),
        agreements=services.member_agreement_lines(session, member_id),
        consents=services.member_consents(session, member_id, year, tz_name),
        minutes=services.minutes_source(session))
