"""The suite's own house rule: no test module imports another test module."""
from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
TEST_IMPORT = re.compile(r"^\s*(from|import)\s+tests\.(unit|integration|e2e)\.test_\w+",
                         re.MULTILINE)


def test_no_test_module_imports_another():
    offenders = [str(p.relative_to(TESTS)) for p in TESTS.rglob("*.py")
                 if TEST_IMPORT.search(p.read_text(encoding="utf-8"))]
    assert offenders == [], "share helpers through tests/helpers.py or conftest.py"


def test_no_package_folder_holds_more_than_twelve_modules():
    """The house plan: a folder past 12 modules gets rooms (sub-packages), as events/ did."""
    package = TESTS.parent / "engagement"
    crowded = {str(d.relative_to(package.parent)): n for d in [package, *package.rglob("*")]
               if d.is_dir() and (n := len(list(d.glob("*.py")))) > 12}
    assert crowded == {}
