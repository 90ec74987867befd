"""Retention rules: periods with bounds and sources, cutoffs, the end of tax retention."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engagement.records.retention import rules
from engagement.records.retention.rules import InvalidPeriod, Kind

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("last_year", "years", "expected"), [
    (2026, 10, datetime(2036, 12, 31, 23, 0, tzinfo=UTC)),  # 1 Jan 2037 in Berlin (CET)
    (2023, 10, datetime(2033, 12, 31, 23, 0, tzinfo=UTC)),
    (2026, 8, datetime(2034, 12, 31, 23, 0, tzinfo=UTC)),
    (2026, 1, datetime(2027, 12, 31, 23, 0, tzinfo=UTC)),
])
def test_tax_retention_ends_after_the_year_of_the_last_gift(last_year, years, expected):
    assert rules.tax_retain_until(last_year, years, "Europe/Berlin") == expected


@pytest.mark.parametrize(("kind", "amount", "ok"), [
    (Kind.LOGIN_ATTEMPTS, 0, False),  # the throttle needs the last window
    (Kind.LOGIN_ATTEMPTS, 1, True),
    (Kind.RSVP_ANSWERS, 0, True),
    (Kind.RSVP_ANSWERS, 3651, False),
    (Kind.TAX_NAMES, 0, False),
    (Kind.TAX_NAMES, 10, True),
    (Kind.TAX_NAMES, 31, False),
    (Kind.SIGNIN_LINKS, True, False),  # a bool is not a number of days
    (Kind.SIGNIN_LINKS, "3", False),
])
def test_periods_have_bounds(kind, amount, ok):
    if ok:
        assert rules.check_amount(kind, amount) == amount
    else:
        with pytest.raises(InvalidPeriod):
            rules.check_amount(kind, amount)


def test_defaults_and_changes_with_their_source():
    periods = rules.periods(None, upload_days=3)
    assert periods[Kind.TAX_NAMES].amount == 10 and periods[Kind.TAX_NAMES].unit == "years"
    assert "§ 147" in periods[Kind.TAX_NAMES].source
    assert periods[Kind.TAX_NAMES].changed_at is None
    assert periods[Kind.UPLOADS].amount == 3  # from the configuration
    stored = {"rsvp_answers": {"amount": 14, "source": "works council", "changed_at": "x"},
              "outbox_bodies": {"amount": -5, "source": "broken"},
              "uploads": {"amount": 99}}
    periods = rules.periods(stored, upload_days=0)
    assert (periods[Kind.RSVP_ANSWERS].amount, periods[Kind.RSVP_ANSWERS].source) == (
        14, "works council")
    # A broken stored value falls back to the default, never to "delete everything".
    assert periods[Kind.OUTBOX_BODIES].amount == 30
    assert periods[Kind.UPLOADS].amount == 0  # not changeable on the page


def test_cutoff_and_next_purge():
    period = rules.periods(None, upload_days=0)[Kind.OUTBOX_BODIES]
    assert rules.cutoff(period, NOW) == NOW - timedelta(days=30)
    with pytest.raises(ValueError):
        rules.cutoff(rules.periods(None, upload_days=0)[Kind.TAX_NAMES], NOW)
    hour = timedelta(hours=1)
    assert rules.next_purge(None, hour, NOW) == NOW
    assert rules.next_purge(NOW - timedelta(minutes=20), hour, NOW) == NOW + timedelta(minutes=40)
    assert rules.next_purge(NOW - timedelta(hours=3), hour, NOW) == NOW  # overdue
