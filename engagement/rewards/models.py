"""Reward catalogue and grants (one reward to one member, with a value snapshot)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import ExactDecimal, Money, enum_column
from ..extensions import db
from ..timeutil import UTCDateTime, utcnow
from .rules import Fulfilment, GrantStatus, Kind, LimitBasis, TaxSettings


class RewardItem(db.Model):
    __tablename__ = "reward_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # What the company pays: net price and VAT rate; `value` is the gross amount they give
    # (the limit test counts net or gross as the year's rules say; § 37b counts gross).
    net_value: Mapped[Decimal] = mapped_column(Money())
    vat_rate: Mapped[Decimal] = mapped_column(ExactDecimal(5, 2))  # percent
    value: Mapped[Decimal] = mapped_column(Money())  # gross, EUR incl. VAT
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
    value: Mapped[Decimal] = mapped_column(Money())  # gross
    net_value: Mapped[Decimal] = mapped_column(Money())
    vat_rate: Mapped[Decimal] = mapped_column(ExactDecimal(5, 2))
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


class TaxYear(db.Model):
    """The tax rules of one calendar year, each figure with its source.

    One row per year, so changing a year (the § 37b opt-in is a choice per year) never
    rewrites another's ledger. Seeded with the German history by the migration.
    """

    __tablename__ = "reward_tax_years"
    __table_args__ = (
        CheckConstraint("year > 1900 AND year < 3000", name="year_range"),
    )

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    gift_limit: Mapped[Decimal] = mapped_column(Money())
    gift_limit_source: Mapped[str] = mapped_column(Text)
    limit_basis: Mapped[LimitBasis] = mapped_column(enum_column(LimitBasis, "reward_limit_basis",
                                                                length=8))
    limit_basis_source: Mapped[str] = mapped_column(Text)
    flat_tax_opted_in: Mapped[bool] = mapped_column(Boolean)
    flat_tax_source: Mapped[str] = mapped_column(Text)
    flat_rate: Mapped[Decimal] = mapped_column(ExactDecimal(5, 2))
    flat_rate_source: Mapped[str] = mapped_column(Text)
    flat_tax_cap: Mapped[Decimal] = mapped_column(Money())
    flat_tax_cap_source: Mapped[str] = mapped_column(Text)
    giveaway_limit: Mapped[Decimal] = mapped_column(Money())
    giveaway_source: Mapped[str] = mapped_column(Text)
    include_hospitality: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def settings(self, *, inherited_from: int | None = None) -> TaxSettings:
        return TaxSettings(year=self.year, inherited_from=inherited_from, **{
            name: getattr(self, name) for name in TaxSettings.FIGURES})
