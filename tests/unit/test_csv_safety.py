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


@pytest.mark.parametrize("prefix", [
    "\uff1d",  # ＝ full-width equals
    "\uff0b",  # ＋ full-width plus
    "\uff0d",  # － full-width hyphen-minus
    "\uff20",  # ＠ full-width commercial at
    "\uff5c",  # ｜ full-width vertical line
    "|",  # DDE: =cmd|' /C calc'!A0 without the equals sign
    "\ufe66",  # ﹦ small equals: NFKC folds it to "=" as spreadsheets do
    "\ufe62",  # ﹢ small plus
    "\ufe63",  # ﹣ small hyphen-minus
    "\ufe6b",  # ﹫ small commercial at
])
def test_safe_cell_neutralises_full_width_and_pipe_prefixes(prefix):
    value = prefix + "HYPERLINK(\"http://evil\")"
    assert safe_cell(value) == "'" + value
    assert safe_row([value]) == ["'" + value]


@pytest.mark.parametrize("value", ["Ｊürgen", "ａ＝ｂ", "x|y", "日本語"])
def test_safe_cell_keeps_full_width_text_that_is_no_formula(value):
    assert safe_cell(value) == value


def test_safe_row_and_writer_round_trip():
    assert safe_row(["=1", "ok", 3]) == ["'=1", "ok", 3]
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    writer.writerow(["name", "note"])
    writer.writerows([["=cmd|' /C calc'!A0", "-1"], ["Anna", "fine"]])
    rows = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert rows == [["name", "note"], ["'=cmd|' /C calc'!A0", "'-1"], ["Anna", "fine"]]
