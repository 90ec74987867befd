"""Tables for members, their daily contributions, tiers, tier history and imports.

Sized for ~730,000 members and millions of contribution days: lifetime totals and
windowed statistics are materialised so lists and leaderboards are index look-ups.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow

METRICS = ("posts", "answers", "accepted_solutions", "kudos_received")
WINDOWS = (30, 90, 365)  # days; the windows the statistics table keeps


class Tier(db.Model):
    __tablename__ = "tiers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    rank: Mapped[int] = mapped_column(Integer, unique=True)  # higher is better
    rule: Mapped[str] = mapped_column(Text)  # the rule in the tier-rule language (tiers/rules.py)
    description: Mapped[str] = mapped_column(Text, default="")
    color: Mapped[str] = mapped_column(String(16), default="#64748b")
    grace_days: Mapped[int] = mapped_column(Integer, default=90)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<Tier {self.rank} {self.name}>"


class Member(db.Model):
    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_members_source_external_id"),
        Index("ix_members_answers", "answers"),
        Index("ix_members_accepted_solutions", "accepted_solutions"),
        Index("ix_members_kudos_received", "kudos_received"),
        Index("ix_members_posts", "posts"),
        Index("ix_members_score", "score"),
        Index("ix_members_display_name", "display_name"),
        Index("ix_members_email", "email"),
        Index("ix_members_region", "region"),
        Index("ix_members_tier_id_score", "tier_id", "score"),
        Index("ix_members_last_active", "last_active"),
        # Segments (community/segments): tier + region/language/activity answered from the
        # index alone; language lists and filters.
        Index("ix_members_tier_region_locale_active", "tier_id", "region", "locale",
              "last_active"),
        Index("ix_members_locale", "locale"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locale: Mapped[str | None] = mapped_column(String(16))
    region: Mapped[str | None] = mapped_column(String(64))
    last_active: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Lifetime totals the platform reported without dates (Khoros/Discourse counters).
    reported_posts: Mapped[int | None] = mapped_column(Integer)
    reported_answers: Mapped[int | None] = mapped_column(Integer)
    reported_accepted_solutions: Mapped[int | None] = mapped_column(Integer)
    reported_kudos_received: Mapped[int | None] = mapped_column(Integer)

    # Materialised lifetime totals: max(reported, sum of dated days), refreshed after imports.
    posts: Mapped[int] = mapped_column(Integer, default=0)
    answers: Mapped[int] = mapped_column(Integer, default=0)
    accepted_solutions: Mapped[int] = mapped_column(Integer, default=0)
    kudos_received: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[int] = mapped_column(Integer, default=0)  # weighted score, see tiers/rules.py

    tier_id: Mapped[int | None] = mapped_column(ForeignKey("tiers.id", ondelete="SET NULL"))
    tier_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A manager's override wins over the computed tier until removed.
    tier_override_id: Mapped[int | None] = mapped_column(
        ForeignKey("tiers.id", ondelete="SET NULL")
    )
    tier_override_reason: Mapped[str | None] = mapped_column(Text)
    # First day the rules put the member below their tier; demotion waits out the grace period.
    demotion_pending_since: Mapped[date | None] = mapped_column(Date)

    # Set when the member unsubscribed from mailings (link or List-Unsubscribe one-click);
    # later mailings skip them. Event invitations they asked for are not mailings.
    mail_opt_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the member asked for no more event invitations (its own link and page);
    # independent of mailings: each opt-out only stops its own kind of mail.
    invite_opt_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    tier = relationship("Tier", foreign_keys=[tier_id], lazy="joined")
    tier_override = relationship("Tier", foreign_keys=[tier_override_id])

    def __repr__(self) -> str:
        return f"<Member {self.source}:{self.external_id} {self.display_name!r}>"


class ContributionDay(db.Model):
    """One member's activity on one day (a daily rollup, so windowed rules are sums)."""

    __tablename__ = "contribution_days"
    __table_args__ = (
        PrimaryKeyConstraint("member_id", "day", name="pk_contribution_days"),
        Index("ix_contribution_days_day", "day"),
    )

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    posts: Mapped[int] = mapped_column(Integer, default=0)
    answers: Mapped[int] = mapped_column(Integer, default=0)
    accepted_solutions: Mapped[int] = mapped_column(Integer, default=0)
    kudos_received: Mapped[int] = mapped_column(Integer, default=0)


class MemberWindowStats(db.Model):
    """Per member and window (30/90/365 days up to `as_of`): sums for leaderboards and rules.

    Only members with activity in the window have a row.
    """

    __tablename__ = "member_window_stats"
    __table_args__ = (
        PrimaryKeyConstraint("member_id", "window_days", name="pk_member_window_stats"),
        Index("ix_member_window_stats_answers", "window_days", "answers"),
        Index("ix_member_window_stats_accepted", "window_days", "accepted_solutions"),
        Index("ix_member_window_stats_kudos", "window_days", "kudos_received"),
        Index("ix_member_window_stats_posts", "window_days", "posts"),
        Index("ix_member_window_stats_score", "window_days", "score"),
    )

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    window_days: Mapped[int] = mapped_column(Integer)
    as_of: Mapped[date] = mapped_column(Date)
    posts: Mapped[int] = mapped_column(Integer, default=0)
    answers: Mapped[int] = mapped_column(Integer, default=0)
    accepted_solutions: Mapped[int] = mapped_column(Integer, default=0)
    kudos_received: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[int] = mapped_column(Integer, default=0)


class TierHistory(db.Model):
    """Every tier change: who moved from where to where, when and why."""

    __tablename__ = "tier_history"
    __table_args__ = (
        Index("ix_tier_history_member_at", "member_id", "at"),
        Index("ix_tier_history_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    from_tier_id: Mapped[int | None] = mapped_column(ForeignKey("tiers.id", ondelete="SET NULL"))
    to_tier_id: Mapped[int | None] = mapped_column(ForeignKey("tiers.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16))  # promotion, demotion, override, override-removed
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(255), default="")

    from_tier = relationship("Tier", foreign_keys=[from_tier_id], lazy="joined")
    to_tier = relationship("Tier", foreign_keys=[to_tier_id], lazy="joined")


class ImportRun(db.Model):
    """One run of an importer, with progress (for the status page) and its outcome."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    format: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))
    files: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running/completed/failed
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bytes_total: Mapped[int] = mapped_column(Integer, default=0)
    bytes_done: Mapped[int] = mapped_column(Integer, default=0)
    members_created: Mapped[int] = mapped_column(Integer, default=0)
    members_updated: Mapped[int] = mapped_column(Integer, default=0)
    members_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    contribution_rows: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    # Left out on purpose, not errors (e.g. a platform's system account).
    rows_skipped: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(255), default="")


class ImportIssue(db.Model):
    """A rejected row: file, line and reason (the first few thousand per run are kept)."""

    __tablename__ = "import_issues"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("import_runs.id", ondelete="CASCADE"), index=True
    )
    file: Mapped[str] = mapped_column(String(255))
    line: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    # The platform user the rejected row was about, when known: an erasure finds the
    # issues quoting the member by (run source, external_id), not by searching reasons.
    external_id: Mapped[str | None] = mapped_column(String(64))
