"""Pure rules for volunteer records: estimated contribution hours and sign-off drift."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

DEFAULT_MINUTES_PER_ANSWER = 10
DEFAULT_MINUTES_PER_ACCEPTED = 5
HOURS = Decimal("0.01")


class EventRoleKind(enum.StrEnum):
    SPEAKER = "speaker"
    HELPER = "helper"
    ORGANISER = "organiser"
    OTHER = "other"


def estimated_hours(answers: int, accepted: int, minutes_per_answer: int,
                    minutes_per_accepted: int) -> Decimal:
    """Hours estimated from forum work: an accepted solution adds its minutes on top of the
    answer it already counts as."""
    if min(answers, accepted, minutes_per_answer, minutes_per_accepted) < 0:
        raise ValueError("counts and minutes must be zero or more")
    minutes = answers * minutes_per_answer + accepted * minutes_per_accepted
    return (Decimal(minutes) / 60).quantize(HOURS, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Figures:
    """The numbers of one member-year that HR signs off."""

    answers: int
    accepted: int
    estimated_hours: Decimal
    role_hours: Decimal
    events_attended: int
    rewards_value: Decimal

    @property
    def total_hours(self) -> Decimal:
        return self.estimated_hours + self.role_hours

    def snapshot(self) -> dict:
        # Strings for Decimals: JSON has no exact decimal type.
        return {"answers": self.answers, "accepted": self.accepted,
                "estimated_hours": str(self.estimated_hours),
                "role_hours": str(self.role_hours),
                "events_attended": self.events_attended,
                "rewards_value": str(self.rewards_value)}


@dataclass(frozen=True)
class FigureChange:
    """One signed figure that differs now: its name, the signed value and today's."""

    name: str
    old: object
    new: object


def changes_since_signoff(current: Figures, snapshot: dict | None) -> list[FigureChange]:
    """Every figure that differs from what was signed, with the signed and the current value
    (empty when unchanged or never signed). A figure missing from the snapshot is a change
    from None."""
    if snapshot is None:
        return []
    changes = []
    for key, value in current.snapshot().items():
        old = snapshot.get(key)
        try:
            same = Decimal(str(old)) == Decimal(str(value))
        except ArithmeticError:
            same = False
        if not same:
            changes.append(FigureChange(key, old, value))
    return changes


def changed_since_signoff(current: Figures, snapshot: dict | None) -> list[str]:
    """Names of the figures that differ from what was signed (empty when unchanged or never
    signed)."""
    return [c.name for c in changes_since_signoff(current, snapshot)]


def needs_signoff(signed: bool, changes: list[FigureChange]) -> bool:
    """A member-year waits for HR when it was never signed or changed since."""
    return not signed or bool(changes)


def describe_changes(changes: list[FigureChange]) -> str:
    """"answers 30 → 31; role_hours 3.50 → 4.00" for a CSV cell or a log line."""
    return "; ".join(f"{c.name} {'—' if c.old is None else c.old} → {c.new}" for c in changes)
