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

DEFAULT_GIFT_LIMIT = Decimal("50.00")
DEFAULT_FLAT_RATE = Decimal("30")  # percent
GIFT_LIMIT_SOURCE = ("§ 4 Abs. 5 Satz 1 Nr. 1 EStG: Geschenke an Nicht-Arbeitnehmer bis 50 EUR "
                     "je Empfänger und Wirtschaftsjahr (Freigrenze, seit 2024)")
FLAT_RATE_SOURCE = "§ 37b EStG: Pauschalierung mit 30 %"
HOSPITALITY_SOURCE = ("§ 4 Abs. 5 Satz 1 Nr. 2 EStG: Bewirtung aus geschäftlichem Anlass "
                      "(70 % abziehbar); zählt nicht als Geschenk")


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


@dataclass(frozen=True)
class TaxSettings:
    gift_limit: Decimal = DEFAULT_GIFT_LIMIT
    flat_rate: Decimal = DEFAULT_FLAT_RATE  # percent
    flat_tax_opted_in: bool = False
    include_hospitality: bool = False
    gift_limit_source: str = GIFT_LIMIT_SOURCE
    flat_rate_source: str = FLAT_RATE_SOURCE

    @classmethod
    def from_mapping(cls, data: dict | None) -> TaxSettings:
        """Settings from a stored JSON mapping; missing or broken keys fall back to defaults."""
        data = data or {}
        defaults = cls()

        def parsed(key, parse, default):
            try:
                return parse(data[key])
            except (KeyError, ValueError, TypeError):
                return default

        return cls(
            gift_limit=parsed("gift_limit", money, defaults.gift_limit),
            flat_rate=parsed("flat_rate", percent, defaults.flat_rate),
            flat_tax_opted_in=bool(data.get("flat_tax_opted_in", False)),
            include_hospitality=bool(data.get("include_hospitality", False)),
            gift_limit_source=str(data.get("gift_limit_source") or defaults.gift_limit_source),
            flat_rate_source=str(data.get("flat_rate_source") or defaults.flat_rate_source),
        )

    def to_mapping(self) -> dict:
        return {"gift_limit": str(self.gift_limit), "flat_rate": str(self.flat_rate),
                "flat_tax_opted_in": self.flat_tax_opted_in,
                "include_hospitality": self.include_hospitality,
                "gift_limit_source": self.gift_limit_source,
                "flat_rate_source": self.flat_rate_source}


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


def grant_year(at: datetime, tz_name: str) -> int:
    """The calendar year of an aware instant in the programme's time zone."""
    return at.astimezone(ZoneInfo(tz_name)).year


@dataclass(frozen=True)
class LedgerLine:
    member_id: int
    year: int
    total: Decimal
    flag: Flag
    tax: Decimal | None  # only when the company opted in to § 37b


def ledger_line(member_id: int, year: int, total: Decimal, settings: TaxSettings) -> LedgerLine:
    total = money(total)
    tax = flat_tax(total, settings.flat_rate) if settings.flat_tax_opted_in else None
    return LedgerLine(member_id, year, total, flag_for(total, settings.gift_limit), tax)


def ledger(rows: Iterable[tuple[int, int, Kind | str, Decimal]],
           settings: TaxSettings) -> list[LedgerLine]:
    """Sum (member_id, year, kind, value) rows per recipient and year, in that order."""
    totals: dict[tuple[int, int], Decimal] = {}
    for member_id, year, kind, value in rows:
        if counts_for_ledger(kind, settings):
            key = (member_id, year)
            totals[key] = totals.get(key, Decimal("0")) + Decimal(value)
    return [ledger_line(m, y, t, settings) for (m, y), t in sorted(totals.items())]


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
                settings: TaxSettings) -> GrantCheck:
    """The recipient's ledger before and after adding `value` (ignored if it does not count)."""
    before = money(year_total)
    after = before + money(value) if counts_for_ledger(kind, settings) else before
    return GrantCheck(member_id, before, after, flag_for(before, settings.gift_limit),
                      flag_for(after, settings.gift_limit))


@dataclass
class Preview:
    """A bulk grant before it is confirmed: recipients, cost, who would cross the limit.

    `crossing` lists at most PREVIEW_CROSSING recipients; `crossing_count` counts them all.
    """

    count: int = 0
    total: Decimal = Decimal("0.00")
    crossing: list[GrantCheck] = field(default_factory=list)
    crossing_count: int = 0


PREVIEW_CROSSING = 100
