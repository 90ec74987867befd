"""The tier-rule language and the tier assignment rules (pure: no Flask, no SQLAlchemy).

A rule is a boolean formula over a member's numbers, for example::

    answers >= 10,000 or (answers[365d] >= 1,500 and accepted_solutions[365d] >= 300)

- metrics: posts, answers, accepted_solutions, kudos_received, score (the weighted score),
  tenure_days (days since the member joined, as of the computation date);
- a window suffix `[30d]`, `[90d]` or `[365d]` sums the last N days up to the computation
  date (the windows the statistics table keeps); no suffix means lifetime; tenure_days has
  no window;
- comparisons `>=`, `>`, `<=`, `<`, `==` (also `≥`, `≤`) against a whole number; numbers
  may group digits with `,` or `_` (`10,000`, `10_000`): a comma has no other meaning in
  the language, and managers copy numbers from reports that way;
- `and` binds tighter than `or`; parentheses group; keywords are case-insensitive.

Rules are parsed into a small tree (never `eval`), which is evaluated in Python, turned into
a SQL boolean expression (numbers are validated integers and metric columns come from the
caller's map, so nothing from the rule text reaches SQL verbatim) or explained in words for
the tier history.
"""
from __future__ import annotations

import enum
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

LIFETIME_METRICS = ("posts", "answers", "accepted_solutions", "kudos_received", "score")
METRICS = (*LIFETIME_METRICS, "tenure_days")
RULE_WINDOWS = (30, 90, 365)
MAX_RULE_LENGTH = 2000
MAX_NUMBER = 2**31 - 1  # the statistics columns are 32-bit integers
# The parser, evaluator and SQL builder recurse once per parenthesis: a bound keeps a pasted
# "((((...))))" a validation error instead of a RecursionError; no real rule comes close.
MAX_NESTING = 32

OPERATORS: dict[str, Callable[[int, int], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq,
}
_SYMBOL = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "="}
_NEGATED = {">=": "<", ">": "≤", "<=": ">", "<": "≥", "==": "≠"}

Field = tuple[str, int | None]  # (metric, window days or None for lifetime)


class RuleErrorCode(enum.StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too-long"
    EXPECTED = "expected"
    UNKNOWN_METRIC = "unknown-metric"
    BAD_WINDOW = "bad-window"
    NO_WINDOW = "no-window"
    BAD_NUMBER = "bad-number"
    TOO_DEEP = "too-deep"


class RuleError(ValueError):
    """A rule that cannot be parsed; `position` is 1-based (characters), for the editor."""

    def __init__(self, code: RuleErrorCode, position: int, **params: str) -> None:
        self.code = code
        self.position = position
        self.params = params
        super().__init__(f"position {position}: {self.describe()}")

    def describe(self) -> str:
        p = self.params
        match self.code:
            case RuleErrorCode.EMPTY:
                return "the rule is empty; write a condition such as answers >= 100"
            case RuleErrorCode.TOO_LONG:
                return f"the rule is longer than {MAX_RULE_LENGTH} characters"
            case RuleErrorCode.EXPECTED:
                return f"expected {p['expected']}, found {p['found']}"
            case RuleErrorCode.UNKNOWN_METRIC:
                return f"unknown metric {p['found']}; use one of {', '.join(METRICS)}"
            case RuleErrorCode.BAD_WINDOW:
                return (f"window {p['found']} is not kept; use one of "
                        f"{', '.join(f'[{w}d]' for w in RULE_WINDOWS)}")
            case RuleErrorCode.NO_WINDOW:
                return "tenure_days has no window"
            case RuleErrorCode.BAD_NUMBER:
                return f"{p['found']} is not a whole number up to {MAX_NUMBER:,}"
            case RuleErrorCode.TOO_DEEP:
                return f"the rule is nested too deeply (at most {MAX_NESTING} parentheses)"
        return self.code.value  # pragma: no cover - every code is handled above


# What the parser expected, as stable keys (the UI translates them).
EXPECT_CONDITION = "a metric or '('"
EXPECT_OPERATOR = "a comparison (>=, >, <=, <, ==)"
EXPECT_NUMBER = "a whole number"
EXPECT_CLOSE = "')'"
EXPECT_WINDOW_CLOSE = "']'"
EXPECT_CONTINUATION = "'and', 'or' or the end of the rule"


# --- the tree -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    metric: str
    window: int | None
    op: str
    value: int

    @property
    def field(self) -> Field:
        return (self.metric, self.window)

    @property
    def label(self) -> str:
        return self.metric if self.window is None else f"{self.metric}[{self.window}d]"


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Node, ...]


Node = Comparison | And | Or


@dataclass(frozen=True)
class Rule:
    text: str
    node: Node

    @property
    def fields(self) -> frozenset[Field]:
        return required_fields(self)


# --- the parser -----------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>\d[\d,_]*)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<window>\[[^\]\s]*\]?)
  | (?P<op>>=|<=|==|≥|≤|>|<|=)
  | (?P<paren>[()])
""", re.VERBOSE)


@dataclass(frozen=True)
class _Token:
    kind: str  # number, word, window, op, paren, end
    text: str
    pos: int  # 1-based


def _tokenize(text: str) -> list[_Token]:
    tokens, i = [], 0
    while i < len(text):
        m = _TOKEN.match(text, i)
        if m is None:
            raise RuleError(RuleErrorCode.EXPECTED, i + 1, expected=EXPECT_CONDITION,
                            found=repr(text[i]))
        if m.lastgroup != "ws":
            tokens.append(_Token(m.lastgroup, m.group(), i + 1))
        i = m.end()
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


def _found(tok: _Token) -> str:
    return "the end of the rule" if tok.kind == "end" else repr(tok.text)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def is_keyword(self, word: str) -> bool:
        tok = self.peek()
        return tok.kind == "word" and tok.text.lower() == word

    def expected(self, what: str) -> RuleError:
        tok = self.peek()
        return RuleError(RuleErrorCode.EXPECTED, tok.pos, expected=what, found=_found(tok))

    def parse(self) -> Node:
        node = self.or_expr()
        if self.peek().kind != "end":
            raise self.expected(EXPECT_CONTINUATION)
        return node

    def or_expr(self) -> Node:
        parts = [self.and_expr()]
        while self.is_keyword("or"):
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_expr(self) -> Node:
        parts = [self.atom()]
        while self.is_keyword("and"):
            self.take()
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def atom(self) -> Node:
        tok = self.peek()
        if tok.kind == "paren" and tok.text == "(":
            if self.depth >= MAX_NESTING:
                raise RuleError(RuleErrorCode.TOO_DEEP, tok.pos)
            self.take()
            self.depth += 1
            node = self.or_expr()
            if not (self.peek().kind == "paren" and self.peek().text == ")"):
                raise self.expected(EXPECT_CLOSE)
            self.take()
            self.depth -= 1
            return node
        if tok.kind != "word" or tok.text.lower() in ("and", "or"):
            raise self.expected(EXPECT_CONDITION)
        return self.comparison()

    def comparison(self) -> Comparison:
        tok = self.take()
        metric = tok.text.lower()
        if metric not in METRICS:
            raise RuleError(RuleErrorCode.UNKNOWN_METRIC, tok.pos, found=repr(tok.text))
        window = None
        if self.peek().kind == "window":
            wtok = self.take()
            if metric == "tenure_days":
                raise RuleError(RuleErrorCode.NO_WINDOW, wtok.pos)
            if not wtok.text.endswith("]"):
                raise RuleError(RuleErrorCode.EXPECTED, wtok.pos + len(wtok.text),
                                expected=EXPECT_WINDOW_CLOSE, found=_found(self.peek()))
            m = re.fullmatch(r"\[(\d+)d\]", wtok.text, re.IGNORECASE)
            if m is None or int(m.group(1)) not in RULE_WINDOWS:
                raise RuleError(RuleErrorCode.BAD_WINDOW, wtok.pos, found=wtok.text)
            window = int(m.group(1))
        op_tok = self.peek()
        if op_tok.kind != "op" or op_tok.text == "=":
            raise self.expected(EXPECT_OPERATOR)
        self.take()
        op = {"≥": ">=", "≤": "<="}.get(op_tok.text, op_tok.text)
        num = self.peek()
        if num.kind != "number":
            raise self.expected(EXPECT_NUMBER)
        self.take()
        return Comparison(metric, window, op, _number(num))


def _number(tok: _Token) -> int:
    # Separators only between digits: "1,500" and "10_000" yes, "1,,5" or "15," no.
    if not re.fullmatch(r"\d+(?:[,_]\d+)*", tok.text):
        raise RuleError(RuleErrorCode.BAD_NUMBER, tok.pos, found=repr(tok.text))
    value = int(tok.text.replace(",", "").replace("_", ""))
    if value > MAX_NUMBER:
        raise RuleError(RuleErrorCode.BAD_NUMBER, tok.pos, found=repr(tok.text))
    return value


def parse_rule(text: str) -> Rule:
    """Parse a rule; raises RuleError naming the position and what was expected."""
    text = text or ""
    if not text.strip():
        raise RuleError(RuleErrorCode.EMPTY, 1)
    if len(text) > MAX_RULE_LENGTH:
        raise RuleError(RuleErrorCode.TOO_LONG, MAX_RULE_LENGTH + 1)
    # Positions count in the text as typed (the editor's text), so it is not stripped first.
    return Rule(text.strip(), _Parser(text).parse())


# --- using a parsed rule --------------------------------------------------------------------

def _comparisons(node: Node) -> Iterable[Comparison]:
    if isinstance(node, Comparison):
        yield node
    else:
        for part in node.parts:
            yield from _comparisons(part)


def required_fields(rule: Rule) -> frozenset[Field]:
    """The (metric, window) pairs the rule reads; window None is lifetime."""
    return frozenset(c.field for c in _comparisons(rule.node))


def format_rule(rule: Rule) -> str:
    """The rule in canonical spelling: lower-case, grouped numbers, and every nested group in
    parentheses (`a or (b and c)`), which is how people read these rules."""
    def fmt(node: Node, parent: type | None) -> str:
        if isinstance(node, Comparison):
            return f"{node.label} {node.op} {node.value:,}"
        joiner = " and " if isinstance(node, And) else " or "
        text = joiner.join(fmt(p, type(node)) for p in node.parts)
        return f"({text})" if parent is not None else text
    return fmt(rule.node, None)


Facts = Mapping[Field, int]


def evaluate(rule: Rule, facts: Facts) -> bool:
    """Does a member with these numbers (missing ones count as 0) match the rule?"""
    def ev(node: Node) -> bool:
        if isinstance(node, Comparison):
            return OPERATORS[node.op](facts.get(node.field, 0), node.value)
        if isinstance(node, And):
            return all(ev(p) for p in node.parts)
        return any(ev(p) for p in node.parts)
    return ev(rule.node)


def to_sql(rule: Rule, column: Mapping[Field, str]) -> str:
    """The rule as a SQL boolean expression over the caller's column expressions.

    Only integers parsed by this module and the caller's own column strings are emitted.
    """
    def sql(node: Node) -> str:
        if isinstance(node, Comparison):
            op = "=" if node.op == "==" else node.op
            return f"({column[node.field]} {op} {int(node.value)})"
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(sql(p) for p in node.parts) + ")"
    return sql(rule.node)


def explain(rule: Rule, facts: Facts) -> str:
    """Why the rule matches or not, with the member's numbers, e.g.
    "answers[365d] 1,620 ≥ 1,500 and accepted_solutions[365d] 310 ≥ 300"."""
    def holds(node: Node) -> bool:
        if isinstance(node, Comparison):
            return OPERATORS[node.op](facts.get(node.field, 0), node.value)
        results = [holds(p) for p in node.parts]
        return all(results) if isinstance(node, And) else any(results)

    def say(node: Node, want: bool) -> str:
        if isinstance(node, Comparison):
            sym = _SYMBOL[node.op] if want else _NEGATED[node.op]
            return f"{node.label} {facts.get(node.field, 0):,} {sym} {node.value:,}"
        if want == isinstance(node, And):
            # Every part matters (a met 'and', a failed 'or'); each part then reduces to
            # plain comparisons joined by 'and', so no parentheses are needed.
            return " and ".join(say(p, want) for p in node.parts)
        # One part decides: the first met part of an 'or', the first failed part of an 'and'.
        return say(next(p for p in node.parts if holds(p) == want), want)

    return say(rule.node, holds(rule.node))


# --- tier assignment ------------------------------------------------------------------------

@dataclass(frozen=True)
class TierRef:
    """What the assignment rules need to know about a tier."""

    id: int
    rank: int
    grace_days: int
    name: str = ""


class Change(enum.StrEnum):
    PROMOTION = "promotion"
    DEMOTION = "demotion"
    OVERRIDE = "override"
    OVERRIDE_REMOVED = "override-removed"


@dataclass(frozen=True)
class Decision:
    tier: TierRef | None
    change: Change | None  # None: the member keeps their tier
    pending_since: date | None  # when set, a demotion is waiting out the grace period


def _rank(tier: TierRef | None) -> float:
    return float("-inf") if tier is None else tier.rank


def decide(
    current: TierRef | None, computed: TierRef | None, override: TierRef | None,
    pending_since: date | None, as_of: date,
) -> Decision:
    """Apply promotion-at-once, demotion-after-grace and the manual override.

    - an override wins over the rules and clears any pending demotion;
    - a computed tier above the current one applies at once;
    - a computed tier below starts (or continues) a grace period of the *current* tier's
      grace_days; once `as_of - pending_since >= grace_days` the member drops straight to
      the computed tier (possibly several levels);
    - qualifying again for the current tier clears the pending demotion.
    """
    if override is not None:
        if current is None or current.id != override.id:
            return Decision(override, Change.OVERRIDE, None)
        return Decision(current, None, None)
    if (computed and computed.id) == (current and current.id):
        return Decision(current, None, None)
    if _rank(computed) > _rank(current):
        return Decision(computed, Change.PROMOTION, None)
    assert current is not None  # computed ranks below current, so there is a current tier
    since = pending_since or as_of
    if (as_of - since).days >= current.grace_days:
        return Decision(computed, Change.DEMOTION, None)
    return Decision(current, None, since)
