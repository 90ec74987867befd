"""Login throttling rule: limits per address and per client, unlocking as failures age."""
from datetime import UTC, datetime, timedelta

import pytest

from engagement.accounts.rules import LoginThrottled, Throttle, check_throttle

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
T = Throttle(max_failures=3, max_failures_per_ip=5, window=timedelta(minutes=15))


def ago(*minutes):
    return [NOW - timedelta(minutes=m) for m in minutes]


@pytest.mark.parametrize("email_failures, ip_failures, locked", [
    ([], [], False),
    (ago(1, 2), ago(1, 2), False),
    (ago(1, 2, 3), ago(1, 2, 3), True),
    (ago(1, 2, 16), ago(1, 2, 16), False),  # one failure has aged out of the window
    (ago(1), ago(1, 2, 3, 4, 5), True),  # many addresses from one client
    (ago(1), ago(1, 2, 3, 4), False),
])
def test_throttle(email_failures, ip_failures, locked):
    if locked:
        with pytest.raises(LoginThrottled):
            check_throttle(email_failures, ip_failures, NOW, T)
    else:
        check_throttle(email_failures, ip_failures, NOW, T)


def test_retry_after_counts_down_to_the_oldest_counted_failure():
    with pytest.raises(LoginThrottled) as exc:
        check_throttle(ago(10, 5, 1), [], NOW, T)
    assert exc.value.retry_after == 5 * 60
