"""Pure rules for volunteer records: estimated contribution hours and sign-off drift."""
from __future__ import annotations

import enum
from collections.abc import Sequence
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


# --- agreements the member accepts and withdraws -----------------------------------------

class AgreementState(enum.StrEnum):
    """Where a member stands with an agreement's current version."""

    OPEN = "open"            # never accepted any version
    ACCEPTED = "accepted"    # accepted the current version, not withdrawn
    OUTDATED = "outdated"    # accepted an older version only: the new text asks again
    WITHDRAWN = "withdrawn"  # accepted the current version and withdrew it


@dataclass(frozen=True)
class Acceptance:
    """One acceptance as the rule needs it: the version accepted and whether it was withdrawn."""

    version: int
    withdrawn: bool = False


class AgreementRefused(ValueError):
    """The member cannot do that with this agreement; the value names why."""


def agreement_state(current_version: int, acceptances: Sequence[Acceptance]) -> AgreementState:
    """The member's state for the current version, from all their acceptances of the key."""
    of_current = [a for a in acceptances if a.version == current_version]
    if any(not a.withdrawn for a in of_current):
        return AgreementState.ACCEPTED
    if of_current:
        return AgreementState.WITHDRAWN
    return AgreementState.OUTDATED if acceptances else AgreementState.OPEN


def check_accept(*, version: int, current_version: int, state: AgreementState) -> None:
    """Only the current text can be accepted, and only when it is not in force already."""
    if version != current_version:
        raise AgreementRefused("not_current")
    if state == AgreementState.ACCEPTED:
        raise AgreementRefused("already_accepted")


def check_withdraw(*, withdrawable: bool, withdrawn: bool) -> None:
    """A consent can be withdrawn once; a binding agreement cannot be withdrawn at all."""
    if not withdrawable:
        raise AgreementRefused("not_withdrawable")
    if withdrawn:
        raise AgreementRefused("already_withdrawn")
