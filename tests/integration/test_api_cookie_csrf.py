"""Attack: a hostile site makes a signed-in manager's browser post to the JSON API.

The API is CSRF-exempt because it is bearer-only; these tests are the proof that no cookie
(session or "stay signed in") opens it, for every route and method the url_map lists.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engagement.accounts.services import create_token
from engagement.events.models import Event, EventStatus
from engagement.extensions import db
from tests.conftest import csrf_token
from tests.factories import PASSWORD, make_event, make_invitation, make_member, make_user

STATE_CHANGING = {"POST", "PATCH", "PUT", "DELETE"}
EVIL = "https://evil.example"


def _api_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            yield rule, sorted(rule.methods - {"HEAD", "OPTIONS"})


def _url(rule, row_id: int) -> str:
    # Real ids, so a route that took the cookie would act on a real event and invitation.
    return re.sub(r"<(?:\w+(?:\([^)]*\))?:)?\w+>", str(row_id), rule.rule)


def _snapshot() -> dict[str, list[tuple]]:
    """Every row of every table: "changes nothing" means this is equal afterwards."""
    return {table.name: sorted(map(tuple, db.session.execute(select(table)).all()), key=repr)
            for table in db.metadata.sorted_tables}


@pytest.fixture
def victim(app):
    """A manager signed in through the login form with "stay signed in": both cookies."""
    with app.app_context():
        user = make_user(role="manager", email="victim@example.org")
        make_user(role="admin", email="other@example.org")
        event = make_event(status=EventStatus.PUBLISHED)
        make_invitation(event, make_member(email="guest@example.org"))
        db.session.commit()
        event_id = event.id
        assert event_id == 1  # every int in the URLs is 1: the event, the invitation...
        user_id = user.id
    browser = app.test_client()
    resp = browser.post("/login", data={"email": "victim@example.org", "password": PASSWORD,
                                        "remember": "y", "csrf_token": csrf_token(browser)})
    assert resp.status_code == 302
    cookies = {name: browser.get_cookie(name).value for name in ("session", "remember_token")}
    assert browser.get("/events").status_code == 200  # the cookies really sign in
    return {"cookies": cookies, "event_id": event_id, "user_id": user_id}


def _browser_with(app, cookies: dict[str, str]):
    client = app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value, domain="localhost")
    return client


@pytest.mark.parametrize("which", [("session", "remember_token"), ("remember_token",),
                                   ("session",)])
def test_cross_site_post_with_cookies_changes_nothing(app, victim, which):
    """9 state-changing API routes x 3 cookie sets: each is a 401 and no row changes."""
    cookies = {name: victim["cookies"][name] for name in which}
    results = []
    for rule, methods in _api_rules(app):
        for method in sorted(set(methods) & STATE_CHANGING):
            browser = _browser_with(app, cookies)
            with app.app_context():
                before = _snapshot()
            resp = browser.open(_url(rule, victim["event_id"]), method=method,
                                data={"reason": "csrf", "member_ids": "1", "status": "declined"},
                                headers={"Origin": EVIL, "Referer": f"{EVIL}/prize.html"})
            with app.app_context():
                changed = _snapshot() != before
            body = resp.get_json(silent=True) or {}
            refused = (resp.status_code == 401 and not changed
                       and set(body.get("error", {})) == {"code", "message"}
                       and body["error"]["code"] == "unauthorized")
            results.append((f"{method} {rule.rule}", resp.status_code, changed, refused))
    accepted = [r for r in results if not r[3]]
    assert not accepted, f"with {which}: {accepted}"
    attacked = len(results)
    assert attacked == 9
    with app.app_context():
        assert db.session.get(Event, victim["event_id"]).status == EventStatus.PUBLISHED


def test_cookie_only_reads_are_refused_too(app, victim):
    """Bearer-only for every method: the GET routes that need a role refuse the cookies."""
    browser = _browser_with(app, victim["cookies"])
    refused = 0
    for rule, methods in _api_rules(app):
        if "GET" not in methods or app.view_functions[rule.endpoint].allowed_roles is None:
            continue
        resp = browser.get(_url(rule, victim["event_id"]))
        assert resp.status_code == 401, rule.rule
        assert resp.get_json()["error"]["code"] == "unauthorized", rule.rule
        refused += 1
    assert refused == 9


def test_bearer_token_still_works_and_beats_the_cookie(app, victim):
    """The fix must not break the real API client: a token acts, with or without cookies."""
    with app.app_context():
        from engagement.accounts.models import User

        _t, token = create_token(db.session, db.session.get(User, victim["user_id"]), "t")
        db.session.commit()
    browser = _browser_with(app, victim["cookies"])
    resp = browser.post(f"/api/v1/events/{victim['event_id']}/cancel",
                        headers={"Authorization": f"Bearer {token}"}, json={})
    assert resp.status_code == 200, resp.get_json()
    with app.app_context():
        assert db.session.get(Event, victim["event_id"]).status == EventStatus.CANCELLED


def test_remember_cookie_is_lax_httponly_and_secure_behind_https(app_factory_secure):
    """The "stay signed in" cookie is not sent on cross-site POSTs and not readable by JS."""
    app, client = app_factory_secure
    header = next(h for h in client.remember_headers if h.startswith("remember_token="))
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")}
    assert "httponly" in attributes and "secure" in attributes
    assert "samesite=lax" in header.lower().replace(" ", "")


@pytest.fixture
def app_factory_secure(sqlite_template, tmp_path):
    import shutil

    from tests.conftest import make_app

    db_file = tmp_path / "secure.sqlite3"
    shutil.copy(sqlite_template, db_file)
    app = make_app(f"sqlite:///{db_file}", tmp_path, SESSION_COOKIE_SECURE=True)
    with app.app_context():
        make_user(role="manager", email="secure@example.org")
        db.session.commit()
    client = app.test_client()
    token = csrf_token(client)
    resp = client.post("/login", base_url="https://localhost",
                       headers={"Referer": "https://localhost/login"},
                       data={"email": "secure@example.org", "password": PASSWORD,
                             "remember": "y", "csrf_token": token})
    assert resp.status_code == 302
    client.remember_headers = resp.headers.getlist("Set-Cookie")
    return app, client
