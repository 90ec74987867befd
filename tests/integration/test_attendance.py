"""One meaning of "attended" for rewards, volunteer records and the programme dashboard."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engagement.events import attendance
from engagement.events.models import EventStatus, InvitationStatus
from engagement.records.volunteer.services import year_records
from engagement.rewards.services import event_attendee_ids
from tests.factories import make_event, make_invitation, make_member

ACCEPTED = InvitationStatus.ACCEPTED


def _three_events(db_session):
    """A: door used (one checked in, one no-show); B: no door (accepted counts);
    C: cancelled (nobody attended)."""
    start = datetime(2026, 3, 5, 17, tzinfo=UTC)
    door, no_door, cancelled = (make_event("A", starts_at=start),
                                make_event("B", starts_at=start + timedelta(days=7)),
                                make_event("C", starts_at=start + timedelta(days=14),
                                           status=EventStatus.CANCELLED))
    came, stayed_away, accepted_only, declined = (make_member() for _ in range(4))
    make_invitation(door, came, ACCEPTED, checked_in_at=start + timedelta(minutes=5))
    make_invitation(door, stayed_away, ACCEPTED)
    make_invitation(no_door, accepted_only, ACCEPTED)
    make_invitation(no_door, declined, InvitationStatus.DECLINED)
    make_invitation(cancelled, accepted_only, ACCEPTED)
    return (door, no_door, cancelled), (came, stayed_away, accepted_only, declined)


def test_attendees_are_checked_in_where_the_door_was_used_else_accepted(db_session):
    (door, no_door, _), (came, stayed_away, accepted_only, _) = _three_events(db_session)
    assert attendance.attendees(db_session, door.id) == [came.id]
    assert attendance.attendees(db_session, no_door.id) == [accepted_only.id]
    assert attendance.no_shows(db_session, door.id) == [stayed_away.id]
    # Rewards' "grant to the attendees of an event" asks the same question.
    assert sorted(db_session.scalars(event_attendee_ids(door.id))) == [came.id]


def test_volunteer_record_counts_the_same_attendances(db_session):
    _, (came, stayed_away, accepted_only, declined) = _three_events(db_session)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    counts = attendance.attended_per_member(db_session, start, start.replace(year=2027))
    # The cancelled event C counts for nobody; accepted_only attended B only.
    assert counts == {came.id: 1, accepted_only.id: 1}
    records = year_records(db_session, 2026, "Europe/Berlin",
                           member_ids=[came.id, stayed_away.id, accepted_only.id, declined.id])
    assert {m: r.figures.events_attended for m, r in records.items()} == {
        came.id: 1, stayed_away.id: 0, accepted_only.id: 1, declined.id: 0}
