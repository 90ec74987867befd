"""Builders for test data (flush only; the test decides when to commit)."""
from __future__ import annotations

import itertools
from datetime import date

from werkzeug.security import generate_password_hash

from engagement.accounts.models import User
from engagement.community.models import ContributionDay, Member, Tier
from engagement.extensions import db

_seq = itertools.count(1)
PASSWORD = "correct horse battery"
_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")  # fast in tests


def make_user(role: str = "manager", email: str | None = None, **fields) -> User:
    n = next(_seq)
    user = User(email=email or f"{role}{n}@example.org",
                name=fields.pop("name", f"{role.title()} {n}"), role=role,
                password_hash=fields.pop("password_hash", _HASH), active=True, **fields)
    db.session.add(user)
    db.session.flush()
    return user


def make_member(**fields) -> Member:
    n = next(_seq)
    defaults = dict(source="test", external_id=str(n), display_name=f"Member {n}",
                    email=f"member{n}@example.org", locale="de", region="Berlin")
    member = Member(**{**defaults, **fields})
    db.session.add(member)
    db.session.flush()
    return member


def add_days(member: Member, days: dict[date, dict[str, int]]) -> None:
    """Add daily contribution rows: {date: {"answers": 3, ...}}."""
    for day, values in days.items():
        db.session.add(ContributionDay(member_id=member.id, day=day, **{
            k: values.get(k, 0)
            for k in ("posts", "answers", "accepted_solutions", "kudos_received")
        }))
    db.session.flush()


def make_tier(
    name: str, rank: int, rule: str, grace_days: int = 90, color: str = "#64748b"
) -> Tier:
    tier = Tier(name=name, rank=rank, rule=rule, grace_days=grace_days, color=color, description="")
    db.session.add(tier)
    db.session.flush()
    return tier
