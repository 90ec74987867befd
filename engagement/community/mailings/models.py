"""Mailings: a free-form mail (Markdown) to the members of a segment."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...extensions import db
from ...timeutil import UTCDateTime, utcnow


class MailingStatus(enum.StrEnum):
    DRAFT = "draft"
    SENT = "sent"


class Mailing(db.Model):
    __tablename__ = "mailings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # Markdown
    segment_id: Mapped[int | None] = mapped_column(
        ForeignKey("segments.id", ondelete="SET NULL"), index=True)
    # Snapshots: what the mailing went to, even after the segment is edited or deleted.
    segment_name: Mapped[str] = mapped_column(String(120), default="")
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=MailingStatus.DRAFT)
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    test_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_by: Mapped[str] = mapped_column(String(255), default="")
    recipients_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped_opted_out: Mapped[int] = mapped_column(Integer, default=0)
    skipped_no_email: Mapped[int] = mapped_column(Integer, default=0)

    segment = relationship("Segment")

    @property
    def is_sent(self) -> bool:
        return self.status == MailingStatus.SENT

    def __repr__(self) -> str:
        return f"<Mailing {self.id} {self.subject!r} {self.status}>"
