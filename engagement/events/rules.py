"""Pure rules for events: local times in a named zone, validation, calendar-relevant changes.

No Flask, no SQLAlchemy: plain values in, values or named exceptions out. The states of
events and invitations live here (models.py stores them), so every rule can speak of them.
"""
from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

QUESTION_KINDS = ("text", "choice")
MAX_DURATION = timedelta(days=31)
MAX_REMINDER_DAYS = 60
# Fields whose change alters the calendar entry invitees hold: sent as an update.
CALENDAR_FIELDS = ("title", "description", "venue", "address", "starts_at", "ends_at",
                   "timezone", "organizer_name", "organizer_email")
# Fields whose change moves the reminder.
REMINDER_FIELDS = ("starts_at", "reminder_days")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# The organizer may be a local address (the default sender is engagement@localhost).
ORGANIZER_EMAIL = r"^[^@\s<>\"]+@[^@\s<>\"]+$"
_ORGANIZER = re.compile(ORGANIZER_EMAIL)


class EventStatus(enum.StrEnum):
    """Where an event is in its life: drafted, open for invitations, or called off."""

    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class InvitationStatus(enum.StrEnum):
    """One invitee's answer (or its absence); "cancelled" is an invitation withdrawn."""

    INVITED = "invited"
    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


# Invitees who still expect calendar updates (declined and cancelled people do not).
ACTIVE_STATUSES = (InvitationStatus.INVITED, InvitationStatus.ACCEPTED,
                   InvitationStatus.TENTATIVE, InvitationStatus.WAITLISTED)


class EventRuleError(ValueError):
    """Invalid event input; `errors` maps field names to messages."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class InvalidLocalTime(ValueError):
    """A local time that does not exist or is ambiguous in the zone (DST change), or is garbled.

    `kind` is "format", "nonexistent" or "ambiguous"; `params` carries what a translated
    message needs (stamp, zone, offsets).
    """

    def __init__(self, message: str, kind: str = "format", **params: str):
        super().__init__(message)
        self.kind = kind
        self.params = params


class InvalidTimeZone(ValueError):
    """Not an IANA time-zone name."""


def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name such as "Europe/Berlin"."""
    name = (name or "").strip()
    # ZoneInfo also accepts file paths like "../x"; only the tz database's names are allowed.
    if not name or name not in _zone_names():
        raise InvalidTimeZone(f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidTimeZone(f"unknown time zone {name!r}") from exc


_ZONES: frozenset[str] | None = None


def _zone_names() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


def common_zones() -> list[str]:
    """Zone names for a select box: Europe first, then the rest, alphabetically."""
    names = sorted(n for n in _zone_names() if "/" in n and not n.startswith(("Etc/", "SystemV/")))
    return [n for n in names if n.startswith("Europe/")] + [
        n for n in names if not n.startswith("Europe/")] + ["UTC"]


def localize(local: datetime, tz: ZoneInfo) -> datetime:
    """Attach `tz` to a naive wall-clock time, refusing times a DST change skips or repeats.

    An aware input is converted to `tz` (an explicit offset settles an ambiguous hour).
    """
    if local.tzinfo is not None:
        return local.astimezone(tz)
    first = local.replace(tzinfo=tz, fold=0)
    second = local.replace(tzinfo=tz, fold=1)
    roundtrip = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    stamp = local.strftime("%Y-%m-%d %H:%M")
    if roundtrip != local:
        raise InvalidLocalTime(
            f"{stamp} does not exist in {tz.key}: the clocks skip that hour (daylight saving "
            "time starts); choose a time outside the gap", "nonexistent", stamp=stamp, zone=tz.key)
    if first.utcoffset() != second.utcoffset():
        off1, off2 = _fmt_offset(first), _fmt_offset(second)
        raise InvalidLocalTime(
            f"{stamp} occurs twice in {tz.key} (daylight saving time ends); give the offset, "
            f"e.g. {local.strftime('%Y-%m-%dT%H:%M')}{off1} or ...{off2}", "ambiguous",
            stamp=stamp, zone=tz.key, first=off1, second=off2)
    return first


def _fmt_offset(value: datetime) -> str:
    total = int(value.utcoffset().total_seconds()) // 60
    sign = "+" if total >= 0 else "-"
    return f"{sign}{abs(total) // 60:02d}:{abs(total) % 60:02d}"


def parse_local(value: str | None, tz: ZoneInfo) -> datetime:
    """Parse an ISO 8601 local time ("2026-11-05T18:00") in `tz`; returns aware UTC."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidLocalTime("a date and time is required (ISO 8601, e.g. 2026-11-05T18:00)")
    text = value.strip().replace(" ", "T", 1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidLocalTime(
            f"{value!r} is not an ISO 8601 date and time (e.g. 2026-11-05T18:00)") from exc
    if isinstance(parsed, date) and not isinstance(parsed, datetime):  # pragma: no cover
        raise InvalidLocalTime(f"{value!r} has no time of day")
    return localize(parsed, tz).astimezone(UTC)


def to_local(value: datetime, tz_name: str) -> datetime:
    """An aware datetime shown on the event's wall clock."""
    return value.astimezone(ZoneInfo(tz_name))


@dataclass(frozen=True)
class QuestionInput:
    label: str
    kind: str = "text"
    choices: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True)
class EventInput:
    """Validated event values; times are aware UTC, `timezone` an IANA name."""

    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    description: str = ""
    venue: str = ""
    address: str = ""
    capacity: int | None = None
    rsvp_deadline: datetime | None = None
    plus_one_allowed: bool = False
    per_attendee_cost: Decimal | None = None
    organizer_name: str = ""
    organizer_email: str = ""
    reminder_days: int | None = None
    questions: tuple[QuestionInput, ...] = field(default_factory=tuple)
    required_agreement_key: str | None = None  # an agreement to accept before a "yes"


def parse_cost(value) -> Decimal | None:
    """A money amount ("12.50", "12,50", 12.5) as Decimal with two places; None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise InvalidOperation
    text = str(value).strip().replace(",", ".")
    amount = Decimal(text)
    if not amount.is_finite():
        raise InvalidOperation
    return amount.quantize(Decimal("0.01"))


def is_single_line(text: str) -> bool:
    """No line breaks (CR, LF, NEL, U+2028...) and no control characters but tab."""
    return all(ch == "\t" or unicodedata.category(ch) not in ("Cc", "Zl", "Zp") for ch in text)


def validate_event(values: EventInput) -> EventInput:
    """Check an event's values together; raises EventRuleError naming every bad field."""
    errors: dict[str, str] = {}
    if not values.title.strip():
        errors["title"] = "a title is required"
    elif len(values.title) > 200:
        errors["title"] = "the title is longer than 200 characters"
    if len(values.venue) > 200:
        errors["venue"] = "the venue is longer than 200 characters"
    # These end up in mail subjects, display names and calendar lines: one line each.
    for name in ("title", "venue", "organizer_name"):
        if name not in errors and not is_single_line(getattr(values, name) or ""):
            errors[name] = "must be a single line (no line breaks or control characters)"
    try:
        zone(values.timezone)
    except InvalidTimeZone as exc:
        errors["timezone"] = str(exc)
    if values.starts_at.tzinfo is None or values.ends_at.tzinfo is None:
        errors["starts_at"] = "times must carry a time zone"
    elif values.ends_at <= values.starts_at:
        errors["ends_at"] = "the end must be after the start"
    elif values.ends_at - values.starts_at > MAX_DURATION:
        errors["ends_at"] = "an event cannot last longer than 31 days"
    if values.rsvp_deadline is not None and values.starts_at.tzinfo is not None:
        if values.rsvp_deadline > values.starts_at:
            errors["rsvp_deadline"] = "the RSVP deadline must not be after the start"
    if values.capacity is not None and values.capacity < 1:
        errors["capacity"] = "the capacity must be at least 1 (leave empty for no limit)"
    if values.per_attendee_cost is not None and values.per_attendee_cost < 0:
        errors["per_attendee_cost"] = "the cost cannot be negative"
    elif values.per_attendee_cost is not None and values.per_attendee_cost >= Decimal("1e8"):
        errors["per_attendee_cost"] = "the cost is too large"
    if values.reminder_days is not None and not 1 <= values.reminder_days <= MAX_REMINDER_DAYS:
        errors["reminder_days"] = f"reminder days must be between 1 and {MAX_REMINDER_DAYS}"
    if not _ORGANIZER.match(values.organizer_email or ""):
        errors["organizer_email"] = "a valid organizer e-mail address is required"
    for i, q in enumerate(values.questions, start=1):
        if not q.label.strip():
            errors[f"questions.{i}"] = "a question needs a label"
        elif q.kind not in QUESTION_KINDS:
            errors[f"questions.{i}"] = "the kind must be 'text' or 'choice'"
        elif q.kind == "choice" and len([c for c in q.choices if c.strip()]) < 2:
            errors[f"questions.{i}"] = "a choice question needs at least two choices"
    if errors:
        raise EventRuleError(errors)
    return values


def changed_fields(before: dict, after: dict, fields: tuple[str, ...]) -> list[str]:
    """Names of `fields` whose value differs between two snapshots."""
    return [f for f in fields if before.get(f) != after.get(f)]


def reminder_time(starts_at: datetime, reminder_days: int | None, now: datetime) -> datetime | None:
    """When the reminder goes out, or None when there is none or it is already too late."""
    if not reminder_days:
        return None
    at = starts_at - timedelta(days=reminder_days)
    return at if at > now else None


def link_expiry(ends_at: datetime) -> datetime:
    """Invitation links work until 30 days after the event (time for follow-ups)."""
    return ends_at + timedelta(days=30)


def google_calendar_url(*, title: str, starts_at: datetime, ends_at: datetime, timezone: str,
                        details: str = "", location: str = "") -> str:
    """An "add to Google Calendar" link (the render?action=TEMPLATE form)."""
    def stamp(value: datetime) -> str:
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    query = {"action": "TEMPLATE", "text": title,
             "dates": f"{stamp(starts_at)}/{stamp(ends_at)}", "ctz": timezone}
    if details:
        query["details"] = details[:1500]  # long URLs break in some mail clients
    if location:
        query["location"] = location
    return "https://calendar.google.com/calendar/render?" + urlencode(query)


def location_text(venue: str, address: str) -> str:
    """LOCATION line: venue and address on one line."""
    parts = [venue.strip(), ", ".join(x.strip() for x in address.splitlines() if x.strip())]
    return ", ".join(p for p in parts if p)


def parse_member_refs(text: str) -> tuple[list[int], list[str], list[str]]:
    """Split a pasted list into member ids, e-mail addresses and unreadable entries."""
    ids: list[int] = []
    emails: list[str] = []
    bad: list[str] = []
    for token in re.split(r"[\s,;]+", text or ""):
        if not token:
            continue
        if token.isdigit():
            ids.append(int(token))
        elif _EMAIL.match(token):
            emails.append(token.lower())
        else:
            bad.append(token)
    return ids, emails, bad
