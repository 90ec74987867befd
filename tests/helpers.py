"""Checks and scenarios several test modules share (not a test module: nothing here runs alone)."""
from __future__ import annotations

import re

from engagement.accounts.services import create_token
from engagement.extensions import db
from tests.factories import make_user

SKIP_ENDPOINTS = {"static"}


def url_for_rule(rule) -> str:
    """A concrete URL for a routing rule: 999999 for numeric parts, "x" for the others."""
    def repl(match):
        conv = match.group(1) or "default"
        return "999999" if conv in ("int", "float") else "x"
    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>", repl, rule.rule)


def routes(app):
    """Every registered rule but static files, with its methods (no HEAD or OPTIONS)."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIP_ENDPOINTS:
            continue
        methods = sorted(m for m in rule.methods if m not in ("HEAD", "OPTIONS"))
        yield rule, methods


def check_route_role_matrix(app, role: str) -> int:
    """Call every route as `role` and assert it answers as its declared roles say.

    Returns how many (route, method) pairs were checked.
    """
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    token, user_id = None, None
    with app.app_context():
        if role != "anonymous":
            user = make_user(role=role)
            _t, token = create_token(db.session, user, "matrix")
            db.session.commit()
            user_id = user.id
    checked = 0
    for rule, methods in routes(app):
        allowed = app.view_functions[rule.endpoint].allowed_roles
        url = url_for_rule(rule)
        is_api = rule.rule.startswith("/api/")
        headers = {"Authorization": f"Bearer {token}"} if (is_api and token) else {}
        for method in methods:
            if user_id is not None:  # log in again: a route such as /logout ends the session
                with client.session_transaction() as sess:
                    sess["_user_id"] = str(user_id)
            resp = client.open(url, method=method, headers=headers, data={},
                               follow_redirects=False)
            where = f"{method} {rule.rule} as {role} -> {resp.status_code}"
            assert resp.status_code != 500, where
            if allowed is None:  # public
                assert resp.status_code not in (401, 403), where
            elif role == "anonymous":
                if is_api:
                    assert resp.status_code == 401, where
                else:
                    assert resp.status_code == 302 and "/login" in resp.headers["Location"], where
            elif role in allowed:
                assert resp.status_code not in (401, 403), where
            else:
                assert resp.status_code == 403, where
            checked += 1
    return checked
