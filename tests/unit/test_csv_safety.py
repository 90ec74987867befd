"""CSV exports are safe against formula injection (SPEC §8)."""
from __future__ import annotations

import csv
import io

import pytest

from engagement.formatting import SafeWriter, safe_cell, safe_row


@pytest.mark.parametrize("value, expected", [
    ("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"),
    ("+1 555", "'+1 555"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("\tcmd", "'\tcmd"),
    ("\rcmd", "'\rcmd"),
    ("Jürgen Müller", "Jürgen Müller"),
    ("a=b", "a=b"),
    ("", ""),
    (42, 42),
    (-5, -5),  # numbers are data, not formulas
    (None, None),
])
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected


def test_safe_row_and_writer_round_trip():
    assert safe_row(["=1", "ok", 3]) == ["'=1", "ok", 3]
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    writer.writerow(["name", "note"])
    writer.writerows([["=cmd|' /C calc'!A0", "-1"], ["Anna", "fine"]])
    rows = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert rows == [["name", "note"], ["'=cmd|' /C calc'!A0", "'-1"], ["Anna", "fine"]]
