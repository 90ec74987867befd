"""The outbox table: every mail is a row, written in the transaction that causes it."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow


class OutboxStatus(enum.StrEnum):
    QUEUED = "queued"        # waiting for its send time (next_attempt_at)
    SENDING = "sending"      # claimed by a worker until locked_until (a lease)
    SENT = "sent"
    FAILED = "failed"        # permanent error or too many attempts; a person may retry
    CANCELLED = "cancelled"  # withdrawn before it went out (e.g. a rescheduled reminder)


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        # The worker's claim query: due queued rows, and sending rows whose lease ran out.
        Index("ix_outbox_messages_claim_due", "status", "next_attempt_at", "id"),
        Index("ix_outbox_messages_claim_expired", "status", "locked_until", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    # Unique so a double click or a re-run cannot queue the same mail twice; cancelled rows
    # give their key up (set to NULL) so the same mail can be scheduled again.
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    from_addr: Mapped[str] = mapped_column(String(320))
    to_addr: Mapped[str] = mapped_column(String(320), index=True)
    # Who the mail is for, as references (no foreign keys: mail is a leaf below the
    # features): a GDPR erasure deletes a member's mail by these, never by address text,
    # so a member whose imported address equals someone else's cannot take their mail.
    member_id: Mapped[int | None] = mapped_column(Integer, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    subject: Mapped[str] = mapped_column(String(998), default="")
    # Assigned when the row is written, also for deferred rows: the message rendered later
    # carries it, so the outbox page and a duplicate check know it before rendering.
    message_id: Mapped[str] = mapped_column(String(255))
    # The complete RFC 5322 bytes, built once: a retry sends the identical message
    # (same Message-ID and Date), so a receiver can recognise a duplicate. NULL for a
    # deferred row: the worker renders it from `payload` (kind's renderer) and stores the
    # bytes in their own commit before the first send.
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    # What a renderer needs to build a deferred mail, e.g. {"invitation_id": 5, "sequence": 3}.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(128))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} {self.status} to={self.to_addr}>"
