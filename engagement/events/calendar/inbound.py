"""Calendar replies by mail (iMIP): apply METHOD:REPLY answers like an online RSVP.

Matching (RFC 5546 §3.2.3, RFC 6047 §3.1): the reply's UID names the event; its ATTENDEE is
authoritative for who answers, and the mail's From (or Sender) must be that attendee or the
SENT-BY delegate named on it. There is no fallback to the From address when ATTENDEE is
missing, and no "same domain" leniency: on shared mail domains (gmail.com) that would let
anyone answer for anyone. The attendee address is matched case-insensitively against the
e-mail of the members invited to that event only.

Order and repeats: a reply counts from its DTSTAMP. An applied reply stores its DTSTAMP
(never later than now) as the invitation's `responded_at`, so of two replies in one mailbox
the newer wins whatever order they are read in, an online answer given after the mail was
written wins over it ("stale"), and reading the same mail again changes nothing.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...community.models import Member
from ..models import Event, Invitation
from ..rsvp import services as rsvp
from . import imip

APPLIED, IGNORED, SKIPPED = "applied", "ignored", "skipped"
IGNORE_AMBIGUOUS = "ambiguous_attendee"
IGNORE_CLOSED = "rsvp_closed"
IGNORE_NOT_ALLOWED = "rsvp_not_allowed"
IGNORE_INVALID = "rsvp_invalid"


@dataclass(frozen=True)
class Outcome:
    """What happened to one reply (or to a whole message that had none)."""

    result: str  # applied | ignored | skipped
    message_id: str
    reason: str | None = None  # machine code (imip.SKIP_* / imip.IGNORE_* / above)
    detail: str = ""
    uid: str | None = None
    attendee: str | None = None
    partstat: str | None = None
    invitation_id: int | None = None
    status: str | None = None  # the invitation's status afterwards (applied only)

    def line(self) -> str:
        """One report line: `applied <id> ...`, `ignored: <reason> <id> (...)`."""
        head = self.result if self.reason is None else f"{self.result}: {self.reason}"
        parts = [head, self.message_id or "(no Message-ID)"]
        if self.uid:
            parts.append(f"uid={self.uid}")
        if self.attendee:
            parts.append(f"attendee={self.attendee}")
        if self.result == APPLIED:
            parts.append(f"{self.partstat} -> {self.status}")
        elif self.detail:
            parts.append(f"({self.detail})")
        return " ".join(parts)

    def as_json(self) -> dict:
        return asdict(self)


def _invitations_for(session: Session, event_id: int, address: str) -> list[Invitation]:
    # Member e-mails are stored as imported (mixed case); lower() runs only over this event's
    # invitees (reached by the (event_id, member_id) unique index), never the member table.
    return list(session.scalars(
        select(Invitation).join(Member, Member.id == Invitation.member_id)
        .where(Invitation.event_id == event_id, func.lower(Member.email) == address)
        .order_by(Invitation.id)))


def _apply(session: Session, parsed: imip.ParsedMail, reply: imip.CalendarReply,
           event: Event | None, message_id: str, *, now: datetime) -> Outcome:
    attendee = imip.answering_attendee(reply, parsed.senders)
    shown = attendee or (reply.attendees[0] if reply.attendees else None)
    base = dict(message_id=message_id, uid=reply.uid or None,
                attendee=shown.email if shown else None,
                partstat=shown.partstat if shown else None)
    if event is None:
        return Outcome(IGNORED, reason=imip.IGNORE_UNKNOWN_UID,
                       detail="no event has this UID", **base)
    invitations = (_invitations_for(session, event.id, attendee.email)
                   if attendee is not None else [])
    if len(invitations) > 1:
        # Two member records with one address, both invited: which one answers is a guess.
        return Outcome(IGNORED, reason=IGNORE_AMBIGUOUS, detail=f"{len(invitations)} "
                       "invitations have this address; answer by the invitation link", **base)
    invitation = invitations[0] if invitations else None
    decision = imip.decide(
        reply, attendee, event_sequence=event.sequence,
        invitation_status=None if invitation is None else invitation.status,
        responded_at=None if invitation is None else invitation.responded_at)
    if decision.status is None:
        return Outcome(IGNORED, reason=decision.reason, detail=decision.detail,
                       invitation_id=invitation.id if invitation else None, **base)
    assert invitation is not None  # decide() only applies replies of invited people
    try:
        result = rsvp.respond(session, invitation, decision.status, now=now, source="calendar")
    except rsvp.RsvpClosed as exc:
        return Outcome(IGNORED, reason=IGNORE_CLOSED, detail=str(exc),
                       invitation_id=invitation.id, **base)
    except rsvp.RsvpNotAllowed as exc:
        return Outcome(IGNORED, reason=IGNORE_NOT_ALLOWED, detail=str(exc),
                       invitation_id=invitation.id, **base)
    except rsvp.RsvpInvalid as exc:
        return Outcome(IGNORED, reason=IGNORE_INVALID, detail=str(exc),
                       invitation_id=invitation.id, **base)
    if not result.changed:
        return Outcome(IGNORED, reason=imip.IGNORE_UNCHANGED, detail=f"already {result.status}",
                       invitation_id=invitation.id, **base)
    if reply.dtstamp is not None:
        # The answer's own time, not the time we read it: see the module docstring.
        invitation.responded_at = min(reply.dtstamp, now)
        session.flush()
    return Outcome(APPLIED, invitation_id=invitation.id, status=result.status, **base)


def ingest_message(session: Session, raw: bytes, *, now: datetime,
                   label: str = "") -> list[Outcome]:
    """Apply the calendar replies in one RFC 822 message; one outcome per reply (flushes)."""
    parsed = imip.parse_message(raw)
    message_id = parsed.message_id or label
    if parsed.skipped is not None:
        detail = parsed.detail or imip.SKIP_TEXT.get(parsed.skipped, "")
        return [Outcome(SKIPPED, message_id, reason=parsed.skipped, detail=detail)]
    uids = {r.uid for r in parsed.replies if r.uid}
    events = {e.uid: e for e in session.scalars(select(Event).where(Event.uid.in_(uids)))}
    return [_apply(session, parsed, reply, events.get(reply.uid), message_id, now=now)
            for reply in parsed.replies]


def counts(outcomes: list[Outcome]) -> dict[str, int]:
    """{applied, ignored, skipped: how many outcomes had that result}."""
    found = Counter(o.result for o in outcomes)
    return {k: found.get(k, 0) for k in (APPLIED, IGNORED, SKIPPED)}
