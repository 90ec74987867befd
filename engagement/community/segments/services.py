"""Segment use cases: the member query behind a segment, preview, save and delete.

`segment_query` returns a composable SELECT of member ids, so other features use a
segment as a subquery (events: invite a segment; mailings: the recipients).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from ... import audit
from ...timeutil import utcnow
from ..models import Member, MemberWindowStats, Tier
from ..tiers.services import tier_by_name
from .models import Segment
from .rules import InvalidCriteria, SegmentCriteria, criteria_from_dict


class SegmentError(Exception):
    """A segment cannot be saved as asked (duplicate name, unknown tier, ...)."""


# --- conditions owned by other features -----------------------------------------------------

@dataclass(frozen=True)
class CriterionFilter:
    """A criterion another feature adds: `build(value)` gives a SQL condition on Member.id."""

    name: str
    build: Callable[[Any], ColumnElement[bool]]
    label: Any = None  # a (lazy) translated label for the UI; the name is shown without one
    in_form: bool = False  # offered as an optional "number of days"-style field in the form
    validate: Callable[[Any], Any] | None = None  # returns the cleaned value or raises ValueError


_FILTERS: dict[str, CriterionFilter] = {}


def register_criterion_filter(
    name: str, build: Callable[[Any], ColumnElement[bool]], *, label: Any = None,
    in_form: bool = False, validate: Callable[[Any], Any] | None = None,
) -> None:
    """Let a feature that community may not import (events) add a segment criterion.

    `build(value)` must return a boolean SQL expression over `Member.id`, e.g.
    `Member.id.in_(select(Invitation.member_id).where(...))`. Registering the same name
    again replaces the filter (app factories run more than once in tests).
    """
    _FILTERS[name] = CriterionFilter(name, build, label, in_form, validate)


def criterion_filters() -> dict[str, CriterionFilter]:
    """The registered extra criteria by name."""
    return dict(_FILTERS)


def validate_extras(criteria: SegmentCriteria) -> SegmentCriteria:
    """Check every extra is registered and let its owner clean the value."""
    cleaned: dict[str, Any] = {}
    for name, value in criteria.extra.items():
        flt = _FILTERS.get(name)
        if flt is None:
            raise InvalidCriteria(f"unknown criterion {name!r}")
        if flt.validate is not None:
            try:
                value = flt.validate(value)
            except (TypeError, ValueError) as exc:
                raise InvalidCriteria(f"{name}: {exc}") from exc
        cleaned[name] = value
    return criteria.replace(extra=cleaned) if cleaned != dict(criteria.extra) else criteria


# --- the query --------------------------------------------------------------------------------

def _tier_ids(session: Session, criteria: SegmentCriteria) -> list[int] | None:
    """Tier ids that satisfy the tier conditions (None: no tier condition)."""
    if not criteria.tiers and criteria.min_tier_rank is None:
        return None
    # The tiers table has a handful of rows; resolving it first leaves the big query an
    # `IN (...)` on members.tier_id, which the planner serves from ix_members_tier_id_score.
    query = select(Tier.id)
    if criteria.tiers:
        query = query.where(Tier.name.in_(criteria.tiers))
    if criteria.min_tier_rank is not None:
        query = query.where(Tier.rank >= criteria.min_tier_rank)
    return list(session.scalars(query))


def _locale_condition(locales: tuple[str, ...]) -> ColumnElement[bool]:
    conditions = []
    for loc in locales:
        if "-" in loc:  # a regional tag: that exact variant, written with - or _
            conditions.append(func.lower(Member.locale).in_([loc, loc.replace("-", "_")]))
        else:  # a language: every regional variant of it
            escaped = loc.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(or_(Member.locale == loc,
                                  Member.locale.like(f"{escaped}-%", escape="\\"),
                                  Member.locale.like(f"{escaped}\\_%", escape="\\")))
    return or_(*conditions)


def member_conditions(
    session: Session, criteria: SegmentCriteria, *, now: datetime | None = None,
) -> list[ColumnElement[bool]]:
    """The WHERE conditions on `members` that make up the segment."""
    conditions: list[ColumnElement[bool]] = []
    tier_ids = _tier_ids(session, criteria)
    if tier_ids is not None:
        conditions.append(Member.tier_id.in_(tier_ids) if tier_ids else Member.id.is_(None))
    for cond in criteria.metrics:
        if cond.window == "lifetime":
            conditions.append(getattr(Member, cond.metric) >= cond.min_value)
        else:
            # Only members active in a window have a stats row, and min_value >= 1, so
            # "no row" correctly means "not enough".
            column = getattr(MemberWindowStats, cond.metric)
            conditions.append(Member.id.in_(
                select(MemberWindowStats.member_id).where(
                    MemberWindowStats.window_days == int(cond.window),
                    column >= cond.min_value)))
    if criteria.regions:
        conditions.append(Member.region.in_(criteria.regions))
    if criteria.locales:
        conditions.append(_locale_condition(criteria.locales))
    if criteria.active_within_days is not None:
        since = (now or utcnow()) - timedelta(days=criteria.active_within_days)
        conditions.append(Member.last_active >= since)
    if criteria.has_email:
        conditions.append(and_(Member.email.is_not(None), Member.email != ""))
    if criteria.exclude_opted_out:
        conditions.append(Member.mail_opt_out_at.is_(None))
    for name, value in criteria.extra.items():
        flt = _FILTERS.get(name)
        if flt is None:
            # Ignoring it would silently widen the segment (and mail people it excludes).
            raise InvalidCriteria(f"unknown criterion {name!r}")
        conditions.append(flt.build(value))
    return conditions


def segment_query(
    session: Session, criteria: SegmentCriteria, *, now: datetime | None = None,
) -> Select:
    """SELECT members.id of every member in the segment (use it as a subquery)."""
    return select(Member.id).where(*member_conditions(session, criteria, now=now))


@dataclass(frozen=True)
class SegmentPreview:
    total: int
    members: list[Member]


def count_members(session: Session, criteria: SegmentCriteria, *,
                  now: datetime | None = None) -> int:
    """How many members the segment has now."""
    conditions = member_conditions(session, criteria, now=now)
    return session.scalar(select(func.count()).select_from(Member).where(*conditions)) or 0


def preview(session: Session, criteria: SegmentCriteria, limit: int = 50, *,
            now: datetime | None = None) -> SegmentPreview:
    """The segment's size and its first `limit` members by score (highest first)."""
    conditions = member_conditions(session, criteria, now=now)
    total = session.scalar(select(func.count()).select_from(Member).where(*conditions)) or 0
    ids = _top_ids(session, conditions, total, limit) if total else []
    # Load the few members (with their tier) in a second, primary-key query.
    by_id = {m.id: m for m in session.scalars(select(Member).where(Member.id.in_(ids))).unique()}
    return SegmentPreview(total, [by_id[i] for i in ids if i in by_id])


def _top_ids(session: Session, conditions: list, total: int, limit: int) -> list[int]:
    """Ids of the segment's first `limit` members by score (highest first)."""
    order = (Member.score.desc(), Member.id)
    size = _table_size_estimate(session)
    if total * total > limit * size:
        # A large segment: among the top k members of the whole community (read straight
        # from ix_members_score) about k * total / size belong to it, so a small k already
        # holds the first `limit`. Planners without statistics (SQLite before ANALYZE) sort
        # the whole segment instead, which takes seconds at 730,000 members.
        k = min(size, 3 * limit * size // total + limit)
        top = select(Member.id).order_by(*order).limit(k).scalar_subquery()
        ids = list(session.scalars(
            select(Member.id).where(Member.id.in_(top), *conditions).order_by(*order)
            .limit(limit)))
        # Fewer than asked means the top k held too few (a segment of low scorers): then,
        # and only then, ask the plain way.
        if len(ids) >= min(limit, total):
            return ids
    return list(session.scalars(select(Member.id).where(*conditions).order_by(*order)
                                .limit(limit)))


def _table_size_estimate(session: Session) -> int:
    # max(id) is one primary-key look-up; ids are dense enough for a cost decision.
    return session.scalar(select(func.max(Member.id))) or 0


# --- saved segments ---------------------------------------------------------------------------

def criteria_of(segment: Segment) -> SegmentCriteria:
    """The saved criteria of a segment as a value."""
    return criteria_from_dict(segment.criteria)


def check_tiers_exist(session: Session, criteria: SegmentCriteria) -> None:
    """Tier names must name existing tiers: a typo would silently select nobody."""
    if not criteria.tiers:
        return
    known = set(session.scalars(select(Tier.name).where(Tier.name.in_(criteria.tiers))))
    missing = [t for t in criteria.tiers if t not in known]
    if missing:
        raise InvalidCriteria(f"unknown tier: {', '.join(missing)}")


def saved_segments(session: Session) -> list[tuple[int, str]]:
    """(id, name) of every saved segment, by name (for pickers in other features)."""
    return [(i, n) for i, n in session.execute(
        select(Segment.id, Segment.name).order_by(Segment.name))]


def segment_by_name(session: Session, name: str) -> Segment | None:
    """The saved segment called exactly `name`; None when there is none."""
    return session.scalar(select(Segment).where(Segment.name == name))


SegmentRef = Segment | int | SegmentCriteria | Mapping[str, Any]


def resolve_criteria(session: Session, segment_or_criteria: SegmentRef) -> SegmentCriteria:
    """Checked criteria from a saved segment (or its id), criteria, or a criteria mapping.

    A mapping may name `min_tier` (a tier name: that tier or higher). Unknown segment ids,
    tier names and criteria raise InvalidCriteria, so nothing silently selects nobody or
    everybody.
    """
    ref = segment_or_criteria
    if isinstance(ref, int) and not isinstance(ref, bool):
        segment = session.get(Segment, ref)
        if segment is None:
            raise InvalidCriteria(f"no saved segment with id {ref}")
        ref = segment
    if isinstance(ref, Segment):
        criteria = criteria_of(ref)
    elif isinstance(ref, SegmentCriteria):
        criteria = ref
    elif isinstance(ref, Mapping):
        data = dict(ref)
        if "min_tier" in data:
            name = data.pop("min_tier")
            tier = tier_by_name(session, str(name))
            if tier is None:
                raise InvalidCriteria(f"unknown tier {name!r}")
            data["min_tier_rank"] = tier.rank
        criteria = criteria_from_dict(data)
    else:
        raise InvalidCriteria("give a saved segment or criteria")
    criteria = validate_extras(criteria)
    check_tiers_exist(session, criteria)
    return criteria


def resolve_segment(session: Session, segment_or_criteria: SegmentRef, *,
                    now: datetime | None = None) -> Select:
    """SELECT members.id of a saved segment (or its id) or of criteria, checked first.

    The one way for other features to turn "a segment" into members (see resolve_criteria
    for what is accepted and refused); use the result as a subquery.
    """
    return segment_query(session, resolve_criteria(session, segment_or_criteria), now=now)


def _snapshot(segment: Segment) -> dict[str, Any]:
    return {"name": segment.name, "description": segment.description,
            "criteria": segment.criteria}


def save_segment(
    session: Session, *, name: str, description: str, criteria: SegmentCriteria,
    segment: Segment | None = None, actor_user_id: int | None = None, actor: str = "",
    now: datetime | None = None,
) -> Segment:
    """Create (segment=None) or update a saved segment, count it and audit the change."""
    now = now or utcnow()
    name = (name or "").strip()
    if not name:
        raise SegmentError("A segment needs a name.")
    if len(name) > 120:
        raise SegmentError("The name is too long (at most 120 characters).")
    criteria = validate_extras(criteria)
    check_tiers_exist(session, criteria)
    clash = session.scalar(select(Segment.id).where(Segment.name == name))
    if clash is not None and (segment is None or clash != segment.id):
        raise SegmentError(f"A segment named {name!r} exists already.")
    before = None if segment is None else _snapshot(segment)
    if segment is None:
        segment = Segment(name=name, created_by_user_id=actor_user_id, created_by=actor,
                          created_at=now)
        session.add(segment)
    segment.name = name
    segment.description = (description or "").strip()
    segment.criteria = criteria.to_dict()
    segment.updated_at = now
    segment.member_count = count_members(session, criteria, now=now)
    segment.counted_at = now
    session.flush()
    audit.record(session, "segment.create" if before is None else "segment.update", "segment",
                 segment.id, before=before, after=_snapshot(segment), at=now)
    return segment


def refresh_count(session: Session, segment: Segment, *, now: datetime | None = None) -> int:
    """Count the segment again and remember the figure for the list page."""
    now = now or utcnow()
    segment.member_count = count_members(session, criteria_of(segment), now=now)
    segment.counted_at = now
    session.flush()
    return segment.member_count


def delete_segment(session: Session, segment: Segment, *, now: datetime | None = None) -> None:
    """Delete a saved segment (mailings keep their own snapshot of its criteria)."""
    audit.record(session, "segment.delete", "segment", segment.id, before=_snapshot(segment),
                 at=now or utcnow())
    session.delete(segment)
    session.flush()


def known_regions(session: Session) -> list[str]:
    """Every region members have (for the multi-select), served from ix_members_region."""
    return list(session.scalars(
        select(Member.region).where(Member.region.is_not(None), Member.region != "")
        .distinct().order_by(Member.region)))


def known_locales(session: Session) -> list[str]:
    """The languages members have, reduced to the language part ('de-AT' -> 'de')."""
    raw = session.scalars(select(Member.locale).where(Member.locale.is_not(None)).distinct())
    return sorted({loc.lower().replace("_", "-").split("-")[0] for loc in raw if loc})
