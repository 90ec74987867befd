"""Volunteer record rules: hours estimate and drift after an HR sign-off."""
from __future__ import annotations

from decimal import Decimal

import pytest

from engagement.records.rules import Figures, changed_since_signoff, estimated_hours

D = Decimal


def test_hours_estimate_uses_both_rates_and_rounds_to_cents():
    assert estimated_hours(12, 0, 10, 5) == D("2.00")
    assert estimated_hours(12, 4, 10, 5) == D("2.33")  # 140 minutes
    assert estimated_hours(0, 0, 10, 5) == D("0.00")
    assert estimated_hours(3, 3, 0, 20) == D("1.00")


def test_hours_estimate_rejects_negative_input():
    with pytest.raises(ValueError):
        estimated_hours(-1, 0, 10, 5)
    with pytest.raises(ValueError):
        estimated_hours(1, 0, -10, 5)


def _figures(**over):
    values = dict(answers=10, accepted=2, estimated_hours=D("1.83"), role_hours=D("4.00"),
                  events_attended=1, rewards_value=D("25.00"))
    return Figures(**{**values, **over})


def test_total_hours_adds_role_hours():
    assert _figures().total_hours == D("5.83")


def test_unchanged_figures_are_not_flagged():
    snapshot = _figures().snapshot()
    assert changed_since_signoff(_figures(), snapshot) == []
    assert changed_since_signoff(_figures(), None) == []


def test_changed_figures_are_named():
    snapshot = _figures().snapshot()
    assert changed_since_signoff(_figures(answers=11, rewards_value=D("30")), snapshot) == [
        "answers", "rewards_value"]
    # The same amount written differently is not a change.
    assert changed_since_signoff(_figures(role_hours=D("4")), snapshot) == []
    assert changed_since_signoff(_figures(), {**snapshot, "answers": "junk"}) == ["answers"]
