"""Volunteer record rules: hours estimate and drift after an HR sign-off."""
from __future__ import annotations

from decimal import Decimal

import pytest

from engagement.records.rules import (
    FigureChange,
    Figures,
    changed_since_signoff,
    changes_since_signoff,
    describe_changes,
    estimated_hours,
    needs_signoff,
)

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


def test_changes_carry_the_signed_and_the_current_value():
    snapshot = _figures().snapshot()
    changes = changes_since_signoff(_figures(role_hours=D("5.25"), events_attended=2), snapshot)
    assert changes == [FigureChange("role_hours", "4.00", "5.25"),
                       FigureChange("events_attended", 1, 2)]
    # A figure the snapshot lacks (signed before it existed) is a change from nothing.
    older = {k: v for k, v in snapshot.items() if k != "rewards_value"}
    assert changes_since_signoff(_figures(), older) == [
        FigureChange("rewards_value", None, "25.00")]
    assert changes_since_signoff(_figures(), None) == []


def test_changes_read_as_old_to_new():
    assert describe_changes([FigureChange("answers", 30, 31),
                             FigureChange("rewards_value", None, "25.00")]) == \
        "answers 30 → 31; rewards_value — → 25.00"
    assert describe_changes([]) == ""


@pytest.mark.parametrize("signed,changes,waits", [
    (False, [], True),
    (True, [], False),
    (True, [FigureChange("answers", 1, 2)], True),
])
def test_a_record_waits_for_signoff_when_unsigned_or_changed(signed, changes, waits):
    assert needs_signoff(signed, changes) is waits
