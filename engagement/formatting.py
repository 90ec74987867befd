"""Jinja filters for numbers, dates and money in the user's language and time zone."""
from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlencode

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
