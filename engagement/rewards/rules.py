"""Pure rules for the reward ledger: gift limit (Freigrenze) and § 37b flat-rate tax.

All money is Decimal, rounded to cents with ROUND_HALF_UP as in commercial accounting.
Nothing here imports Flask or SQLAlchemy so the tax arithmetic is unit-testable on its own.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo

CENT = Decimal("0.01")


class Kind(enum.StrEnum):
    GIFT = "gift"
    VOUCHER = "voucher"
    TRAVEL = "travel"
    HOSPITALITY = "hospitality"


class GrantStatus(enum.StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"


class Fulfilment(enum.StrEnum):
    ORDERED = "ordered"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class Flag(enum.StrEnum):
    OK = "ok"
    AT_LIMIT = "at_limit"  # exactly the limit: still deductible (a Freigrenze is "bis")
    OVER = "over"  # one cent more and the whole year's gifts to this person lose deductibility


# Kinds that count as gifts (Geschenke) for the separate listing § 4 Abs. 7 EStG asks for.
GIFT_KINDS = frozenset({Kind.GIFT, Kind.VOUCHER, Kind.TRAVEL})

class LimitBasis(enum.StrEnum):
    """Which amount the gift limit is tested on."""

    NET = "net"  # the company may deduct input VAT (R 4.10 Abs. 3 EStR)
    GROSS = "gross"  # it may not: the VAT is part of its cost


# The statutory defaults and where each figure comes from. They are seeded per year by the
# migration (the German history) and edited per year by managers; nothing below reads them
# at run time except to fill a year nobody has set yet.
GIFT_LIMIT_2024 = Decimal("50.00")
GIFT_LIMIT_2004_2023 = Decimal("35.00")
GIFT_LIMIT_SOURCE_2024 = (
    "§ 4 Abs. 5 Satz 1 Nr. 1 EStG i. d. F. des Wachstumschancengesetzes vom 27.03.2024: "
    "Geschenke an Nicht-Arbeitnehmer bis 50 EUR je Empfänger und Wirtschaftsjahr "
    "(Freigrenze), für Wirtschaftsjahre ab 2024")
GIFT_LIMIT_SOURCE_2004_2023 = (
    "§ 4 Abs. 5 Satz 1 Nr. 1 EStG i. d. F. des Haushaltsbegleitgesetzes 2004: Geschenke an "
    "Nicht-Arbeitnehmer bis 35 EUR je Empfänger und Wirtschaftsjahr (Freigrenze), "
    "2004 bis 2023")
LIMIT_BASIS_SOURCE = ("R 4.10 Abs. 3 EStR: bei Vorsteuerabzugsberechtigung ist der "
                      "Nettobetrag maßgebend, sonst der Bruttobetrag")
FLAT_TAX_SOURCE = ("§ 37b Abs. 1 EStG: Wahlrecht des Zuwendenden, einheitlich für alle "
                   "Zuwendungen eines Wirtschaftsjahres (BMF 19.05.2015, Rz. 4)")
DEFAULT_FLAT_RATE = Decimal("30.00")  # percent
FLAT_RATE_SOURCE = ("§ 37b Abs. 1 Satz 1 EStG: 30 % der Aufwendungen einschließlich "
                    "Umsatzsteuer (Satz 2)")
DEFAULT_FLAT_TAX_CAP = Decimal("10000.00")
FLAT_TAX_CAP_SOURCE = ("§ 37b Abs. 1 Satz 3 Nr. 1 EStG: ausgeschlossen, soweit die "
                       "Aufwendungen je Empfänger und Wirtschaftsjahr 10.000 EUR übersteigen")
DEFAULT_GIVEAWAY_LIMIT = Decimal("10.00")
GIVEAWAY_SOURCE = ("BMF-Schreiben vom 19.05.2015 (IV C 6 - S 2297-b/14/10001), Rz. 10: "
                   "Streuwerbeartikel bis 10 EUR werden nicht einbezogen")
HOSPITALITY_SOURCE = ("§ 4 Abs. 5 Satz 1 Nr. 2 EStG: Bewirtung aus geschäftlichem Anlass "
                      "(70 % abziehbar); zählt nicht als Geschenk und nicht für § 37b EStG")
FLAT_TAX_FIRST_YEAR = 2007  # § 37b EStG was introduced by the Jahressteuergesetz 2007


def statutory(year: int) -> TaxSettings:
    """The German rules of `year` as the law states them (the company opts in to nothing)."""
    if year >= 2024:
        limit, source = GIFT_LIMIT_2024, GIFT_LIMIT_SOURCE_2024
    else:
        limit, source = GIFT_LIMIT_2004_2023, GIFT_LIMIT_SOURCE_2004_2023
    return TaxSettings(year=year, gift_limit=limit, gift_limit_source=source)


DEFAULT_GIFT_LIMIT = GIFT_LIMIT_2024


def money(value: object) -> Decimal:
    """Parse an amount ("12.5", "12,50", Decimal, int) into a non-negative Decimal in cents."""
    if isinstance(value, bool) or value is None:
        raise ValueError("not an amount")
    if isinstance(value, float):
        value = repr(value)  # float text, not its binary expansion
    text = str(value).strip().replace(",", ".") if not isinstance(value, Decimal) else value
    try:
        amount = Decimal(text)
    except (InvalidOperation, ValueError) as exc:
        raise ValueError("not an amount") from exc
    if not amount.is_finite() or amount < 0:
        raise ValueError("must be zero or more")
    if amount > Decimal("99999999.99"):
        raise ValueError("too large")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def percent(value: object) -> Decimal:
    """Parse a rate in percent (0..100)."""
    amount = money(value)
    if amount > 100:
        raise ValueError("must be between 0 and 100")
    return amount


def gross_of(net: Decimal, vat_rate: Decimal) -> Decimal:
    """The gross amount of a net amount at `vat_rate` percent, rounded to the cent."""
    return (money(net) * (Decimal(100) + percent(vat_rate)) / Decimal(100)).quantize(
        CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class TaxSettings:
    """The tax rules of one year; every figure carries its source.

    `inherited_from` is set when the year has no rules of its own yet and shows another
    year's (the latest before it, or the earliest recorded).
    """

    year: int | None = None
    gift_limit: Decimal = DEFAULT_GIFT_LIMIT
    gift_limit_source: str = GIFT_LIMIT_SOURCE_2024
    limit_basis: LimitBasis = LimitBasis.NET
    limit_basis_source: str = LIMIT_BASIS_SOURCE
    flat_tax_opted_in: bool = False
    flat_tax_source: str = FLAT_TAX_SOURCE
    flat_rate: Decimal = DEFAULT_FLAT_RATE  # percent
    flat_rate_source: str = FLAT_RATE_SOURCE
    flat_tax_cap: Decimal = DEFAULT_FLAT_TAX_CAP
    flat_tax_cap_source: str = FLAT_TAX_CAP_SOURCE
    giveaway_limit: Decimal = DEFAULT_GIVEAWAY_LIMIT
    giveaway_source: str = GIVEAWAY_SOURCE
    include_hospitality: bool = False
    inherited_from: int | None = None

    FIGURES = ("gift_limit", "gift_limit_source", "limit_basis", "limit_basis_source",
               "flat_tax_opted_in", "flat_tax_source", "flat_rate", "flat_rate_source",
               "flat_tax_cap", "flat_tax_cap_source", "giveaway_limit", "giveaway_source",
               "include_hospitality")

    @classmethod
    def from_mapping(cls, data: dict | None) -> TaxSettings:
        """Settings from a stored mapping; missing or broken keys fall back to defaults."""
        data = data or {}
        defaults = cls()

        def parsed(key, parse):
            try:
                return parse(data[key])
            except (KeyError, ValueError, TypeError):
                return getattr(defaults, key)

        def text(key):
            return str(data.get(key) or getattr(defaults, key))

        return cls(
            year=data.get("year") if isinstance(data.get("year"), int) else None,
            gift_limit=parsed("gift_limit", money), gift_limit_source=text("gift_limit_source"),
            limit_basis=parsed("limit_basis", LimitBasis),
            limit_basis_source=text("limit_basis_source"),
            flat_tax_opted_in=bool(data.get("flat_tax_opted_in", False)),
            flat_tax_source=text("flat_tax_source"),
            flat_rate=parsed("flat_rate", percent), flat_rate_source=text("flat_rate_source"),
            flat_tax_cap=parsed("flat_tax_cap", money),
            flat_tax_cap_source=text("flat_tax_cap_source"),
            giveaway_limit=parsed("giveaway_limit", money),
            giveaway_source=text("giveaway_source"),
            include_hospitality=bool(data.get("include_hospitality", False)),
        )

    def to_mapping(self) -> dict:
        """The figures as JSON-safe values (for the audit log)."""
        out: dict = {"year": self.year}
        for name in self.FIGURES:
            value = getattr(self, name)
            out[name] = str(value) if isinstance(value, Decimal | LimitBasis) else value
        return out

    def same_figures(self, other: TaxSettings) -> bool:
        return all(getattr(self, n) == getattr(other, n) for n in self.FIGURES)


def flag_for(total: Decimal, limit: Decimal) -> Flag:
    """Freigrenze: up to and including the limit is fine; anything above loses it all."""
    if total > limit:
        return Flag.OVER
    if total == limit:
        return Flag.AT_LIMIT
    return Flag.OK


def flat_tax(total: Decimal, rate_percent: Decimal) -> Decimal:
    """§ 37b tax on the total (solidarity surcharge and church tax come on top, not here)."""
    return (total * rate_percent / Decimal(100)).quantize(CENT, rounding=ROUND_HALF_UP)


def counts_for_ledger(kind: Kind | str, settings: TaxSettings) -> bool:
    """Gifts always count; hospitality only when the company configured it to."""
    return Kind(kind) in GIFT_KINDS or (Kind(kind) == Kind.HOSPITALITY
                                        and settings.include_hospitality)


def limit_value(net: Decimal, gross: Decimal, settings: TaxSettings) -> Decimal:
    """The amount of one gift the limit test counts: net or gross, as the year says."""
    return net if settings.limit_basis == LimitBasis.NET else gross


def in_flat_tax(kind: Kind | str, net: Decimal, gross: Decimal, settings: TaxSettings) -> bool:
    """Whether a gift belongs to the § 37b base: gifts, not hospitality, not give-aways
    (a give-away's cost, net or gross as the limit test counts it, is at most the
    give-away limit)."""
    return (Kind(kind) in GIFT_KINDS
            and limit_value(net, gross, settings) > settings.giveaway_limit)


def flat_tax_base(amounts: Iterable[Decimal], cap: Decimal) -> tuple[Decimal, Decimal]:
    """(base, excluded): gross amounts in the order given, up to the yearly cap per recipient.

    The gift that takes the year above the cap, and every later one, cannot be taxed at the
    flat rate (the recipient taxes them); the earlier ones stay in the base.
    """
    base, excluded, over = Decimal("0.00"), Decimal("0.00"), False
    for amount in amounts:
        if not over and base + amount <= cap:
            base += amount
        else:
            over = True
            excluded += amount
    return base, excluded


def grant_year(at: datetime, tz_name: str) -> int:
    """The calendar year of an aware instant in the programme's time zone."""
    return at.astimezone(ZoneInfo(tz_name)).year


@dataclass(frozen=True)
class YearTotals:
    """One recipient's year as the database sums it.

    `limit_total` is what the limit test counts (net or gross per the year's rules, plus
    hospitality if configured); `flat_gross` the gross value of the gifts in the § 37b base
    before the cap; `giveaways` the gross value of give-aways left out of it.
    """

    limit_total: Decimal
    gross_total: Decimal = Decimal("0.00")
    flat_gross: Decimal = Decimal("0.00")
    giveaways: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class LedgerLine:
    member_id: int
    year: int
    total: Decimal  # the amount the limit test counts (net or gross, see settings)
    flag: Flag
    tax: Decimal | None  # only when the company opted in to § 37b for the year
    gross: Decimal = Decimal("0.00")  # value of the year's gifts including VAT
    flat_base: Decimal | None = None  # § 37b base (gross, no give-aways, capped)
    over_cap: Decimal = Decimal("0.00")  # gross value above the § 37b cap
    giveaways: Decimal = Decimal("0.00")  # gross value of give-aways left out of § 37b


def ledger_line(member_id: int, year: int, totals: YearTotals | Decimal,
                settings: TaxSettings, capped: tuple[Decimal, Decimal] | None = None
                ) -> LedgerLine:
    """One recipient's year under `settings`; `capped` is (base, excluded) when the
    caller already applied the cap gift by gift."""
    if not isinstance(totals, YearTotals):
        amount = money(totals)
        totals = YearTotals(amount, amount, amount)
    total = money(totals.limit_total)
    base: Decimal | None = None
    over_cap = Decimal("0.00")
    tax = None
    if settings.flat_tax_opted_in:
        base, over_cap = capped or (flat_tax_base([totals.flat_gross], settings.flat_tax_cap))
        tax = flat_tax(base, settings.flat_rate)
    return LedgerLine(member_id, year, total, flag_for(total, settings.gift_limit), tax,
                      gross=money(totals.gross_total), flat_base=base, over_cap=over_cap,
                      giveaways=money(totals.giveaways))


def ledger(rows: Iterable[tuple], settings: TaxSettings) -> list[LedgerLine]:
    """Sum (member_id, year, kind, gross[, net]) rows per recipient and year, in order.

    Without a net amount the gross one stands in for it. All rows are taxed with
    `settings`, so pass one year's rows.
    """
    per: dict[tuple[int, int], list[tuple[Kind, Decimal, Decimal]]] = {}
    for row in rows:
        member_id, year, kind, gross = row[:4]
        net = row[4] if len(row) > 4 else gross
        if counts_for_ledger(kind, settings):
            per.setdefault((member_id, year), []).append((Kind(kind), Decimal(net),
                                                          Decimal(gross)))
    out = []
    for (member_id, year), gifts in sorted(per.items()):
        flat = [g for k, n, g in gifts if in_flat_tax(k, n, g, settings)]
        totals = YearTotals(
            limit_total=sum((limit_value(n, g, settings) for _k, n, g in gifts), Decimal(0)),
            gross_total=sum((g for _k, _n, g in gifts), Decimal(0)),
            flat_gross=sum(flat, Decimal(0)),
            giveaways=sum((g for k, n, g in gifts if k in GIFT_KINDS
                           and not in_flat_tax(k, n, g, settings)), Decimal(0)))
        out.append(ledger_line(member_id, year, totals, settings,
                               flat_tax_base(flat, settings.flat_tax_cap)))
    return out


@dataclass(frozen=True)
class GrantCheck:
    """What a planned grant does to a recipient's year."""

    member_id: int
    before: Decimal
    after: Decimal
    flag_before: Flag
    flag_after: Flag

    @property
    def crosses_limit(self) -> bool:
        return self.flag_before != Flag.OVER and self.flag_after == Flag.OVER


def check_grant(member_id: int, year_total: Decimal, value: Decimal, kind: Kind | str,
                settings: TaxSettings, net: Decimal | None = None) -> GrantCheck:
    """The recipient's ledger before and after adding a gift of gross `value` (and `net`,
    which the limit test may count instead); ignored if its kind does not count."""
    before = money(year_total)
    counted = limit_value(money(value if net is None else net), money(value), settings)
    after = before + counted if counts_for_ledger(kind, settings) else before
    return GrantCheck(member_id, before, after, flag_for(before, settings.gift_limit),
                      flag_for(after, settings.gift_limit))


@dataclass
class Preview:
    """A bulk grant before it is confirmed: recipients, cost, who would cross the limit and
    who is over it already.

    `crossing` and `over` list at most PREVIEW_CROSSING recipients each; `crossing_count`
    and `over_count` count them all.
    """

    count: int = 0
    total: Decimal = Decimal("0.00")
    crossing: list[GrantCheck] = field(default_factory=list)
    crossing_count: int = 0
    over: list[GrantCheck] = field(default_factory=list)
    over_count: int = 0

    def add(self, check: GrantCheck) -> None:
        """Count a recipient who has gifts this year: crossing, already over, or neither."""
        if check.crosses_limit:
            self.crossing_count += 1
            if len(self.crossing) < PREVIEW_CROSSING:
                self.crossing.append(check)
        elif check.flag_before == Flag.OVER:
            self.over_count += 1
            if len(self.over) < PREVIEW_CROSSING:
                self.over.append(check)


PREVIEW_CROSSING = 100


# --- four eyes ----------------------------------------------------------------------------

@dataclass(frozen=True)
class FourEyes:
    """Approval policy: a grant whose gross value is above `above` EUR needs a second person.

    On by default at 0.00 EUR, i.e. every grant with a value; only a zero-value grant (a
    certificate, a badge) may be approved by the person who proposed it.
    """

    enabled: bool = True
    above: Decimal = Decimal("0.00")

    @classmethod
    def from_mapping(cls, data: dict | None) -> FourEyes:
        data = data if isinstance(data, dict) else {}
        try:
            above = money(data.get("above", "0.00"))
        except ValueError:
            above = cls.above
        return cls(enabled=bool(data.get("enabled", True)), above=above)

    def to_mapping(self) -> dict:
        return {"enabled": self.enabled, "above": str(self.above)}


def needs_second_person(value: Decimal, policy: FourEyes) -> bool:
    return policy.enabled and money(value) > policy.above


def may_approve(value: Decimal, proposer_id: int | None, approver_id: int | None,
                policy: FourEyes) -> bool:
    """Four eyes: above the threshold a grant a person proposed is approved by a known
    person other than them. A grant with no known proposer (created by a command, or its
    proposer's account was deleted) cannot be approved by its proposer, so it passes."""
    if not needs_second_person(value, policy) or proposer_id is None:
        return True
    return approver_id is not None and approver_id != proposer_id
