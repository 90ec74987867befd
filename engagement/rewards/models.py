"""Reward catalogue and grants (one reward to one member, with a value snapshot)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import enum_column
from ..extensions import db
from ..timeutil import UTCDateTime, utcnow
from .rules import Fulfilment, GrantStatus, Kind


class RewardItem(db.Model):
    __tablename__ = "reward_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    value: Mapped[Decimal] = mapped_column(Numeric(10, 2))  # EUR incl. VAT, as the tax law counts
    kind: Mapped[Kind] = mapped_column(enum_column(Kind, "reward_kind"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Grant(db.Model):
    __tablename__ = "reward_grants"
    __table_args__ = (
        # The ledger sums per recipient and year; the grants list filters by year and status.
        Index("ix_reward_grants_member_year", "member_id", "year"),
        Index("ix_reward_grants_year_status", "year", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("reward_items.id", ondelete="RESTRICT"),
                                         index=True)
    # Snapshot: a later price change in the catalogue must not rewrite past years' ledgers.
    value: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    kind: Mapped[Kind] = mapped_column(enum_column(Kind, "reward_grant_kind"))
    reason: Mapped[str] = mapped_column(Text, default="")
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"),
                                                 index=True)
    # Calendar year of the grant date in DEFAULT_TIMEZONE (the tax year of the gift).
    year: Mapped[int] = mapped_column(Integer)
    status: Mapped[GrantStatus] = mapped_column(enum_column(GrantStatus, "reward_grant_status"),
                                                default=GrantStatus.PROPOSED)
    fulfilment: Mapped[Fulfilment | None] = mapped_column(
        enum_column(Fulfilment, "reward_fulfilment"))
    fulfilment_note: Mapped[str] = mapped_column(Text, default="")
    granted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    approved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fulfilment_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    item = relationship("RewardItem", lazy="joined")
    member = relationship("Member")
