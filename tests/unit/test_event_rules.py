"""Event rules: local times in a named zone (DST gaps and repeats), validation, links."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from engagement.events import rules

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize("local, utc", [
    ("2026-11-05T18:00", datetime(2026, 11, 5, 17, 0, tzinfo=UTC)),      # winter: +01:00
    ("2026-07-01T18:00", datetime(2026, 7, 1, 16, 0, tzinfo=UTC)),       # summer: +02:00
    ("2026-03-29T01:59", datetime(2026, 3, 29, 0, 59, tzinfo=UTC)),      # just before the gap
    ("2026-03-29T03:00", datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),       # just after the gap
    ("2026-10-25T01:59", datetime(2026, 10, 24, 23, 59, tzinfo=UTC)),
    ("2026-10-25T03:00", datetime(2026, 10, 25, 2, 0, tzinfo=UTC)),
    ("2026-10-25T02:30+02:00", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),  # offset settles it
    ("2026-10-25T02:30+01:00", datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),
    ("2026-11-05 18:00:00", datetime(2026, 11, 5, 17, 0, tzinfo=UTC)),
    ("2026-11-05T17:00Z", datetime(2026, 11, 5, 17, 0, tzinfo=UTC)),
])
def test_parse_local_converts_wall_clock_to_utc(local, utc):
    assert rules.parse_local(local, BERLIN) == utc


def test_time_in_the_spring_gap_is_refused():
    with pytest.raises(rules.InvalidLocalTime) as exc:
        rules.parse_local("2026-03-29T02:30", BERLIN)
    assert exc.value.kind == "nonexistent"
    assert "does not exist in Europe/Berlin" in str(exc.value)


def test_repeated_autumn_hour_is_refused_with_both_offsets():
    with pytest.raises(rules.InvalidLocalTime) as exc:
        rules.parse_local("2026-10-25T02:30", BERLIN)
    assert exc.value.kind == "ambiguous"
    assert exc.value.params["first"] == "+02:00" and exc.value.params["second"] == "+01:00"


@pytest.mark.parametrize("bad", ["", "tomorrow", "2026-13-01T10:00", None, 5])
def test_garbled_times_are_refused(bad):
    with pytest.raises(rules.InvalidLocalTime):
        rules.parse_local(bad, BERLIN)


@pytest.mark.parametrize("name", ["Mars/Olympus", "../etc/passwd", "", "europe/berlin"])
def test_unknown_zones_are_refused(name):
    with pytest.raises(rules.InvalidTimeZone):
        rules.zone(name)


def test_known_zone():
    assert rules.zone("America/New_York").key == "America/New_York"
    assert rules.common_zones()[0].startswith("Europe/")


def _input(**changes):
    values = dict(title="Summit", starts_at=datetime(2030, 5, 1, 16, tzinfo=UTC),
                  ends_at=datetime(2030, 5, 1, 20, tzinfo=UTC), timezone="Europe/Berlin",
                  organizer_email="org@example.org")
    values.update(changes)
    return rules.EventInput(**values)


def test_valid_event_passes():
    assert rules.validate_event(_input()).title == "Summit"


@pytest.mark.parametrize("changes, field", [
    ({"title": "  "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"ends_at": datetime(2030, 5, 1, 16, tzinfo=UTC)}, "ends_at"),
    ({"ends_at": datetime(2030, 7, 1, 16, tzinfo=UTC)}, "ends_at"),
    ({"rsvp_deadline": datetime(2030, 5, 1, 17, tzinfo=UTC)}, "rsvp_deadline"),
    ({"capacity": 0}, "capacity"),
    ({"per_attendee_cost": Decimal("-1")}, "per_attendee_cost"),
    ({"reminder_days": 0}, "reminder_days"),
    ({"reminder_days": 61}, "reminder_days"),
    ({"organizer_email": "nobody"}, "organizer_email"),
    ({"timezone": "Nowhere/Town"}, "timezone"),
    ({"questions": (rules.QuestionInput("Diet", "choice", ("vegan",)),)}, "questions.1"),
    ({"questions": (rules.QuestionInput("Diet", "slider"),)}, "questions.1"),
    ({"questions": (rules.QuestionInput(" "),)}, "questions.1"),
])
def test_invalid_event_names_the_field(changes, field):
    with pytest.raises(rules.EventRuleError) as exc:
        rules.validate_event(_input(**changes))
    assert field in exc.value.errors


@pytest.mark.parametrize("raw, amount", [
    ("12.5", Decimal("12.50")), ("12,50", Decimal("12.50")), (7, Decimal("7.00")),
    ("", None), (None, None),
])
def test_parse_cost(raw, amount):
    assert rules.parse_cost(raw) == amount


@pytest.mark.parametrize("raw", ["abc", "NaN", "Infinity", True])
def test_parse_cost_refuses_garbage(raw):
    with pytest.raises(Exception):  # noqa: B017  (InvalidOperation is an ArithmeticError)
        rules.parse_cost(raw)


def test_reminder_time():
    start = datetime(2030, 5, 10, 16, tzinfo=UTC)
    assert rules.reminder_time(start, 3, datetime(2030, 5, 1, tzinfo=UTC)) == datetime(
        2030, 5, 7, 16, tzinfo=UTC)
    assert rules.reminder_time(start, 3, datetime(2030, 5, 8, tzinfo=UTC)) is None  # too late
    assert rules.reminder_time(start, None, datetime(2030, 5, 1, tzinfo=UTC)) is None


def test_google_calendar_link():
    url = rules.google_calendar_url(
        title="Summit & more", starts_at=datetime(2026, 11, 5, 17, tzinfo=UTC),
        ends_at=datetime(2026, 11, 5, 21, tzinfo=UTC), timezone="Europe/Berlin",
        details="Bring a laptop", location="Haus, Köln")
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("calendar.google.com", "/calendar/render")
    q = parse_qs(parts.query)
    assert q["action"] == ["TEMPLATE"] and q["text"] == ["Summit & more"]
    assert q["dates"] == ["20261105T170000Z/20261105T210000Z"]
    assert q["ctz"] == ["Europe/Berlin"] and q["location"] == ["Haus, Köln"]


def test_changed_fields_and_location():
    assert rules.changed_fields({"a": 1, "b": 2}, {"a": 1, "b": 3}, ("a", "b")) == ["b"]
    assert rules.location_text("Haus", "Str. 1\n50667 Köln\n") == "Haus, Str. 1, 50667 Köln"
    assert rules.location_text("", "") == ""


def test_parse_member_refs():
    ids, emails, bad = rules.parse_member_refs("12, 15;\nAnna@Example.org  x@y foo")
    assert ids == [12, 15] and emails == ["anna@example.org"] and bad == ["x@y", "foo"]
