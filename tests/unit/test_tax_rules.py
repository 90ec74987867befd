"""Tax rules by year (issue 12, items 11 and 13): the German history, net or gross for the
limit test, the § 37b base (gross, no give-aways, capped), four eyes, the recipient notice."""
from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from engagement.rewards import notice, rules
from engagement.rewards.rules import Flag, FourEyes, Kind, LimitBasis, TaxSettings

D = Decimal


@pytest.mark.parametrize("year, limit, law", [
    (2004, "35.00", "Haushaltsbegleitgesetzes 2004"), (2023, "35.00", "bis 2023"),
    (2024, "50.00", "Wachstumschancengesetzes"), (2030, "50.00", "ab 2024"),
])
def test_statutory_gift_limit_by_year_with_its_source(year, limit, law):
    rules_of_year = rules.statutory(year)
    assert rules_of_year.gift_limit == D(limit) and law in rules_of_year.gift_limit_source
    assert "§ 4 Abs. 5 Satz 1 Nr. 1 EStG" in rules_of_year.gift_limit_source
    assert not rules_of_year.flat_tax_opted_in  # the company opts in, the law does not


@pytest.mark.parametrize("year, total, flag", [
    (2023, "35.00", Flag.AT_LIMIT), (2023, "35.01", Flag.OVER), (2024, "35.01", Flag.OK),
    (2024, "50.01", Flag.OVER),
])
def test_the_same_total_is_judged_by_its_year(year, total, flag):
    (line,) = rules.ledger([(1, year, Kind.GIFT, D(total))], rules.statutory(year))
    assert line.flag == flag


@pytest.mark.parametrize("net, rate, gross", [
    ("42.02", "19", "50.00"), ("42.03", "19", "50.02"), ("0.01", "19", "0.01"),
    ("10.00", "7", "10.70"), ("33.61", "19", "40.00"), ("5.00", "0", "5.00"),
])
def test_gross_of_net_rounds_half_up_to_the_cent(net, rate, gross):
    assert rules.gross_of(D(net), D(rate)) == D(gross)


@pytest.mark.parametrize("basis, net, gross, flag", [
    (LimitBasis.NET, "42.03", "50.02", Flag.OK),  # input VAT deductible: net counts
    (LimitBasis.GROSS, "42.03", "50.02", Flag.OVER),
    (LimitBasis.GROSS, "42.02", "50.00", Flag.AT_LIMIT),
    (LimitBasis.NET, "50.01", "59.51", Flag.OVER),
])
def test_limit_test_counts_net_or_gross_as_configured(basis, net, gross, flag):
    settings = TaxSettings(limit_basis=basis)
    (line,) = rules.ledger([(1, 2026, Kind.GIFT, D(gross), D(net))], settings)
    assert line.flag == flag
    assert line.gross == D(gross)
    assert line.total == (D(net) if basis == LimitBasis.NET else D(gross))


def test_flat_tax_base_is_gross_without_giveaways_and_hospitality():
    settings = TaxSettings(flat_tax_opted_in=True, include_hospitality=True)
    rows = [(1, 2026, Kind.GIFT, D("59.50"), D("50.00")),  # base: gross
            (1, 2026, Kind.GIFT, D("11.90"), D("10.00")),  # net 10.00: a give-away
            (1, 2026, Kind.VOUCHER, D("10.01"), D("10.01")),  # 10.01: not a give-away
            (1, 2026, Kind.HOSPITALITY, D("80.00"), D("80.00"))]  # § 4 Abs. 5 Nr. 2
    (line,) = rules.ledger(rows, settings)
    assert line.flat_base == D("69.51")
    assert line.giveaways == D("11.90")
    assert line.tax == D("20.85")  # 30 % of 69.51 = 20.853
    assert line.total == D("150.01")  # the limit test: net of the gifts + hospitality


def test_flat_tax_cap_excludes_the_gift_that_crosses_it_and_later_ones():
    assert rules.flat_tax_base([D("6000"), D("4000")], D("10000")) == (D("10000"), D("0"))
    assert rules.flat_tax_base([D("6000"), D("3000"), D("2000"), D("500")], D("10000")) == (
        D("9000"), D("2500"))
    settings = TaxSettings(flat_tax_opted_in=True)
    rows = [(1, 2026, Kind.TRAVEL, D("6000.00")), (1, 2026, Kind.TRAVEL, D("4000.01"))]
    (line,) = rules.ledger(rows, settings)
    assert (line.flat_base, line.over_cap, line.tax) == (D("6000.00"), D("4000.01"),
                                                         D("1800.00"))


def test_no_flat_tax_without_opt_in_for_that_year():
    (line,) = rules.ledger([(1, 2026, Kind.GIFT, D("100.00"))], TaxSettings())
    assert (line.tax, line.flat_base) == (None, None)


@pytest.mark.parametrize("policy, value, proposer, approver, allowed", [
    (FourEyes(), "0.01", 1, 1, False),  # default: on, above 0.00 EUR
    (FourEyes(), "0.01", 1, 2, True),
    (FourEyes(), "0.00", 1, 1, True),  # nothing of value
    (FourEyes(), "25.00", 1, None, False),  # an unnamed approver is not a second person
    (FourEyes(), "25.00", None, None, True),  # no known proposer (a command)
    (FourEyes(above=D("100.00")), "100.00", 1, 1, True),
    (FourEyes(above=D("100.00")), "100.01", 1, 1, False),
    (FourEyes(enabled=False), "5000.00", 1, 1, True),
])
def test_four_eyes(policy, value, proposer, approver, allowed):
    assert rules.may_approve(D(value), proposer, approver, policy) is allowed


def test_four_eyes_from_stored_mapping_falls_back_to_on():
    assert FourEyes.from_mapping(None) == FourEyes(True, D("0.00"))
    assert FourEyes.from_mapping({"enabled": False, "above": "x"}) == FourEyes(False, D("0"))
    assert FourEyes.from_mapping(FourEyes(True, D("20")).to_mapping()).above == D("20.00")


def test_settings_round_trip_through_their_mapping():
    s = dataclasses.replace(rules.statutory(2023), limit_basis=LimitBasis.GROSS,
                            flat_tax_opted_in=True, flat_rate=D("25.00"))
    back = TaxSettings.from_mapping(s.to_mapping())
    assert back.same_figures(s) and back.year == 2023


def test_notice_text_in_german_with_the_gifts_and_the_cap():
    settings = TaxSettings(year=2024, flat_tax_opted_in=True, flat_tax_cap=D("100.00"))
    gifts = [notice.NoticeGift(date(2024, 3, 5), "Rucksack", D("59.50"), True),
             notice.NoticeGift(date(2024, 11, 2), "Konferenzreise", D("1234.50"), False)]
    text = notice.flat_tax_notice(recipient="Erika Muster", member_id=17, year=2024,
                                 gifts=gifts, settings=settings, issued=date(2025, 1, 15),
                                 company="Beispiel Telekom GmbH")
    assert text.startswith("Beispiel Telekom GmbH\n")
    assert "Empfänger/in: Erika Muster (Mitglieds-Nr. 17)" in text
    assert "Wirtschaftsjahr: 2024" in text and "Datum: 15.01.2025" in text
    assert "§ 37b Abs. 1 EStG pauschal mit 30 %" in text
    assert "05.03.2024  Rucksack  59,50 EUR" in text
    assert "Summe der pauschal besteuerten Zuwendungen: 59,50 EUR" in text
    assert "§ 37b Abs. 3 Satz 1 EStG" in text and "§ 37b Abs. 3 Satz 3 EStG" in text
    assert "Höchstbetrag von 100,00 EUR" in text
    assert "02.11.2024  Konferenzreise  1.234,50 EUR" in text
