"""Event use cases: create, edit, publish, cancel, invite; they flush, the caller commits.

Every change that invitees must know about is written to the outbox in the same
transaction (update with SEQUENCE+1, cancellation, rescheduled reminders).
"""
from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Select, and_, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .. import audit, signing
from ..community.members.services import search_members
from ..community.models import Member
from ..community.segments.services import saved_segments
from ..mail import outbox
from . import notifications
from .models import ACTIVE_STATUSES, Event, EventQuestion, EventStatus, Invitation, InvitationStatus
from .rules import (
    CALENDAR_FIELDS,
    REMINDER_FIELDS,
    EventInput,
    changed_fields,
    link_expiry,
    reminder_time,
)

BATCH = 500  # rows per INSERT/SELECT batch: below SQLite's bound-parameter limit


class EventError(Exception):
    """The action is not possible in the event's state; the message says why."""


class EventNotPublished(EventError):
    pass


class EventCancelled(EventError):
    pass


# Reasons an invitee is skipped (machine codes; the UI and API show them).
SKIP_NOT_FOUND = "not_found"
SKIP_NO_EMAIL = "no_email"
SKIP_OPTED_OUT = "opted_out"
SKIP_ALREADY_INVITED = "already_invited"
SKIP_INVALID_EMAIL = "invalid_email"


@dataclass(frozen=True)
class Skipped:
    member_id: int | None
    reason: str
    name: str = ""
    ref: str = ""  # what was asked for when it matched no member (an id or e-mail)


@dataclass
class InviteResult:
    created: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return dict(Counter(s.reason for s in self.skipped))


def new_uid(base_url: str) -> str:
    """A globally unique, never-changing iCalendar UID."""
    host = urlsplit(base_url or "").hostname or "engagement.local"
    return f"{uuid.uuid4()}@{host}"


def _snapshot(event: Event) -> dict[str, Any]:
    return {
        "title": event.title, "description": event.description, "venue": event.venue,
        "address": event.address, "starts_at": event.starts_at, "ends_at": event.ends_at,
        "timezone": event.timezone, "capacity": event.capacity,
        "rsvp_deadline": event.rsvp_deadline, "plus_one_allowed": event.plus_one_allowed,
        "per_attendee_cost": event.per_attendee_cost, "organizer_name": event.organizer_name,
        "organizer_email": event.organizer_email, "reminder_days": event.reminder_days,
        "status": str(event.status), "sequence": event.sequence,
        "required_agreement_key": event.required_agreement_key,
        "questions": [{"label": q.label, "kind": q.kind, "choices": list(q.choices or []),
                       "required": q.required} for q in event.questions],
    }


def _apply(event: Event, values: EventInput) -> None:
    for name in ("title", "description", "venue", "address", "starts_at", "ends_at",
                 "timezone", "capacity", "rsvp_deadline", "plus_one_allowed",
                 "per_attendee_cost", "organizer_name", "organizer_email", "reminder_days",
                 "required_agreement_key"):
        setattr(event, name, getattr(values, name))
    event.title = event.title.strip()
    # Questions are updated in place by position: answers given later refer to their ids.
    existing = list(event.questions)
    for i, q in enumerate(values.questions):
        row = existing[i] if i < len(existing) else EventQuestion()
        row.position, row.kind, row.label = i, q.kind, q.label.strip()
        row.choices = [c.strip() for c in q.choices if c.strip()] if q.kind == "choice" else []
        row.required = q.required
        if i >= len(existing):
            event.questions.append(row)
    for row in existing[len(values.questions):]:
        event.questions.remove(row)


def create_event(session: Session, values: EventInput, *, now: datetime, base_url: str,
                 user_id: int | None = None) -> Event:
    """A new draft event (validated values)."""
    event = Event(uid=new_uid(base_url), sequence=0, status=EventStatus.DRAFT,
                  created_by_id=user_id, created_at=now, updated_at=now)
    _apply(event, values)
    session.add(event)
    session.flush()
    audit.record(session, "event.create", "event", event.id, after=_snapshot(event), at=now)
    return event


@dataclass(frozen=True)
class UpdateResult:
    changed: list[str]
    notified: int


def update_event(session: Session, event: Event, values: EventInput, *,
                 now: datetime) -> UpdateResult:
    """Change an event; invitees get an update (same UID, SEQUENCE+1) when the entry changed."""
    if event.status == EventStatus.CANCELLED:
        raise EventCancelled("A cancelled event cannot be changed.")
    before = _snapshot(event)
    _apply(event, values)
    after = _snapshot(event)
    changed = [k for k in after if before[k] != after[k]]
    if not changed:
        return UpdateResult([], 0)
    calendar_changed = changed_fields(before, after, CALENDAR_FIELDS)
    notified = 0
    if event.status == EventStatus.PUBLISHED and calendar_changed:
        # RFC 5546: a changed event is re-sent with the same UID and a higher SEQUENCE,
        # so calendars replace the entry instead of adding a second one.
        event.sequence += 1
        after["sequence"] = event.sequence
        notified = notifications.enqueue_mails(
            session, event, _recipients(session, event.id), kind="update", now=now,
            changed=calendar_changed, key_part=f"{event.sequence}:")
    event.updated_at = now
    if event.status == EventStatus.PUBLISHED and (
            calendar_changed or changed_fields(before, after, REMINDER_FIELDS)):
        _reschedule_reminders(session, event, now=now)
    session.flush()
    audit.record(session, "event.update", "event", event.id,
                 before={k: before[k] for k in changed}, after={k: after[k] for k in changed},
                 at=now)
    return UpdateResult(changed, notified)


def publish_event(session: Session, event: Event, *, now: datetime) -> Event:
    """Draft -> published: invitations can be sent from now on."""
    if event.status == EventStatus.CANCELLED:
        raise EventCancelled("A cancelled event cannot be published.")
    if event.status == EventStatus.PUBLISHED:
        raise EventError("The event is already published.")
    event.status = EventStatus.PUBLISHED
    event.published_at = now
    event.updated_at = now
    session.flush()
    audit.record(session, "event.publish", "event", event.id, before={"status": "draft"},
                 after={"status": "published"}, at=now)
    return event


def cancel_event(session: Session, event: Event, *, now: datetime) -> int:
    """Cancel: METHOD:CANCEL to everyone invited and not declined; reminders withdrawn."""
    if event.status == EventStatus.CANCELLED:
        raise EventCancelled("The event is already cancelled.")
    previous = str(event.status)
    event.status = EventStatus.CANCELLED
    event.cancelled_at = now
    event.updated_at = now
    notified = 0
    if previous == EventStatus.PUBLISHED:
        event.sequence += 1
        outbox.cancel_pending(session, notifications.reminder_key_prefix(event.id))
        notified = notifications.enqueue_mails(
            session, event, _recipients(session, event.id), kind="cancel", now=now)
    session.flush()
    audit.record(session, "event.cancel", "event", event.id,
                 before={"status": previous}, after={"status": "cancelled",
                                                     "notified": notified}, at=now)
    return notified


def _recipients(session: Session, event_id: int,
                invitation_ids: Sequence[int] | None = None) -> Iterator[notifications.Recipient]:
    """Invitees who still expect mail about the event (not declined or cancelled)."""
    query = (
        select(Invitation.id, Invitation.nonce, Invitation.status, Member.display_name,
               Member.email, Member.locale)
        .join(Member, Member.id == Invitation.member_id)
        .where(Invitation.event_id == event_id, Invitation.status.in_(ACTIVE_STATUSES),
               Member.email.is_not(None), Member.email != "")
        .order_by(Invitation.id)
    )
    if invitation_ids is not None:
        for start in range(0, len(invitation_ids), BATCH):
            chunk = invitation_ids[start:start + BATCH]
            for row in session.execute(query.where(Invitation.id.in_(chunk))):
                yield notifications.Recipient(row[0], row[1], str(row[2]), row[3], row[4], row[5])
        return
    # Streamed in id order: a big event's invitee list is never held in memory at once.
    last = 0
    while True:
        rows = session.execute(query.where(Invitation.id > last).limit(BATCH)).all()
        if not rows:
            return
        for row in rows:
            yield notifications.Recipient(row[0], row[1], str(row[2]), row[3], row[4], row[5])
        last = rows[-1][0]


def _reschedule_reminders(session: Session, event: Event, *, now: datetime,
                          invitation_ids: Sequence[int] | None = None) -> int:
    """(Re)queue the reminder for invitees; a moved event drops the old ones first."""
    if invitation_ids is None:
        outbox.cancel_pending(session, notifications.reminder_key_prefix(event.id))
    send_at = reminder_time(event.starts_at, event.reminder_days, now)
    if send_at is None or event.status != EventStatus.PUBLISHED:
        return 0
    return notifications.enqueue_mails(
        session, event, _recipients(session, event.id, invitation_ids), kind="reminder",
        now=now, send_after=send_at)


def _candidate_rows(session: Session, event_id: int, member_ids: Iterable[int] | None,
                    member_query: Select | None) -> Iterator[Any]:
    # The invitation opt-out, not the mailing one: a member who unsubscribed from mailings
    # is still invited (the unsubscribe page promises it).
    columns = [Member.id, Member.display_name, Member.email, Member.invite_opt_out_at,
               Invitation.id]
    base = select(*columns).outerjoin(
        Invitation, and_(Invitation.member_id == Member.id, Invitation.event_id == event_id))
    if member_query is not None:
        last = 0
        ids = member_query.subquery()
        while True:  # keyset pages over the segment: flat memory for any size
            rows = session.execute(base.where(Member.id.in_(select(ids.c[0])),
                                              Member.id > last)
                                   .order_by(Member.id).limit(BATCH)).all()
            if not rows:
                return
            yield from rows
            last = rows[-1][0]
    ids_list = list(dict.fromkeys(member_ids or ()))
    for start in range(0, len(ids_list), BATCH):
        yield from session.execute(base.where(Member.id.in_(ids_list[start:start + BATCH])))


def invite(session: Session, event: Event, *, now: datetime,
           member_ids: Sequence[int] | None = None, member_query: Select | None = None,
           emails: Sequence[str] = ()) -> InviteResult:
    """Invite picked members (ids / e-mails) or a segment's members (a SELECT of Member.id).

    Skips, with the reason, members without e-mail, opted out of event invitations, or already
    invited. Invitations are inserted in batches and each gets its mail in the outbox.
    """
    if event.status == EventStatus.CANCELLED:
        raise EventCancelled("A cancelled event cannot be invited to.")
    if event.status != EventStatus.PUBLISHED:
        raise EventNotPublished("Publish the event before inviting people.")
    result = InviteResult()
    ids = list(member_ids or [])
    if emails:
        wanted = list(dict.fromkeys(e.strip().lower() for e in emails if e.strip()))
        found: dict[str, int] = {}
        for start in range(0, len(wanted), BATCH):
            for mid, mail in session.execute(select(Member.id, func.lower(Member.email)).where(
                    func.lower(Member.email).in_(wanted[start:start + BATCH]))):
                found.setdefault(mail, mid)
        ids.extend(found.values())
        result.skipped.extend(Skipped(None, SKIP_NOT_FOUND, ref=e) for e in wanted
                              if e not in found)
    seen: set[int] = set()
    pending: list[dict[str, Any]] = []
    names: dict[int, str] = {}
    created_ids: list[int] = []

    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # ON CONFLICT DO NOTHING: a concurrent request inviting the same member (two managers,
    # a double submit) makes that row a no-op, reported as "already invited", instead of
    # an IntegrityError that would abort the whole invitation with a 500.
    table = Invitation.__table__  # Core insert: no ORM bulk overhead per row
    statement = (insert(table)
                 .on_conflict_do_nothing(index_elements=["event_id", "member_id"])
                 .returning(table.c.id, table.c.member_id))

    def flush_pending() -> None:
        if not pending:
            return
        rows = session.execute(statement, pending).all()
        inserted = {member_id for _id, member_id in rows}
        created_ids.extend(r[0] for r in rows)
        result.skipped.extend(Skipped(p["member_id"], SKIP_ALREADY_INVITED, names[p["member_id"]])
                              for p in pending if p["member_id"] not in inserted)
        pending.clear()
        names.clear()

    for member_id, name, email, opted_out_at, invitation_id in _candidate_rows(
            session, event.id, ids if member_query is None else None, member_query):
        seen.add(member_id)
        if invitation_id is not None:
            result.skipped.append(Skipped(member_id, SKIP_ALREADY_INVITED, name))
        elif not (email or "").strip():
            result.skipped.append(Skipped(member_id, SKIP_NO_EMAIL, name))
        elif not outbox.is_plain_address(email):  # e.g. "x@y\r\nBcc: ..." from an old import
            result.skipped.append(Skipped(member_id, SKIP_INVALID_EMAIL, name))
        elif opted_out_at is not None:
            result.skipped.append(Skipped(member_id, SKIP_OPTED_OUT, name))
        else:
            names[member_id] = name
            pending.append({"event_id": event.id, "member_id": member_id,
                            "status": InvitationStatus.INVITED,
                            "nonce": signing.new_nonce(), "created_at": now})
            if len(pending) >= BATCH:
                flush_pending()
    flush_pending()
    if member_query is None:
        result.skipped.extend(Skipped(mid, SKIP_NOT_FOUND, ref=str(mid))
                              for mid in dict.fromkeys(ids) if mid not in seen)
    result.created = len(created_ids)
    if created_ids:
        notifications.enqueue_mails(session, event, _recipients(session, event.id, created_ids),
                                    kind="invitation", now=now)
        _reschedule_reminders(session, event, now=now, invitation_ids=created_ids)
    audit.record(session, "event.invite", "event", event.id, after={
        "created": result.created, "skipped": result.counts(),
        "source": "segment" if member_query is not None else "picked"}, at=now)
    session.flush()
    return result


def invitation_counts(session: Session, event_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """{event id: {status: count, "total": n}} in one grouped query."""
    counts: dict[int, dict[str, int]] = {eid: {"total": 0} for eid in event_ids}
    if not event_ids:
        return counts
    rows = session.execute(
        select(Invitation.event_id, Invitation.status, func.count())
        .where(Invitation.event_id.in_(event_ids))
        .group_by(Invitation.event_id, Invitation.status))
    for event_id, status, n in rows:
        counts[event_id][str(status)] = n
        counts[event_id]["total"] += n
    return counts


def load_by_token(session: Session, token: str, *, now: datetime) -> Invitation:
    """The invitation behind a personal link (`/i/<token>`).

    Raises signing.LinkInvalid (forged, garbled, unknown or revoked by a new nonce) or
    signing.LinkExpired (some time after the event: rules.link_expiry).
    """
    invitation_id, nonce = notifications.read_token(token)
    invitation = session.get(Invitation, invitation_id)
    if invitation is None or not signing.same_secret(invitation.nonce, nonce):
        raise signing.LinkInvalid("invalid invitation link")
    if now > link_expiry(invitation.event.ends_at):
        raise signing.LinkExpired("invitation link expired")
    return invitation


def events_query(*, past: bool, now: datetime) -> Select:
    """Upcoming (ends in the future, soonest first) or past events (latest first)."""
    if past:
        return select(Event).where(Event.ends_at < now).order_by(Event.starts_at.desc())
    return select(Event).where(Event.ends_at >= now).order_by(Event.starts_at)


def member_invitations(session: Session, member_id: int, *, now: datetime, past_limit: int,
                       ) -> tuple[list[tuple[Invitation, Event]], list[tuple[Invitation, Event]]]:
    """(upcoming soonest first, the last `past_limit` past latest first) invitations of a
    member to events that are not drafts."""
    query = (select(Invitation, Event).join(Event, Event.id == Invitation.event_id)
             .where(Invitation.member_id == member_id, Event.status != EventStatus.DRAFT))
    upcoming = session.execute(
        query.where(Event.ends_at >= now).order_by(Event.starts_at, Event.id)).all()
    past = session.execute(
        query.where(Event.ends_at < now).order_by(Event.starts_at.desc(), Event.id.desc())
        .limit(past_limit)).all()
    return [tuple(r) for r in upcoming], [tuple(r) for r in past]


def guest_list_query(event_id: int) -> Select:
    """(Invitation, Member) rows of the event's invitees in invitation order."""
    return (select(Invitation, Member).join(Member, Member.id == Invitation.member_id)
            .where(Invitation.event_id == event_id).order_by(Invitation.id))


def find_members_to_invite(session: Session, q: str, *, limit: int = 20) -> list[Member]:
    """Members found by the member search for `q` (name or e-mail), by name."""
    return list(session.scalars(
        search_members(session, q).order_by(Member.display_name).limit(limit)))


def segment_names(session: Session) -> list[tuple[int, str]]:
    """(id, name) of the saved segments, by name (to invite one)."""
    return saved_segments(session)
