"""Pure rules for retention: how long each kind of personal data is kept, and until when.

Each kind has a period (a whole number of days, or of years for the tax records), what it
means, its bounds and a default source (the reason it is kept that long). HR or an admin
may change the period and its source on the retention page; the values are data (the
settings table), read with their source.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


class Kind(enum.StrEnum):
    RSVP_ANSWERS = "rsvp_answers"
    OUTBOX_BODIES = "outbox_bodies"
    LOGIN_ATTEMPTS = "login_attempts"
    SIGNIN_LINKS = "signin_links"
    UPLOADS = "uploads"
    TAX_NAMES = "tax_names"


@dataclass(frozen=True)
class KindRule:
    """What a kind of data is, when its period starts, its default and bounds."""

    kind: Kind
    unit: str  # "days" or "years"
    default: int
    low: int
    high: int
    source: str  # the default reason for the period
    editable: bool = True  # False: set by the deployment (configuration), shown only


RULES: dict[Kind, KindRule] = {r.kind: r for r in (
    KindRule(Kind.RSVP_ANSWERS, "days", 90, 0, 3650,
             "Art. 5(1)(c), (e) GDPR: answers are needed to run the event and to settle "
             "questions about it afterwards"),
    KindRule(Kind.OUTBOX_BODIES, "days", 30, 0, 3650,
             "Art. 5(1)(e) GDPR: the text is kept to answer delivery questions; the "
             "delivery record stays"),
    # At least a day: the sign-in throttle counts failures of the last window.
    KindRule(Kind.LOGIN_ATTEMPTS, "days", 30, 1, 3650,
             "Art. 6(1)(f) GDPR: protection of the sign-in against guessing"),
    KindRule(Kind.SIGNIN_LINKS, "days", 1, 0, 3650,
             "Art. 6(1)(f) GDPR: evidence of misuse of a sign-in link"),
    KindRule(Kind.UPLOADS, "days", 0, 0, 3650,
             "configuration setting IMPORT_UPLOAD_RETENTION_DAYS", editable=False),
    KindRule(Kind.TAX_NAMES, "years", 10, 1, 30,
             "§ 147 Abs. 1 Nr. 4, Abs. 3 AO with § 4 Abs. 7 EStG: the separate listing of "
             "gifts names the recipient for the retention period"),
)}


class InvalidPeriod(ValueError):
    """A period outside its kind's bounds; the message says which."""


@dataclass(frozen=True)
class Period:
    """The period in force for one kind, and where it comes from."""

    kind: Kind
    amount: int
    unit: str
    source: str
    changed_at: str | None = None  # ISO time of the change on the page; None: default
    changed_by: str | None = None


def check_amount(kind: Kind, amount: int) -> int:
    """`amount` if it is within the kind's bounds, else InvalidPeriod."""
    rule = RULES[kind]
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidPeriod(f"{kind}: a whole number of {rule.unit} is needed")
    if not rule.low <= amount <= rule.high:
        raise InvalidPeriod(f"{kind}: between {rule.low} and {rule.high} {rule.unit}")
    return amount


def periods(stored: Mapping | None, *, upload_days: int) -> dict[Kind, Period]:
    """The periods in force: stored changes over the defaults (bad stored values are
    ignored, so a broken setting can never make the purge delete more than the default)."""
    stored = stored if isinstance(stored, Mapping) else {}
    result = {}
    for kind, rule in RULES.items():
        if kind == Kind.UPLOADS:
            result[kind] = Period(kind, max(0, int(upload_days)), rule.unit, rule.source)
            continue
        entry = stored.get(kind.value)
        period = Period(kind, rule.default, rule.unit, rule.source)
        if isinstance(entry, Mapping):
            try:
                amount = check_amount(kind, entry.get("amount"))
            except InvalidPeriod:
                amount = None
            if amount is not None:
                period = Period(kind, amount, rule.unit,
                                str(entry.get("source") or rule.source),
                                entry.get("changed_at"), entry.get("changed_by"))
        result[kind] = period
    return result


def cutoff(period: Period, now: datetime) -> datetime:
    """Data of a day-counted kind whose period started before this moment goes."""
    if period.unit != "days":
        raise ValueError("tax records end on a fixed date, see tax_retain_until")
    return now - timedelta(days=period.amount)


def tax_retain_until(last_year: int, years: int, zone: str) -> datetime:
    """When the tax records of a recipient whose last gift was in `last_year` may go.

    The period starts at the end of the calendar year of the last record (§ 147 Abs. 4
    AO): a 2026 gift with 10 years is kept to the end of 2036, gone from 1 January 2037.
    """
    return datetime(last_year + years + 1, 1, 1, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def next_purge(last_run: datetime | None, interval: timedelta, now: datetime) -> datetime:
    """When the purge runs next: one interval after the last run, or now when it is due."""
    if last_run is None:
        return now
    return max(now, last_run + interval)
