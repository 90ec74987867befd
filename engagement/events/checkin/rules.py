"""Check-in rules (pure): when a check-in link expires, who may be checked in, no-shows."""
from __future__ import annotations

from datetime import datetime, timedelta

from ..rules import EventStatus, InvitationStatus

# A scan link works until a day after the event: late door lists are reconciled the next
# morning, later than that a leaked ticket must not change attendance any more.
CHECKIN_GRACE = timedelta(days=1)


def checkin_expiry(ends_at: datetime) -> datetime:
    """The moment a check-in link stops working."""
    return ends_at + CHECKIN_GRACE


def can_check_in(status: InvitationStatus | str, event_status: EventStatus | str) -> bool:
    """Only accepted invitations of a non-cancelled event can be checked in."""
    return status == InvitationStatus.ACCEPTED and event_status != EventStatus.CANCELLED


def is_no_show(status: InvitationStatus | str, checked_in_at: datetime | None, ends_at: datetime,
               now: datetime) -> bool:
    """Accepted, not checked in, and the event is over."""
    return status == InvitationStatus.ACCEPTED and checked_in_at is None and now > ends_at
