"""RSVP use cases: answer an invitation, the waiting list and its time-limited offers.

Seats are decided under a per-event lock so capacity is never exceeded, however many
people accept at once: every RSVP first bumps `events.rsvp_version`. On PostgreSQL that
UPDATE takes the event row's lock until commit; on SQLite it is the first write of the
transaction and so takes the database write lock (waiting up to busy_timeout) BEFORE the
seats are counted. Functions here flush only; the request (or CLI) commits.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import current_app, has_app_context
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from .. import audit
from ..community.models import Member, Tier
from ..mail import outbox
from ..mail.compose import build_message
from . import checkin, notifications
from . import rsvp_rules as rules
from .calendar import Attendee, build_calendar
from .models import (
    Event,
    EventConsent,
    EventStatus,
    Invitation,
    InvitationConsent,
    InvitationStatus,
)

MAIL_KIND = "event-rsvp"
W = InvitationStatus.WAITLISTED


class RsvpStatus(enum.StrEnum):
    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"


class RsvpClosed(Exception):
    """The RSVP deadline has passed (or the event has started)."""


class RsvpNotAllowed(Exception):
    """The invitation cannot be answered (event not published/cancelled, invitation
    withdrawn, plus-one not allowed, no seat for an added plus-one, unknown status)."""


RsvpInvalid = rules.RsvpRuleError  # answers/consents invalid; `.errors` per field


@dataclass(frozen=True)
class RsvpResult:
    invitation_id: int
    status: str  # accepted | waitlisted | tentative | declined
    waitlist_position: int | None
    changed: bool
    promoted: list[int] = field(default_factory=list)  # invitation ids offered a seat


def offer_hours() -> int:
    if has_app_context():
        return int(current_app.config.get("EVENT_OFFER_HOURS", rules.DEFAULT_OFFER_HOURS))
    return rules.DEFAULT_OFFER_HOURS


def _lock_event(session: Session, event_id: int) -> Event:
    session.execute(update(Event).where(Event.id == event_id)
                    .values(rsvp_version=Event.rsvp_version + 1)
                    .execution_options(synchronize_session=False))
    return session.execute(select(Event).where(Event.id == event_id).with_for_update()
                           .execution_options(populate_existing=True)).scalar_one()


def _seats(session: Session, event_id: int, *, exclude: int | None = None) -> tuple[int, int]:
    """(seats taken by accepted people incl. plus-ones, seats reserved by open offers)."""
    seats = 1 + case((Invitation.plus_one.is_(True), 1), else_=0)
    query = select(
        func.coalesce(func.sum(case((Invitation.status == InvitationStatus.ACCEPTED, seats),
                                    else_=0)), 0),
        func.coalesce(func.sum(case(((Invitation.status == W)
                                     & Invitation.offer_expires_at.is_not(None), seats),
                                    else_=0)), 0),
    ).where(Invitation.event_id == event_id,
            Invitation.status.in_([InvitationStatus.ACCEPTED, W]))
    if exclude is not None:
        query = query.where(Invitation.id != exclude)
    taken, reserved = session.execute(query).one()
    return int(taken), int(reserved)


def _waitlist_length(session: Session, event_id: int) -> int:
    return session.scalar(select(func.count()).where(
        Invitation.event_id == event_id, Invitation.status == W)) or 0


def _tier_rank(session: Session, member_id: int) -> int | None:
    tier_id = func.coalesce(Member.tier_override_id, Member.tier_id)
    return session.scalar(select(Tier.rank).join(Member, Tier.id == tier_id)
                          .where(Member.id == member_id))


def _join_waitlist(session: Session, event: Event, inv: Invitation) -> None:
    length = _waitlist_length(session, event.id)
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


def _leave_waitlist(session: Session, inv: Invitation) -> None:
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


def _make_offers(session: Session, event: Event, *, now: datetime) -> list[int]:
    """Offer freed seats to the head of the waiting list, in order (caller holds the lock)."""
    session.flush()
    taken, reserved = _seats(session, event.id)
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
    expires = rules.offer_expiry(now, offer_hours())
    offered = []
    for inv in head[:n]:
        inv.offer_expires_at = expires
        offered.append(inv.id)
        _mail(session, event, inv, "offer", now=now,
              dedupe_key=f"event:{event.id}:offer:{inv.id}:{expires.isoformat()}")
    if offered:
        session.flush()
        audit.record(session, "invitation.offer", "event", event.id,
                     after={"invitations": offered, "expires_at": expires}, at=now)
    return offered


def _questions(event: Event) -> list[rules.Question]:
    return [rules.Question(q.id, q.kind, q.label, tuple(q.choices or ()), q.required)
            for q in event.questions]


def event_consents(session: Session, event_id: int) -> list[EventConsent]:
    return list(session.scalars(select(EventConsent).where(EventConsent.event_id == event_id)
                                .order_by(EventConsent.id)))


def current_consents(session: Session, invitation_id: int) -> dict[str, InvitationConsent]:
    """The latest recorded answer per consent key of one invitation."""
    rows = session.scalars(select(InvitationConsent)
                           .where(InvitationConsent.invitation_id == invitation_id)
                           .order_by(InvitationConsent.id))
    return {r.key: r for r in rows}


def _record_consents(session: Session, inv: Invitation, defs: list[EventConsent],
                     given: dict[str, bool], *, now: datetime) -> bool:
    latest = current_consents(session, inv.id)
    changed = False
    for c in defs:
        old = latest.get(c.key)
        if old is not None and old.given == given[c.key] and old.version == c.version:
            continue
        # A new row per change: the history shows which text was agreed to, and when.
        session.add(InvitationConsent(invitation_id=inv.id, key=c.key, version=c.version,
                                      text=c.text, given=given[c.key], at=now))
        changed = True
    return changed


def respond(session: Session, invitation: Invitation, status: RsvpStatus | str, *,
            now: datetime, answers: Mapping[str, object] | None = None,
            plus_one: bool | None = None, consents: Mapping[str, bool] | None = None,
            source: str = "web", actor: str | None = None) -> RsvpResult:
    """Answer an invitation. `answers`/`plus_one`/`consents` None keep what was given before
    (calendar replies carry none of them). Raises RsvpClosed, RsvpNotAllowed, RsvpInvalid."""
    try:
        wanted = RsvpStatus(str(status))
    except ValueError as exc:
        raise RsvpNotAllowed(f"unknown answer {status!r}") from exc
    event = _lock_event(session, invitation.event_id)
    inv = session.execute(select(Invitation).where(Invitation.id == invitation.id)
                          .execution_options(populate_existing=True)).scalar_one()
    if event.status != EventStatus.PUBLISHED:
        raise RsvpNotAllowed("The event is cancelled." if event.status == EventStatus.CANCELLED
                             else "The event is not published.")
    if inv.status == InvitationStatus.CANCELLED:
        raise RsvpNotAllowed("The invitation was withdrawn.")
    _expire_locked(session, event, now=now)
    session.refresh(inv)
    if rules.is_closed(deadline=event.rsvp_deadline, starts_at=event.starts_at, now=now):
        raise RsvpClosed("RSVPs for this event are closed.")
    if plus_one and not event.plus_one_allowed:
        raise RsvpNotAllowed("This event does not allow a plus-one.")
    attending = wanted in (RsvpStatus.ACCEPTED, RsvpStatus.TENTATIVE)
    new_answers = (rules.clean_answers(_questions(event), answers, attending=attending)
                   if answers is not None else inv.answers)
    defs = event_consents(session, event.id) if consents is not None else []
    given = (rules.check_consents(
        [rules.Consent(c.key, c.text, c.version, c.required) for c in defs], consents,
        attending=wanted == RsvpStatus.ACCEPTED) if consents is not None else {})
    new_plus = bool(plus_one) if plus_one is not None else bool(inv.plus_one)
    if not event.plus_one_allowed:
        new_plus = False

    before = {"status": str(inv.status), "plus_one": bool(inv.plus_one),
              "waitlist_position": inv.waitlist_position}
    old_status = inv.status
    had_offer = inv.offer_expires_at is not None and inv.offer_expires_at > now
    freed = False
    if wanted == RsvpStatus.ACCEPTED:
        taken, reserved = _seats(session, event.id, exclude=inv.id)
        seat_free = rules.has_seat(capacity=event.capacity, taken=taken, reserved=reserved,
                                   needed=rules.seats_needed(new_plus))
        if old_status == InvitationStatus.ACCEPTED:
            if new_plus and not inv.plus_one and not seat_free:
                raise RsvpNotAllowed("There is no seat left for a plus-one.")
            freed = inv.plus_one and not new_plus
            inv.plus_one = new_plus
        elif old_status == W:
            inv.plus_one = new_plus
            if had_offer and seat_free:
                _leave_waitlist(session, inv)
                inv.status = InvitationStatus.ACCEPTED
            elif had_offer:
                raise RsvpNotAllowed("There is no seat left for a plus-one.")
        else:
            inv.plus_one = new_plus
            # Nobody jumps the queue: with people waiting, a newcomer waits too.
            if seat_free and _waitlist_length(session, event.id) == 0:
                inv.status = InvitationStatus.ACCEPTED
            else:
                _join_waitlist(session, event, inv)
    else:
        freed = old_status == InvitationStatus.ACCEPTED or had_offer
        if old_status == W:
            _leave_waitlist(session, inv)
        inv.status = InvitationStatus(wanted.value)
        inv.plus_one = new_plus

    consents_changed = _record_consents(session, inv, defs, given, now=now) if defs else False
    answers_changed = new_answers != inv.answers
    inv.answers = new_answers
    changed = (inv.status != old_status or bool(inv.plus_one) != before["plus_one"]
               or answers_changed or consents_changed)
    if changed:
        inv.responded_at = now
        inv.rsvp_source = source[:16]
    session.flush()
    promoted = _make_offers(session, event, now=now) if freed or event.capacity else []
    if changed:
        after = {"status": str(inv.status), "plus_one": bool(inv.plus_one),
                 "waitlist_position": inv.waitlist_position, "source": source}
        if answers_changed:
            after["answers"] = new_answers
        if consents_changed:
            after["consents"] = given
        audit.record(session, "invitation.rsvp", "invitation", inv.id, before=before,
                     after=after, actor=actor, at=now)
        kind = str(inv.status)
        if kind == "declined" and old_status != InvitationStatus.ACCEPTED:
            kind = "declined-plain"
        _mail(session, event, inv, kind, now=now)
    session.flush()
    return RsvpResult(inv.id, str(inv.status), inv.waitlist_position, changed, promoted)


def offer_free_seats(session: Session, event: Event, *, now: datetime) -> list[int]:
    """After a capacity change: offer the seats now free to the waiting list."""
    event = _lock_event(session, event.id)
    if event.status != EventStatus.PUBLISHED:
        return []
    return _make_offers(session, event, now=now)


def _expire_locked(session: Session, event: Event, *, now: datetime) -> int:
    expired = session.scalars(select(Invitation).where(
        Invitation.event_id == event.id, Invitation.status == W,
        Invitation.offer_expires_at.is_not(None), Invitation.offer_expires_at <= now)
        .order_by(Invitation.waitlist_position).execution_options(populate_existing=True)).all()
    if not expired:
        return 0
    for inv in expired:
        # An unanswered offer ends the place on the list: the seat passes to the next person.
        _leave_waitlist(session, inv)
        session.flush()
        inv.status = InvitationStatus.DECLINED
        inv.responded_at = now
        inv.rsvp_source = "offer-expired"
        _mail(session, event, inv, "expired", now=now)
    session.flush()
    audit.record(session, "invitation.offer_expired", "event", event.id,
                 after={"invitations": [i.id for i in expired]}, at=now)
    _make_offers(session, event, now=now)
    return len(expired)


def expire_event_offers(session: Session, event_id: int, *, now: datetime) -> int:
    """The cheap check pages run: pass on this event's expired offers, if there are any."""
    due = session.scalar(select(Invitation.id).where(
        Invitation.event_id == event_id, Invitation.status == W,
        Invitation.offer_expires_at.is_not(None), Invitation.offer_expires_at <= now).limit(1))
    if due is None:
        return 0
    return _expire_locked(session, _lock_event(session, event_id), now=now)


def expire_offers(session: Session, *, now: datetime) -> int:
    """Pass every expired offer to the next person; returns how many offers expired."""
    event_ids = session.scalars(select(Invitation.event_id).distinct().where(
        Invitation.status == W, Invitation.offer_expires_at.is_not(None),
        Invitation.offer_expires_at <= now)).all()
    total = 0
    for event_id in event_ids:
        total += _expire_locked(session, _lock_event(session, event_id), now=now)
    return total


# --- mails -------------------------------------------------------------------------------

def _subject(kind: str, title: str) -> str:
    return {
        "accepted": _("Confirmed: you are attending %(title)s", title=title),
        "tentative": _("Noted: you might attend %(title)s", title=title),
        "declined": _("Cancelled: your place at %(title)s", title=title),
        "declined-plain": _("Noted: you are not attending %(title)s", title=title),
        "waitlisted": _("Waiting list: %(title)s", title=title),
        "offer": _("A seat is free for you: %(title)s", title=title),
        "expired": _("Your offer for %(title)s has expired", title=title),
    }[kind]


def _mail(session: Session, event: Event, inv: Invitation, kind: str, *, now: datetime,
          dedupe_key: str | None = None) -> None:
    member = session.get(Member, inv.member_id)
    if member is None or not member.email:
        return
    lang = notifications.mail_language(member.locale)
    url = notifications.invitation_url(inv.id, inv.nonce)
    calendar = None
    attachments: list[tuple[str, str, bytes]] = []
    if kind in ("accepted", "tentative", "declined"):
        # RFC 5546: the attendee's own copy; a CANCEL removes it from their calendar.
        method = "CANCEL" if kind == "declined" else "REQUEST"
        ics = build_calendar(event, method=method, now=now, url=url, attendee=Attendee(
            member.display_name, member.email, kind if kind != "declined" else "declined"))
        calendar = (ics, method)
        attachments.append(("invite.ics", "text/calendar", ics))
    if kind == "accepted":
        # The ticket: the door staff scan this QR code (PNG for mail clients, SVG to print).
        scan_url = checkin.checkin_url(inv.id, inv.nonce)
        attachments.append(("ticket-qr.png", "image/png", checkin.qr_png(scan_url)))
        attachments.append(("ticket-qr.svg", "image/svg+xml", checkin.qr_svg_file(scan_url)))
    with force_locale(lang):
        expires = (format_datetime(inv.offer_expires_at, "medium",
                                   tzinfo=ZoneInfo(event.timezone), locale=lang)
                   if inv.offer_expires_at else "")
        context = dict(kind=kind, event=event, name=member.display_name, url=url, lang=lang,
                       when=notifications.when_text(event, lang), plus_one=inv.plus_one,
                       position=inv.waitlist_position, expires=expires,
                       ticket_url=f"{url}/ticket" if kind == "accepted" else None)
        subject = _subject(kind, event.title)
        env = current_app.jinja_env
        text = env.get_template("events/mail/rsvp_mail.txt").render(**context)
        html = env.get_template("events/mail/rsvp_mail.html").render(subject=subject, **context)
    message = build_message(
        to=member.email, to_name=member.display_name, subject=subject, text=text, html=html,
        calendar=calendar, attachments=attachments, reply_to=event.organizer_email,
        headers={"Auto-Submitted": "auto-generated", "Content-Language": lang})
    outbox.enqueue(session, message, kind=MAIL_KIND, dedupe_key=dedupe_key,
                   member_id=inv.member_id)
