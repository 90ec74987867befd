"""Magic sign-in link rules: quota per address and client, single use, expiry, member pick."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engagement.accounts.signin.rules import (
    LinkQuota,
    LinkQuotaExceeded,
    LinkState,
    check_quota,
    expiry,
    link_state,
    pick_member,
)

NOW = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
QUOTA = LinkQuota(per_email=5, per_ip=20, window=timedelta(hours=1))


@pytest.mark.parametrize("by_email, by_ip, scope", [
    (0, 0, None), (4, 19, None), (5, 0, "email"), (9, 0, "email"), (0, 20, "ip"),
    (5, 20, "email"),  # the address is named first: that is what the log should say
])
def test_quota(by_email, by_ip, scope):
    if scope is None:
        check_quota(by_email, by_ip, QUOTA)
        return
    with pytest.raises(LinkQuotaExceeded) as exc:
        check_quota(by_email, by_ip, QUOTA)
    assert exc.value.scope == scope


@pytest.mark.parametrize("expires, used, state", [
    (NOW + timedelta(seconds=1), None, LinkState.VALID),
    (NOW, None, LinkState.EXPIRED),  # the expiry instant itself no longer works
    (NOW - timedelta(minutes=1), None, LinkState.EXPIRED),
    (NOW + timedelta(minutes=10), NOW - timedelta(minutes=1), LinkState.USED),
    (NOW - timedelta(minutes=10), NOW - timedelta(minutes=20), LinkState.USED),
])
def test_link_state(expires, used, state):
    assert link_state(expires, used, NOW) == state


def test_expiry_bounds():
    assert expiry(NOW, 30) == NOW + timedelta(minutes=30)
    assert expiry(NOW, 1440) == NOW + timedelta(days=1)
    for bad in (0, -5, 1441):
        with pytest.raises(ValueError):
            expiry(NOW, bad)


@pytest.mark.parametrize("candidates, expected", [
    ([], None),
    ([(7, 3)], 7),
    ([(7, 3), (4, 9)], 4),  # invited most recently wins
    ([(9, 5), (2, 5)], 2),  # tie: lower member id, stable between requests
])
def test_pick_member(candidates, expected):
    assert pick_member(candidates) == expected
