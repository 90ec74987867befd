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


def changed_since_signoff(current: Figures, snapshot: dict | None) -> list[str]:
    """Names of the figures that differ from what was signed (empty when unchanged or never
    signed)."""
    if snapshot is None:
        return []
    now = current.snapshot()
    changed = []
    for key, value in now.items():
        old = snapshot.get(key)
        try:
            same = Decimal(str(old)) == Decimal(str(value))
        except ArithmeticError:
            same = False
        if not same:
            changed.append(key)
    return changed
