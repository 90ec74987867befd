"""Deflection arithmetic and assumption parsing for the value dashboard."""
from __future__ import annotations

import pytest

from engagement.programme import rules


def test_defaults_are_documented_values():
    a = rules.DEFAULTS
    assert (a.solution_rate, a.contacts_per_solution, a.minutes_per_contact,
            a.hours_per_fte_year, a.power_users_per_fte) == (0.35, 1.0, 8.0, 1600.0, 2.0)


def test_deflection_with_defaults():
    d = rules.deflection(accepted_solutions=120_000, answers=400_000, power_users=60)
    assert d.contacts_from_solutions == 120_000
    assert d.contacts_from_answers == pytest.approx(140_000)
    assert d.hours == pytest.approx(16_000)  # 120,000 x 8 min
    assert d.fte == pytest.approx(10.0)  # 16,000 h / 1,600 h
    assert d.fte_rule_of_thumb == 30.0  # 60 power users / 2


def test_zero_data_gives_zero_not_an_error():
    d = rules.deflection(0, 0, 0)
    assert (d.contacts_from_solutions, d.contacts_from_answers, d.hours, d.fte,
            d.fte_rule_of_thumb) == (0, 0, 0, 0, 0)
    assert rules.rate(0, 0) is None
    assert rules.rate(1, 4) == 0.25


def test_custom_assumptions_change_the_result():
    a, errors = rules.parse_assumptions({"contacts_per_solution": "2,5",
                                         "minutes_per_contact": 12, "hours_per_fte_year": 1200})
    assert errors == {}
    d = rules.deflection(1000, 0, 3, a)
    assert d.contacts_from_solutions == 2500
    assert d.fte == pytest.approx(2500 * 12 / 60 / 1200)
    assert d.fte_rule_of_thumb == 1.5


@pytest.mark.parametrize("raw, field", [
    ({"solution_rate": "1.5"}, "solution_rate"),
    ({"hours_per_fte_year": "0"}, "hours_per_fte_year"),
    ({"power_users_per_fte": "abc"}, "power_users_per_fte"),
    ({"minutes_per_contact": "NaN"}, "minutes_per_contact"),
    ({"contacts_per_solution": "-1"}, "contacts_per_solution"),
])
def test_invalid_values_fall_back_to_the_default_and_are_reported(raw, field):
    a, errors = rules.parse_assumptions(raw)
    assert list(errors) == [field]
    assert getattr(a, field) == getattr(rules.DEFAULTS, field)


def test_missing_or_empty_setting_uses_defaults():
    assert rules.parse_assumptions(None) == (rules.DEFAULTS, {})
    assert rules.parse_assumptions({"solution_rate": ""}) == (rules.DEFAULTS, {})
