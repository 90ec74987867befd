"""Pure RSVP rules: the answer's state machine, deadline, seats, waiting list, consents.

No Flask, no SQLAlchemy: the use case in rsvp/services.py loads the facts under the event's
lock and asks `decide` what to do, then applies the decision.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..rules import EventStatus, InvitationStatus

MAX_ANSWER_LENGTH = 2000
DEFAULT_OFFER_HOURS = 48
DEFAULT_ACTION_NEEDED_HOURS = 48
OFFER_EXPIRED_SOURCE = "offer-expired"  # rsvp_source of an offer nobody took in time
HOLD_EXPIRED_SOURCE = "hold-expired"    # rsvp_source of an incomplete answer that lapsed


class RsvpRuleError(ValueError):
    """Invalid answers; `errors` maps a field ("q<id>", "consent:<key>", "plus_one") to a code."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def is_closed(*, deadline: datetime | None, starts_at: datetime, now: datetime) -> bool:
    """New answers close at the deadline, or at the start when there is none (declining
    and cancelling stay possible until the start: see `decide`)."""
    return now >= (deadline or starts_at)


def has_started(*, starts_at: datetime, now: datetime) -> bool:
    """From the start on no answer changes any more (the door list takes over)."""
    return now >= starts_at


def seats_needed(plus_one: bool) -> int:
    return 2 if plus_one else 1


def has_seat(*, capacity: int | None, taken: int, reserved: int, needed: int) -> bool:
    """Whether `needed` seats are free; offered seats are reserved for their holders."""
    return capacity is None or taken + reserved + needed <= capacity


def waitlist_position(*, by_tier: bool, rank: int | None,
                      ranks_ahead: Sequence[int | None], length: int) -> int:
    """1-based place of a newcomer: the end (first come), or after everyone of equal or
    higher tier rank (tier priority; no tier counts as lowest)."""
    if not by_tier:
        return length + 1
    mine = -1 if rank is None else rank
    return 1 + sum(1 for r in ranks_ahead if (-1 if r is None else r) >= mine)


def offers_to_make(*, capacity: int | None, taken: int, reserved: int,
                   queue: Iterable[bool]) -> int:
    """How many of the waiting list's head (in order; items are their plus-one flags) get
    an offer. Strictly in order: a head that needs two seats where one is free waits, and
    nobody behind them is offered the seat first."""
    free = None if capacity is None else capacity - taken - reserved
    n = 0
    for plus_one in queue:
        need = seats_needed(plus_one)
        if free is not None and need > free:
            break
        if free is not None:
            free -= need
        n += 1
    return n


def offer_expiry(now: datetime, hours: int, *, starts_at: datetime | None = None) -> datetime:
    """Until when a freed seat (or an incomplete answer's seat) is held: `hours` from now,
    but never past the event's start, where nobody can take a seat any more."""
    until = now + timedelta(hours=max(1, int(hours)))
    return until if starts_at is None else min(until, starts_at)


@dataclass(frozen=True)
class Question:
    id: int
    kind: str  # text | choice
    label: str
    choices: tuple[str, ...]
    required: bool


@dataclass(frozen=True)
class Consent:
    key: str
    text: str
    version: int
    required: bool


def clean_answers(questions: Sequence[Question], raw: Mapping[str, object] | None, *,
                  attending: bool) -> dict[str, str]:
    """{question id (str): answer}; required questions only bind people who attend (a
    "yes": a "maybe" is not asked for what only attendees need)."""
    raw = raw or {}
    answers: dict[str, str] = {}
    errors: dict[str, str] = {}
    for q in questions:
        value = raw.get(str(q.id), raw.get(q.id))  # type: ignore[call-overload]
        text = "" if value is None else str(value).strip()
        if len(text) > MAX_ANSWER_LENGTH:
            errors[f"q{q.id}"] = "too_long"
            continue
        if q.kind == "choice" and text and text not in q.choices:
            errors[f"q{q.id}"] = "invalid_choice"
            continue
        if not text:
            if q.required and attending:
                errors[f"q{q.id}"] = "required"
            continue
        answers[str(q.id)] = text
    if errors:
        raise RsvpRuleError(errors)
    return answers


def check_consents(consents: Sequence[Consent], given: Mapping[str, bool] | None, *,
                   attending: bool) -> dict[str, bool]:
    """{key: given} for every consent of the event; required ones must be given to attend."""
    given = given or {}
    result = {c.key: bool(given.get(c.key, False)) for c in consents}
    errors = {f"consent:{c.key}": "required" for c in consents
              if c.required and attending and not result[c.key]}
    if errors:
        raise RsvpRuleError(errors)
    return result


def missing_for_attendance(questions: Sequence[Question], answers: Mapping[str, str] | None,
                           consents: Sequence[Consent],
                           given: Mapping[str, bool] | None) -> list[str]:
    """What an attendee still owes: "q<id>" of unanswered required questions and
    "consent:<key>" of required consents not given (to the current version)."""
    answers = answers or {}
    given = given or {}
    missing = [f"q{q.id}" for q in questions
               if q.required and not str(answers.get(str(q.id), "")).strip()]
    missing += [f"consent:{c.key}" for c in consents if c.required and not given.get(c.key)]
    return missing


# --- the answer's state machine ----------------------------------------------------------

class RsvpStatus(enum.StrEnum):
    """The answers an invitee can give."""

    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"


class Refusal(enum.Enum):
    """Why an answer is refused; the value is the message callers show (and translate)."""

    EVENT_CANCELLED = "The event is cancelled."
    EVENT_NOT_PUBLISHED = "The event is not published."
    INVITATION_WITHDRAWN = "The invitation was withdrawn."
    CLOSED = "RSVPs for this event are closed."
    STARTED = "The event has started: answers can no longer change."
    PLUS_ONE_NOT_ALLOWED = "This event does not allow a plus-one."
    NO_SEAT_FOR_PLUS_ONE = "There is no seat left for a plus-one."

    @property
    def closed(self) -> bool:
        """The deadline passed or the event started (RsvpClosed) rather than the answer
        being impossible."""
        return self in (Refusal.CLOSED, Refusal.STARTED)


class Action(enum.Enum):
    """What happens to the invitation."""

    ACCEPT = "accept"            # holds a seat: newly, from an offer, or keeps it
    WAITLIST = "waitlist"        # joins the waiting list
    KEEP_WAITING = "keep_waiting"  # stays where it is on the waiting list (no offer held)
    TENTATIVE = "tentative"      # maybe: holds no seat
    DECLINE = "decline"          # not coming
    REFUSE = "refuse"            # nothing changes; `reason` says why


@dataclass(frozen=True)
class RsvpFacts:
    """What the service knows under the event's lock when someone answers."""

    old: InvitationStatus
    wanted: RsvpStatus
    plus_one_before: bool
    plus_one: bool               # the plus-one after the answer (plus_one_after)
    plus_one_asked: bool = False  # the answer itself asks for a plus-one
    plus_one_allowed: bool = False
    closed: bool = False         # deadline (or start) passed
    seat_free: bool = False      # enough seats for this answer, others' offers reserved
    offer_held: bool = False     # a waitlisted person's offer is open
    others_waiting: bool = False  # somebody is on the waiting list
    capacity_limited: bool = False  # the event has a capacity
    started: bool = False        # the event has started
    by_manager: bool = False     # a manager answers on the invitee's behalf
    overbook: bool = False       # the manager seats them beyond capacity (with a reason)
    action_needed: bool = False  # holds a seat whose answers or consents are incomplete


@dataclass(frozen=True)
class Decision:
    """The answer's outcome: what to do, and whether the waiting list's head gets offers."""

    action: Action
    reason: Refusal | None = None
    offer_waiting: bool = False  # a seat may be free now: offer it to the waiting list
    overbooked: bool = False     # seated beyond capacity (or ahead of the list) by a manager

    @property
    def status(self) -> InvitationStatus | None:
        """The invitation's status afterwards (None for a refusal)."""
        return _STATUS_AFTER.get(self.action)

    @property
    def leaves_waitlist(self) -> bool:
        return self.action in (Action.ACCEPT, Action.TENTATIVE, Action.DECLINE)


_STATUS_AFTER = {
    Action.ACCEPT: InvitationStatus.ACCEPTED, Action.WAITLIST: InvitationStatus.WAITLISTED,
    Action.KEEP_WAITING: InvitationStatus.WAITLISTED,
    Action.TENTATIVE: InvitationStatus.TENTATIVE, Action.DECLINE: InvitationStatus.DECLINED,
}


def why_not_answerable(event_status: EventStatus,
                       invitation_status: InvitationStatus) -> Refusal | None:
    """Refusals that hold whatever the answer (checked before any offer expires)."""
    if event_status != EventStatus.PUBLISHED:
        return (Refusal.EVENT_CANCELLED if event_status == EventStatus.CANCELLED
                else Refusal.EVENT_NOT_PUBLISHED)
    if invitation_status == InvitationStatus.CANCELLED:
        return Refusal.INVITATION_WITHDRAWN
    return None


def plus_one_after(asked: bool | None, before: bool, allowed: bool) -> bool:
    """The plus-one after an answer: None keeps what was given; never where not allowed."""
    wanted = bool(asked) if asked is not None else bool(before)
    return wanted and allowed


def allowed_after_deadline(f: RsvpFacts) -> bool:
    """After the deadline (before the start) an invitee may still say no or cancel, take
    a seat offered to them, or complete the answer of a seat they hold; managers may
    change any answer (audited)."""
    if f.by_manager or f.wanted == RsvpStatus.DECLINED:
        return True
    if f.wanted != RsvpStatus.ACCEPTED:
        return False
    if f.old == InvitationStatus.WAITLISTED:
        return f.offer_held
    return (f.old == InvitationStatus.ACCEPTED and f.action_needed
            and f.plus_one == f.plus_one_before)


def decide(f: RsvpFacts) -> Decision:
    """The answer's outcome from the facts (a pure state machine; see the unit table)."""
    if f.started:
        return Decision(Action.REFUSE, Refusal.STARTED)
    if f.closed and not allowed_after_deadline(f):
        return Decision(Action.REFUSE, Refusal.CLOSED)
    decision = _decide_open(f)
    if (f.overbook and f.by_manager and f.wanted == RsvpStatus.ACCEPTED
            and decision.action in (Action.WAITLIST, Action.KEEP_WAITING, Action.REFUSE)
            and decision.reason in (None, Refusal.NO_SEAT_FOR_PLUS_ONE)):
        # Deliberately beyond capacity (or ahead of the waiting list): the service
        # demands and audits the manager's reason.
        return Decision(Action.ACCEPT, overbooked=True, offer_waiting=decision.offer_waiting)
    return decision


def _decide_open(f: RsvpFacts) -> Decision:
    if f.plus_one_asked and not f.plus_one_allowed:
        return Decision(Action.REFUSE, Refusal.PLUS_ONE_NOT_ALLOWED)
    if f.wanted != RsvpStatus.ACCEPTED:
        frees = f.old == InvitationStatus.ACCEPTED or f.offer_held
        action = Action.TENTATIVE if f.wanted == RsvpStatus.TENTATIVE else Action.DECLINE
        return Decision(action, offer_waiting=frees or f.capacity_limited)
    if f.old == InvitationStatus.ACCEPTED:
        if f.plus_one and not f.plus_one_before and not f.seat_free:
            return Decision(Action.REFUSE, Refusal.NO_SEAT_FOR_PLUS_ONE)
        frees = f.plus_one_before and not f.plus_one
        return Decision(Action.ACCEPT, offer_waiting=frees or f.capacity_limited)
    if f.old == InvitationStatus.WAITLISTED:
        if f.offer_held and not f.seat_free:
            return Decision(Action.REFUSE, Refusal.NO_SEAT_FOR_PLUS_ONE)
        action = Action.ACCEPT if f.offer_held else Action.KEEP_WAITING
        return Decision(action, offer_waiting=f.capacity_limited)
    # Nobody jumps the queue: with people waiting, a newcomer waits too.
    action = Action.ACCEPT if f.seat_free and not f.others_waiting else Action.WAITLIST
    return Decision(action, offer_waiting=f.capacity_limited)


def open_answers(*, old: InvitationStatus, closed: bool, started: bool, offer_held: bool,
                 action_needed: bool) -> tuple[RsvpStatus, ...]:
    """The answers an invitee may give now (the form's choices; mirrors `decide`): all
    before the deadline; after it, until the start, "no" (cancel) for anyone not already
    out, and "yes" to take an offered seat or complete a held one."""
    if started:
        return ()
    if not closed:
        return (RsvpStatus.ACCEPTED, RsvpStatus.TENTATIVE, RsvpStatus.DECLINED)
    answers = []
    if ((old == InvitationStatus.WAITLISTED and offer_held)
            or (old == InvitationStatus.ACCEPTED and action_needed)):
        answers.append(RsvpStatus.ACCEPTED)
    if old != InvitationStatus.DECLINED:
        answers.append(RsvpStatus.DECLINED)
    return tuple(answers)


def mail_kind(status: InvitationStatus, old: InvitationStatus, *,
              action_needed: bool = False) -> str:
    """Which RSVP mail confirms the new status ("declined" cancels a held place;
    "action-needed" asks a seat holder for the answers or consents still missing)."""
    if status == InvitationStatus.DECLINED and old != InvitationStatus.ACCEPTED:
        return "declined-plain"
    if status == InvitationStatus.ACCEPTED and action_needed:
        return "action-needed"
    return str(status)


def display_state(status: InvitationStatus | str, *, source: str | None = None,
                  action_needed: bool = False) -> str:
    """What a person reads as the answer's state: the status, except an offer nobody took
    ("offer_expired", not "declined") and a held seat still missing answers
    ("action_needed")."""
    status = str(status)
    if status == InvitationStatus.DECLINED and source == OFFER_EXPIRED_SOURCE:
        return "offer_expired"
    if status == InvitationStatus.INVITED and source == HOLD_EXPIRED_SOURCE:
        return "hold_expired"
    if status == InvitationStatus.ACCEPTED and action_needed:
        return "action_needed"
    return status
