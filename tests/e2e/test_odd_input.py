"""Odd input a hostile client sends (huge ids, garbage page numbers, deeply nested JSON, line
breaks in redirects): always a 4xx or a normal page, never a 500."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from werkzeug.routing import IntegerConverter

from engagement.accounts.services import create_token
from engagement.extensions import db
from tests.factories import (
    make_event,
    make_invitation,
    make_member,
    make_reward_item,
    make_user,
)
from tests.helpers import routes

HUGE_IDS = [2**63, 10**30]


def _int_routes(app):
    for rule, methods in routes(app):
        ints = [name for name, conv in rule._converters.items()
                if isinstance(conv, IntegerConverter)]
        if ints:
            yield rule, methods, ints


def _url(rule, values: dict) -> str:
    url = rule.rule
    for name in rule._converters:
        pattern = next(p for p in (f"<int:{name}>", f"<{name}>", f"<string:{name}>",
                                   f"<path:{name}>") if p in url)
        url = url.replace(pattern, str(values.get(name, "x")))
    return url


def _clients(app, roles):
    """A (client, headers) pair per role: a session login for pages, a token for the API."""
    out = {}
    with app.app_context():
        for role in roles:
            user = make_user(role=role)
            _t, token = create_token(db.session, user, "odd-input")
            db.session.commit()
            client = app.test_client()
            with client.session_transaction() as sess:
                sess["_user_id"] = str(user.id)
                sess["_fresh"] = True
            out[role] = (client, {"Authorization": f"Bearer {token}"})
    return out


def test_every_int_route_answers_404_for_ids_beyond_64_bits(app):
    app.config["WTF_CSRF_ENABLED"] = False
    clients = _clients(app, ["admin", "manager", "hr", "member"])
    checked = []
    for rule, methods, ints in _int_routes(app):
        allowed = app.view_functions[rule.endpoint].allowed_roles
        roles = [r for r in clients if allowed is None or r in allowed]
        for huge in HUGE_IDS:
            for name in ints:  # each id part huge in turn, the others a plain id
                url = _url(rule, {n: (huge if n == name else 1) for n in ints})
                for role in roles:
                    client, headers = clients[role]
                    for method in methods:
                        resp = client.open(url, method=method, data={}, follow_redirects=False,
                                           headers=headers if url.startswith("/api/") else {})
                        where = f"{method} {url} as {role}"
                        assert resp.status_code == 404, f"{where} -> {resp.status_code}"
                        if url.startswith("/api/"):
                            assert resp.get_json()["error"]["code"] == "not_found", where
                        checked.append(where)
    assert len(checked) >= 300, len(checked)  # 56 rules x roles x methods x 2 ids


@pytest.mark.parametrize("page", [str(2**63), str(10**30), "-1", "-99999999999999999999", "0",
                                  "abc", "1e9", "1.5", "%00", "9" * 5000, "\u0661", " 2 "])
def test_page_numbers_never_crash_a_list(app, page):
    clients = _clients(app, ["admin"])
    client, headers = clients["admin"]
    checked = 0
    for rule, methods in routes(app):
        if "GET" not in methods or rule.arguments or rule.endpoint in {
                "accounts.logout", "accounts.magic_login"}:
            continue
        is_api = rule.rule.startswith("/api/")
        resp = client.get(rule.rule, query_string={"page": page, "per_page": page},
                          headers=headers if is_api else {})
        assert resp.status_code < 500, f"GET {rule.rule}?page={page!r} -> {resp.status_code}"
        if is_api and resp.status_code >= 400:
            assert set(resp.get_json()["error"]) == {"code", "message"}
        checked += 1
    assert checked >= 30


def _json_write_routes(app):
    """API routes whose OpenAPI operation declares a JSON request body."""
    for rule, methods in routes(app):
        operation = getattr(app.view_functions[rule.endpoint], "openapi_operation", {})
        body = operation.get("requestBody", {}).get("content", {})
        if rule.rule.startswith("/api/") and "application/json" in body:
            for method in methods:
                if method in ("POST", "PATCH", "PUT"):
                    yield rule, method


@pytest.mark.parametrize("body", [
    "[" * 10_000 + "]" * 10_000,
    '{"a":' * 10_000 + "1" + "}" * 10_000,
    '{"title": ' + "[" * 100_000,
    '{"title": ' + "[" * 200 + "]" * 200 + "}",
])
def test_deeply_nested_json_is_a_400_on_every_json_route(app, body):
    clients = _clients(app, ["admin"])
    client, headers = clients["admin"]
    with app.app_context():  # real ids, so the body is what each route trips over
        event = make_event()
        invitation = make_invitation(event, make_member())
        db.session.commit()
        ids = {"event_id": event.id, "invitation_id": invitation.id}
    checked = 0
    for rule, method in _json_write_routes(app):
        url = _url(rule, {name: ids[name] for name in rule.arguments})
        resp = client.open(url, method=method, data=body, headers=headers,
                           content_type="application/json")
        where = f"{method} {url} -> {resp.status_code}"
        assert resp.status_code == 400, where
        error = resp.get_json()["error"]
        assert error["code"] == "invalid_json", where
        assert "nested" in error["message"] or "JSON" in error["message"], where
        checked += 1
    assert checked >= 6  # events (POST, PATCH), invitations, RSVP, check-ins, grants


@pytest.mark.parametrize("target", [
    "/members\r\nSet-Cookie: session=evil", "/\r\nLocation: https://evil.example",
    "/members\nX-Injected: 1", "/\x00", "/\\evil.example", "/\t/evil.example",
    "/%0d%0aSet-Cookie:%20a=b",
])
def test_a_line_break_in_next_neither_injects_a_header_nor_crashes(app, client, target):
    from tests.factories import make_user

    with app.app_context():
        make_user(role="manager", email="next@example.org")
        db.session.commit()
    app.config["WTF_CSRF_ENABLED"] = False
    resp = client.post("/login", query_string={"next": target}, follow_redirects=False,
                       data={"email": "next@example.org", "password": "correct horse battery"})
    assert resp.status_code == 302, resp.status_code
    location = resp.headers["Location"]
    assert "\r" not in location and "\n" not in location and "\\" not in location
    assert "Set-Cookie" not in resp.headers or "evil" not in resp.headers["Set-Cookie"]
    assert "X-Injected" not in resp.headers
    assert location.startswith("/") and not location.startswith("//")
    # a GET with the same next= shows the login form
    assert client.get("/login", query_string={"next": target}).status_code < 500


@pytest.mark.parametrize("invitation_id", [
    -4.9e32, -490093956766504959012021760688128, 10**30, 2**63, -1, 0, 1.0, True, "1", [1],
    {"id": 1}, 1e308,
])
def test_odd_invitation_ids_on_check_in_are_a_422(app, invitation_id):
    client, headers = _clients(app, ["manager"])["manager"]
    resp = client.post("/api/v1/checkins", json={"invitation_id": invitation_id},
                       headers=headers)
    assert resp.status_code == 422, resp.status_code
    assert resp.get_json()["error"]["code"] == "invalid"


@pytest.mark.parametrize("field", ["member_id", "item_id", "event_id"])
@pytest.mark.parametrize("value", [10**30, -(10**30), 2**63, 1.5, -4.9e32])
def test_odd_ids_in_api_bodies_are_a_422(app, field, value):
    client, headers = _clients(app, ["manager"])["manager"]
    body = {"member_id": 1, "item_id": 1, field: value}
    resp = client.post("/api/v1/rewards/grants", json=body, headers=headers)
    assert resp.status_code == 422, resp.status_code
    with app.app_context():
        event = make_event()
        db.session.commit()
        event_id = event.id
    resp = client.post(f"/api/v1/events/{event_id}/invitations", json={"member_ids": [value]},
                       headers=headers)
    assert resp.status_code in (409, 422), resp.status_code
    resp = client.post(f"/api/v1/events/{event_id}/invitations",
                       json={"segment": {"segment_id": value}}, headers=headers)
    assert resp.status_code in (409, 422), resp.status_code
    resp = client.patch(f"/api/v1/events/{event_id}", json={"capacity": value},
                        headers=headers)
    assert resp.status_code == 422, resp.status_code


@pytest.mark.parametrize("body", [{"member_id": 1, "item_id": 1}, {}, None])
def test_cookie_requests_to_the_grants_api_are_refused_without_a_500(app, body):
    # The API is CSRF-exempt because it takes bearer tokens only: a session cookie that a
    # hostile page makes the browser send must not act as the signed-in manager.
    from engagement.rewards.models import Grant

    app.config["WTF_CSRF_ENABLED"] = True
    client, _headers = _clients(app, ["manager"])["manager"]  # session cookie, no token
    with app.app_context():
        member, item = make_member(), make_reward_item()
        db.session.commit()
        if body:
            body = {"member_id": member.id, "item_id": item.id}
    kwargs = {"json": body} if body is not None else {"data": "member_id=1",
                                                      "content_type": "text/plain"}
    resp = client.post("/api/v1/rewards/grants", **kwargs)
    assert resp.status_code == 401, resp.status_code
    assert resp.get_json()["error"]["code"] == "unauthorized"
    with app.app_context():
        assert db.session.scalars(select(Grant)).all() == []
