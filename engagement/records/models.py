"""Volunteer records: roles at events, agreement texts and acceptances, HR sign-offs."""
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
from sqlalchemy.orm import Mapped, mapped_column

from ..db import ExactDecimal, enum_column
from ..extensions import db
from ..timeutil import UTCDateTime, utcnow
from .rules import EventRoleKind


class EventRole(db.Model):
    __tablename__ = "event_roles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"),
                                          index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"),
                                           index=True)
    role: Mapped[EventRoleKind] = mapped_column(enum_column(EventRoleKind, "event_role"))
    hours: Mapped[Decimal] = mapped_column(ExactDecimal(5, 2))
    note: Mapped[str] = mapped_column(Text, default="")


class Agreement(db.Model):
    """One version of an agreement text; a new text is a new version, never an edit."""

    __tablename__ = "agreements"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_agreements_key_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A consent (data processing, photos) the member may withdraw at any time (Art. 7(3)
    # GDPR); a binding agreement such as an NDA is not withdrawn by a click.
    withdrawable: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class AgreementAcceptance(db.Model):
    __tablename__ = "agreement_acceptances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"),
                                           index=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id", ondelete="CASCADE"),
                                              index=True)
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Free text ("entered by phone for a@b.c"): an erasure redacts the member's name in it.
    source: Mapped[str] = mapped_column(String(64), default="", info={"free_text": True})
    # Set when the member withdrew this accepted version; the row itself stays as the record.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecordSignoff(db.Model):
    __tablename__ = "record_signoffs"
    __table_args__ = (
        UniqueConstraint("member_id", "year", name="uq_record_signoffs_member_id_year"),
        Index("ix_record_signoffs_year", "year"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    year: Mapped[int] = mapped_column(Integer)
    signed_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The figures HR signed, so a later change to that year can be shown, not silently absorbed.
    snapshot: Mapped[dict] = mapped_column(JSON)
