"""VTIMEZONE components with yearly rules (RRULE), as Google Calendar and Outlook send them.

A rule-based VTIMEZONE is identical in every mail for a zone, so clients that cache time
zones by TZID (vobject, some desktop clients) never mix up two definitions, and readers that
ignore multi-valued RDATE lists still see every transition. Zones whose transitions do not
follow a yearly weekday rule fall back to icalendar's transition list for the event's years.
"""
from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
RULE_EPOCH = 1970  # DTSTART year of each observance, the convention Google Calendar uses


@dataclass(frozen=True)
class Transition:
    local_before: datetime  # wall-clock time in the offset that ends (naive)
    offset_from: timedelta
    offset_to: timedelta
    name: str  # TZNAME of the new offset
    is_dst: bool


def transitions_in_year(tz: ZoneInfo, year: int) -> list[Transition]:
    """The offset changes of `tz` in `year`, found by day and then by minute."""
    found: list[Transition] = []
    start = datetime(year, 1, 1, tzinfo=UTC)
    previous = start.astimezone(tz).utcoffset()
    for day in range(1, 367 + 1):
        moment = start + timedelta(days=day)
        if moment.year > year and moment.month > 1:
            break
        offset = moment.astimezone(tz).utcoffset()
        if offset == previous:
            continue
        low, high = moment - timedelta(days=1), moment
        while high - low > timedelta(minutes=1):  # bisect to the minute of the change
            middle = low + (high - low) / 2
            if middle.astimezone(tz).utcoffset() == previous:
                low = middle
            else:
                high = middle
        after = high.astimezone(tz)
        if after.year == year:
            found.append(Transition(
                local_before=(high + previous).replace(tzinfo=None, second=0, microsecond=0),
                offset_from=previous, offset_to=offset, name=after.tzname() or "",
                is_dst=bool(after.dst())))
        previous = offset
    return found


def _weekday_rules(when: datetime) -> list[tuple[int, str]]:
    """The ways to name `when`'s day as 'nth weekday of the month' (n = -1 for the last)."""
    days_in_month = _calendar.monthrange(when.year, when.month)[1]
    weekday = WEEKDAYS[when.weekday()]
    rules = [((when.day - 1) // 7 + 1, weekday)]
    if when.day + 7 > days_in_month:
        rules.insert(0, (-1, weekday))
    return rules


def _rule_date(year: int, month: int, nth: int, weekday: str) -> date:
    days = [d for d in range(1, _calendar.monthrange(year, month)[1] + 1)
            if date(year, month, d).weekday() == WEEKDAYS.index(weekday)]
    return date(year, month, days[nth - 1] if nth > 0 else days[-1])


def _yearly_rules(tz: ZoneInfo, year: int) -> list[tuple[Transition, int, str]] | None:
    """Transitions of `year` as (transition, nth, weekday) if next year repeats them."""
    this, following = transitions_in_year(tz, year), transitions_in_year(tz, year + 1)
    if len(this) != len(following):
        return None
    rules = []
    for a, b in zip(this, following, strict=True):
        if (a.offset_from, a.offset_to, a.local_before.time(), a.local_before.month) != (
            b.offset_from, b.offset_to, b.local_before.time(), b.local_before.month
        ):
            return None
        common = [r for r in _weekday_rules(a.local_before) if r in _weekday_rules(b.local_before)]
        if not common:
            return None
        rules.append((a, *common[0]))
    return rules



@lru_cache(maxsize=64)
def vtimezone(tz_name: str, year: int) -> Timezone:
    """A VTIMEZONE for `tz_name` valid for events in `year` (and, with rules, any year)."""
    tz = ZoneInfo(tz_name)
    rules = _yearly_rules(tz, year)
    if rules is None:
        return Timezone.from_tzinfo(tz, tzid=tz_name, first_date=date(year, 1, 1),
                                    last_date=date(year + 1, 12, 31))
    component = Timezone()
    component.add("TZID", tz_name)
    if not rules:  # no changes: one fixed offset
        moment = datetime(year, 6, 1, tzinfo=UTC).astimezone(tz)
        standard = TimezoneStandard()
        standard.add("DTSTART", datetime(RULE_EPOCH, 1, 1))
        standard.add("TZOFFSETFROM", moment.utcoffset())
        standard.add("TZOFFSETTO", moment.utcoffset())
        standard.add("TZNAME", moment.tzname() or tz_name)
        component.add_component(standard)
        return component
    for transition, nth, weekday in rules:
        observance = TimezoneDaylight() if transition.is_dst else TimezoneStandard()
        first = _rule_date(RULE_EPOCH, transition.local_before.month, nth, weekday)
        observance.add("DTSTART", datetime.combine(first, transition.local_before.time()))
        observance.add("RRULE", vRecur(freq="YEARLY", bymonth=transition.local_before.month,
                                       byday=f"{nth}{weekday}"))
        observance.add("TZOFFSETFROM", transition.offset_from)
        observance.add("TZOFFSETTO", transition.offset_to)
        observance.add("TZNAME", transition.name)
        component.add_component(observance)
    return component
