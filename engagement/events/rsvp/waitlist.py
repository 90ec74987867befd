"""Seats and the waiting list: the per-event lock, counting seats, joining and leaving the
list, and the time-limited offers of freed seats (made, expired, passed on).

Seats are decided under a per-event lock so capacity is never exceeded, however many
people accept at once: every RSVP first bumps `events.rsvp_version`. On PostgreSQL that
UPDATE takes the event row's lock until commit; on SQLite it is the first write of the
transaction and so takes the database write lock (waiting up to busy_timeout) BEFORE the
seats are counted. Functions here flush only; the request (or CLI) commits.
"""
from __future__ import annotations

from datetime import datetime

from flask import current_app, has_app_context
from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from ... import audit
from ...community.tiers.services import member_tier_rank
from ..models import Event, EventStatus, Invitation, InvitationStatus
from . import rules
from .mails import send_rsvp_mail

W = InvitationStatus.WAITLISTED


def offer_hours() -> int:
    """How long a freed seat is held for the person it is offered to."""
    if has_app_context():
        return int(current_app.config["EVENT_OFFER_HOURS"])
    return rules.DEFAULT_OFFER_HOURS


def action_needed_hours() -> int:
    """How long a calendar "Accept" with missing answers or consents holds the seat."""
    if has_app_context():
        return int(current_app.config["EVENT_ACTION_NEEDED_HOURS"])
    return rules.DEFAULT_ACTION_NEEDED_HOURS


def lock_event(session: Session, event_id: int) -> Event:
    """The event, locked for seat decisions until the transaction ends (see module doc)."""
    session.execute(update(Event).where(Event.id == event_id)
                    .values(rsvp_version=Event.rsvp_version + 1)
                    .execution_options(synchronize_session=False))
    return session.execute(select(Event).where(Event.id == event_id).with_for_update()
                           .execution_options(populate_existing=True)).scalar_one()


def seats(session: Session, event_id: int, *, exclude: int | None = None) -> tuple[int, int]:
    """(seats taken by accepted people incl. plus-ones, seats reserved by open offers)."""
    needed = 1 + case((Invitation.plus_one.is_(True), 1), else_=0)
    query = select(
        func.coalesce(func.sum(case((Invitation.status == InvitationStatus.ACCEPTED, needed),
                                    else_=0)), 0),
        func.coalesce(func.sum(case(((Invitation.status == W)
                                     & Invitation.offer_expires_at.is_not(None), needed),
                                    else_=0)), 0),
    ).where(Invitation.event_id == event_id,
            Invitation.status.in_([InvitationStatus.ACCEPTED, W]))
    if exclude is not None:
        query = query.where(Invitation.id != exclude)
    taken, reserved = session.execute(query).one()
    return int(taken), int(reserved)


def waitlist_length(session: Session, event_id: int) -> int:
    """How many invitees of the event are on its waiting list."""
    return session.scalar(select(func.count()).where(
        Invitation.event_id == event_id, Invitation.status == W)) or 0


def _tier_rank(session: Session, member_id: int) -> int | None:
    return member_tier_rank(session, member_id)


def join_waitlist(session: Session, event: Event, inv: Invitation) -> None:
    """Put the invitation on the list: at the end, or by tier rank on tier-priority events."""
    length = waitlist_length(session, event.id)
    rank = _tier_rank(session, inv.member_id) if event.waitlist_by_tier else None
    if event.waitlist_by_tier:
        mine = -1 if rank is None else rank
        ahead = session.scalar(select(func.count()).where(
            Invitation.event_id == event.id, Invitation.status == W,
            func.coalesce(Invitation.waitlist_rank, -1) >= mine)) or 0
        position = ahead + 1
        session.execute(update(Invitation).where(
            Invitation.event_id == event.id, Invitation.status == W,
            Invitation.waitlist_position >= position)
            .values(waitlist_position=Invitation.waitlist_position + 1)
            .execution_options(synchronize_session=False))
    else:
        position = length + 1
    inv.status = W
    inv.waitlist_position = position
    inv.waitlist_rank = rank
    inv.offer_expires_at = None


def leave_waitlist(session: Session, inv: Invitation) -> None:
    """Take the invitation off the list; everyone behind it moves up one place."""
    position = inv.waitlist_position
    inv.waitlist_position = None
    inv.offer_expires_at = None
    inv.waitlist_rank = None
    if position is not None:
        session.flush()
        session.execute(update(Invitation).where(
            Invitation.event_id == inv.event_id, Invitation.status == W,
            Invitation.id != inv.id, Invitation.waitlist_position > position)
            .values(waitlist_position=Invitation.waitlist_position - 1)
            .execution_options(synchronize_session=False))


def make_offers(session: Session, event: Event, *, now: datetime) -> list[int]:
    """Offer freed seats to the head of the waiting list, in order (caller holds the lock)."""
    session.flush()
    if rules.has_started(starts_at=event.starts_at, now=now):
        return []  # nobody can take a seat any more: an offer would promise nothing
    taken, reserved = seats(session, event.id)
    free = None if event.capacity is None else event.capacity - taken - reserved
    if free is not None and free <= 0:
        return []
    query = (select(Invitation).where(Invitation.event_id == event.id, Invitation.status == W,
                                      Invitation.offer_expires_at.is_(None))
             .order_by(Invitation.waitlist_position, Invitation.id)
             .execution_options(populate_existing=True))
    # Everyone needs at least one seat: never load more rows than seats are free.
    head = session.scalars(query.limit(free if free is not None else 1000)).all()
    n = rules.offers_to_make(capacity=event.capacity, taken=taken, reserved=reserved,
                             queue=[bool(i.plus_one) for i in head])
    # Never past the start: the mail states when the offer really ends.
    expires = rules.offer_expiry(now, offer_hours(), starts_at=event.starts_at)
    offered = []
    for inv in head[:n]:
        inv.offer_expires_at = expires
        offered.append(inv.id)
        send_rsvp_mail(session, event, inv, "offer", now=now,
                       dedupe_key=f"event:{event.id}:offer:{inv.id}:{expires.isoformat()}")
    if offered:
        session.flush()
        audit.record(session, "invitation.offer", "event", event.id,
                     after={"invitations": offered, "expires_at": expires}, at=now)
    return offered


def offer_free_seats(session: Session, event: Event, *, now: datetime) -> list[int]:
    """After a capacity change: offer the seats now free to the waiting list."""
    event = lock_event(session, event.id)
    if event.status != EventStatus.PUBLISHED:
        return []
    return make_offers(session, event, now=now)


def _due(event_id: int | None, now: datetime):
    """Expired offers and lapsed holds of incomplete answers (of one event, or all)."""
    query = select(Invitation).where(or_(
        (Invitation.status == W) & Invitation.offer_expires_at.is_not(None)
        & (Invitation.offer_expires_at <= now),
        (Invitation.status == InvitationStatus.ACCEPTED)
        & Invitation.action_needed_until.is_not(None)
        & (Invitation.action_needed_until <= now)))
    return query if event_id is None else query.where(Invitation.event_id == event_id)


def expire_locked(session: Session, event: Event, *, now: datetime) -> int:
    """Pass on the event's expired offers and lapsed incomplete holds (caller holds the
    lock); returns how many."""
    due = session.scalars(_due(event.id, now).order_by(Invitation.waitlist_position,
                                                      Invitation.id)
                          .execution_options(populate_existing=True)).all()
    if not due:
        return 0
    expired = [i for i in due if i.status == W]
    lapsed = [i for i in due if i.status == InvitationStatus.ACCEPTED]
    for inv in expired:
        # An unanswered offer ends the place on the list: the seat passes to the next person.
        leave_waitlist(session, inv)
        session.flush()
        inv.status = InvitationStatus.DECLINED
        inv.responded_at = now
        inv.rsvp_source = rules.OFFER_EXPIRED_SOURCE
        send_rsvp_mail(session, event, inv, "expired", now=now)
    for inv in lapsed:
        # The answer was never completed: the seat is released, the member may answer
        # again while RSVPs are open.
        inv.status = InvitationStatus.INVITED
        inv.action_needed_until = None
        inv.responded_at = now
        inv.rsvp_source = rules.HOLD_EXPIRED_SOURCE
        send_rsvp_mail(session, event, inv, "hold-expired", now=now)
    session.flush()
    if expired:
        audit.record(session, "invitation.offer_expired", "event", event.id,
                     after={"invitations": [i.id for i in expired]}, at=now)
    if lapsed:
        audit.record(session, "invitation.hold_expired", "event", event.id,
                     after={"invitations": [i.id for i in lapsed]}, at=now)
    make_offers(session, event, now=now)
    return len(due)


def expire_event_offers(session: Session, event_id: int, *, now: datetime) -> int:
    """The cheap check pages run: pass on this event's expired offers and lapsed holds,
    if there are any."""
    due = session.scalar(_due(event_id, now).with_only_columns(Invitation.id).limit(1))
    if due is None:
        return 0
    return expire_locked(session, lock_event(session, event_id), now=now)


def expire_offers(session: Session, *, now: datetime) -> int:
    """Pass every expired offer and lapsed incomplete hold on; returns how many."""
    event_ids = session.scalars(
        _due(None, now).with_only_columns(Invitation.event_id).distinct()).all()
    total = 0
    for event_id in event_ids:
        total += expire_locked(session, lock_event(session, event_id), now=now)
    return total
