"""The § 37b notice: the recipient is told the company paid the income tax on their gifts.

Pure (no Flask, no SQLAlchemy), like `rules`: values in, German plain text out.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from .rules import TaxSettings, money


@dataclass(frozen=True)
class NoticeGift:
    day: date
    item: str
    gross: Decimal
    in_base: bool  # False: above the cap, not flat-taxed


def de_amount(value: Decimal) -> str:
    """1234.5 -> '1.234,50' (German notation, for the German notice)."""
    text = f"{money(value):,.2f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def flat_tax_notice(*, recipient: str, member_id: int, year: int, gifts: list[NoticeGift],
                    settings: TaxSettings, issued: date, company: str = "") -> str:
    """The notice § 37b Abs. 3 Satz 3 EStG asks for: the recipient is told that the company
    paid the income tax on the year's gifts at the flat rate. German, plain text."""
    base = sum((g.gross for g in gifts if g.in_base), Decimal("0.00"))
    excluded = [g for g in gifts if not g.in_base]
    lines = []
    if company:
        lines += [company, ""]
    lines += ["Mitteilung über die Pauschalbesteuerung von Sachzuwendungen "
              "nach § 37b EStG", "",
              f"Empfänger/in: {recipient} (Mitglieds-Nr. {member_id})",
              f"Wirtschaftsjahr: {year}",
              f"Datum: {issued:%d.%m.%Y}", "",
              f"Guten Tag {recipient},", "",
              f"die Einkommensteuer auf die folgenden Sachzuwendungen, die Sie im Jahr {year} "
              f"von uns erhalten haben, übernehmen wir nach § 37b Abs. 1 EStG pauschal mit "
              f"{de_amount(settings.flat_rate).removesuffix(',00')} % der Aufwendungen "
              f"einschließlich Umsatzsteuer:", ""]
    lines += [f"  {g.day:%d.%m.%Y}  {g.item}  {de_amount(g.gross)} EUR"
              for g in gifts if g.in_base]
    lines += ["", f"Summe der pauschal besteuerten Zuwendungen: {de_amount(base)} EUR", "",
              "Diese Zuwendungen bleiben bei der Ermittlung Ihrer Einkünfte außer Ansatz "
              "(§ 37b Abs. 3 Satz 1 EStG); Sie brauchen sie in Ihrer Steuererklärung nicht "
              "anzugeben. Streuwerbeartikel bis "
              f"{de_amount(settings.giveaway_limit)} EUR sind nicht enthalten."]
    if excluded:
        lines += ["", f"Die folgenden Zuwendungen übersteigen den Höchstbetrag von "
                      f"{de_amount(settings.flat_tax_cap)} EUR je Empfänger und Jahr "
                      "(§ 37b Abs. 1 Satz 3 EStG) und sind nicht pauschal besteuert; soweit "
                      "sie bei Ihnen steuerpflichtig sind, versteuern Sie sie selbst:", ""]
        lines += [f"  {g.day:%d.%m.%Y}  {g.item}  {de_amount(g.gross)} EUR" for g in excluded]
    lines += ["", "Diese Mitteilung erhalten Sie nach § 37b Abs. 3 Satz 3 EStG.", "",
              "Mit freundlichen Grüßen"]
    if company:
        lines.append(company)
    return "\n".join(lines) + "\n"
