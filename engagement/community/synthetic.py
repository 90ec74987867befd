"""A synthetic, heavy-tailed support community written as the SPEC §5 csv import format.

Real support communities are extremely unequal: a few dozen volunteers write most answers,
most registered members post a handful of times, many never do. The generator reproduces
that shape (Zipf-like ranks) deterministically for a seed, and streams its rows so the
full-size community (730,000 members, 2,200,000 contribution days) needs little memory.
"""
from __future__ import annotations

import bisect
import csv
import itertools
import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

MEMBER_FIELDS = ("external_id", "display_name", "email", "joined_at", "locale", "region")
CONTRIBUTION_FIELDS = (
    "external_id", "day", "posts", "answers", "accepted_solutions", "kudos_received",
)

HISTORY_DAYS = 3 * 365  # contribution days spread over the last ~3 years
MAX_DAYS_PER_MEMBER = 1000  # even the most loyal volunteers skip some days
POWER_USER_ANSWERS = 10_000  # "power users": more than this many answers lifetime
ACTIVE_SHARE = 0.55  # share of registered members who ever contributed

FIRST_NAMES = (
    "Anna", "Andreas", "Alexander", "Birgit", "Bernd", "Christian", "Claudia", "Daniel",
    "Dirk", "Elke", "Emma", "Felix", "Frank", "Gabriele", "Hannah", "Heike", "Jan", "Jens",
    "Jonas", "Julia", "Jürgen", "Katrin", "Klaus", "Lara", "Lukas", "Marco", "Maria", "Markus",
    "Martina", "Michael", "Monika", "Nadine", "Niklas", "Olaf", "Paul", "Petra", "Ralf",
    "Sabine", "Sandra", "Sebastian", "Silke", "Stefan", "Susanne", "Thomas", "Tobias", "Ute",
    "Uwe", "Wolfgang", "Yvonne", "Zeynep", "Mehmet", "Ayşe", "Olga", "Piotr", "Sophie",
    "Leon", "Mia", "Finn", "Lea", "Ben", "James", "Sarah", "David", "Emily", "Oliver",
)
LAST_NAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder",
    "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange",
    "Schmitt", "Werner", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier", "Köhler",
    "Herrmann", "König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters", "Lang",
    "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Yılmaz", "Kowalski", "Smith", "Brown",
    "Taylor", "Wilson", "Nowak", "Popescu", "Öztürk", "Vogel", "Friedrich", "Keller",
)
HANDLE_WORDS = (
    "Router", "Telefon", "Mobilfunk", "Glasfaser", "DSL", "Kabel", "Netz", "Funk", "Tarif",
    "Hotline", "Speedport", "LTE", "5G", "VoIP", "Modem", "Repeater", "WLAN", "Festnetz",
)
HANDLE_SUFFIXES = ("fuchs", "profi", "held", "guru", "doc", "freak", "ninja", "fan", "helfer")
# German states, weighted roughly by population (millions), so regional segments look real.
REGIONS = (
    ("Nordrhein-Westfalen", 18), ("Bayern", 13), ("Baden-Württemberg", 11),
    ("Niedersachsen", 8), ("Hessen", 6), ("Rheinland-Pfalz", 4), ("Sachsen", 4),
    ("Berlin", 4), ("Schleswig-Holstein", 3), ("Brandenburg", 2.5), ("Sachsen-Anhalt", 2),
    ("Thüringen", 2), ("Hamburg", 2), ("Mecklenburg-Vorpommern", 1.6), ("Saarland", 1),
    ("Bremen", 0.7),
)
LOCALES = (("de", 84), ("en", 8), ("tr", 3), ("pl", 2), ("ru", 2), ("fr", 1))
MAIL_DOMAINS = ("example.org", "example.net", "example.com")


@dataclass(frozen=True)
class Profile:
    """How one active member contributes: how many days, how much per day."""

    days: int
    answers_per_day: float
    accept_rate: float
    kudos_per_answer: float
    recent: bool  # the top volunteers were active in the last days
    veteran: bool = False  # power users: members for years before the history starts


def _power_user_count(members: int) -> int:
    # ~60 power users in a 730,000-member community (SPEC §1); small demos still get a
    # few dozen so leaderboards and tiers look alive.
    return max(1, min(60, members // 500))


def _days_per_rank(active: int, contributions: int, cap: int) -> list[int]:
    """Zipf-like days per activity rank (rank 1 = most active), summing to `contributions`."""
    if active <= 0 or contributions <= 0:
        return []
    exponent = 1.05

    def estimate(scale: float) -> float:
        # Closed-form sum of clamp(scale / r**e, 1, cap) over the ranks: capped head, power-law
        # middle (integral, minus the truncation), ones in the tail. Exact sums would cost
        # seconds per bisection step at 400,000 active members.
        capped = min(active, int((scale / cap) ** (1 / exponent)))
        middle_end = min(active, int(scale ** (1 / exponent)))
        total = capped * cap + max(0, active - max(middle_end, capped))
        if middle_end > capped:
            a, b = capped + 0.5, middle_end + 0.5
            integral = scale / (1 - exponent) * (b ** (1 - exponent) - a ** (1 - exponent))
            total += integral - 0.5 * (middle_end - capped)
        return total

    low, high = 0.0, float(contributions) * 2 + cap
    for _ in range(80):  # bisection on the scale: the sum grows monotonically with it
        mid = (low + high) / 2
        if estimate(mid) > contributions:
            high = mid
        else:
            low = mid
    days = [min(cap, max(1, int(low / (r ** exponent)))) for r in range(1, active + 1)]
    # Fix the estimate's small error exactly: add days from the top (below the cap), take
    # them from the long middle, never below one day.
    remainder = contributions - sum(days)
    while remainder > 0:
        changed = False
        for i in range(active):
            if remainder == 0:
                break
            if days[i] < cap:
                days[i] += 1
                remainder -= 1
                changed = True
        if not changed:
            break
    while remainder < 0:
        changed = False
        for i in range(active - 1, -1, -1):
            if remainder == 0:
                break
            if days[i] > 1:
                days[i] -= 1
                remainder += 1
                changed = True
        if not changed:
            break
    return days


def _profiles(rng: random.Random, members: int, contributions: int) -> list[Profile]:
    """One profile per active member, most active first."""
    active = min(contributions, max(1, int(members * ACTIVE_SHARE)))
    cap = min(MAX_DAYS_PER_MEMBER, HISTORY_DAYS)
    power = min(_power_user_count(members), active)
    # Power users need ~700+ days; never let them take more than a third of all rows.
    power = min(power, max(0, contributions // 3 // 700))
    days = _days_per_rank(active, contributions, cap)
    # Power users need ~700+ days; the rows they get on top come out of the ranks below.
    excess = 0
    for rank in range(power):
        excess += max(0, 700 - days[rank])
        days[rank] = max(days[rank], 700)
    while excess > 0:
        changed = False
        for rank in range(power, active):
            if excess == 0:
                break
            if days[rank] > 1:
                days[rank] -= 1
                excess -= 1
                changed = True
        if not changed:
            break
    profiles = []
    for rank, d in enumerate(days):
        if rank < power:
            # Enough answers per day that lifetime answers land in 10k..40k.
            target = POWER_USER_ANSWERS * (1.15 + 2.5 * rng.random() ** 2)
            per_day = target / d
        else:
            # Everyone else stays clearly below the power-user line.
            per_day = min(1.0 + 6.0 * math.sqrt(d / cap) * rng.random(),
                          0.75 * POWER_USER_ANSWERS / d)
        profiles.append(Profile(
            days=d, answers_per_day=per_day, accept_rate=0.08 + 0.32 * rng.random(),
            kudos_per_answer=0.3 + 2.5 * rng.random(), recent=rank < max(power, 1) * 3,
            veteran=rank < power,
        ))
    return profiles


class _Weighted:
    """Draws values by weight in O(log n) (rng.choices re-sums the weights on every call)."""

    def __init__(self, table: tuple[tuple[str, float], ...]):
        self.values = [v for v, _ in table]
        self.cumulative = list(itertools.accumulate(w for _, w in table))

    def draw(self, rng: random.Random) -> str:
        x = rng.random() * self.cumulative[-1]
        return self.values[min(bisect.bisect_right(self.cumulative, x), len(self.values) - 1)]


def _identity(rng: random.Random, number: int) -> tuple[str, str]:
    """A display name and a unique e-mail address on a reserved example domain."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    style = rng.random()
    if style < 0.55:
        name = f"{first} {last}"
    elif style < 0.8:
        name = f"{first} {last[0]}."
    elif style < 0.92:
        name = f"{rng.choice(HANDLE_WORDS)}{rng.choice(HANDLE_SUFFIXES)}{rng.randint(1, 99)}"
    else:
        name = f"{first.lower()}_{last.lower()}"
    local = f"{first}.{last}".lower()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("ı", "i"), ("ş", "s")):
        local = local.replace(a, b)
    return name, f"{local}.{number}@{rng.choice(MAIL_DOMAINS)}"


def _day_values(rng: random.Random, p: Profile) -> tuple[int, int, int, int]:
    """posts, answers, accepted solutions and kudos of one active day."""
    answers = int(rng.expovariate(1.0 / p.answers_per_day) + 0.5)
    questions = 1 if rng.random() < 0.25 else 0
    if answers == 0 and questions == 0:
        questions = 1  # an active day has at least one post
    accepted = sum(1 for _ in range(answers) if rng.random() < p.accept_rate) \
        if answers < 8 else min(answers, int(answers * p.accept_rate * (0.7 + 0.6 * rng.random())))
    kudos = int(answers * p.kudos_per_answer * (0.5 + rng.random()) + 0.5)
    return answers + questions, answers, accepted, kudos


def write_synthetic_csv(folder: Path, members: int, contributions: int, seed: int = 1,
                        today: date | None = None) -> tuple[Path, Path]:
    """Write members.csv and contributions.csv of a heavy-tailed community into `folder`.

    Deterministic for (members, contributions, seed, today). `contributions` is the number
    of (member, day) rows; they are unique per member and day.
    """
    if members < 1:
        raise ValueError("members must be at least 1")
    if contributions < 0:
        raise ValueError("contributions must not be negative")
    today = today or date.today()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    profiles = _profiles(rng, members, min(contributions, members * MAX_DAYS_PER_MEMBER))
    # Which member (by number) holds which activity rank: shuffled, so ids say nothing.
    order = list(range(members))
    rng.shuffle(order)
    profile_of = {order[rank]: p for rank, p in enumerate(profiles)}
    del order

    # Dates as text, computed once: formatting them per row would dominate the run time.
    day_text = [(today - timedelta(days=o)).isoformat() for o in range(HISTORY_DAYS + 6 * 365)]
    locales, regions = _Weighted(LOCALES), _Weighted(REGIONS)
    members_path = folder / "members.csv"
    contributions_path = folder / "contributions.csv"
    with members_path.open("w", newline="", encoding="utf-8") as mf, \
            contributions_path.open("w", newline="", encoding="utf-8") as cf:
        mw, cw = csv.writer(mf), csv.writer(cf)
        mw.writerow(MEMBER_FIELDS)
        cw.writerow(CONTRIBUTION_FIELDS)
        for number in range(members):
            external_id = str(100_000 + number)
            profile = profile_of.get(number)
            name, email = _identity(rng, number)
            if rng.random() < 0.04:
                email = ""  # some platforms let members hide their address
            if profile is not None:
                offsets = sorted(_active_offsets(rng, profile), reverse=True)
                # Veterans joined long ago (tenure rules such as "5 years" need some).
                first_offset = offsets[0] + int(rng.random() * (5 * 365 if profile.veteran
                                                                else 400))
                cw.writerows([(external_id, day_text[o], *_day_values(rng, profile))
                              for o in offsets])
            else:
                first_offset = HISTORY_DAYS + int(rng.random() * 5 * 365)
            second = int(rng.random() * 86_400)
            joined = (f"{day_text[first_offset]}T{second // 3600:02d}:{second // 60 % 60:02d}"
                      f":{second % 60:02d}Z")
            mw.writerow((external_id, name, email, joined, locales.draw(rng),
                         regions.draw(rng)))
    return members_path, contributions_path


def _active_offsets(rng: random.Random, p: Profile) -> list[int]:
    """Distinct day offsets (days before today) on which the member was active."""
    if p.recent:
        end = rng.randint(0, 3)
    else:
        end = min(HISTORY_DAYS - 1, int(rng.expovariate(1 / 240)))
    room = HISTORY_DAYS - end
    if p.days >= room:  # not enough history behind `end`: move the stretch forward
        end = max(0, HISTORY_DAYS - p.days)
        room = HISTORY_DAYS - end
        if p.days >= room:
            return list(range(end, HISTORY_DAYS))
    # Occasional members are active in a burst; regulars spread over a long stretch.
    span = min(room, max(p.days, int(p.days * (1 + rng.random() * 20))))
    return [end + o for o in rng.sample(range(span), p.days)]
