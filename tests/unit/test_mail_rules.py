"""Retry backoff and SMTP reply classification (pure rules)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from engagement.mail.rules import Outcome, RetryPolicy, classify_smtp_code, has_line_break


@pytest.mark.parametrize("attempts, minutes", [
    (0, 0), (1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 32), (7, 60), (8, 60), (500, 60),
])
def test_backoff_doubles_up_to_the_cap(attempts, minutes):
    policy = RetryPolicy(max_attempts=8, base=timedelta(minutes=1), cap=timedelta(hours=1))
    assert policy.backoff(attempts) == timedelta(minutes=minutes)


@pytest.mark.parametrize("attempts, gives_up", [(1, False), (7, False), (8, True), (9, True)])
def test_gives_up_after_max_attempts(attempts, gives_up):
    assert RetryPolicy(max_attempts=8).gives_up(attempts) is gives_up


@pytest.mark.parametrize("code, outcome", [
    (250, Outcome.SENT), (421, Outcome.RETRY), (450, Outcome.RETRY), (451, Outcome.RETRY),
    (452, Outcome.RETRY), (550, Outcome.PERMANENT), (553, Outcome.PERMANENT),
    (554, Outcome.PERMANENT), (None, Outcome.RETRY),
])
def test_smtp_codes(code, outcome):
    assert classify_smtp_code(code) is outcome


@pytest.mark.parametrize("value, bad", [
    ("Hello", False), ("Grüße – ok", False), ("a\r\nBcc: x@y", True), ("a\nb", True),
    ("a\rb", True),
])
def test_line_breaks_in_headers(value, bad):
    assert has_line_break(value) is bad
