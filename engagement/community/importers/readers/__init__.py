"""One streaming reader per import format; all feed the same loader.

A reader module offers `plan(paths) -> Plan` (validates the set of files, writes nothing)
and `read(plan, counter)` (yields MemberRecord, DayRecord, RowError and Skipped values).
"""
from __future__ import annotations

from importlib import import_module
from types import ModuleType

MODULES = {
    "csv": "csv_files",
    "stackexchange": "stackexchange",
    "discourse": "discourse",
    "khoros": "khoros",
}


def get_reader(fmt: str) -> ModuleType:
    """The reader module for a format name (KeyError for an unknown one)."""
    return import_module(f"{__name__}.{MODULES[fmt]}")
