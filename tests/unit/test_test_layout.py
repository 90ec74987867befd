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
