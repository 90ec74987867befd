"""API: rewards — the catalogue and proposing a grant for one member (SPEC §4a)."""
from __future__ import annotations

from typing import Any

from flask import current_app, g, jsonify
from flask_babel import gettext as _
from sqlalchemy import select

from ..community.models import Member
from ..extensions import db
from ..rewards import services
from ..rewards.models import Grant, RewardItem
from ..security import Role, roles_required
from ..timeutil import utcnow
from .blueprint import bp
from .errors import ApiError
from .fields import json_body, record_id
from .openapi import SCHEMAS, describe, json_response, ref

SCHEMAS["RewardItem"] = {
    "type": "object", "required": ["id", "name", "value", "kind"],
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                   "value": {"type": "string", "examples": ["49.99"],
                             "description": "Gross amount in EUR (net plus VAT)."},
                   "net_value": {"type": "string", "examples": ["42.01"],
                                 "description": "Net amount in EUR (without VAT)."},
                   "vat_rate": {"type": "string", "examples": ["19.00"],
                                "description": "VAT rate in percent."},
                   "kind": {"type": "string",
                            "enum": ["gift", "voucher", "travel", "hospitality"]}},
}
SCHEMAS["RewardGrantInput"] = {
    "type": "object", "required": ["member_id", "item_id"], "additionalProperties": False,
    "properties": {"member_id": {"type": "integer"}, "item_id": {"type": "integer"},
                   "reason": {"type": "string"}, "event_id": {"type": ["integer", "null"]}},
}
SCHEMAS["RewardGrant"] = {
    "type": "object", "required": ["id", "member_id", "item_id", "value", "status", "year"],
    "properties": {
        "id": {"type": "integer"}, "member_id": {"type": "integer"},
        "item_id": {"type": "integer"},
        "value": {"type": "string",
                  "description": "The item's gross value when granted (EUR)."},
        "net_value": {"type": "string",
                      "description": "The item's net value when granted (EUR)."},
        "vat_rate": {"type": "string", "description": "VAT rate in percent when granted."},
        "kind": {"type": "string"}, "reason": {"type": "string"},
        "event_id": {"type": ["integer", "null"]},
        "year": {"type": "integer", "description": "Tax year (calendar year, Europe/Berlin)."},
        "status": {"type": "string", "enum": ["proposed", "approved", "rejected"]},
        "fulfilment": {"type": ["string", "null"],
                       "enum": ["ordered", "shipped", "delivered", "cancelled", None]},
        "granted_at": {"type": "string", "format": "date-time"},
        "warnings": {"type": "array", "items": {"type": "string"},
                     "description": "Set when this grant takes the recipient over the yearly "
                                    "gift limit (Freigrenze)."},
    },
}



def item_json(item: RewardItem) -> dict[str, Any]:
    return {"id": item.id, "name": item.name, "value": f"{item.value:.2f}",
            "net_value": f"{item.net_value:.2f}", "vat_rate": f"{item.vat_rate:.2f}",
            "kind": str(item.kind)}


def grant_json(grant: Grant) -> dict[str, Any]:
    return {"id": grant.id, "member_id": grant.member_id, "item_id": grant.item_id,
            "value": f"{grant.value:.2f}", "net_value": f"{grant.net_value:.2f}",
            "vat_rate": f"{grant.vat_rate:.2f}", "kind": str(grant.kind), "reason": grant.reason,
            "event_id": grant.event_id, "year": grant.year, "status": str(grant.status),
            "fulfilment": grant.fulfilment and str(grant.fulfilment),
            "granted_at": grant.granted_at.isoformat().replace("+00:00", "Z")}


def crossing_warning(member_id: int, after) -> str:
    return _("Member %(id)s now exceeds the gift limit for the year (%(total)s EUR): "
             "gifts to them this year are no longer deductible.",
             id=member_id, total=f"{after:.2f}")


@bp.get("/rewards/items")
@describe({
    "operationId": "listRewardItems", "summary": "The active reward catalogue",
    "tags": ["rewards"],
    "responses": {"200": json_response("Catalogue items.", {
        "type": "object", "properties": {"items": {"type": "array",
                                                   "items": ref("schemas", "RewardItem")}}})},
})
@roles_required(Role.MANAGER, Role.HR)
def list_reward_items():
    items = db.session.scalars(select(RewardItem).where(RewardItem.active)
                               .order_by(RewardItem.name, RewardItem.id))
    return jsonify(items=[item_json(i) for i in items])


@bp.post("/rewards/grants")
@describe({
    "operationId": "createRewardGrant", "summary": "Propose a reward for one member",
    "description": "The grant starts as `proposed` and needs approval on the rewards pages.",
    "tags": ["rewards"],
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": ref("schemas", "RewardGrantInput")}}},
    "responses": {"201": json_response("The grant with its value.",
                                       ref("schemas", "RewardGrant")),
                  "400": ref("responses", "BadRequest"),
                  "422": json_response("Invalid values.", ref("schemas", "Error"))},
})
@roles_required(Role.MANAGER)
def create_reward_grant():
    data = json_body()
    member_id = record_id(data, "member_id")
    item_id = record_id(data, "item_id")
    event_id = record_id(data, "event_id", required=False)
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        raise ApiError(422, "reason: must be a string", "invalid")
    if db.session.get(Member, member_id) is None:
        raise ApiError(422, "member_id: unknown member", "invalid")
    try:
        now = utcnow()
        plan = services.plan_grants(db.session, item_id=item_id, member_ids=[member_id],
                                    now=now, tz_name=current_app.config["DEFAULT_TIMEZONE"])
        grant = services.execute_plan(db.session, plan, reason=reason, event_id=event_id,
                                       by_user_id=g.api_user.id, now=now, target="member")
    except services.RewardError as exc:
        raise ApiError(422, str(exc), "invalid") from exc
    body = grant_json(grant)
    body["warnings"] = [crossing_warning(c.member_id, c.after) for c in plan.preview.crossing]
    return jsonify(body), 201
