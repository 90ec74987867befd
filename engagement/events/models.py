"""Tables for events, their RSVP questions and invitations (one per event and member)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Money, UTCDateTime, enum_column
from ..extensions import db
from ..timeutil import utcnow
from .rules import ACTIVE_STATUSES, EventStatus, InvitationStatus

__all__ = ["ACTIVE_STATUSES", "DoorAssignment", "Event", "EventConsent", "EventQuestion",
           "EventStatus", "Invitation", "InvitationConsent", "InvitationStatus", "WalkInGuest"]


class Event(db.Model):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_status_starts_at", "status", "starts_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # iCalendar UID: never changes, so clients match updates and cancellations to the event.
    uid: Mapped[str] = mapped_column(String(255), unique=True)
    # iCalendar SEQUENCE: +1 for every change that is sent to invitees.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[EventStatus] = mapped_column(enum_column(EventStatus, "event_status"),
                                                default=EventStatus.DRAFT)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    venue: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64))  # IANA name; local times are shown in it
    capacity: Mapped[int | None] = mapped_column(Integer)
    rsvp_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    plus_one_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    per_attendee_cost: Mapped[Decimal | None] = mapped_column(Money())
    organizer_name: Mapped[str] = mapped_column(String(255), default="")
    organizer_email: Mapped[str] = mapped_column(String(255))
    reminder_days: Mapped[int | None] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped by every RSVP: the UPDATE takes the row lock (PostgreSQL) or the database write
    # lock (SQLite) before seats are counted, so seat decisions are serialised per event.
    rsvp_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Waiting list ordered by tier rank (higher first), then time; otherwise first come.
    waitlist_by_tier: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The agreement (key; its current version) an invitee accepts before answering "yes",
    # e.g. an NDA for a summit. A key, not a foreign key: agreements live in records.
    required_agreement_key: Mapped[str | None] = mapped_column(String(64))

    questions = relationship("EventQuestion", order_by="EventQuestion.position",
                             cascade="all, delete-orphan", back_populates="event")
    created_by = relationship("User")

    def __repr__(self) -> str:
        return f"<Event {self.id} {self.title!r} {self.status}>"


class EventQuestion(db.Model):
    """A question asked when answering the invitation (dietary needs, travel, ...)."""

    __tablename__ = "event_questions"
    __table_args__ = (Index("ix_event_questions_event_position", "event_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16), default="text")  # text | choice
    label: Mapped[str] = mapped_column(String(255))
    choices: Mapped[list] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(Boolean, default=False)

    event = relationship("Event", back_populates="questions")


class EventConsent(db.Model):
    """A consent the event asks for (photos, sharing the name with the venue); versioned text."""

    __tablename__ = "event_consents"
    __table_args__ = (UniqueConstraint("event_id", "key", name="uq_event_consents_event_id_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    required: Mapped[bool] = mapped_column(Boolean, default=False)


class InvitationConsent(db.Model):
    """One consent answer: the exact text and version shown, given or refused, and when."""

    __tablename__ = "invitation_consents"
    __table_args__ = (Index("ix_invitation_consents_invitation_key", "invitation_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    given: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Who recorded it: "invitee", "api", or "manager <who>: <how the member gave it>".
    source: Mapped[str | None] = mapped_column(String(200))
    # A withdrawal of a consent given before (Art. 7(3) GDPR), not a refusal.
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Invitation(db.Model):
    __tablename__ = "invitations"
    __table_args__ = (
        UniqueConstraint("event_id", "member_id", name="uq_invitations_event_id_member_id"),
        Index("ix_invitations_event_status", "event_id", "status"),
        Index("ix_invitations_member_checked_in", "member_id", "checked_in_at"),
        Index("ix_invitations_event_waitlist", "event_id", "waitlist_position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    status: Mapped[InvitationStatus] = mapped_column(
        enum_column(InvitationStatus, "invitation_status"), default=InvitationStatus.INVITED)
    # Random part of the signed link: replacing it revokes links already sent.
    nonce: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    waitlist_position: Mapped[int | None] = mapped_column(Integer)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    plus_one: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    answers: Mapped[dict | None] = mapped_column(JSON)  # {question id (str): answer}
    # Tier rank when put on the waiting list (tier-priority events order by it).
    waitlist_rank: Mapped[int | None] = mapped_column(Integer)
    # A freed seat offered to this waitlisted person until then.
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A seat held for an answer still missing required answers or consents (a calendar
    # "Accept"): the member completes it by then, or the seat goes to the waiting list.
    action_needed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    rsvp_source: Mapped[str | None] = mapped_column(String(16))  # web | api | manager | calendar
    # Recorded at the door for a member who was not invited (see events/checkin/services.py).
    walk_in: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The plus-one came too (counted at the door with the invitee's check-in).
    plus_one_checked_in: Mapped[bool] = mapped_column(Boolean, default=False,
                                                      server_default="0")

    event = relationship("Event")
    member = relationship("Member")


class DoorAssignment(db.Model):
    """A door-staff login assigned to check people in at one event."""

    __tablename__ = "event_door_staff"
    __table_args__ = (UniqueConstraint("event_id", "user_id",
                                       name="uq_event_door_staff_event_id_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user = relationship("User")


class WalkInGuest(db.Model):
    """Someone who is not a member and came anyway: only a name and an e-mail address."""

    __tablename__ = "walk_in_guests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"),
                                          index=True)
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255), index=True)
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime)
