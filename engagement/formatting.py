"""How values are shown: Jinja filters for numbers, dates and money in the user's language
and time zone, and CSV cells safe to open in a spreadsheet (no formula injection)."""
from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, TextIO
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from flask import Flask, request
from flask_babel import format_date, format_datetime, format_decimal, format_percent, get_locale
from markupsafe import Markup


def number(value) -> str:
    return "—" if value is None else format_decimal(value)


def percent(value) -> str:
    return "—" if value is None else format_percent(value, format="#,##0.#%")


def dt(value: datetime | None, fmt: str = "medium") -> str:
    return "—" if value is None else format_datetime(value, fmt)


def d(value: date | datetime | None, fmt: str = "medium") -> str:
    return "—" if value is None else format_date(value, fmt)


def wall_clock(value: datetime, tz_name: str, fmt: str = "medium", locale: str = "en") -> str:
    """A time on a zone's wall clock in `locale`: the date in `fmt` (short, medium, long,
    full) and the time to the minute, or a CLDR pattern such as "HH:mm". Seconds mean
    nothing to a reader of a deadline."""
    tz = ZoneInfo(tz_name)
    local = value.astimezone(tz)
    if fmt not in ("short", "medium", "long", "full"):
        return babel_dates.format_datetime(local, fmt, locale=locale)  # a pattern: "HH:mm"
    time = babel_dates.format_time(local, "short", locale=locale)
    return (babel_dates.get_datetime_format(fmt, locale=locale).replace("'", "")
            .replace("{0}", time)
            .replace("{1}", babel_dates.format_date(local, fmt, locale=locale)))


def month_label(month: date) -> str:
    """A month as chart axes show it: "Nov 26" / "Nov. 26"."""
    return format_date(month, "MMM yy")


def short_number(value) -> str:
    """A number for chart axes, which have little room: "12K" / "12.000" for "12,345"."""
    from babel.numbers import format_compact_decimal

    if value >= 10_000:
        compact = format_compact_decimal(value, locale=get_locale(), fraction_digits=1)
        # German CLDR has no short form for thousands ("13818"): keep the grouped number.
        if any(ch.isalpha() for ch in compact):
            return compact
    return format_decimal(value)


def url_with(**changes) -> str:
    """The current URL with some query arguments replaced (None removes one)."""
    args = request.args.to_dict()
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return request.path + ("?" + urlencode(args) if args else "")


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(number=number, percent=percent, datetime=dt, date=d)
    app.jinja_env.globals.update(url_with=url_with, get_locale=get_locale, Markup=Markup)


# --- CSV cells safe to open in Excel/LibreOffice (OWASP's advice on formula injection) ---
# A spreadsheet treats a cell starting with one of these as a formula (tab and CR too:
# some apps strip them and then see the next character).
# "|" starts a DDE call in some spreadsheets (`cmd|' /C calc'!A0`).
FORMULA_PREFIXES = ("=", "+", "-", "@", "|", "\t", "\r")


def _starts_formula(text: str) -> bool:
    # Spreadsheets fold full-width and small forms (＝ U+FF1D, ﹦ U+FE66, ｜ U+FF5C ...) to
    # their ASCII twins before parsing, so the first character is compared after NFKC.
    if not text:
        return False
    return text.startswith(FORMULA_PREFIXES) or unicodedata.normalize(
        "NFKC", text[0]).startswith(FORMULA_PREFIXES)


def safe_cell(value: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula with `'`; numbers pass as-is."""
    if isinstance(value, str) and _starts_formula(value):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """`safe_cell` applied to every cell of a row."""
    return [safe_cell(v) for v in values]


class SafeWriter:
    """A csv.writer whose rows are passed through `safe_row`."""

    def __init__(self, stream: TextIO, **kwargs: Any):
        self._writer = csv.writer(stream, **kwargs)

    def writerow(self, values: Iterable[Any]) -> None:
        self._writer.writerow(safe_row(values))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        self._writer.writerows(safe_row(r) for r in rows)
