"""The tier-rule language: parsing, errors with positions, evaluation, explanations, SQL."""
from __future__ import annotations

import random
import sqlite3

import pytest

from engagement.community.tiers.rules import (
    And,
    Comparison,
    Or,
    RuleError,
    RuleErrorCode,
    evaluate,
    explain,
    format_rule,
    parse_rule,
    required_fields,
    to_sql,
)

POWER_USER = "answers >= 10000 or (answers[365d] >= 1500 and accepted_solutions[365d] >= 300)"


def test_parses_the_power_user_rule_into_a_tree():
    rule = parse_rule(POWER_USER)
    assert rule.node == Or((
        Comparison("answers", None, ">=", 10000),
        And((Comparison("answers", 365, ">=", 1500),
             Comparison("accepted_solutions", 365, ">=", 300))),
    ))


@pytest.mark.parametrize("text, expected", [
    ("answers >= 10,000", Comparison("answers", None, ">=", 10000)),
    ("answers >= 10_000", Comparison("answers", None, ">=", 10000)),
    ("ANSWERS[365D] ≥ 5", Comparison("answers", 365, ">=", 5)),
    ("kudos_received[30d] <= 3", Comparison("kudos_received", 30, "<=", 3)),
    ("posts[90d]>2", Comparison("posts", 90, ">", 2)),
    ("score < 7", Comparison("score", None, "<", 7)),
    ("tenure_days == 0", Comparison("tenure_days", None, "==", 0)),
    ("(((posts >= 1)))", Comparison("posts", None, ">=", 1)),
])
def test_comparison_spellings(text, expected):
    assert parse_rule(text).node == expected


def test_and_binds_tighter_than_or():
    rule = parse_rule("posts >= 1 or answers >= 2 and score >= 3")
    assert rule.node == Or((Comparison("posts", None, ">=", 1),
                            And((Comparison("answers", None, ">=", 2),
                                 Comparison("score", None, ">=", 3)))))


@pytest.mark.parametrize("text, code, position", [
    ("", RuleErrorCode.EMPTY, 1),
    ("   ", RuleErrorCode.EMPTY, 1),
    ("answers >=", RuleErrorCode.EXPECTED, 11),
    ("answers 10", RuleErrorCode.EXPECTED, 9),
    ("answers = 10", RuleErrorCode.EXPECTED, 9),
    ("answer >= 10", RuleErrorCode.UNKNOWN_METRIC, 1),
    ("posts >= 1 and foo > 2", RuleErrorCode.UNKNOWN_METRIC, 16),
    ("answers[60d] >= 1", RuleErrorCode.BAD_WINDOW, 8),
    ("answers[365] >= 1", RuleErrorCode.BAD_WINDOW, 8),
    ("answers[365d >= 1", RuleErrorCode.EXPECTED, 13),
    ("tenure_days[30d] >= 1", RuleErrorCode.NO_WINDOW, 12),
    ("(answers >= 1", RuleErrorCode.EXPECTED, 14),
    ("answers >= 1)", RuleErrorCode.EXPECTED, 13),
    ("answers >= 1 posts >= 2", RuleErrorCode.EXPECTED, 14),
    ("answers >= 1 and", RuleErrorCode.EXPECTED, 17),
    ("and answers >= 1", RuleErrorCode.EXPECTED, 1),
    ("answers >= 1,,000", RuleErrorCode.BAD_NUMBER, 12),
    ("answers >= 1000,", RuleErrorCode.BAD_NUMBER, 12),
    ("answers >= 99999999999", RuleErrorCode.BAD_NUMBER, 12),
    ("answers >= -1", RuleErrorCode.EXPECTED, 12),
    ("answers >= 1; drop table members", RuleErrorCode.EXPECTED, 13),
    ("answers >= 1.5", RuleErrorCode.EXPECTED, 13),
])
def test_errors_name_the_position(text, code, position):
    with pytest.raises(RuleError) as info:
        parse_rule(text)
    assert (info.value.code, info.value.position) == (code, position)
    assert f"position {position}" in str(info.value)


def test_positions_count_in_the_text_as_typed():
    with pytest.raises(RuleError) as info:
        parse_rule("  answers >= ")
    assert info.value.position == 14
    assert parse_rule("  posts >= 1 \n").text == "posts >= 1"


def test_error_messages_say_what_was_expected():
    with pytest.raises(RuleError, match=r"position 11: expected a whole number, found the end"):
        parse_rule("answers >=")
    with pytest.raises(RuleError, match=r"window \[60d\] is not kept; use one of \[30d\], "
                                        r"\[90d\], \[365d\]"):
        parse_rule("answers[60d] >= 1")
    with pytest.raises(RuleError, match="unknown metric 'answer'; use one of posts, answers"):
        parse_rule("answer >= 1")


def test_required_fields():
    assert required_fields(parse_rule(POWER_USER)) == {
        ("answers", None), ("answers", 365), ("accepted_solutions", 365)}
    assert required_fields(parse_rule("tenure_days >= 30 and posts[30d] > 0")) == {
        ("tenure_days", None), ("posts", 30)}


@pytest.mark.parametrize("facts, expected", [
    ({("answers", None): 10000}, True),                    # lifetime threshold, at the limit
    ({("answers", None): 9999}, False),
    ({("answers", 365): 1500, ("accepted_solutions", 365): 300}, True),  # window, at the limit
    ({("answers", 365): 1500, ("accepted_solutions", 365): 299}, False),
    ({("answers", 365): 1499, ("accepted_solutions", 365): 900}, False),
    ({("answers", None): 9999, ("answers", 365): 1500}, False),  # missing numbers count as 0
    ({}, False),
])
def test_evaluate_power_user(facts, expected):
    rule = parse_rule(POWER_USER)
    assert evaluate(rule, facts) is expected


@pytest.mark.parametrize("op, value, expected", [
    (">=", 5, True), (">", 5, False), ("<=", 5, True), ("<", 5, False), ("==", 5, True),
    (">=", 6, False), (">", 4, True), ("<=", 4, False), ("<", 6, True), ("==", 6, False),
])
def test_operators_at_the_boundary(op, value, expected):
    assert evaluate(parse_rule(f"posts {op} {value}"), {("posts", None): 5}) is expected


@pytest.mark.parametrize("facts, text", [
    ({("answers", 365): 1620, ("accepted_solutions", 365): 310, ("answers", None): 5000},
     "answers[365d] 1,620 ≥ 1,500 and accepted_solutions[365d] 310 ≥ 300"),
    ({("answers", None): 12000}, "answers 12,000 ≥ 10,000"),
    ({("answers", None): 50, ("answers", 365): 20, ("accepted_solutions", 365): 400},
     "answers 50 < 10,000 and answers[365d] 20 < 1,500"),
])
def test_explain_says_why(facts, text):
    assert explain(parse_rule(POWER_USER), facts) == text


def test_format_rule_is_canonical_and_parses_back():
    rule = parse_rule("ANSWERS>=10000 or (answers[365d]>=1500 and accepted_solutions[365D]≥300)")
    assert format_rule(rule) == ("answers >= 10,000 or (answers[365d] >= 1,500"
                                 " and accepted_solutions[365d] >= 300)")
    assert parse_rule(format_rule(rule)).node == rule.node


def _random_rule(rnd: random.Random, depth: int = 0) -> str:
    if depth > 2 or rnd.random() < 0.4:
        metric = rnd.choice(["posts", "answers", "score"])
        window = rnd.choice(["", "[30d]", "[365d]"])
        return f"{metric}{window} {rnd.choice(['>=', '>', '<=', '<', '=='])} {rnd.randint(0, 6)}"
    joiner = rnd.choice([" and ", " or "])
    return "(" + joiner.join(_random_rule(rnd, depth + 1) for _ in range(rnd.randint(2, 3))) + ")"


def test_sql_translation_agrees_with_python():
    """The database evaluates rules in compute_tiers; Python explains them: both must agree."""
    rnd = random.Random(7)
    conn = sqlite3.connect(":memory:")
    fields = [(m, w) for m in ("posts", "answers", "score") for w in (None, 30, 365)]
    cols = {f: f"c{i}" for i, f in enumerate(fields)}
    conn.execute(f"CREATE TABLE t (id INTEGER, {', '.join(c + ' INTEGER' for c in cols.values())})")
    rows = [[i] + [rnd.randint(0, 6) for _ in fields] for i in range(300)]
    conn.executemany(f"INSERT INTO t VALUES ({', '.join('?' * (len(fields) + 1))})", rows)
    for _ in range(60):
        rule = parse_rule(_random_rule(rnd))
        in_sql = {r[0] for r in conn.execute(f"SELECT id FROM t WHERE {to_sql(rule, cols)}")}
        in_python = {r[0] for r in rows
                     if evaluate(rule, {f: r[1 + i] for i, f in enumerate(fields)})}
        assert in_sql == in_python, rule.text


@pytest.mark.parametrize("depth", [33, 100, 500, 999])
def test_deeply_nested_parentheses_are_a_validation_error_not_a_recursion_error(depth):
    text = "(" * depth + "answers >= 1" + ")" * depth
    with pytest.raises(RuleError) as info:
        parse_rule(text[:2000])
    assert info.value.code == RuleErrorCode.TOO_DEEP
    assert info.value.position == 33  # the first parenthesis past the limit
    assert "nested" in str(info.value)


def test_nesting_up_to_the_limit_parses():
    text = "(" * 32 + "answers >= 1 and (posts >= 2)" + ")" * 32
    with pytest.raises(RuleError):
        parse_rule("(" + text + ")")
    assert parse_rule(text[1:-1]).node == And((Comparison("answers", None, ">=", 1),
                                              Comparison("posts", None, ">=", 2)))
