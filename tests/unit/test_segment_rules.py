"""Segment criteria and mailing rules: validation, JSON round-trip, safe Markdown, tokens."""
from __future__ import annotations

import pytest

from engagement.community.mailings.rules import (
    InvalidMailing,
    check_subject,
    member_from_token,
    render_markdown,
    unsubscribe_token,
)
from engagement.community.segments.rules import InvalidCriteria, criteria_from_dict


def test_round_trip_and_normalisation():
    data = {"tiers": ["Legend", "Expert", "Expert"], "min_tier_rank": 3,
            "metrics": [{"metric": "answers", "window": 365, "min": "50"}],
            "regions": [" Bayern ", ""], "locales": ["DE_at", "en"], "active_within_days": 30,
            "has_email": True, "extra": {"attended_within_days": 365, "dropped": None}}
    c = criteria_from_dict(data)
    assert c.tiers == ("Expert", "Legend") and c.regions == ("Bayern",)
    assert c.locales == ("de-at", "en") and c.metrics[0].window == "365"
    assert c.extra == {"attended_within_days": 365}
    assert criteria_from_dict(c.to_dict()) == c
    assert criteria_from_dict({}).is_empty


@pytest.mark.parametrize(("data", "message"), [
    ({"metrics": [{"metric": "likes", "window": "30", "min": 1}]}, "unknown metric"),
    ({"metrics": [{"metric": "answers", "window": "7", "min": 1}]}, "unknown window"),
    ({"metrics": [{"metric": "answers", "window": "30", "min": 0}]}, "at least 1"),
    ({"metrics": [{"metric": "answers", "window": "30", "min": True}]}, "whole number"),
    ({"metrics": [{"metric": "answers", "window": "30", "min": 1}] * 2}, "given twice"),
    ({"metrics": [{"metric": m, "window": "30", "min": 1} for m in
                  ("posts", "answers", "score", "kudos_received")]}, "at most 3"),
    ({"active_within_days": 0}, "at least 1"),
    ({"regions": "Bayern"}, "must be a list"),
    ({"has_email": "yes"}, "true or false"),
    ({"colour": "red"}, "unknown criteria"),
    ([1, 2], "must be an object"),
])
def test_bad_criteria_are_refused_with_a_reason(data, message):
    with pytest.raises(InvalidCriteria, match=message):
        criteria_from_dict(data)


def test_markdown_is_rendered_and_sanitised():
    html = render_markdown("**hi** <script>alert(1)</script> [x](javascript:alert(1)) "
                           "![p](https://t.example/p.png) [ok](https://example.org)")
    assert "<strong>hi</strong>" in html and "https://example.org" in html
    assert "script" not in html and "javascript" not in html and "<img" not in html


def test_subject_must_be_one_line():
    assert check_subject("  Hi ") == "Hi"
    for bad in ("", "a\nBcc: x@example.org", "x" * 201):
        with pytest.raises(InvalidMailing):
            check_subject(bad)


def test_unsubscribe_token_round_trip_and_forgery():
    token = unsubscribe_token("secret", 42)
    assert member_from_token("secret", token) == 42
    assert member_from_token("other-secret", token) is None
    assert member_from_token("secret", token[:-2] + "xx") is None

