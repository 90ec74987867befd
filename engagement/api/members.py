"""API: members list and detail (SPEC §4a)."""
from __future__ import annotations

from flask import jsonify
from sqlalchemy import func, select

from ..community.members.serialize import member_rows, row_dict, tier_history_dict
from ..community.members.services import search_members, tier_history
from ..community.models import Member, Tier
from ..community.tiers import services as tiers
from ..db import paginate
from ..extensions import db
from ..security import Role, roles_required
from .blueprint import bp
from .errors import ApiError
from .openapi import PAGING, PARAMETERS, SCHEMAS, describe, json_response, list_envelope, ref
from .pagination import list_body, page_args, text_arg

SCAN_LIMIT = 50_000  # rows worth reading in id order to fill a page of search results

SCHEMAS["Member"] = {
    "type": "object",
    "required": ["id", "source", "external_id", "display_name", "email", "tier",
                 "answers", "accepted_solutions", "kudos_received", "posts",
                 "last_active"],
    "properties": {
        "id": {"type": "integer"},
        "source": {"type": "string", "description": "Where the member was imported from."},
        "external_id": {"type": "string", "description": "The member's id at the source."},
        "display_name": {"type": "string"},
        "email": {"type": ["string", "null"]},
        "tier": {"type": ["string", "null"], "description": "Current tier's name."},
        "answers": {"type": "integer", "minimum": 0, "description": "Lifetime."},
        "accepted_solutions": {"type": "integer", "minimum": 0, "description": "Lifetime."},
        "kudos_received": {"type": "integer", "minimum": 0, "description": "Lifetime."},
        "posts": {"type": "integer", "minimum": 0, "description": "Lifetime."},
        "last_active": {"type": ["string", "null"], "format": "date-time",
                        "description": "ISO 8601, UTC."},
    },
}
SCHEMAS["TierHistoryEntry"] = {
    "type": "object",
    "required": ["tier", "from_tier", "at", "reason"],
    "properties": {
        "tier": {"type": ["string", "null"], "description": "The tier moved to."},
        "from_tier": {"type": ["string", "null"], "description": "The tier moved from."},
        "at": {"type": "string", "format": "date-time"},
        "reason": {"type": "string"},
        "kind": {"type": "string",
                 "examples": ["promotion", "demotion", "override", "override-removed"]},
    },
}
SCHEMAS["MemberDetail"] = {
    "allOf": [
        ref("schemas", "Member"),
        {
            "type": "object",
            "required": ["tier_history"],
            "properties": {
                "tier_history": {"type": "array",
                                 "items": ref("schemas", "TierHistoryEntry"),
                                 "description": "Newest first."},
            },
        },
    ],
}
SCHEMAS["MemberList"] = list_envelope("Member")
PARAMETERS["member_id"] = {"name": "member_id", "in": "path", "required": True,
                           "schema": {"type": "integer"}}


def tier_by_name(name: str) -> Tier:
    """The tier called `name` (case-insensitive); a 400 naming the known tiers otherwise."""
    tier = tiers.tier_by_name(db.session, name)
    if tier is None:
        known = ", ".join(tiers.tier_names(db.session))
        raise ApiError(400, f"unknown tier {name!r}; known tiers: {known}", "unknown_tier")
    return tier


@bp.route("/members")
@describe({
    "operationId": "listMembers",
    "summary": "List members",
    "description": "Members ordered by id, with their lifetime totals and current tier.",
    "tags": ["members"],
    "parameters": [
        {"name": "q", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "Part of the display name, or the exact e-mail or external id."},
        {"name": "tier", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "Tier name (case-insensitive); unknown names give a 400."},
        {"name": "source", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "Import source, e.g. csv, stackexchange."},
        *PAGING,
    ],
    "responses": {
        "200": json_response("A page of members.", ref("schemas", "MemberList")),
        "400": ref("responses", "BadRequest"),
    },
})
@roles_required(Role.MANAGER, Role.HR)
def list_members():
    """Members filtered by `q` (name, e-mail, external id), `tier` and `source`, by id."""
    page = page_args()
    q, tier_name, source = text_arg("q"), text_arg("tier", 64), text_arg("source", 32)
    matches = search_members(db.session, q or "", source=source,
                             tier_id=tier_by_name(tier_name).id if tier_name else None)
    total = db.session.scalar(matches.with_only_columns(func.count()).select_from(Member))
    if total == 0 or page.offset >= total:
        return jsonify(list_body([], total, page))
    order = Member.id
    if q:
        # Walking the table in id order finds a page of frequent matches at once but reads
        # every row for rare ones; then sorting the few matches is cheaper (`id + 0` keeps
        # the planner off the id order).
        highest = db.session.scalar(select(func.max(Member.id))) or 0
        if (page.offset + page.per_page) * highest / total > SCAN_LIMIT:
            order = Member.id + 0
    # The page's ids first (a narrow query indexes can answer), then their rows and tiers.
    ids = paginate(db.session, matches.with_only_columns(Member.id).order_by(order),
                   page=page.page, per_page=page.per_page, count=total).items
    rows = db.session.execute(member_rows().where(Member.id.in_(ids)).order_by(Member.id))
    return jsonify(list_body([row_dict(r) for r in rows], total, page))


@bp.route("/members/<int:member_id>")
@describe({
    "operationId": "getMember",
    "summary": "One member with tier history",
    "tags": ["members"],
    "parameters": [ref("parameters", "member_id")],
    "responses": {
        "200": json_response("The member.", ref("schemas", "MemberDetail")),
        "404": ref("responses", "NotFound"),
    },
})
@roles_required(Role.MANAGER, Role.HR)
def get_member(member_id: int):
    """One member with the full tier history, newest first."""
    row = db.session.execute(member_rows().where(Member.id == member_id)).first()
    if row is None:
        raise ApiError(404, f"no member with id {member_id}")
    history = tier_history(db.session, member_id)
    return jsonify({**row_dict(row), "tier_history": [tier_history_dict(h) for h in history]})
