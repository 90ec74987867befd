"""CSV cells safe to open in Excel/LibreOffice: no formula injection (OWASP's advice)."""
from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

# A spreadsheet treats a cell starting with one of these as a formula (tab and CR too:
# some apps strip them and then see the next character).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Prefix text that a spreadsheet would run as a formula with `'`; numbers pass as-is."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
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
