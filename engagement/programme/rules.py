"""Deflection arithmetic for the value dashboard (pure: no Flask, no database).

Every figure is an *estimate* built from assumptions a manager can change. Defaults and
where they come from (SPEC.md §1, the reference community of ~730,000 members):

- solution_rate 0.35: the share of questions the community solves online; the reference
  case reports 32-43 %, we take a value near the lower end so the estimate stays cautious.
  Used for the second estimate "answers x solution rate" (answers that were never marked
  as accepted still help readers).
- contacts_per_solution 1.0: one accepted solution saves one contact with the support
  team (the asker's own); readers who find it later are not counted, again to stay cautious.
- minutes_per_contact 8.0: handling time of one support contact (phone/chat average).
- hours_per_fte_year 1600: productive working hours of one full-time agent per year.
- power_users_per_fte 2.0: the seed's rule of thumb "two power users are about one
  full-time agent", shown beside the computed figure as a plausibility check.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation

SETTING_KEY = "value_assumptions"


@dataclass(frozen=True)
class Assumptions:
    solution_rate: float = 0.35
    contacts_per_solution: float = 1.0
    minutes_per_contact: float = 8.0
    hours_per_fte_year: float = 1600.0
    power_users_per_fte: float = 2.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


DEFAULTS = Assumptions()

# Allowed range per field: (minimum, maximum). Zero would divide (hours, power users).
LIMITS: dict[str, tuple[float, float]] = {
    "solution_rate": (0.0, 1.0),
    "contacts_per_solution": (0.0, 100.0),
    "minutes_per_contact": (0.0, 600.0),
    "hours_per_fte_year": (1.0, 8784.0),
    "power_users_per_fte": (0.1, 1000.0),
}


def parse_assumptions(raw: dict | None) -> tuple[Assumptions, dict[str, str]]:
    """Assumptions from stored/entered values: (result, {field: problem}).

    Missing or invalid fields fall back to the default and are reported, so a damaged
    setting never breaks the dashboard.
    """
    values: dict[str, float] = {}
    errors: dict[str, str] = {}
    raw = raw or {}
    for name, (low, high) in LIMITS.items():
        default = getattr(DEFAULTS, name)
        if name not in raw or raw[name] in (None, ""):
            values[name] = default
            continue
        try:
            number = Decimal(str(raw[name]).strip().replace(",", "."))
        except (InvalidOperation, ValueError):
            errors[name] = "not a number"
            values[name] = default
            continue
        if not number.is_finite() or not (Decimal(str(low)) <= number <= Decimal(str(high))):
            errors[name] = f"must be between {low:g} and {high:g}"
            values[name] = default
            continue
        values[name] = float(number)
    return Assumptions(**values), errors


@dataclass(frozen=True)
class Deflection:
    contacts_from_solutions: float  # accepted solutions x contacts per solution
    contacts_from_answers: float  # answers x solution rate x contacts per solution
    hours: float  # hours saved by contacts_from_solutions
    fte: float  # those hours in full-time agents
    fte_rule_of_thumb: float  # power users / power users per FTE


def deflection(accepted_solutions: int, answers: int, power_users: int,
               a: Assumptions = DEFAULTS) -> Deflection:
    """Estimated deflected contacts and FTE equivalent for one year of activity."""
    contacts = max(accepted_solutions, 0) * a.contacts_per_solution
    from_answers = max(answers, 0) * a.solution_rate * a.contacts_per_solution
    hours = contacts * a.minutes_per_contact / 60
    fte = hours / a.hours_per_fte_year if a.hours_per_fte_year > 0 else 0.0
    rule = max(power_users, 0) / a.power_users_per_fte if a.power_users_per_fte > 0 else 0.0
    return Deflection(contacts, from_answers, hours, fte, rule)


def rate(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide (shown as a dash)."""
    return part / whole if whole else None
