"""Pure RSVP rules: deadline, seats, waiting-list placement, answers and consents.

No Flask, no SQLAlchemy: the use case in rsvp.py loads the numbers under the event's
lock and asks these functions what to do.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_ANSWER_LENGTH = 2000
DEFAULT_OFFER_HOURS = 48


class RsvpRuleError(ValueError):
    """Invalid answers; `errors` maps a field ("q<id>", "consent:<key>", "plus_one") to a code."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def is_closed(*, deadline: datetime | None, starts_at: datetime, now: datetime) -> bool:
    """RSVPs close at the deadline, or at the start when there is none."""
    return now >= (deadline or starts_at)


def seats_needed(plus_one: bool) -> int:
    return 2 if plus_one else 1


def has_seat(*, capacity: int | None, taken: int, reserved: int, needed: int) -> bool:
    """Whether `needed` seats are free; offered seats are reserved for their holders."""
    return capacity is None or taken + reserved + needed <= capacity


def waitlist_position(*, by_tier: bool, rank: int | None,
                      ranks_ahead: Sequence[int | None], length: int) -> int:
    """1-based place of a newcomer: the end (first come), or after everyone of equal or
    higher tier rank (tier priority; no tier counts as lowest)."""
    if not by_tier:
        return length + 1
    mine = -1 if rank is None else rank
    return 1 + sum(1 for r in ranks_ahead if (-1 if r is None else r) >= mine)


def offers_to_make(*, capacity: int | None, taken: int, reserved: int,
                   queue: Iterable[bool]) -> int:
    """How many of the waiting list's head (in order; items are their plus-one flags) get
    an offer. Strictly in order: a head that needs two seats where one is free waits, and
    nobody behind them is offered the seat first."""
    free = None if capacity is None else capacity - taken - reserved
    n = 0
    for plus_one in queue:
        need = seats_needed(plus_one)
        if free is not None and need > free:
            break
        if free is not None:
            free -= need
        n += 1
    return n


def offer_expiry(now: datetime, hours: int) -> datetime:
    return now + timedelta(hours=max(1, int(hours)))


@dataclass(frozen=True)
class Question:
    id: int
    kind: str  # text | choice
    label: str
    choices: tuple[str, ...]
    required: bool


@dataclass(frozen=True)
class Consent:
    key: str
    text: str
    version: int
    required: bool


def clean_answers(questions: Sequence[Question], raw: Mapping[str, object] | None, *,
                  attending: bool) -> dict[str, str]:
    """{question id (str): answer}; required questions only bind people who attend."""
    raw = raw or {}
    answers: dict[str, str] = {}
    errors: dict[str, str] = {}
    for q in questions:
        value = raw.get(str(q.id), raw.get(q.id))  # type: ignore[call-overload]
        text = "" if value is None else str(value).strip()
        if len(text) > MAX_ANSWER_LENGTH:
            errors[f"q{q.id}"] = "too_long"
            continue
        if q.kind == "choice" and text and text not in q.choices:
            errors[f"q{q.id}"] = "invalid_choice"
            continue
        if not text:
            if q.required and attending:
                errors[f"q{q.id}"] = "required"
            continue
        answers[str(q.id)] = text
    if errors:
        raise RsvpRuleError(errors)
    return answers


def check_consents(consents: Sequence[Consent], given: Mapping[str, bool] | None, *,
                   attending: bool) -> dict[str, bool]:
    """{key: given} for every consent of the event; required ones must be given to attend."""
    given = given or {}
    result = {c.key: bool(given.get(c.key, False)) for c in consents}
    errors = {f"consent:{c.key}": "required" for c in consents
              if c.required and attending and not result[c.key]}
    if errors:
        raise RsvpRuleError(errors)
    return result
