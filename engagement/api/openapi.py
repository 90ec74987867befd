"""The OpenAPI 3.1 document of /api/v1: the builder, the shared parts and its own endpoint.

Each resource module describes its endpoints with `@describe(...)` next to the route and adds
its schemas to `SCHEMAS` / `PARAMETERS`; the document takes paths, methods and roles from the
app's URL map, so it lists exactly the routes there are.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, jsonify

from ..security import public
from .blueprint import bp
from .pagination import DEFAULT_PER_PAGE, MAX_PER_PAGE

API_VERSION = "1.0.0"


def ref(kind: str, name: str) -> dict[str, str]:
    """A `$ref` to a shared component."""
    return {"$ref": f"#/components/{kind}/{name}"}


def list_envelope(item_schema: str) -> dict[str, Any]:
    """The paginated list shape: {"items": [...], "total": N, "page": n, "per_page": n}."""
    return {
        "type": "object",
        "required": ["items", "total", "page", "per_page"],
        "properties": {
            "items": {"type": "array", "items": ref("schemas", item_schema)},
            "total": {"type": "integer", "minimum": 0,
                      "description": "Number of matching items over all pages."},
            "page": {"type": "integer", "minimum": 1, "description": "This page's number."},
            "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE,
                         "description": "Items per page asked for."},
        },
    }


def json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A response with a JSON body of `schema`."""
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
}

PARAMETERS: dict[str, dict[str, Any]] = {
    "page": {"name": "page", "in": "query", "required": False,
             "description": "Page number, from 1.",
             "schema": {"type": "integer", "minimum": 1, "default": 1}},
    "per_page": {"name": "per_page", "in": "query", "required": False,
                 "description": f"Items per page (at most {MAX_PER_PAGE}).",
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE,
                            "default": DEFAULT_PER_PAGE}},
}
PAGING = [ref("parameters", "page"), ref("parameters", "per_page")]

RESPONSES: dict[str, dict[str, Any]] = {
    "BadRequest": json_response("Invalid parameters.", ref("schemas", "Error")),
    "Unauthorized": json_response("Missing, invalid or revoked bearer token.",
                                  ref("schemas", "Error")),
    "Forbidden": json_response("The token's user has a role that may not do this.",
                               ref("schemas", "Error")),
    "NotFound": json_response("No such object.", ref("schemas", "Error")),
}


def describe(operation: dict[str, Any]) -> Callable[[Callable], Callable]:
    """Attach the endpoint's OpenAPI operation; put it between the route and its roles."""
    def decorator(view: Callable) -> Callable:
        view.openapi_operation = operation
        return view
    return decorator


def _operation(view: Callable) -> dict[str, Any]:
    """The view's operation with security and the roles (from `roles_required`) filled in."""
    op = dict(view.openapi_operation)
    responses = dict(op.get("responses", {}))
    roles = view.allowed_roles
    if roles is None:
        op["security"] = []
    else:
        allowed = ", ".join(sorted(str(r) for r in roles))
        op["description"] = (op.get("description", "") + f"\n\nRoles: {allowed}.").strip()
        responses.setdefault("401", ref("responses", "Unauthorized"))
        responses.setdefault("403", ref("responses", "Forbidden"))
    op["responses"] = responses
    return op


def _paths(app: Flask) -> dict[str, dict[str, dict[str, Any]]]:
    """Every described API route: `/api/v1/events/<int:event_id>` as `{event_id}`."""
    paths: dict[str, dict[str, dict[str, Any]]] = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        if not rule.endpoint.startswith(f"{bp.name}.") or not hasattr(
                view, "openapi_operation"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(view)
    return paths


def build_document(app: Flask) -> dict[str, Any]:
    """The whole document for `app`, served at its BASE_URL."""
    base_url = app.config["BASE_URL"]
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
                f"(`page`, `per_page` <= {MAX_PER_PAGE}) and return "
                "`{items, total, page, per_page}`."
            ),
        },
        "servers": [{"url": base_url.rstrip("/") or "/"}],
        "security": [{"bearerAuth": []}],
        "paths": copy.deepcopy(_paths(app)),
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
@describe({
    "operationId": "getOpenApiDocument",
    "summary": "This document",
    "tags": ["meta"],
    "responses": {"200": json_response("The OpenAPI 3.1 document.", {"type": "object"})},
})
@public
def openapi_document():
    """The OpenAPI document; public, so clients can read it before they have a token."""
    return jsonify(build_document(current_app._get_current_object()))
