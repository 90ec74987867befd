"""Tier use cases: compute tiers for everyone, preview a rule change, edit tiers, overrides.

Rules are evaluated inside the database: each tier's rule is compiled (rules.to_sql) into
one `CASE WHEN <best tier's rule> THEN id WHEN ... END` over the members joined to their
window statistics. The database then hands back only the members whose tier may change
(a different computed tier, a pending demotion, an override not yet applied), so a run over
730,000 members moves a few thousand rows into Python instead of all of them. Python then
applies the grace/override rules (rules.decide), explains each move for the tier history
and writes the changes in bulk (evaluation.Writer).
"""
from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ... import audit
from ...settings import set_setting
from ..models import Member, Tier, TierHistory
from ..scoring import SETTING_KEY as WEIGHTS_KEY
from ..scoring import ScoreWeights, load_weights
from ..stats import ensure_window_stats, refresh_lifetime_scores, refresh_window_stats
from .evaluation import (
    Rung,
    Writer,
    candidates,
    dialect_name,
    facts_of,
    ladder_sql,
    text_with_as_of,
)
from .rules import Change, RuleError, TierRef, decide, explain, parse_rule

LAST_RUN_SETTING = "tiers_last_run"
PREVIEW_LIMIT = 200
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


# --- errors ---------------------------------------------------------------------------------

class TierError(ValueError):
    """A tier change that cannot be made (the view turns it into a message)."""


class TierRuleInvalid(TierError):
    def __init__(self, tier_name: str, error: RuleError) -> None:
        self.tier_name, self.error = tier_name, error
        super().__init__(f"the rule of tier {tier_name!r} is invalid: {error}")


class TierNameTaken(TierError):
    pass


class TierRankTaken(TierError):
    pass


class TierInUse(TierError):
    def __init__(self, members: int) -> None:
        self.members = members
        super().__init__(f"{members} members hold this tier")


class OverrideError(TierError):
    pass


# --- loading the ladder ---------------------------------------------------------------------

def load_ladder(session: Session) -> list[Rung]:
    """All tiers, best first, with parsed rules (a broken stored rule raises TierRuleInvalid)."""
    rungs = []
    for tier in session.scalars(select(Tier).order_by(Tier.rank.desc())):
        try:
            rule = parse_rule(tier.rule)
        except RuleError as exc:
            raise TierRuleInvalid(tier.name, exc) from exc
        rungs.append(Rung(TierRef(tier.id, tier.rank, tier.grace_days, tier.name), rule))
    return rungs


# --- computing tiers ------------------------------------------------------------------------

@dataclass(frozen=True)
class TierRunResult:
    as_of: date
    evaluated: int
    promoted: int
    demoted: int
    pending_demotions: int
    overridden: int
    unchanged: int
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"as of {self.as_of.isoformat()}: {self.evaluated:,} members evaluated, "
                f"{self.promoted:,} promoted, {self.demoted:,} demoted, "
                f"{self.pending_demotions:,} demotions pending, {self.overridden:,} overridden, "
                f"{self.seconds:.1f} s")


def _reason(change: Change, current: Rung | None, target: Rung | None, facts: dict,
            pending: date | None, override_reason: str | None) -> str:
    if change is Change.OVERRIDE:
        return f"manual override: {override_reason or ''}".strip()
    if change is Change.PROMOTION:
        assert target is not None
        return f"{target.ref.name}: {explain(target.rule, facts)}"
    assert current is not None
    grace = current.ref.grace_days
    below = (f"below {current.ref.name} (" + explain(current.rule, facts) + ")"
             + (f" since {pending.isoformat()}, grace period of {grace} days over"
                if pending and grace else ""))
    if target is None:
        return f"{below}; meets no tier"
    return f"{below}; {target.ref.name}: {explain(target.rule, facts)}"


def compute_tiers(session: Session, as_of: date, now: datetime) -> TierRunResult:
    """Refresh the window statistics, then apply the tier rules to every member (flushes)."""
    started = time.perf_counter()
    refresh_window_stats(session, as_of)
    rungs = load_ladder(session)
    by_id = {r.ref.id: r for r in rungs}
    fields, rows = candidates(session, rungs, as_of)

    tier_changes, pending_changes, history = [], [], []
    promoted = demoted = 0
    for row in rows:
        member_id, tier_id, override_id, override_reason, pending, computed = row[:6]
        current, target = by_id.get(tier_id), by_id.get(computed)
        override = by_id.get(override_id)
        decision = decide(current and current.ref, target and target.ref,
                          override and override.ref, pending, as_of)
        new_id = decision.tier.id if decision.tier else None
        if new_id != tier_id:
            tier_changes.append((new_id, member_id))
            if decision.change is Change.PROMOTION:
                promoted += 1
            elif decision.change is Change.DEMOTION:
                demoted += 1
            reason = _reason(decision.change, current, by_id.get(new_id), facts_of(fields, row),
                             pending, override_reason)
            history.append((member_id, tier_id, new_id, decision.change.value, reason))
        elif decision.pending_since != pending:
            pending_changes.append((decision.pending_since, member_id))

    writer = Writer(session, now)
    writer.tiers(tier_changes)
    writer.pending(pending_changes)

    evaluated, pending_total, overridden = session.execute(select(
        func.count(),
        func.count(Member.demotion_pending_since),
        func.count(Member.tier_override_id),
    ).select_from(Member)).one()
    counts = {"as_of": as_of.isoformat(), "evaluated": evaluated, "promoted": promoted,
              "demoted": demoted, "pending_demotions": pending_total, "overridden": overridden,
              "unchanged": evaluated - len(tier_changes)}
    entry = audit.record(session, "tiers.compute", "tier_run", as_of.isoformat(), None, counts,
                         at=now)
    writer.history(history, entry.actor)
    result = TierRunResult(**{**counts, "as_of": as_of},
                           seconds=round(time.perf_counter() - started, 2))
    set_setting(session, LAST_RUN_SETTING, {**counts, "seconds": result.seconds,
                                            "at": now.isoformat()})
    session.expire_all()  # the bulk statements bypassed the identity map
    return result


# --- preview --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mover:
    member_id: int
    display_name: str
    from_tier: str | None
    to_tier: str | None
    up: bool


@dataclass(frozen=True)
class Preview:
    as_of: date
    up: int
    down: int
    stay: int
    overridden: int
    movers: list[Mover]

    @property
    def moving(self) -> int:
        return self.up + self.down


DRAFT_ID = -1  # stands for a tier that is not saved yet


def preview_ladder(session: Session, rungs: Sequence[Rung], as_of: date,
                   limit: int = PREVIEW_LIMIT) -> Preview:
    """How members would move from their current tier under this ladder (nothing saved).

    Moves down are shown as they would end after the grace period; overridden members stay.
    """
    ensure_window_stats(session, as_of)
    dialect = dialect_name(session)
    lsql = ladder_sql(rungs, dialect)
    ranks = {r.ref.id: r.ref.rank for r in rungs}
    names = {r.ref.id: r.ref.name for r in rungs}
    # Tiers that exist now but are left out of the ladder still rank where they are.
    for tier_id, rank, name in session.execute(select(Tier.id, Tier.rank, Tier.name)):
        ranks.setdefault(tier_id, rank)
        names.setdefault(tier_id, name)
    inner = (f"SELECT m.id AS id, m.display_name AS display_name, m.score AS score,"
             f" m.tier_id AS tier_id, {lsql.computed} AS computed"
             f" FROM members m {lsql.joins} WHERE m.tier_override_id IS NULL")
    groups = session.execute(*text_with_as_of(
        f"SELECT s.tier_id, s.computed, COUNT(*) FROM ({inner}) s"
        " GROUP BY s.tier_id, s.computed", as_of)).all()

    def rank(tier_id: int | None) -> float:
        return float("-inf") if tier_id is None else ranks.get(tier_id, float("-inf"))

    up = down = stay = 0
    for tier_id, computed, count in groups:
        if tier_id == computed:
            stay += count
        elif rank(computed) > rank(tier_id):
            up += count
        else:
            down += count
    movers = [
        Mover(mid, name, names.get(tier_id), names.get(computed), rank(computed) > rank(tier_id))
        for mid, name, tier_id, computed in session.execute(*text_with_as_of(
            f"SELECT s.id, s.display_name, s.tier_id, s.computed FROM ({inner}) s"
            " WHERE COALESCE(s.computed, 0) <> COALESCE(s.tier_id, 0)"
            f" ORDER BY s.score DESC, s.id LIMIT {int(limit)}", as_of))
    ]
    overridden = session.scalar(
        select(func.count()).select_from(Member).where(Member.tier_override_id.is_not(None)))
    return Preview(as_of, up, down, stay, overridden or 0, movers)


# --- editing tiers --------------------------------------------------------------------------

@dataclass(frozen=True)
class TierValues:
    name: str
    rank: int
    rule: str
    color: str = "#64748b"
    grace_days: int = 90
    description: str = ""


def tier_snapshot(tier: Tier) -> dict:
    return {"name": tier.name, "rank": tier.rank, "rule": tier.rule, "color": tier.color,
            "grace_days": tier.grace_days, "description": tier.description}


def draft_ladder(session: Session, tier: Tier | None, values: TierValues) -> list[Rung]:
    """The ladder as it would be with `values` saved for `tier` (None: a new tier)."""
    rule = parse_rule(values.rule)
    draft = Rung(TierRef(tier.id if tier else DRAFT_ID, values.rank, values.grace_days,
                         values.name), rule)
    others = [r for r in load_ladder(session) if tier is None or r.ref.id != tier.id]
    return sorted([*others, draft], key=lambda r: r.ref.rank, reverse=True)


def _check(session: Session, tier: Tier | None, values: TierValues) -> None:
    parse_rule(values.rule)
    if not COLOR_RE.match(values.color):
        raise TierError(f"not a colour: {values.color!r} (use #rrggbb)")
    if values.grace_days < 0:
        raise TierError("grace days cannot be negative")
    own_id = tier.id if tier else -1
    if session.scalar(select(Tier.id).where(func.lower(Tier.name) == values.name.lower(),
                                            Tier.id != own_id)):
        raise TierNameTaken(values.name)
    if session.scalar(select(Tier.id).where(Tier.rank == values.rank, Tier.id != own_id)):
        raise TierRankTaken(str(values.rank))


def save_tier(session: Session, tier: Tier | None, values: TierValues) -> Tier:
    """Create or update a tier after validating it (RuleError/TierError on bad input)."""
    values = TierValues(values.name.strip(), values.rank, values.rule.strip(), values.color,
                        values.grace_days, (values.description or "").strip())
    _check(session, tier, values)
    before = tier_snapshot(tier) if tier else None
    if tier is None:
        tier = Tier(name=values.name)
        session.add(tier)
    for key, value in asdict(values).items():
        setattr(tier, key, value)
    session.flush()
    after = tier_snapshot(tier)
    if before != after:
        audit.record(session, "tier.create" if before is None else "tier.update", "tier",
                     tier.id, before, after)
    return tier


def holders(session: Session, tier: Tier) -> int:
    """How many members hold the tier or have it as their override."""
    return session.scalar(select(func.count()).select_from(Member).where(
        (Member.tier_id == tier.id) | (Member.tier_override_id == tier.id))) or 0


def delete_tier(session: Session, tier: Tier) -> None:
    """Delete a tier nobody holds (TierInUse otherwise)."""
    count = holders(session, tier)
    if count:
        raise TierInUse(count)
    before = tier_snapshot(tier)
    tier_id = tier.id
    session.delete(tier)
    session.flush()
    audit.record(session, "tier.delete", "tier", tier_id, before, None)


# --- published look-ups: other features call these instead of querying the tiers ----------

def tier_by_name(session: Session, name: str) -> Tier | None:
    """The tier called `name`, ignoring case; None when there is no such tier."""
    return session.scalar(select(Tier).where(func.lower(Tier.name) == name.strip().lower()))


def tier_by_id(session: Session, tier_id: int) -> Tier | None:
    """The tier with this id; None when there is none."""
    return session.get(Tier, tier_id)


def tier_names(session: Session) -> list[str]:
    """Every tier's name, lowest rank first (for messages that list the known tiers)."""
    return list(session.scalars(select(Tier.name).order_by(Tier.rank)))


def tier_member_ids(tier_id: int) -> Select:
    """SELECT members.id of everyone whose computed tier is `tier_id` (use as a subquery)."""
    return select(Member.id).where(Member.tier_id == tier_id)


def member_tier_rank(session: Session, member_id: int) -> int | None:
    """The rank of the member's tier as it applies now (an override wins); None: no tier."""
    tier_id = func.coalesce(Member.tier_override_id, Member.tier_id)
    return session.scalar(select(Tier.rank).join(Member, Tier.id == tier_id)
                          .where(Member.id == member_id))


def member_counts(session: Session) -> dict[int | None, int]:
    """Members per tier id (None: no tier), one grouped query."""
    return dict(session.execute(
        select(Member.tier_id, func.count()).group_by(Member.tier_id)).all())


# --- overrides ------------------------------------------------------------------------------

def set_override(session: Session, member: Member, tier: Tier | None, reason: str,
                 now: datetime, as_of: date) -> TierHistory | None:
    """Pin a member to `tier` (or, with None, remove the pin and apply the rules again).

    Writes tier history (kind override / override-removed) and an audit entry.
    """
    reason = (reason or "").strip()
    if not reason:
        raise OverrideError("a reason is required")
    before = {"tier": member.tier.name if member.tier else None,
              "override": member.tier_override.name if member.tier_override else None,
              "reason": member.tier_override_reason}
    from_id = member.tier_id
    if tier is None:
        if member.tier_override_id is None:
            raise OverrideError("this member has no override")
        rungs = load_ladder(session)
        _fields, rows = candidates(session, rungs, as_of, member_id=member.id)
        new_id = rows[0].computed if rows else None
        member.tier_override_id = None
        member.tier_override_reason = None
        kind = Change.OVERRIDE_REMOVED
    else:
        new_id = tier.id
        member.tier_override_id = tier.id
        member.tier_override_reason = reason
        kind = Change.OVERRIDE
    member.demotion_pending_since = None
    if new_id != from_id:
        member.tier_id = new_id
        member.tier_since = now
    session.flush()
    session.refresh(member)
    after = {"tier": member.tier.name if member.tier else None,
             "override": member.tier_override.name if member.tier_override else None,
             "reason": member.tier_override_reason}
    entry = audit.record(session, f"member.{kind.value}", "member", member.id, before,
                         {**after, "why": reason}, at=now)
    item = TierHistory(member_id=member.id, from_tier_id=from_id, to_tier_id=new_id, at=now,
                       kind=kind.value, reason=reason, actor=entry.actor)
    session.add(item)
    session.flush()
    return item


# --- score weights --------------------------------------------------------------------------

def save_weights(session: Session, weights: ScoreWeights, as_of: date) -> bool:
    """Store new score weights and recompute lifetime and window scores (True if changed)."""
    before = load_weights(session)
    if before == weights:
        return False
    set_setting(session, WEIGHTS_KEY, asdict(weights))
    refresh_lifetime_scores(session)
    refresh_window_stats(session, as_of)
    audit.record(session, "settings.score_weights", "setting", WEIGHTS_KEY, asdict(before),
                 asdict(weights))
    return True
