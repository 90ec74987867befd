"""Demo programme: a saved segment of the top tiers and a published summit they are invited to."""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..community.segments.rules import SegmentCriteria
from ..community.segments.services import save_segment, segment_by_name, segment_query
from ..community.tiers.services import tier_names
from .models import Event
from .rules import EventInput, QuestionInput
from .services import create_event, invite, publish_event

SEGMENT_NAME = "Power Users und Legends"
EVENT_TITLE = "Power-User-Gipfel"


def seed_demo_programme(session: Session, *, now: datetime, base_url: str,
                        organizer_email: str, timezone: str = "Europe/Berlin") -> str | None:
    """Create the demo segment and summit once; returns a summary, or None when present."""
    if session.scalar(select(Event.id).where(Event.title == EVENT_TITLE)) is not None:
        return None
    top = tier_names(session)[-2:][::-1]  # the two highest tiers
    criteria = SegmentCriteria(tiers=tuple(top), has_email=True, exclude_opted_out=True)
    segment = segment_by_name(session, SEGMENT_NAME)
    if segment is None:
        segment = save_segment(session, name=SEGMENT_NAME, criteria=criteria, now=now,
                               description="The community's strongest helpers.",
                               actor="cli:seed-demo")
    zone = ZoneInfo(timezone)
    day = (now.astimezone(zone) + timedelta(days=45)).date()
    starts = datetime.combine(day, time(17, 0), zone).astimezone(UTC)
    event = create_event(session, EventInput(
        title=EVENT_TITLE, timezone=timezone,
        starts_at=starts, ends_at=starts + timedelta(hours=5),
        description="Ein Abend mit dem Produktteam: Roadmap, Fragen, Dank und Abendessen.",
        venue="Telekom Forum", address="Friedrich-Ebert-Allee 140, 53113 Bonn",
        capacity=50, rsvp_deadline=starts - timedelta(days=14),
        plus_one_allowed=False, per_attendee_cost=Decimal("85.00"),
        organizer_name="Community-Team", organizer_email=organizer_email, reminder_days=3,
        questions=(
            QuestionInput(kind="choice", label="Essen",
                          choices=("mit Fleisch", "vegetarisch", "vegan"), required=True),
            QuestionInput(kind="text", label="Anreise (Ort, Bahn/Auto)", required=False),
        ),
    ), now=now, base_url=base_url)
    publish_event(session, event, now=now)
    result = invite(session, event, now=now, member_query=segment_query(session, criteria))
    return (f"demo event {EVENT_TITLE!r} on {day:%Y-%m-%d}: {result.created:,} members of "
            f"segment {SEGMENT_NAME!r} invited (mails queued in the outbox)")
