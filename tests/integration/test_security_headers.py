"""Browser-side defences on every page: CSP, HSTS behind HTTPS, referrer and feature policy,
and no caching of pages that show a signed-in user's data or carry a secret in the URL."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.factories import make_member, make_user
from tests.helpers import routes, url_for_rule

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _directives(header: str) -> dict[str, list[str]]:
    parts = (p.strip().split() for p in header.split(";") if p.strip())
    return {p[0]: p[1:] for p in parts}


def test_csp_forbids_inline_and_foreign_scripts_and_framing(client):
    resp = client.get("/login")
    csp = _directives(resp.headers["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["form-action"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert "camera=()" in resp.headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in resp.headers  # plain HTTP in development


def test_hsts_only_behind_https(app, client):
    app.config["SESSION_COOKIE_SECURE"] = True
    resp = client.get("/login", base_url="https://localhost")
    assert re.fullmatch(r"max-age=\d{8,}", resp.headers["Strict-Transport-Security"])


def test_templates_have_no_inline_scripts_or_event_handlers():
    """The CSP would block them: inline code belongs in static/app.js."""
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(
                r"\son[a-z]+\s*=", text) or "javascript:" in text:
            offenders.append(str(path.relative_to(TEMPLATES)))
    assert offenders == []


@pytest.mark.parametrize("role", ["admin", "member"])
def test_every_signed_in_page_is_no_store(app, client, login_as, role):
    """All GET routes (static files excepted) x a staff and a member login."""
    with app.app_context():
        member = make_member(email="me@example.org")
        from engagement.extensions import db

        db.session.commit()
        member_id = member.id
    login_as(role, member_id=member_id if role == "member" else None)
    checked = 0
    for rule, methods in routes(app):
        if "GET" not in methods:
            continue
        resp = client.get(url_for_rule(rule))
        cache = resp.headers.get("Cache-Control", "")
        assert "no-store" in cache or "private" in cache, f"{rule.rule}: {cache!r}"
        if resp.status_code == 200 and resp.mimetype == "text/html":
            assert "no-store" in cache, rule.rule
        checked += 1
    assert checked > 40


def test_token_pages_are_no_store_for_anonymous_visitors(app, client):
    """A magic-link, invitation or ticket page holds a secret in its URL: never cached."""
    for path in ("/login/link/sometoken", "/login/link", "/login"):
        assert "no-store" in client.get(path).headers["Cache-Control"], path
    with app.app_context():
        make_user(role="manager")
    token_rules = [r for r, m in routes(app) if "<token>" in r.rule and "GET" in m]
    assert token_rules
    for rule in token_rules:
        cache = client.get(url_for_rule(rule)).headers.get("Cache-Control", "")
        assert "no-store" in cache or "private" in cache, rule.rule


def test_static_files_stay_cacheable(client):
    assert "no-store" not in client.get("/static/app.css").headers.get("Cache-Control", "")
