"""Calendar replies by mail (iMIP): apply METHOD:REPLY answers like an online RSVP.

Matching (RFC 5546 §3.2.3, RFC 6047 §3.1): the reply's UID names the event; its ATTENDEE is
authoritative for who answers, and the mail's From must be that attendee or, with SENT-BY,
a delegate recorded for that member (delegates.py); an unrecorded SENT-BY is ignored. There
is no fallback to the From address when ATTENDEE is
missing, and no "same domain" leniency: on shared mail domains (gmail.com) that would let
anyone answer for anyone. The attendee address is matched case-insensitively against the
e-mail of the members invited to that event only.

Authentication (authres.py): when the operator's receiving server (INBOUND_AUTHSERV_ID)
says DMARC, or DKIM and SPF, failed for the From domain, the reply is ignored
("auth_failed"). Without such a header a reply counts as before, From matching the
attendee or a recorded delegate; INBOUND_REQUIRE_AUTH makes a trusted pass a requirement
("auth_required"). Every outcome is kept in the reply log, for managers to see.

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
from . import authres, imip
from .delegates import delegates_of
from .models import CalendarReplyLog

APPLIED, IGNORED, SKIPPED = "applied", "ignored", "skipped"
IGNORE_AMBIGUOUS = "ambiguous_attendee"
IGNORE_CLOSED = "rsvp_closed"
IGNORE_NOT_ALLOWED = "rsvp_not_allowed"
IGNORE_INVALID = "rsvp_invalid"
IGNORE_AUTH_FAILED = "auth_failed"
IGNORE_AUTH_REQUIRED = "auth_required"


@dataclass(frozen=True)
class AuthPolicy:
    """Which Authentication-Results header to trust, and whether a pass is required."""

    authserv_id: str | None = None
    require: bool = False

    @classmethod
    def from_config(cls, config) -> AuthPolicy:
        return cls(authserv_id=config.get("INBOUND_AUTHSERV_ID") or None,
                   require=bool(config.get("INBOUND_REQUIRE_AUTH")))


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
    sender: str | None = None  # the mail's From address
    event_id: int | None = None
    auth: str = ""  # what the trusted receiving server said, when it said anything

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


def _delegates(session: Session, event_id: int, reply: imip.CalendarReply,
               senders: frozenset[str]) -> dict[str, frozenset[str]]:
    """{attendee address: recorded delegates} for attendees whose SENT-BY sent the mail."""
    claimed = {a.email for a in reply.attendees if a.sent_by and a.sent_by in senders}
    out = {}
    for address in claimed:
        member_ids = [i.member_id for i in _invitations_for(session, event_id, address)]
        recorded = delegates_of(session, member_ids)
        out[address] = frozenset(e for emails in recorded.values() for e in emails)
    return out


def _apply(session: Session, parsed: imip.ParsedMail, reply: imip.CalendarReply,
           event: Event | None, message_id: str, verdict: authres.Verdict,
           policy: AuthPolicy, *, now: datetime) -> Outcome:
    delegates = ({} if event is None
                 else _delegates(session, event.id, reply, parsed.senders))
    attendee = imip.answering_attendee(reply, parsed.senders, delegates)
    claimed = imip.claimed_delegate(reply, parsed.senders)
    shown = attendee or claimed or (reply.attendees[0] if reply.attendees else None)
    base = dict(message_id=message_id, uid=reply.uid or None,
                attendee=shown.email if shown else None,
                partstat=shown.partstat if shown else None,
                sender=min(parsed.senders) if parsed.senders else None,
                event_id=event.id if event is not None else None,
                auth=verdict.detail if verdict.state != authres.NONE else "")
    if event is None:
        return Outcome(IGNORED, reason=imip.IGNORE_UNKNOWN_UID,
                       detail="no event has this UID", **base)
    if verdict.state == authres.FAIL:
        return Outcome(IGNORED, reason=IGNORE_AUTH_FAILED, detail="the receiving server "
                       f"could not authenticate the sender ({verdict.detail})"[:500], **base)
    if policy.require and verdict.state != authres.PASS:
        return Outcome(IGNORED, reason=IGNORE_AUTH_REQUIRED, detail="INBOUND_REQUIRE_AUTH is "
                       f"on and there is no trusted pass ({verdict.detail})"[:500], **base)
    lookup = attendee or claimed
    invitations = (_invitations_for(session, event.id, lookup.email)
                   if lookup is not None else [])
    if attendee is not None and len(invitations) > 1:
        # Two member records with one address, both invited: which one answers is a guess.
        return Outcome(IGNORED, reason=IGNORE_AMBIGUOUS, detail=f"{len(invitations)} "
                       "invitations have this address; answer by the invitation link", **base)
    invitation = invitations[0] if len(invitations) == 1 else None
    decision = imip.decide(
        reply, attendee, event_sequence=event.sequence,
        invitation_status=None if invitation is None else invitation.status,
        responded_at=None if invitation is None else invitation.responded_at,
        claimed=claimed)
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


def ingest_message(session: Session, raw: bytes, *, now: datetime, label: str = "",
                   source: str = "cli", policy: AuthPolicy | None = None) -> list[Outcome]:
    """Apply the calendar replies in one RFC 822 message; one outcome per reply, each kept in
    the reply log (flushes). `policy` defaults to the app's INBOUND_* settings."""
    if policy is None:
        from flask import current_app

        policy = AuthPolicy.from_config(current_app.config)
    parsed = imip.parse_message(raw)
    message_id = parsed.message_id or label
    sender = min(parsed.senders) if parsed.senders else None
    if parsed.skipped is not None:
        detail = parsed.detail or imip.SKIP_TEXT.get(parsed.skipped, "")
        outcomes = [Outcome(SKIPPED, message_id, reason=parsed.skipped, detail=detail,
                            sender=sender)]
    else:
        from_domain = sender.rsplit("@", 1)[1] if sender else ""
        verdict = authres.verdict(parsed.auth_results, policy.authserv_id, from_domain)
        uids = {r.uid for r in parsed.replies if r.uid}
        events = {e.uid: e for e in session.scalars(select(Event).where(Event.uid.in_(uids)))}
        outcomes = [_apply(session, parsed, reply, events.get(reply.uid), message_id, verdict,
                           policy, now=now) for reply in parsed.replies]
    log(session, outcomes, now=now, source=source)
    return outcomes


def log(session: Session, outcomes: list[Outcome], *, now: datetime, source: str) -> None:
    """Keep the outcomes in the reply log (flush only)."""
    session.add_all(CalendarReplyLog(
        received_at=now, source=source[:16], message_id=(o.message_id or "")[:255],
        sender=(o.sender or "")[:255], event_id=o.event_id, invitation_id=o.invitation_id,
        uid=(o.uid or None) and o.uid[:255], attendee=o.attendee and o.attendee[:255],
        partstat=o.partstat and o.partstat[:32], result=o.result, reason=o.reason,
        detail=(o.detail or "")[:500], auth=(o.auth or "")[:300]) for o in outcomes)
    session.flush()


def reply_log_query(event_id: int, result: str | None = None):
    """The event's logged replies, newest first; `result` keeps only applied or ignored."""
    stmt = select(CalendarReplyLog).where(CalendarReplyLog.event_id == event_id)
    if result in (APPLIED, IGNORED):
        stmt = stmt.where(CalendarReplyLog.result == result)
    return stmt.order_by(CalendarReplyLog.received_at.desc(), CalendarReplyLog.id.desc())


def counts(outcomes: list[Outcome]) -> dict[str, int]:
    """{applied, ignored, skipped: how many outcomes had that result}."""
    found = Counter(o.result for o in outcomes)
    return {k: found.get(k, 0) for k in (APPLIED, IGNORED, SKIPPED)}
