"""Who attended which event: the one place the rest of the product asks.

Attendance is recorded at the door (checkin/): an invitation's `checked_in_at` is set when
the person arrives (walk-ins are accepted, checked-in invitations). Other features (rewards,
volunteer records, the programme dashboard, segments) call these functions instead of
reading the invitation table, so "attended" means the same everywhere.

Two notions, named apart:
- checked in: `checked_in_at` is set (what the door saw);
- counted as attendee (`attendee_ids_query`): checked in when the event used check-in at
  all, otherwise accepted (events run without door staff still have attendees).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from .models import Event, EventStatus, Invitation, InvitationStatus


@dataclass(frozen=True)
class AttendanceCounts:
    """One event's door figures: accepted invitees, how many checked in, walk-ins."""

    accepted: int
    checked_in: int
    walk_ins: int

    @property
    def remaining(self) -> int:
        """Accepted but not (yet) checked in: the no-shows once the event is over."""
        return max(self.accepted - self.checked_in, 0)


def attendance_counts(session: Session, event_id: int) -> AttendanceCounts:
    """Accepted, checked-in and walk-in counts of one event (one aggregate query)."""
    row = session.execute(select(
        func.count(Invitation.id),
        func.count(Invitation.checked_in_at),
        func.coalesce(func.sum(case((Invitation.walk_in.is_(True), 1), else_=0)), 0),
    ).where(Invitation.event_id == event_id,
            Invitation.status == InvitationStatus.ACCEPTED)).one()
    return AttendanceCounts(int(row[0]), int(row[1]), int(row[2]))


def counted_as_attendee() -> ColumnElement[bool]:
    """A WHERE clause on an `Invitation` row: it counts as attendance (see the module doc).

    Checked in; or, at an event nobody was checked in at, accepted. Correlated on the
    row's event, so it works in queries over many events at once.
    """
    other = aliased(Invitation)
    used_checkin = select(other.id).where(other.event_id == Invitation.event_id,
                                          other.checked_in_at.is_not(None)).exists()
    return or_(Invitation.checked_in_at.is_not(None),
               and_(~used_checkin, Invitation.status == InvitationStatus.ACCEPTED))


def attendee_ids_query(event_id: int) -> Select:
    """SELECT of the member ids counted as attendees of the event (see the module doc):
    checked in if the event used check-in at all, otherwise accepted."""
    return select(Invitation.member_id).where(Invitation.event_id == event_id,
                                              counted_as_attendee())


def attendances_between(start: datetime, end: datetime) -> Select:
    """SELECT (member_id, event_id, per_attendee_cost) of every attendance at an event that
    starts in [start, end): the rows rewards (hospitality) and volunteer records count."""
    return (select(Invitation.member_id.label("member_id"),
                   Invitation.event_id.label("event_id"),
                   Event.per_attendee_cost.label("per_attendee_cost"))
            .join(Event, Event.id == Invitation.event_id)
            .where(Event.starts_at >= start, Event.starts_at < end,
                   Event.status != EventStatus.CANCELLED, counted_as_attendee()))


def attended_per_member(session: Session, start: datetime, end: datetime,
                        member_ids: list[int] | None = None) -> dict[int, int]:
    """{member id: events attended that start in [start, end)}; only `member_ids` if given."""
    rows = attendances_between(start, end).subquery()
    query = select(rows.c.member_id, func.count()).group_by(rows.c.member_id)
    if member_ids is not None:
        query = query.where(rows.c.member_id.in_(member_ids))
    return {int(m): int(n) for m, n in session.execute(query)}


def door_figures_per_event() -> Select:
    """SELECT per event: event_id, invited (walk-ins left out), accepted (accepted or
    checked in, walk-ins left out) and checked_in (walk-ins left out): the programme's
    acceptance and attendance rates."""
    invited = ~Invitation.walk_in
    accepted = Invitation.status == InvitationStatus.ACCEPTED
    checked = Invitation.checked_in_at.is_not(None)
    return (select(Invitation.event_id.label("event_id"),
                   func.sum(case((invited, 1), else_=0)).label("invited"),
                   func.sum(case((invited & (accepted | checked), 1), else_=0))
                   .label("accepted"),
                   func.sum(case((invited & checked, 1), else_=0)).label("checked_in"))
            .group_by(Invitation.event_id))


def attendees(session: Session, event_id: int) -> list[int]:
    """Member ids counted as attendees of the event (`attendee_ids_query`), ascending."""
    subquery = attendee_ids_query(event_id).subquery()
    return list(session.scalars(select(subquery.c.member_id).order_by(subquery.c.member_id)))


def checked_in_ids(session: Session, event_id: int) -> list[int]:
    """Member ids checked in at the event (walk-ins included), ascending."""
    return list(session.scalars(select(Invitation.member_id).where(
        Invitation.event_id == event_id, Invitation.checked_in_at.is_not(None))
        .order_by(Invitation.member_id)))


def no_shows(session: Session, event_id: int) -> list[int]:
    """Member ids who accepted but were never checked in (ask once the event is over)."""
    return list(session.scalars(select(Invitation.member_id).where(
        Invitation.event_id == event_id, Invitation.status == InvitationStatus.ACCEPTED,
        Invitation.checked_in_at.is_(None)).order_by(Invitation.member_id)))


def attended_event_ids(session: Session, member_id: int,
                       since: datetime | None = None) -> list[int]:
    """Ids of the events the member was checked in at (at or after `since`), oldest first."""
    query = (select(Invitation.event_id).join(Event, Event.id == Invitation.event_id)
             .where(Invitation.member_id == member_id, Invitation.checked_in_at.is_not(None)))
    if since is not None:
        query = query.where(Invitation.checked_in_at >= since)
    return list(session.scalars(query.order_by(Event.starts_at, Event.id)))


def check_ins_per_member(session: Session, start: datetime, end: datetime,
                         member_ids: list[int] | None = None) -> dict[int, int]:
    """{member id: number of check-ins in [start, end)}; only `member_ids` when given."""
    query = (select(Invitation.member_id, func.count())
             .where(Invitation.checked_in_at >= start, Invitation.checked_in_at < end)
             .group_by(Invitation.member_id))
    if member_ids is not None:
        query = query.where(Invitation.member_id.in_(member_ids))
    return {int(m): int(n) for m, n in session.execute(query)}


def checked_in_since(since: datetime) -> Select:
    """SELECT of member ids checked in at any event at or after `since` (for segments)."""
    return select(Invitation.member_id).where(Invitation.checked_in_at >= since)


def no_show_between(since: datetime, now: datetime) -> Select:
    """SELECT of member ids who accepted but did not come to a (not cancelled) event that
    ended between `since` and `now`."""
    return select(Invitation.member_id).join(Event, Event.id == Invitation.event_id).where(
        Invitation.status == InvitationStatus.ACCEPTED,
        Invitation.checked_in_at.is_(None),
        Event.status != EventStatus.CANCELLED,
        Event.ends_at < now, Event.ends_at >= since)


def member_attended(member_id_column: ColumnElement, since: datetime) -> ColumnElement:
    """A WHERE clause: the member in `member_id_column` was checked in since `since`."""
    return member_id_column.in_(checked_in_since(since))
