"""Pure import rules: cell parsing, CSV dialect, report safety, run state, summary line."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from engagement.community.importers.rules import (
    Summary,
    csv_safe,
    detect_delimiter,
    parse_count,
    parse_day,
    parse_timestamp,
    run_state,
)


@pytest.mark.parametrize("text, expected", [("7", 7), (" 12 ", 12), ("", 0), (None, 0), ("0", 0)])
def test_parse_count(text, expected):
    assert parse_count(text, "answers") == expected


@pytest.mark.parametrize("text, message", [("x", "not a whole number"), ("-1", "negative"),
                                           ("1.5", "not a whole number")])
def test_parse_count_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        parse_count(text, "answers")


@pytest.mark.parametrize("text, expected", [
    ("2024-05-01", date(2024, 5, 1)), ("01.05.2024", date(2024, 5, 1)),
    ("2024-05-01T23:59:00", date(2024, 5, 1)), ("1.5.2024", date(2024, 5, 1)),
])
def test_parse_day(text, expected):
    assert parse_day(text) == expected


@pytest.mark.parametrize("text", ["", "gestern", "2024-13-01", "31.02.2024"])
def test_parse_day_rejects(text):
    with pytest.raises(ValueError):
        parse_day(text)


def test_parse_timestamp_normalises_to_utc():
    assert parse_timestamp("2024-05-28T23:10:00.000+02:00", "t") == datetime(2024, 5, 28, 21, 10,
                                                                             tzinfo=UTC)
    assert parse_timestamp("2011-10-11T19:42:20.713", "t") == datetime(
        2011, 10, 11, 19, 42, 20, 713000, tzinfo=UTC)
    assert parse_timestamp("2020-01-25T00:58:35.475Z", "t").tzinfo is UTC
    assert parse_timestamp("01.02.2019 14:05", "t") == datetime(2019, 2, 1, 14, 5, tzinfo=UTC)
    assert parse_timestamp("", "t") is None
    with pytest.raises(ValueError, match="joined_at"):
        parse_timestamp("soon", "joined_at")


@pytest.mark.parametrize("header, expected", [
    ("external_id,day,posts", ","), ("external_id;day;posts", ";"),
    ('external_id;display_name;"a,b"', ";"), ("external_id", ","),
])
def test_detect_delimiter(header, expected):
    assert detect_delimiter(header) == expected


@pytest.mark.parametrize("cell, expected", [
    ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+1", "'+1"), ("-2", "'-2"), ("@SUM", "'@SUM"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("plain", "plain"), (None, ""), (12, "12"),
])
def test_csv_safe(cell, expected):
    assert csv_safe(cell) == expected


def test_run_state_interrupted_when_heartbeat_is_stale():
    now = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    assert run_state("running", now - timedelta(seconds=30), None, now) == "running"
    assert run_state("running", now - timedelta(minutes=10), None, now) == "interrupted"
    assert run_state("running", None, now - timedelta(minutes=10), now) == "interrupted"
    assert run_state("completed", now - timedelta(days=3), None, now) == "completed"
    assert run_state("failed", None, None, now) == "failed"


def test_summary_line():
    s = Summary(fmt="stackexchange", created=2294, days=1410, skipped=1,
                skipped_reasons=("system account",), seconds=1.42)
    assert s.line() == ("stackexchange: 2,294 members (2,294 new, 0 updated, 0 unchanged), "
                        "1,410 contribution days, 1 skipped (system account), 0 rows rejected, "
                        "1.4 s")
