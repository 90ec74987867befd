"""RSVP use cases: answer an invitation, remind non-responders, counts, waiting-list order.

`respond` locks the event (waitlist.lock_event), asks the pure `rules.decide` what the
answer does, applies it, audits and queues the mail. Functions here flush only; the
request (or CLI) commits.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ... import audit
from ...community.models import Member
from .. import notifications
from ..models import Event, EventConsent, EventStatus, Invitation, InvitationStatus
from . import rules
from .consents import (
    accept_agreement,
    agreement_accepted,
    agreement_choices,
    current_consents,
    event_consents,
    record_consents,
    required_agreement,
)
from .mails import MAIL_KIND, send_rsvp_mail
from .rules import RsvpStatus
from .waitlist import (
    action_needed_hours,
    expire_event_offers,
    expire_locked,
    expire_offers,
    join_waitlist,
    leave_waitlist,
    lock_event,
    make_offers,
    offer_free_seats,
    seats,
    waitlist_length,
)

__all__ = ["MAIL_KIND", "RsvpClosed", "incomplete", "RsvpInvalid", "RsvpNotAllowed", "RsvpResult",
           "RsvpStatus", "agreement_choices", "current_consents", "event_consents",
           "expire_event_offers", "required_agreement",
           "expire_offers", "offer_free_seats", "respond"]

BATCH = 1000
W = InvitationStatus.WAITLISTED


class RsvpClosed(Exception):
    """The RSVP deadline has passed (or the event has started)."""


class RsvpNotAllowed(Exception):
    """The invitation cannot be answered (event not published/cancelled, invitation
    withdrawn, plus-one not allowed, no seat for an added plus-one, unknown status)."""


RsvpInvalid = rules.RsvpRuleError  # answers/consents invalid; `.errors` per field


@dataclass(frozen=True)
class RsvpResult:
    """What an answer did: the status afterwards and who was offered a freed seat."""

    invitation_id: int
    status: InvitationStatus
    waitlist_position: int | None
    changed: bool
    promoted: list[int] = field(default_factory=list)  # invitation ids offered a seat
    # The seat is held until then while required answers or consents are missing.
    action_needed_until: datetime | None = None
    missing: list[str] = field(default_factory=list)  # "q<id>" / "consent:<key>"


def _refuse(reason: rules.Refusal) -> None:
    if reason.closed:
        raise RsvpClosed(reason.value)
    raise RsvpNotAllowed(reason.value)


def _questions(event: Event) -> list[rules.Question]:
    return [rules.Question(q.id, q.kind, q.label, tuple(q.choices or ()), q.required)
            for q in event.questions]


def _facts(session: Session, event: Event, inv: Invitation, wanted: RsvpStatus,
           plus_one: bool | None, *, now: datetime, by_manager: bool = False,
           overbook: bool = False) -> rules.RsvpFacts:
    """What `rules.decide` needs, read under the event's lock."""
    new_plus = rules.plus_one_after(plus_one, bool(inv.plus_one), event.plus_one_allowed)
    seat_free = others_waiting = False
    if wanted == RsvpStatus.ACCEPTED:
        taken, reserved = seats(session, event.id, exclude=inv.id)
        seat_free = rules.has_seat(capacity=event.capacity, taken=taken, reserved=reserved,
                                   needed=rules.seats_needed(new_plus))
        if inv.status not in (InvitationStatus.ACCEPTED, W) and seat_free:
            others_waiting = waitlist_length(session, event.id) > 0
    return rules.RsvpFacts(
        old=inv.status, wanted=wanted, plus_one_before=bool(inv.plus_one), plus_one=new_plus,
        plus_one_asked=bool(plus_one), plus_one_allowed=event.plus_one_allowed,
        closed=rules.is_closed(deadline=event.rsvp_deadline, starts_at=event.starts_at,
                               now=now),
        seat_free=seat_free,
        offer_held=inv.offer_expires_at is not None and inv.offer_expires_at > now,
        others_waiting=others_waiting, capacity_limited=bool(event.capacity),
        started=rules.has_started(starts_at=event.starts_at, now=now),
        by_manager=by_manager, overbook=overbook,
        action_needed=inv.action_needed_until is not None and inv.action_needed_until > now)


def _apply(session: Session, event: Event, inv: Invitation, decision: rules.Decision,
           plus_one: bool) -> None:
    """Carry out an accepted decision on the (locked) invitation."""
    old = inv.status
    inv.plus_one = plus_one
    if old == W and decision.leaves_waitlist:
        leave_waitlist(session, inv)
    if decision.action == rules.Action.WAITLIST:
        join_waitlist(session, event, inv)
    elif decision.status is not None:
        inv.status = decision.status


def _load_locked(session: Session, invitation: Invitation) -> tuple[Event, Invitation]:
    event = lock_event(session, invitation.event_id)
    inv = session.execute(select(Invitation).where(Invitation.id == invitation.id)
                          .execution_options(populate_existing=True)).scalar_one()
    return event, inv


def _missing(session: Session, event: Event, inv: Invitation, answers: dict | None,
             defs: list[EventConsent], given: dict[str, bool] | None) -> list[str]:
    """What a seat holder still owes: required answers, and required consents given to
    the current version (`given` None: the latest recorded answers count)."""
    if given is None:
        defs = event_consents(session, event.id)
        latest = current_consents(session, inv.id)
        given = {c.key: bool(latest.get(c.key) and latest[c.key].given
                             and latest[c.key].version == c.version) for c in defs}
    return rules.missing_for_attendance(
        _questions(event), answers,
        [rules.Consent(c.key, c.text, c.version, c.required) for c in defs], given)


def respond(session: Session, invitation: Invitation, status: RsvpStatus | str, *,
            now: datetime, answers: Mapping[str, object] | None = None,
            plus_one: bool | None = None, consents: Mapping[str, bool] | None = None,
            source: str = "web", actor: str | None = None, by_manager: bool = False,
            overbook_reason: str | None = None,
            consent_source: str | None = None, agreement: bool = False) -> RsvpResult:
    """Answer an invitation. `answers`/`plus_one`/`consents` None keep what was given before
    (calendar replies carry none of them): an accept that leaves required answers or
    consents missing holds the seat for a limited time ("action needed") and mails the
    member a link to complete it. `by_manager` answers on the member's behalf (also after
    the deadline); `overbook_reason` seats them beyond capacity. `consent_source` is
    recorded with consent answers (who, and how the member gave them). `agreement` True
    accepts the agreement the event requires (its current version) with a "yes"; a "yes"
    without it, by any channel, is invalid unless the member accepted that version before.
    Raises RsvpClosed, RsvpNotAllowed, RsvpInvalid."""
    try:
        wanted = RsvpStatus(str(status))
    except ValueError as exc:
        raise RsvpNotAllowed(f"unknown answer {status!r}") from exc
    overbook_reason = (overbook_reason or "").strip() or None
    if overbook_reason is not None and not by_manager:
        raise RsvpNotAllowed("Only a manager can seat someone beyond capacity.")
    event, inv = _load_locked(session, invitation)
    refusal = rules.why_not_answerable(event.status, inv.status)
    if refusal is not None:
        _refuse(refusal)
    expire_locked(session, event, now=now)
    session.refresh(inv)
    facts = _facts(session, event, inv, wanted, plus_one, now=now, by_manager=by_manager,
                   overbook=overbook_reason is not None)
    decision = rules.decide(facts)
    # Order callers see: closed and plus-one refusals first, then invalid answers, then a
    # missing seat.
    if decision.reason in (rules.Refusal.CLOSED, rules.Refusal.STARTED,
                           rules.Refusal.PLUS_ONE_NOT_ALLOWED):
        _refuse(decision.reason)
    # Only a "yes" binds what attendees need; a "maybe" need not answer them yet.
    attending = wanted == RsvpStatus.ACCEPTED
    new_answers = (rules.clean_answers(_questions(event), answers, attending=attending)
                   if answers is not None else inv.answers)
    defs = event_consents(session, event.id) if consents is not None else []
    given = (rules.check_consents(
        [rules.Consent(c.key, c.text, c.version, c.required) for c in defs], consents,
        attending=attending) if consents is not None else {})
    needed = _agreement_needed(session, event, inv, wanted, agreement)
    if decision.reason is not None:
        _refuse(decision.reason)
    if needed is not None:
        accept_agreement(session, inv.member_id, needed, source=f"rsvp:{source}"[:64],
                         now=now, actor=actor)
    before = {"status": str(inv.status), "plus_one": bool(inv.plus_one),
              "waitlist_position": inv.waitlist_position}
    if inv.action_needed_until is not None:
        before["action_needed_until"] = inv.action_needed_until
    _apply(session, event, inv, decision, facts.plus_one)
    consents_changed = (record_consents(session, inv, defs, given, now=now,
                                        source=consent_source or source)
                        if defs else False)
    answers_changed = new_answers != inv.answers
    inv.answers = new_answers
    missing = (_missing(session, event, inv, new_answers, defs,
                        given if consents is not None else None)
               if inv.status == InvitationStatus.ACCEPTED else [])
    held_before = inv.action_needed_until
    if missing:
        # Keep the first hold: answering again by calendar does not extend it.
        if held_before is None or held_before <= now:
            inv.action_needed_until = rules.offer_expiry(now, action_needed_hours(),
                                                         starts_at=event.starts_at)
    else:
        inv.action_needed_until = None
    hold_changed = inv.action_needed_until != held_before
    changed = (inv.status != facts.old or bool(inv.plus_one) != before["plus_one"]
               or answers_changed or consents_changed or hold_changed or needed is not None)
    if changed:
        inv.responded_at = now
        inv.rsvp_source = source[:16]
    session.flush()
    promoted = make_offers(session, event, now=now) if decision.offer_waiting else []
    if changed:
        after = {"status": str(inv.status), "plus_one": bool(inv.plus_one),
                 "waitlist_position": inv.waitlist_position, "source": source}
        if answers_changed:
            after["answers"] = new_answers
        if consents_changed:
            after["consents"] = given
            after["consent_source"] = consent_source or source
        if missing:
            after["action_needed_until"] = inv.action_needed_until
            after["missing"] = missing
        if by_manager:
            after["by_manager"] = True
            if facts.closed:
                after["after_deadline"] = True
        if decision.overbooked:
            after["overbooked"] = overbook_reason
        if wanted == RsvpStatus.ACCEPTED and event.required_agreement_key:
            required = required_agreement(session, event)
            if required is not None:  # the version the "yes" was given under
                after["agreement"] = {"key": required.key, "version": required.version}
        audit.record(session, "invitation.rsvp", "invitation", inv.id, before=before,
                     after=after, actor=actor, at=now)
        send_rsvp_mail(session, event, inv, rules.mail_kind(
            inv.status, facts.old, action_needed=bool(missing)), now=now)
    session.flush()
    return RsvpResult(inv.id, inv.status, inv.waitlist_position, changed, promoted,
                      inv.action_needed_until, missing)


def incomplete(session: Session, event_id: int) -> list[Invitation]:
    """Seat holders whose answer still misses required answers or consents (for managers)."""
    return list(session.scalars(select(Invitation).where(
        Invitation.event_id == event_id, Invitation.status == InvitationStatus.ACCEPTED,
        Invitation.action_needed_until.is_not(None)).order_by(Invitation.action_needed_until)))


def _agreement_needed(session: Session, event: Event, inv: Invitation, wanted: RsvpStatus,
                      agreement: bool):
    """The required agreement to accept with this "yes" (None when none is needed); raises
    RsvpInvalid when a "yes" lacks it. Only a "yes" needs it: a maybe holds no seat."""
    if wanted != RsvpStatus.ACCEPTED:
        return None
    required = required_agreement(session, event)
    if required is None or agreement_accepted(session, inv.member_id, required):
        return None
    if not agreement:
        raise RsvpInvalid({f"agreement:{required.key}": "required"})
    return required


def status_counts(session: Session, event_id: int) -> dict[str, int]:
    """Counts per status for the manager view, with "no answer" (still invited)."""
    counts = {str(s): 0 for s in InvitationStatus}
    for status, n in session.execute(
            select(Invitation.status, func.count()).where(Invitation.event_id == event_id)
            .group_by(Invitation.status)):
        counts[str(status)] = n
    counts["total"] = sum(counts.values())
    counts["plus_ones"] = session.scalar(select(func.count()).where(
        Invitation.event_id == event_id, Invitation.status == InvitationStatus.ACCEPTED,
        Invitation.plus_one.is_(True))) or 0
    return counts


class WaitlistOrderLocked(Exception):
    """The waiting-list order can only change while nobody is waiting."""


def set_waitlist_order(session: Session, event: Event, *, by_tier: bool) -> bool:
    """First come, or tier priority; True when it changed. Raises WaitlistOrderLocked."""
    if by_tier == event.waitlist_by_tier:
        return False
    if waitlist_length(session, event.id):
        raise WaitlistOrderLocked("The waiting-list order can only change while nobody is "
                                  "waiting.")
    event.waitlist_by_tier = by_tier
    audit.record(session, "event.waitlist_order", "event", event.id,
                 before={"waitlist_by_tier": not by_tier}, after={"waitlist_by_tier": by_tier})
    return True


class NotPublished(Exception):
    """Only a published event's invitees can be reminded."""


def remind_non_responders(session: Session, event: Event, *, now: datetime) -> int:
    """Queue a reminder to everyone invited who has not answered (at most once a day)."""
    if event.status != EventStatus.PUBLISHED:
        raise NotPublished("Only a published event's invitees can be reminded.")
    # The day in the dedupe key: a second click the same day queues nothing new.
    n = notifications.enqueue_mails(session, event, _non_responders(session, event.id),
                                    kind="reminder", now=now,
                                    key_part=f"nudge:{now.date().isoformat()}:")
    session.execute(update(Invitation).where(
        Invitation.event_id == event.id, Invitation.status == InvitationStatus.INVITED)
        .values(reminded_at=now).execution_options(synchronize_session=False))
    audit.record(session, "event.remind_non_responders", "event", event.id,
                 after={"queued": n}, at=now)
    return n


def _non_responders(session: Session, event_id: int) -> Iterator[notifications.Recipient]:
    query = (select(Invitation.id, Invitation.nonce, Invitation.status, Member.display_name,
                    Member.email, Member.locale)
             .join(Member, Member.id == Invitation.member_id)
             .where(Invitation.event_id == event_id,
                    Invitation.status == InvitationStatus.INVITED,
                    Member.email.is_not(None), Member.email != ""))
    last = 0
    while True:
        rows = session.execute(query.where(Invitation.id > last)
                               .order_by(Invitation.id).limit(BATCH)).all()
        if not rows:
            return
        for r in rows:
            yield notifications.Recipient(r[0], r[1], str(r[2]), r[3], r[4], r[5])
        last = rows[-1][0]


def guest_list_batches(session: Session, event_id: int, *,
                       batch: int = BATCH) -> Iterator[list[tuple[Invitation, str, str | None]]]:
    """The event's invitations with name and e-mail, in id order, `batch` rows at a time
    (keyset pages: a big event's list is streamed, never loaded at once)."""
    last = 0
    while True:
        rows = session.execute(
            select(Invitation, Member.display_name, Member.email)
            .join(Member, Member.id == Invitation.member_id)
            .where(Invitation.event_id == event_id, Invitation.id > last)
            .order_by(Invitation.id).limit(batch)).all()
        if not rows:
            return
        yield [tuple(r) for r in rows]
        last = rows[-1][0].id


def consent_keys(session: Session, event_id: int) -> list[str]:
    """The keys of the event's consents, in order (export columns)."""
    return [c.key for c in session.scalars(select(EventConsent).where(
        EventConsent.event_id == event_id).order_by(EventConsent.id))]
