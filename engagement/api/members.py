"""API: members list and detail (SPEC §4a)."""
from __future__ import annotations

from flask import jsonify
from sqlalchemy import func, select

from ..community.members.serialize import member_rows, row_dict, tier_history_dict
from ..community.members.services import search_members
from ..community.models import Member, Tier, TierHistory
from ..extensions import db
from ..security import Role, roles_required
from . import bp
from .errors import ApiError
from .pagination import page_args, text_arg

SCAN_LIMIT = 50_000  # rows worth reading in id order to fill a page of search results


def tier_by_name(name: str) -> Tier:
    """The tier called `name` (case-insensitive); a 400 naming the known tiers otherwise."""
    tier = db.session.scalar(select(Tier).where(func.lower(Tier.name) == name.lower()))
    if tier is None:
        known = ", ".join(db.session.scalars(select(Tier.name).order_by(Tier.rank)))
        raise ApiError(400, f"unknown tier {name!r}; known tiers: {known}", "unknown_tier")
    return tier


@bp.route("/members")
@roles_required(Role.MANAGER, Role.HR)
def list_members():
    """Members filtered by `q` (name, e-mail, external id), `tier` and `source`, by id."""
    page = page_args()
    q, tier_name, source = text_arg("q"), text_arg("tier", 64), text_arg("source", 32)
    matches = search_members(db.session, q or "", source=source,
                             tier_id=tier_by_name(tier_name).id if tier_name else None)
    total = db.session.scalar(matches.with_only_columns(func.count()).select_from(Member))
    if total == 0 or page.offset >= total:
        return jsonify({"items": [], "total": total})
    order = Member.id
    if q:
        # Walking the table in id order finds a page of frequent matches at once but reads
        # every row for rare ones; then sorting the few matches is cheaper (`id + 0` keeps
        # the planner off the id order).
        highest = db.session.scalar(select(func.max(Member.id))) or 0
        if (page.offset + page.per_page) * highest / total > SCAN_LIMIT:
            order = Member.id + 0
    # The page's ids first (a narrow query indexes can answer), then their rows and tiers.
    ids = db.session.scalars(
        matches.with_only_columns(Member.id).order_by(order)
        .limit(page.per_page).offset(page.offset)
    ).all()
    rows = db.session.execute(member_rows().where(Member.id.in_(ids)).order_by(Member.id))
    return jsonify({"items": [row_dict(r) for r in rows], "total": total})


@bp.route("/members/<int:member_id>")
@roles_required(Role.MANAGER, Role.HR)
def get_member(member_id: int):
    """One member with the full tier history, newest first."""
    row = db.session.execute(member_rows().where(Member.id == member_id)).first()
    if row is None:
        raise ApiError(404, f"no member with id {member_id}")
    history = db.session.scalars(
        select(TierHistory).where(TierHistory.member_id == member_id)
        .order_by(TierHistory.at.desc(), TierHistory.id.desc())
    ).all()
    return jsonify({**row_dict(row), "tier_history": [tier_history_dict(h) for h in history]})
