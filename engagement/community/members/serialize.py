"""The member fields shared by the JSON API and `export-members` (SPEC §4a)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select

from ..models import Member, Tier, TierHistory

MEMBER_FIELDS = (
    "id", "source", "external_id", "display_name", "email", "tier", "answers",
    "accepted_solutions", "kudos_received", "posts", "last_active",
)
TIER_HISTORY_FIELDS = ("tier", "from_tier", "at", "reason", "kind")


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, the form every API time uses."""
    if value is None:
        return None
    if value.tzinfo is None:  # stored values are UTC; be tolerant of naive ones
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def member_dict(member: Any, tier_name: str | None) -> dict[str, Any]:
    """The API's member fields of a Member (or a row of `member_rows()`)."""
    return {
        "id": member.id,
        "source": member.source,
        "external_id": member.external_id,
        "display_name": member.display_name,
        "email": member.email,
        "tier": tier_name,
        "answers": member.answers,
        "accepted_solutions": member.accepted_solutions,
        "kudos_received": member.kudos_received,
        "posts": member.posts,
        "last_active": iso_utc(member.last_active),
    }


def member_rows() -> Select:
    """Plain rows with exactly the fields `member_dict` reads, the tier name joined in.

    Rows instead of ORM objects: no identity map, so exports and pages of many members
    stay cheap, and one outer join instead of a query per member.
    """
    return (
        select(Member.id, Member.source, Member.external_id, Member.display_name, Member.email,
               Member.answers, Member.accepted_solutions, Member.kudos_received, Member.posts,
               Member.last_active, Tier.name.label("tier_name"))
        .outerjoin(Tier, Tier.id == Member.tier_id)
    )


def row_dict(row: Any) -> dict[str, Any]:
    """`member_dict` of a row of `member_rows()`."""
    return member_dict(row, row.tier_name)


def tier_history_dict(entry: TierHistory) -> dict[str, Any]:
    """One tier change: to `tier` from `from_tier` (None: had no tier), when and why."""
    return {
        "tier": entry.to_tier.name if entry.to_tier else None,
        "from_tier": entry.from_tier.name if entry.from_tier else None,
        "at": iso_utc(entry.at),
        "reason": entry.reason,
        "kind": entry.kind,
    }
