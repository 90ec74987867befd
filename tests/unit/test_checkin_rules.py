"""Check-in rules: link expiry, who can be checked in, no-shows."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engagement.events.checkin.rules import (
    CheckinWindow,
    can_check_in,
    checkin_expiry,
    is_no_show,
)

END = datetime(2027, 11, 5, 21, 0, tzinfo=UTC)


def test_checkin_link_expires_a_day_after_the_event():
    assert checkin_expiry(END) == datetime(2027, 11, 6, 21, 0, tzinfo=UTC)


def test_only_accepted_invitations_of_live_events_can_be_checked_in():
    assert can_check_in("accepted", "published")
    for status in ("invited", "tentative", "declined", "waitlisted", "cancelled"):
        assert not can_check_in(status, "published")
    assert not can_check_in("accepted", "cancelled")


def test_no_show_is_accepted_not_checked_in_after_the_end():
    after = END + timedelta(minutes=1)
    assert is_no_show("accepted", None, END, after)
    assert not is_no_show("accepted", None, END, END)  # still running
    assert not is_no_show("accepted", END - timedelta(hours=2), END, after)
    assert not is_no_show("declined", None, END, after)


START = END - timedelta(hours=3)
WINDOW = CheckinWindow(opens_before=timedelta(hours=2), grace=timedelta(hours=12))


@pytest.mark.parametrize("now, expected", [
    (START - timedelta(days=21), "not_yet"),  # weeks before: a ticket does nothing yet
    (START - timedelta(hours=2, seconds=1), "not_yet"),
    (START - timedelta(hours=2), "open"),  # the doors open early
    (START, "open"),
    (END, "open"),
    (END + timedelta(hours=12), "open"),  # the last moment of the grace
    (END + timedelta(hours=12, seconds=1), "closed"),
    (END + timedelta(days=3), "closed"),  # days after: neither scan, door list nor API
])
def test_checkin_window(now, expected):
    assert WINDOW.state(START, END, now) == expected


def test_default_window_opens_hours_before_and_closes_a_day_after():
    opens, closes = CheckinWindow().bounds(START, END)
    assert (opens, closes) == (START - timedelta(hours=3), END + timedelta(days=1))
