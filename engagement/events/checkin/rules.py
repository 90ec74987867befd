"""Check-in rules (pure): the check-in window, who may be checked in, no-shows.

One window for every way in (the scan page, the door list, the API): check-in opens
CHECKIN_OPENS_HOURS before the start, so the doors can open early without a ticket working
weeks ahead, and closes CHECKIN_GRACE_HOURS after the end, so a late door list can be
reconciled the next morning but a leaked ticket cannot change attendance later.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..rules import EventStatus, InvitationStatus

CHECKIN_OPENS_BEFORE = timedelta(hours=3)  # defaults of the settings of the same meaning
CHECKIN_GRACE = timedelta(days=1)
NOT_YET, OPEN, CLOSED = "not_yet", "open", "closed"


@dataclass(frozen=True)
class CheckinWindow:
    """How long before the start check-in opens and how long after the end it closes."""

    opens_before: timedelta = CHECKIN_OPENS_BEFORE
    grace: timedelta = CHECKIN_GRACE

    def bounds(self, starts_at: datetime, ends_at: datetime) -> tuple[datetime, datetime]:
        """(opens, closes): check-in works when opens <= now <= closes."""
        return starts_at - self.opens_before, ends_at + self.grace

    def state(self, starts_at: datetime, ends_at: datetime, now: datetime) -> str:
        """NOT_YET, OPEN or CLOSED for the moment `now`."""
        opens, closes = self.bounds(starts_at, ends_at)
        if now < opens:
            return NOT_YET
        return OPEN if now <= closes else CLOSED


def checkin_expiry(ends_at: datetime, grace: timedelta = CHECKIN_GRACE) -> datetime:
    """The moment a check-in link stops working."""
    return ends_at + grace


def can_check_in(status: InvitationStatus | str, event_status: EventStatus | str) -> bool:
    """Only accepted invitations of a non-cancelled event can be checked in."""
    return status == InvitationStatus.ACCEPTED and event_status != EventStatus.CANCELLED


def is_no_show(status: InvitationStatus | str, checked_in_at: datetime | None, ends_at: datetime,
               now: datetime) -> bool:
    """Accepted, not checked in, and the event is over."""
    return status == InvitationStatus.ACCEPTED and checked_in_at is None and now > ends_at
