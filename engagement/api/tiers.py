"""API: the tiers with their rules and member counts (SPEC §4a)."""
from __future__ import annotations

from flask import jsonify
from sqlalchemy import select

from ..community.models import Tier
from ..community.tiers import services as tier_services
from ..db import paginate
from ..extensions import db
from ..security import Role, roles_required
from .blueprint import bp
from .openapi import PAGING, SCHEMAS, describe, json_response, list_envelope, ref
from .pagination import list_body, page_args

SCHEMAS["Tier"] = {
    "type": "object",
    "required": ["name", "rank", "rule", "member_count"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "rank": {"type": "integer", "description": "Higher is better."},
        "rule": {"type": "string", "description": "The rule in the tier-rule language."},
        "description": {"type": "string"},
        "member_count": {"type": "integer", "minimum": 0},
    },
}
SCHEMAS["TierList"] = list_envelope("Tier")


@bp.route("/tiers")
@describe({
    "operationId": "listTiers",
    "summary": "List tiers",
    "description": "Tiers from the lowest rank up, with the number of members in each.",
    "tags": ["tiers"],
    "parameters": PAGING,
    "responses": {
        "200": json_response("The tiers.", ref("schemas", "TierList")),
        "400": ref("responses", "BadRequest"),
    },
})
@roles_required(Role.MANAGER, Role.HR)
def list_tiers():
    """All tiers, lowest rank first, each with how many members hold it now."""
    page = page_args()
    counts = tier_services.member_counts(db.session)
    tiers = paginate(db.session, select(Tier).order_by(Tier.rank),
                     page=page.page, per_page=page.per_page)
    items = [{"id": t.id, "name": t.name, "rank": t.rank, "rule": t.rule,
              "description": t.description, "member_count": counts.get(t.id, 0)}
             for t in tiers.items]
    return jsonify(list_body(items, tiers.total, page))
