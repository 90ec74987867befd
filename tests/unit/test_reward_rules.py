"""Ledger math for rewards: Freigrenze at 49.99 / 50.00 / 50.01 EUR, years, § 37b tax."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engagement.rewards import rules
from engagement.rewards.rules import Flag, Kind, TaxSettings

D = Decimal


@pytest.mark.parametrize("total, flag", [
    ("49.99", Flag.OK), ("50.00", Flag.AT_LIMIT), ("50.01", Flag.OVER), ("0", Flag.OK),
])
def test_flag_at_the_limit(total, flag):
    assert rules.flag_for(D(total), D("50.00")) == flag


@pytest.mark.parametrize("values, total, flag", [
    (["24.99", "25.00"], "49.99", Flag.OK),
    (["25.00", "25.00"], "50.00", Flag.AT_LIMIT),
    (["25.00", "25.01"], "50.01", Flag.OVER),
])
def test_ledger_sums_per_recipient_and_year(values, total, flag):
    lines = rules.ledger([(7, 2026, Kind.GIFT, D(v)) for v in values], TaxSettings())
    assert [(ln.member_id, ln.year, ln.total, ln.flag) for ln in lines] == [
        (7, 2026, D(total), flag)]


def test_years_are_separate():
    rows = [(1, 2025, Kind.GIFT, D("40.00")), (1, 2026, Kind.VOUCHER, D("40.00")),
            (1, 2026, Kind.TRAVEL, D("10.01"))]
    lines = rules.ledger(rows, TaxSettings())
    assert [(ln.year, ln.total, ln.flag) for ln in lines] == [
        (2025, D("40.00"), Flag.OK), (2026, D("50.01"), Flag.OVER)]


def test_hospitality_counts_only_when_configured():
    rows = [(1, 2026, Kind.HOSPITALITY, D("45.00")), (1, 2026, Kind.GIFT, D("10.00"))]
    assert rules.ledger(rows, TaxSettings())[0].total == D("10.00")
    both = rules.ledger(rows, TaxSettings(include_hospitality=True))[0]
    assert (both.total, both.flag) == (D("55.00"), Flag.OVER)


def test_flat_tax_only_when_opted_in_and_rounded_half_up():
    assert rules.ledger([(1, 2026, Kind.GIFT, D("50.01"))], TaxSettings())[0].tax is None
    line = rules.ledger([(1, 2026, Kind.GIFT, D("50.01"))],
                        TaxSettings(flat_tax_opted_in=True))[0]
    assert line.tax == D("15.00")  # 15.003
    assert rules.flat_tax(D("0.05"), D("30")) == D("0.02")  # 0.015 rounds half up
    assert rules.flat_tax(D("33.35"), D("30")) == D("10.01")  # 10.005


@pytest.mark.parametrize("text, amount", [
    ("12,5", D("12.50")), ("0.005", D("0.01")), (49.99, D("49.99")), (D("50"), D("50.00")),
])
def test_money_parses(text, amount):
    assert rules.money(text) == amount


@pytest.mark.parametrize("bad", ["", "abc", "-1", "NaN", "Infinity", None, True, "1e12"])
def test_money_rejects(bad):
    with pytest.raises(ValueError):
        rules.money(bad)


def test_check_grant_warns_only_when_crossing():
    s = TaxSettings()
    assert not rules.check_grant(1, D("0"), D("50.00"), Kind.GIFT, s).crosses_limit
    assert rules.check_grant(1, D("49.99"), D("0.02"), Kind.GIFT, s).crosses_limit
    # Already over: no new warning.
    assert not rules.check_grant(1, D("60.00"), D("5.00"), Kind.GIFT, s).crosses_limit
    # Hospitality does not count by default.
    assert not rules.check_grant(1, D("49.99"), D("30"), Kind.HOSPITALITY, s).crosses_limit


def test_grant_year_uses_the_programme_time_zone():
    # 23:30 UTC on New Year's Eve is already the next year in Berlin.
    at = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
    assert rules.grant_year(at, "Europe/Berlin") == 2026
    assert rules.grant_year(at, "UTC") == 2025


def test_settings_round_trip_and_fallbacks():
    s = TaxSettings(gift_limit=D("35.00"), flat_rate=D("25"), flat_tax_opted_in=True)
    assert TaxSettings.from_mapping(s.to_mapping()) == s
    broken = TaxSettings.from_mapping({"gift_limit": "x", "flat_rate": "150"})
    assert (broken.gift_limit, broken.flat_rate) == (D("50.00"), D("30"))
    assert "§ 37b" in broken.flat_rate_source and "Freigrenze" in broken.gift_limit_source
