"""The OpenAPI 3.1 document of /api/v1, kept as Python data next to the endpoints.

Each feature adds its paths and schemas with `add_operation` / `SCHEMAS` when its module
is imported; a test checks that the document and the app's URL map agree.
"""
from __future__ import annotations

import copy
from typing import Any

from flask import current_app, jsonify

from ..security import public
from . import bp
from .pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE

API_VERSION = "1.0.0"


def ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def list_envelope(item_schema: str) -> dict[str, Any]:
    """The paginated list shape: {"items": [...], "total": N}."""
    return {
        "type": "object",
        "required": ["items", "total"],
        "properties": {
            "items": {"type": "array", "items": ref("schemas", item_schema)},
            "total": {"type": "integer", "minimum": 0,
                      "description": "Number of matching items over all pages."},
        },
    }


def json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "examples": ["bad_request", "not_found"]},
                    "message": {"type": "string"},
                },
            },
        },
    },
    "Member": {
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
    },
    "TierHistoryEntry": {
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
    },
    "MemberDetail": {
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
    },
    "Tier": {
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
    },
    "MemberList": list_envelope("Member"),
    "TierList": list_envelope("Tier"),
}

PARAMETERS: dict[str, dict[str, Any]] = {
    "page": {"name": "page", "in": "query", "required": False,
             "description": "Page number, from 1.",
             "schema": {"type": "integer", "minimum": 1, "default": 1}},
    "per_page": {"name": "per_page", "in": "query", "required": False,
                 "description": f"Items per page (at most {MAX_PER_PAGE}).",
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE,
                            "default": DEFAULT_PER_PAGE}},
    "member_id": {"name": "member_id", "in": "path", "required": True,
                  "schema": {"type": "integer"}},
}

RESPONSES: dict[str, dict[str, Any]] = {
    "BadRequest": json_response("Invalid parameters.", ref("schemas", "Error")),
    "Unauthorized": json_response("Missing, invalid or revoked bearer token.",
                                  ref("schemas", "Error")),
    "Forbidden": json_response("The token's user has a role that may not do this.",
                               ref("schemas", "Error")),
    "NotFound": json_response("No such object.", ref("schemas", "Error")),
}

PATHS: dict[str, dict[str, dict[str, Any]]] = {}


def add_operation(path: str, method: str, operation: dict[str, Any], *,
                  roles: tuple[str, ...] | None = None) -> None:
    """Register one operation; `roles` (None: public) is documented and sets security."""
    op = dict(operation)
    responses = dict(op.get("responses", {}))
    if roles is None:
        op["security"] = []
    else:
        allowed = ", ".join(sorted({"admin", *roles}))
        op["description"] = (op.get("description", "") + f"\n\nRoles: {allowed}.").strip()
        responses.setdefault("401", ref("responses", "Unauthorized"))
        responses.setdefault("403", ref("responses", "Forbidden"))
    op["responses"] = responses
    PATHS.setdefault(path, {})[method.lower()] = op


STAFF_READ = ("manager", "hr")

add_operation("/api/v1/members", "get", {
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
        ref("parameters", "page"),
        ref("parameters", "per_page"),
    ],
    "responses": {
        "200": json_response("A page of members.", ref("schemas", "MemberList")),
        "400": ref("responses", "BadRequest"),
    },
}, roles=STAFF_READ)

add_operation("/api/v1/members/{member_id}", "get", {
    "operationId": "getMember",
    "summary": "One member with tier history",
    "tags": ["members"],
    "parameters": [ref("parameters", "member_id")],
    "responses": {
        "200": json_response("The member.", ref("schemas", "MemberDetail")),
        "404": ref("responses", "NotFound"),
    },
}, roles=STAFF_READ)

add_operation("/api/v1/tiers", "get", {
    "operationId": "listTiers",
    "summary": "List tiers",
    "description": "Tiers from the lowest rank up, with the number of members in each.",
    "tags": ["tiers"],
    "parameters": [ref("parameters", "page"), ref("parameters", "per_page")],
    "responses": {
        "200": json_response("The tiers.", ref("schemas", "TierList")),
        "400": ref("responses", "BadRequest"),
    },
}, roles=STAFF_READ)

add_operation("/api/v1/openapi.json", "get", {
    "operationId": "getOpenApiDocument",
    "summary": "This document",
    "tags": ["meta"],
    "responses": {"200": json_response("The OpenAPI 3.1 document.", {"type": "object"})},
}, roles=None)


def build_document(base_url: str) -> dict[str, Any]:
    """The whole document for a server at `base_url`."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "engagement API",
            "version": API_VERSION,
            "description": (
                "Recognition programme for a support community's power users. "
                "Authenticate with `Authorization: Bearer <token>` (create one with "
                "`flask --app app create-token EMAIL`); the token acts with its user's role. "
                "Errors are `{\"error\": {\"code\", \"message\"}}`. Lists are paginated "
                f"(`page`, `per_page` <= {MAX_PER_PAGE}) and return `{{items, total}}`."
            ),
        },
        "servers": [{"url": base_url.rstrip("/") or "/"}],
        "security": [{"bearerAuth": []}],
        "paths": copy.deepcopy(PATHS),
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "An API token of an engagement user."},
            },
            "schemas": copy.deepcopy(SCHEMAS),
            "parameters": copy.deepcopy(PARAMETERS),
            "responses": copy.deepcopy(RESPONSES),
        },
    }


@bp.route("/openapi.json")
@public
def openapi_document():
    return jsonify(build_document(current_app.config.get("BASE_URL", "")))
