"""Pure rules for magic sign-in links: how many may be sent, and whether one still works."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class LinkQuota:
    """At most `per_email` links per address and `per_ip` per client within `window`."""

    per_email: int
    per_ip: int
    window: timedelta


class LinkQuotaExceeded(Exception):
    """Too many links were requested; `scope` is "email" or "ip"."""

    def __init__(self, scope: str):
        super().__init__(f"too many sign-in links requested for this {scope}")
        self.scope = scope


class LinkState(enum.StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    USED = "used"


def check_quota(sent_to_email: int, sent_from_ip: int, quota: LinkQuota) -> None:
    """Raise LinkQuotaExceeded when the address or the client has used up its links."""
    if sent_to_email >= quota.per_email:
        raise LinkQuotaExceeded("email")
    if sent_from_ip >= quota.per_ip:
        raise LinkQuotaExceeded("ip")


def link_state(expires_at: datetime, used_at: datetime | None, now: datetime) -> LinkState:
    """A link works once and only before it expires (used wins: it says more)."""
    if used_at is not None:
        return LinkState.USED
    if now >= expires_at:
        return LinkState.EXPIRED
    return LinkState.VALID


def expiry(created_at: datetime, minutes: int) -> datetime:
    """When a link made at `created_at` stops working (1 minute to 1 day)."""
    if not 1 <= minutes <= 24 * 60:
        raise ValueError("MAGIC_LINK_MINUTES must be between 1 and 1440")
    return created_at + timedelta(minutes=minutes)


def pick_member(candidates: list[tuple[int, int]]) -> int | None:
    """The member to sign in for an address shared by several member records.

    `candidates` are (member_id, newest invitation id); the one invited most recently wins,
    ties go to the lower member id, so the choice is stable between requests.
    """
    if not candidates:
        return None
    return sorted(candidates, key=lambda c: (-c[1], c[0]))[0][0]
