"""Login, throttling, CSRF, users and API tokens through the real HTTP stack."""
from __future__ import annotations

from sqlalchemy import select

from engagement.accounts.models import ApiToken, User
from engagement.audit import AuditEntry
from engagement.extensions import db
from tests.conftest import csrf_token
from tests.factories import PASSWORD, make_user


def _login(client, email, password, token=None):
    token = token or csrf_token(client)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def test_login_logout_roundtrip(app, client):
    with app.app_context():
        make_user(role="manager", email="m@example.org")
        db.session.commit()
    resp = _login(client, "M@Example.org ", PASSWORD)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/dashboard")
    assert client.get("/members").status_code == 200
    token = csrf_token(client, "/members")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/members").status_code == 302


def test_wrong_password_is_refused_and_recorded(app, client):
    with app.app_context():
        make_user(role="hr", email="hr@example.org")
        db.session.commit()
    resp = _login(client, "hr@example.org", "wrong password")
    assert resp.status_code == 401
    assert "wrong" in resp.get_data(as_text=True)


def test_login_is_rate_limited_per_address(app, client):
    with app.app_context():
        make_user(role="admin", email="a@example.org")
        db.session.commit()
    token = csrf_token(client)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert _login(client, "a@example.org", "nope", token).status_code == 401
    # Even the right password is refused while locked: guessing gains nothing.
    resp = _login(client, "a@example.org", PASSWORD, token)
    assert resp.status_code == 429
    assert "Too many" in resp.get_data(as_text=True)


def test_post_without_csrf_token_is_rejected(app, client, login_as):
    login_as("admin")
    resp = client.post("/account/tokens", data={"name": "x"})
    assert resp.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(ApiToken)) is None


def test_open_redirect_after_login_is_ignored(app, client):
    with app.app_context():
        make_user(role="manager", email="r@example.org")
        db.session.commit()
    token = csrf_token(client)
    resp = client.post("/login?next=https://evil.example/", data={
        "email": "r@example.org", "password": PASSWORD, "csrf_token": token})
    assert resp.headers["Location"].endswith("/dashboard")


def test_passwords_are_hashed(app, runner):
    result = runner.invoke(args=["create-user", "new@example.org", "--role", "hr",
                                 "--password-stdin"], input="a long secret pw\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "new@example.org"))
        assert user.password_hash and "a long secret pw" not in user.password_hash
        assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))


def test_create_user_updates_and_rejects_bad_input(app, runner):
    assert runner.invoke(args=["create-user", "x@example.org", "--role", "member"]).exit_code == 0
    result = runner.invoke(args=["create-user", "x@example.org", "--role", "manager"])
    assert result.exit_code == 0 and "updated" in result.output
    bad = runner.invoke(args=["create-user", "not-an-email", "--role", "manager"])
    assert bad.exit_code != 0 and "not an e-mail" in bad.output
    short = runner.invoke(args=["create-user", "y@example.org", "--role", "hr", "--password-stdin"],
                          input="short\n")
    assert short.exit_code != 0 and "at least" in short.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "y@example.org")) is None
        actions = db.session.scalars(select(AuditEntry.action)).all()
        assert actions == ["user.create", "user.update"]


def test_api_token_create_use_revoke(app, client, runner):
    runner.invoke(args=["create-user", "api@example.org", "--role", "manager"])
    result = runner.invoke(args=["create-token", "api@example.org", "--name", "script"])
    assert result.exit_code == 0
    token = result.output.strip()
    assert token.startswith("eng_")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/tiers", headers=headers).status_code == 200
    bad = {"Authorization": "Bearer eng_nope"}
    assert client.get("/api/v1/tiers", headers=bad).status_code == 401
    with app.app_context():
        row = db.session.scalar(select(ApiToken))
        assert row.token_hash != token and token not in row.prefix + row.token_hash
        row.revoked_at = row.created_at
        db.session.commit()
    resp = client.get("/api/v1/tiers", headers=headers)
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthorized"
    missing = runner.invoke(args=["create-token", "ghost@example.org"])
    assert missing.exit_code != 0 and "no user" in missing.output


def test_tokens_page_creates_and_revokes(app, client, login_as):
    login_as("manager")
    token = csrf_token(client, "/account/tokens")
    resp = client.post("/account/tokens", data={"name": "HR system", "csrf_token": token})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "eng_" in html
    with app.app_context():
        row = db.session.scalar(select(ApiToken))
        token_id = row.id
    client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": token})
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is not None


def test_manager_cannot_revoke_someone_elses_token(app, client, login_as):
    with app.app_context():
        other = make_user(role="hr")
        from engagement.accounts.services import create_token
        row, _ = create_token(db.session, other, "theirs")
        db.session.commit()
        token_id = row.id
    login_as("manager")
    token = csrf_token(client, "/account/tokens")
    assert client.post(f"/account/tokens/{token_id}/revoke",
                       data={"csrf_token": token}).status_code == 403


def test_admin_creates_and_edits_users(app, client, login_as):
    login_as("admin")
    token = csrf_token(client, "/admin/users")
    resp = client.post("/admin/users/new", data={
        "csrf_token": token, "email": "Power@Example.org", "name": "Power User",
        "role": "member", "locale": "de", "password": "", "active": "y"})
    assert resp.status_code == 302
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "power@example.org"))
        assert user.role == "member" and user.password_hash is None
        user_id = user.id
    resp = client.post(f"/admin/users/{user_id}", data={
        "csrf_token": token, "email": "power@example.org", "name": "P", "role": "hr",
        "locale": "en", "password": "", "active": "y"})
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.get(User, user_id).role == "hr"


def test_language_switch_and_german_default(app, client):
    app.config["BABEL_DEFAULT_LOCALE"] = "de"
    html = client.get("/login").get_data(as_text=True)
    assert "Anmelden" in html
    english = {"Accept-Language": "en-US,en;q=0.9"}
    html = client.get("/login", headers=english).get_data(as_text=True)
    assert "Sign in" in html
    token = csrf_token(client)
    client.post("/language/en", data={"csrf_token": token, "next": "/login"})
    assert "Sign in" in client.get("/login").get_data(as_text=True)
