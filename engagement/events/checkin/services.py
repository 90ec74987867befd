"""Check-in at the door: read a scan, check in or undo, walk-ins, door counts, guest lists.

Use cases flush only; the request commits. The scan link itself is checkin/tickets.py.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ... import audit, signing
from ...accounts.models import User
from ...community.members.services import search_condition, search_members
from ...community.models import Member
from ...security import Role
from ..attendance import AttendanceCounts, attendance_counts
from ..models import DoorAssignment, Event, EventStatus, Invitation, InvitationStatus, WalkInGuest
from .rules import CLOSED, NOT_YET, CheckinWindow, can_check_in
from .tickets import TicketInvalid, read_token

__all__ = ["CheckinError", "DoorCounts", "TicketInvalid", "door_counts"]


class CheckinError(Exception):
    """A check-in that cannot happen.

    `code`: "expired" (a scan link after the window), "not_open", "closed", "wrong_event",
    "not_accepted", "not_published" or "already_invited".
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def window_from(config) -> CheckinWindow:
    """The check-in window of the CHECKIN_OPENS_HOURS and CHECKIN_GRACE_HOURS settings."""
    return CheckinWindow(opens_before=timedelta(hours=float(config["CHECKIN_OPENS_HOURS"])),
                         grace=timedelta(hours=float(config["CHECKIN_GRACE_HOURS"])))


def current_window() -> CheckinWindow:
    """The app's check-in window (its settings)."""
    from flask import current_app

    return window_from(current_app.config)


def load_by_token(session: Session, token: str, *, now: datetime,
                  window: CheckinWindow | None = None) -> Invitation:
    """The invitation behind a scan token.

    Raises TicketInvalid (a signing.LinkInvalid: forged, unknown or revoked; 404) or
    CheckinError("expired") once the check-in window closed (410). Before it opens the
    invitation loads, so the page can say when; `check_in` refuses it.
    """
    invitation_id, nonce = read_token(token)
    inv = session.get(Invitation, invitation_id)
    if inv is None or not signing.same_secret(inv.nonce, nonce):
        raise TicketInvalid("invalid check-in link")
    window = window or current_window()
    if window.state(inv.event.starts_at, inv.event.ends_at, now) == CLOSED:
        raise CheckinError("expired", "this check-in link has expired")
    return inv


def check_window(event: Event, *, now: datetime, window: CheckinWindow | None = None) -> None:
    """Raise CheckinError("not_open" / "closed") outside the event's check-in window."""
    window = window or current_window()
    state = window.state(event.starts_at, event.ends_at, now)
    opens, closes = window.bounds(event.starts_at, event.ends_at)
    if state == NOT_YET:
        raise CheckinError("not_open", f"check-in opens at {opens.isoformat()}")
    if state == CLOSED:
        raise CheckinError("closed", f"check-in closed at {closes.isoformat()}")


# --- use cases -------------------------------------------------------------------------

def check_in(session: Session, inv: Invitation, *, now: datetime, source: str,
             event_id: int | None = None, window: CheckinWindow | None = None,
             plus_one: bool | None = None) -> bool:
    """Mark as arrived; True when newly checked in, False when it already was (idempotent).

    The one rule of every door (scan, door list, API): at the door of `event_id` only that
    event's invitations, and only inside the check-in window. Raises CheckinError.
    """
    if event_id is not None and inv.event_id != event_id:
        raise CheckinError("wrong_event", f"this ticket is for {inv.event.title}")
    check_window(inv.event, now=now, window=window)
    if not can_check_in(inv.status, inv.event.status):
        raise CheckinError("not_accepted", f"the invitation is {inv.status}")
    if inv.checked_in_at is not None:
        return False
    inv.checked_in_at = now
    # The plus-one the invitee announced is counted with them unless the door says not.
    inv.plus_one_checked_in = bool(inv.plus_one and (plus_one is None or plus_one))
    session.flush()
    audit.record(session, "invitation.checked_in", "invitation", inv.id,
                 after={"event_id": inv.event_id, "member_id": inv.member_id,
                        "source": source, "plus_one": inv.plus_one_checked_in}, at=now)
    return True


def undo_check_in(session: Session, inv: Invitation, *, now: datetime,
                  window: CheckinWindow | None = None) -> bool:
    """Take a check-in back; True when there was one. Closed with the check-in window."""
    if inv.checked_in_at is None:
        return False
    check_window(inv.event, now=now, window=window)
    before = inv.checked_in_at
    inv.checked_in_at = None
    inv.plus_one_checked_in = False
    session.flush()
    audit.record(session, "invitation.check_in_undone", "invitation", inv.id,
                 before={"checked_in_at": before}, after={"event_id": inv.event_id}, at=now)
    return True


def record_walk_in(session: Session, event: Event, member_id: int, *,
                   now: datetime) -> Invitation:
    """A member who was not invited came anyway: an accepted, checked-in walk-in invitation.

    Walk-ins may exceed the capacity: the person is already in the room, and the door staff
    decided to let them in. They count as attendees everywhere (segments, history).
    """
    if event.status != EventStatus.PUBLISHED:
        raise CheckinError("not_published", "the event is not published")
    member = session.get(Member, member_id)
    if member is None:
        raise LookupError(member_id)
    existing = session.scalar(select(Invitation).where(
        Invitation.event_id == event.id, Invitation.member_id == member_id))
    if existing is not None:
        raise CheckinError("already_invited", f"already invited ({existing.status})")
    inv = Invitation(event_id=event.id, member_id=member_id, status=InvitationStatus.ACCEPTED,
                     nonce=signing.new_nonce(), created_at=now, responded_at=now,
                     checked_in_at=now, rsvp_source="walk-in", walk_in=True)
    session.add(inv)
    session.flush()
    audit.record(session, "invitation.walk_in", "invitation", inv.id,
                 after={"event_id": event.id, "member_id": member_id}, at=now)
    return inv


def record_walk_in_guest(session: Session, event: Event, name: str, email: str | None, *,
                         now: datetime) -> WalkInGuest:
    """Someone who is not a member came: only a name and an e-mail address are kept.

    Guests count at the door (`guest_count`), not as attendees of the programme.
    """
    if event.status != EventStatus.PUBLISHED:
        raise CheckinError("not_published", "the event is not published")
    check_window(event, now=now)
    name, email = name.strip()[:255], (email or "").strip().lower()[:255] or None
    if not name:
        raise CheckinError("no_name", "a walk-in guest needs a name")
    guest = WalkInGuest(event_id=event.id, name=name, email=email, checked_in_at=now)
    session.add(guest)
    session.flush()
    # The audit trail keeps no personal data of the guest (erasure needs no log rewrite).
    audit.record(session, "event.walk_in_guest", "walk_in_guest", guest.id,
                 after={"event_id": event.id}, at=now)
    return guest


def walk_in_guests(session: Session, event_id: int) -> list[WalkInGuest]:
    return list(session.scalars(select(WalkInGuest).where(WalkInGuest.event_id == event_id)
                                .order_by(WalkInGuest.checked_in_at, WalkInGuest.id)))


def erase_walk_in_guests(session: Session, email: str) -> int:
    """Delete the walk-in records of an e-mail address (a guest's erasure request)."""
    rows = list(session.scalars(select(WalkInGuest).where(
        WalkInGuest.email == email.strip().lower())))
    for row in rows:
        session.delete(row)
    session.flush()
    return len(rows)


def plus_one_count(session: Session, event_id: int) -> int:
    """Plus-ones who came with their checked-in invitee."""
    return int(session.scalar(select(func.count(Invitation.id)).where(
        Invitation.event_id == event_id, Invitation.plus_one_checked_in.is_(True))) or 0)


def guest_count(session: Session, event_id: int) -> int:
    return int(session.scalar(select(func.count(WalkInGuest.id)).where(
        WalkInGuest.event_id == event_id)) or 0)


# --- door staff ------------------------------------------------------------------------

def is_assigned(session: Session, user_id: int, event_id: int) -> bool:
    """Whether this door-staff login may check people in at the event."""
    return session.scalar(select(DoorAssignment.id).where(
        DoorAssignment.user_id == user_id, DoorAssignment.event_id == event_id)) is not None


def door_staff(session: Session, event_id: int) -> list[User]:
    """The door-staff logins assigned to the event, by name."""
    return list(session.scalars(
        select(User).join(DoorAssignment, DoorAssignment.user_id == User.id)
        .where(DoorAssignment.event_id == event_id).order_by(User.name, User.email)))


def door_staff_candidates(session: Session, event_id: int) -> list[User]:
    """Active door-staff logins not yet assigned to the event."""
    assigned = select(DoorAssignment.user_id).where(DoorAssignment.event_id == event_id)
    return list(session.scalars(
        select(User).where(User.role == Role.DOOR.value, User.active.is_(True),
                           User.id.not_in(assigned)).order_by(User.name, User.email)))


def assign_door_staff(session: Session, event: Event, user_id: int, *,
                      now: datetime) -> DoorAssignment:
    """Let a door-staff login check people in at the event (audited)."""
    user = session.get(User, user_id)
    if user is None or user.role != Role.DOOR or not user.active:
        raise LookupError(user_id)
    existing = session.scalar(select(DoorAssignment).where(
        DoorAssignment.event_id == event.id, DoorAssignment.user_id == user_id))
    if existing is not None:
        return existing
    row = DoorAssignment(event_id=event.id, user_id=user_id, assigned_at=now)
    session.add(row)
    session.flush()
    audit.record(session, "event.door_staff_assigned", "event", event.id,
                 after={"user_id": user_id, "email": user.email}, at=now)
    return row


def unassign_door_staff(session: Session, event: Event, user_id: int, *,
                        now: datetime) -> bool:
    row = session.scalar(select(DoorAssignment).where(
        DoorAssignment.event_id == event.id, DoorAssignment.user_id == user_id))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    audit.record(session, "event.door_staff_removed", "event", event.id,
                 before={"user_id": user_id}, at=now)
    return True


def assigned_events(session: Session, user_id: int) -> list[Event]:
    """The published events a door-staff login is assigned to, soonest first."""
    return list(session.scalars(
        select(Event).join(DoorAssignment, DoorAssignment.event_id == Event.id)
        .where(DoorAssignment.user_id == user_id, Event.status == EventStatus.PUBLISHED)
        .order_by(Event.starts_at)))


DoorCounts = AttendanceCounts
door_counts = attendance_counts  # the door list's figures are the event's attendance


def door_list_query(session: Session, event_id: int, q: str = "") -> Select:
    """(Invitation, Member) of the accepted invitees, by name; `q` filters name or e-mail."""
    stmt = (select(Invitation, Member).join(Member, Member.id == Invitation.member_id)
            .where(Invitation.event_id == event_id,
                   Invitation.status == InvitationStatus.ACCEPTED))
    if q:
        stmt = stmt.where(search_condition(session, q))
    return stmt.order_by(Member.display_name, Invitation.id)


def walk_in_candidates(session: Session, event_id: int, q: str, *,
                       limit: int = 20) -> list[Member]:
    """Members matching `q` who are not invited to the event (for recording a walk-in)."""
    if not q:
        return []
    invited = select(Invitation.member_id).where(Invitation.event_id == event_id)
    return list(session.scalars(
        search_members(session, q).where(Member.id.not_in(invited))
        .order_by(Member.display_name).limit(limit)))


def no_shows_query(event_id: int) -> Select:
    """(Invitation, Member) accepted but never checked in (shown once the event is over)."""
    return (select(Invitation, Member).join(Member, Member.id == Invitation.member_id)
            .where(Invitation.event_id == event_id,
                   Invitation.status == InvitationStatus.ACCEPTED,
                   Invitation.checked_in_at.is_(None))
            .order_by(Member.display_name, Invitation.id))


def window_state(event: Event, now: datetime, window: CheckinWindow | None = None) -> str:
    """"not_yet", "open" or "closed": the event's check-in window at `now`."""
    return (window or current_window()).state(event.starts_at, event.ends_at, now)


def window_bounds(event: Event, window: CheckinWindow | None = None
                  ) -> tuple[datetime, datetime]:
    """(opens, closes) of the event's check-in window."""
    return (window or current_window()).bounds(event.starts_at, event.ends_at)


def scan_expired(event: Event, now: datetime) -> bool:
    """Whether the event's scan links stopped working (the door list closes with them)."""
    return window_state(event, now) == CLOSED
