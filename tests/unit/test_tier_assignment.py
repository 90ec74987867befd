"""Tier assignment rules: promote at once, demote after the grace period, overrides win."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from engagement.community.tiers.rules import Change, Decision, TierRef, decide

RISING = TierRef(1, 10, 30, "Rising")
EXPERT = TierRef(3, 30, 90, "Expert")
POWER = TierRef(4, 40, 90, "Power User")
NO_GRACE = TierRef(5, 50, 0, "Legend")
TODAY = date(2026, 11, 26)


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)


@pytest.mark.parametrize("current, computed, override, pending, expected", [
    # promotions apply at once, also from no tier and across several levels
    (None, RISING, None, None, Decision(RISING, Change.PROMOTION, None)),
    (RISING, POWER, None, None, Decision(POWER, Change.PROMOTION, None)),
    # a pending demotion is cleared by a promotion above the current tier
    (EXPERT, POWER, None, days_ago(10), Decision(POWER, Change.PROMOTION, None)),
    # unchanged
    (None, None, None, None, Decision(None, None, None)),
    (EXPERT, EXPERT, None, None, Decision(EXPERT, None, None)),
    # qualifying again clears the pending demotion
    (EXPERT, EXPERT, None, days_ago(40), Decision(EXPERT, None, None)),
    # falling below starts the grace period today
    (POWER, EXPERT, None, None, Decision(POWER, None, TODAY)),
    (POWER, None, None, None, Decision(POWER, None, TODAY)),
    # still inside the grace period: keeps the tier and the original start day
    (POWER, EXPERT, None, days_ago(89), Decision(POWER, None, days_ago(89))),
    # grace exactly at the limit: demoted, straight to the computed tier (several levels)
    (POWER, EXPERT, None, days_ago(90), Decision(EXPERT, Change.DEMOTION, None)),
    (POWER, RISING, None, days_ago(120), Decision(RISING, Change.DEMOTION, None)),
    (POWER, None, None, days_ago(90), Decision(None, Change.DEMOTION, None)),
    # the grace period is the *current* tier's (Rising: 30 days)
    (RISING, None, None, days_ago(29), Decision(RISING, None, days_ago(29))),
    (RISING, None, None, days_ago(30), Decision(None, Change.DEMOTION, None)),
    # no grace period: demoted at once
    (NO_GRACE, POWER, None, None, Decision(POWER, Change.DEMOTION, None)),
    # a pending day in the future (computing for an earlier day) does not demote
    (POWER, EXPERT, None, days_ago(-5), Decision(POWER, None, days_ago(-5))),
    # overrides win over the rules, in both directions, and clear pending demotions
    (EXPERT, POWER, RISING, None, Decision(RISING, Change.OVERRIDE, None)),
    (None, None, POWER, None, Decision(POWER, Change.OVERRIDE, None)),
    (POWER, None, POWER, days_ago(200), Decision(POWER, None, None)),
    (POWER, RISING, POWER, None, Decision(POWER, None, None)),
])
def test_decide(current, computed, override, pending, expected):
    assert decide(current, computed, override, pending, TODAY) == expected
