"""API: the tiers with their rules and member counts (SPEC §4a)."""
from __future__ import annotations

from flask import jsonify
from sqlalchemy import func, select

from ..community.models import Member, Tier
from ..extensions import db
from ..security import Role, roles_required
from . import bp
from .pagination import page_args


@bp.route("/tiers")
@roles_required(Role.MANAGER, Role.HR)
def list_tiers():
    """All tiers, lowest rank first, each with how many members hold it now."""
    page = page_args()
    # One GROUP BY over the (tier_id, score) index instead of a count per tier.
    counts = dict(db.session.execute(
        select(Member.tier_id, func.count()).where(Member.tier_id.is_not(None))
        .group_by(Member.tier_id)
    ).all())
    total = db.session.scalar(select(func.count()).select_from(Tier))
    tiers = db.session.scalars(
        select(Tier).order_by(Tier.rank).limit(page.per_page).offset(page.offset)
    )
    items = [{"id": t.id, "name": t.name, "rank": t.rank, "rule": t.rule,
              "description": t.description, "member_count": counts.get(t.id, 0)}
             for t in tiers]
    return jsonify({"items": items, "total": total})
