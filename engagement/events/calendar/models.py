"""Calendar tables: the personal feed address, recorded reply delegates, the reply log."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ...db import UTCDateTime
from ...extensions import db


class CalendarFeed(db.Model):
    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"),
                                           unique=True)
    # NULL while the feed is switched off; unique so a token names exactly one member.
    token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CalendarDelegate(db.Model):
    """An address allowed to answer calendar invitations for a member (SENT-BY, RFC 5545
    §3.2.18), e.g. an assistant's; recorded by a manager, never taken from a mail."""

    __tablename__ = "calendar_delegates"
    __table_args__ = (UniqueConstraint("member_id", "email",
                                       name="uq_calendar_delegates_member_id_email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(255))  # lower-cased
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))


class CalendarReplyLog(db.Model):
    """What became of one ingested calendar reply (or of a mail that had none): kept so
    managers can see every ignored answer and why."""

    __tablename__ = "calendar_reply_log"
    __table_args__ = (Index("ix_calendar_reply_log_event_received", "event_id", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16))  # cli | api
    message_id: Mapped[str] = mapped_column(String(255), default="")
    sender: Mapped[str] = mapped_column(String(255), default="")  # the From address
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="SET NULL"))
    uid: Mapped[str | None] = mapped_column(String(255))
    attendee: Mapped[str | None] = mapped_column(String(255))
    partstat: Mapped[str | None] = mapped_column(String(32))
    result: Mapped[str] = mapped_column(String(16))  # applied | ignored | skipped
    reason: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String(500), default="")
    auth: Mapped[str] = mapped_column(String(300), default="")  # the trusted server's words
