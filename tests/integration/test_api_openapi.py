"""The OpenAPI document matches the app: same paths and methods, real answers fit the schemas."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engagement.accounts.services import create_token
from engagement.community.models import Tier, TierHistory
from engagement.extensions import db
from tests.factories import make_member, make_user

JSON_TYPES = {"object": dict, "array": list, "string": str, "integer": int, "number": (int, float),
              "boolean": bool, "null": type(None)}


def _resolve(doc: dict, node: dict) -> dict:
    while "$ref" in node:
        _hash, *parts = node["$ref"].split("/")
        node = doc
        for part in parts:
            node = node[part]
    return node


def validate(doc: dict, schema: dict, value, where: str = "$") -> list[str]:
    """A small JSON-Schema check: $ref, allOf, type (incl. lists), required, properties, items."""
    schema = _resolve(doc, schema)
    problems = []
    for part in schema.get("allOf", []):
        problems += validate(doc, part, value, where)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        ok = any(isinstance(value, JSON_TYPES[t]) and not (t in ("integer", "number")
                                                           and isinstance(value, bool))
                 for t in types)
        if not ok:
            return problems + [f"{where}: {value!r} is not {types}"]
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                problems.append(f"{where}: missing {name}")
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                problems += validate(doc, sub, value[name], f"{where}.{name}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            problems += validate(doc, schema["items"], item, f"{where}[{i}]")
    return problems


def _doc_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


@pytest.fixture
def document(client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200 and resp.is_json
    return resp.get_json()


def test_document_basics(document):
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] and document["info"]["version"]
    assert document["servers"] == [{"url": "http://localhost"}]  # BASE_URL of the tests
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"]}
    assert document["security"] == [{"bearerAuth": []}]
    for name in ("Member", "MemberDetail", "TierHistoryEntry", "Tier", "Error", "MemberList",
                 "TierList"):
        assert name in document["components"]["schemas"]


def test_every_ref_resolves(document):
    refs = re.findall(r'"\$ref": "([^"]+)"', json.dumps(document))
    assert refs
    for ref in refs:
        _resolve(document, {"$ref": ref})  # KeyError if dangling


def test_paths_match_the_url_map(app, document):
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            methods = {m.lower() for m in rule.methods} - {"head", "options"}
            routes.setdefault(_doc_path(rule.rule), set()).update(methods)
            view = app.view_functions[rule.endpoint]
            for method in methods:
                op = document["paths"].get(_doc_path(rule.rule), {}).get(method)
                if op is None:
                    continue  # reported by the comparison below
                if view.allowed_roles is None:
                    assert op["security"] == [], f"{method} {rule.rule} is public"
                else:
                    assert "security" not in op or op["security"], rule.rule
                    assert {"401", "403"} <= set(op["responses"]), rule.rule
                    for role in view.allowed_roles:
                        assert role.value in op["description"], (rule.rule, role)
    documented = {path: set(ops) for path, ops in document["paths"].items()}
    assert documented == routes
    for path, ops in document["paths"].items():
        params = set(re.findall(r"{(\w+)}", path))
        for op in ops.values():
            declared = {_resolve(document, p)["name"] for p in op.get("parameters", [])
                        if _resolve(document, p)["in"] == "path"}
            assert declared == params, path
            assert "200" in op["responses"] or "201" in op["responses"]


def test_real_answers_fit_the_schemas(app, client, document):
    with app.app_context():
        user = make_user(role="hr")
        _t, plain = create_token(db.session, user, "doc")
        tier = db.session.scalar(select(Tier).where(Tier.name == "Expert"))
        member = make_member(tier_id=tier.id, answers=5,
                             last_active=datetime(2026, 1, 2, tzinfo=UTC))
        make_member(email=None)
        db.session.add(TierHistory(member_id=member.id, from_tier_id=None, to_tier_id=tier.id,
                                   at=datetime(2026, 1, 3, tzinfo=UTC), kind="promotion",
                                   reason="rules", actor="test"))
        db.session.commit()
        member_id = member.id
    headers = {"Authorization": f"Bearer {plain}"}
    schemas = document["components"]["schemas"]

    def check(url, schema_name, status=200, auth=True):
        resp = client.get(url, headers=headers if auth else {})
        assert resp.status_code == status, url
        problems = validate(document, schemas[schema_name], resp.get_json())
        assert problems == [], (url, problems)
        return resp.get_json()

    body = check("/api/v1/members", "MemberList")
    assert body["total"] == 2
    assert (body["page"], body["per_page"]) == (1, 50)
    assert check("/api/v1/tiers?page=2&per_page=3", "TierList")["page"] == 2
    detail = check(f"/api/v1/members/{member_id}", "MemberDetail")
    assert detail["tier_history"][0]["tier"] == "Expert"
    check("/api/v1/tiers", "TierList")
    check("/api/v1/members/999999", "Error", 404)
    check("/api/v1/members?per_page=0", "Error", 400)
    check("/api/v1/members", "Error", 401, auth=False)
    # The checker itself can fail: a member without its required fields does not validate.
    assert validate(document, schemas["Member"], {"id": 1}) != []
    assert validate(document, schemas["MemberDetail"], {**body["items"][0]}) == [
        "$: missing tier_history"]
