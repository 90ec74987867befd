"""Attacks on the login form: account enumeration by timing, locking the owner out, and
sharing one rate-limit bucket behind the reverse proxy."""
from __future__ import annotations

import pytest
from werkzeug.security import generate_password_hash

from engagement.accounts import services
from engagement.extensions import db
from tests.conftest import csrf_token
from tests.factories import PASSWORD, make_user

OWNER_IP, ATTACKER_IP, PROXY_IP = "198.51.100.7", "203.0.113.66", "10.0.0.2"


def _client(app, ip: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def _login(client, email: str, password: str, headers: dict | None = None):
    return client.post("/login", headers=headers or {}, data={
        "email": email, "password": password, "csrf_token": csrf_token(client)})


# --- enumeration: the same password hashing whether the account exists or not

@pytest.fixture
def hash_calls(monkeypatch):
    calls: list[str] = []
    real = services.check_password_hash

    def spy(pwhash: str, password: str) -> bool:
        calls.append(pwhash)
        return real(pwhash, password)

    monkeypatch.setattr(services, "check_password_hash", spy)
    return calls


@pytest.mark.parametrize("case", ["unknown", "inactive", "no-password"])
def test_login_hashes_the_password_for_accounts_that_cannot_sign_in(app, hash_calls, case):
    with app.app_context():
        if case == "inactive":
            make_user(role="manager", email="who@example.org").active = False
        elif case == "no-password":
            make_user(role="manager", email="who@example.org", password_hash=None)
        db.session.commit()
    resp = _login(_client(app, ATTACKER_IP), "who@example.org", "guess guess guess")
    assert resp.status_code == 401
    assert len(hash_calls) == 1
    # Same algorithm and cost as a real stored password (method$salt$hash).
    method = generate_password_hash("x").split("$")[0]
    assert hash_calls[0].split("$")[0] == method


def test_unknown_and_real_account_get_the_same_answer(app):
    with app.app_context():
        make_user(role="manager", email="real@example.org")
        db.session.commit()
    client = _client(app, ATTACKER_IP)
    real = _login(client, "real@example.org", "wrong password!")
    unknown = _login(client, "nobody@example.org", "wrong password!")
    assert real.status_code == unknown.status_code == 401
    for resp in (real, unknown):
        assert "E-mail or password is wrong." in resp.get_data(as_text=True)


# --- lockout: a stranger's failures must not lock the owner's own browser out

@pytest.fixture
def owner(app):
    with app.app_context():
        make_user(role="manager", email="owner@example.org")
        db.session.commit()
    browser = _client(app, OWNER_IP)
    assert _login(browser, "owner@example.org", PASSWORD).status_code == 302
    browser.post("/logout", data={"csrf_token": csrf_token(browser, "/members")})
    return browser


def test_strangers_failures_do_not_lock_out_the_owners_known_browser(app, owner):
    attacker = _client(app, ATTACKER_IP)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert _login(attacker, "owner@example.org", "guess guess").status_code == 401
    # The attacker is now throttled, even with the right password...
    assert _login(attacker, "owner@example.org", PASSWORD).status_code == 429
    # ...and so is any other browser that never signed in to this account...
    assert _login(_client(app, OWNER_IP), "owner@example.org", PASSWORD).status_code == 429
    # ...but the owner's own browser, which signed in before, still gets in.
    assert _login(owner, "owner@example.org", PASSWORD).status_code == 302


def test_a_known_browser_is_throttled_on_its_own_failures(app, owner):
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert _login(owner, "owner@example.org", "typo typo typo").status_code == 401
    assert _login(owner, "owner@example.org", PASSWORD).status_code == 429


def test_a_device_cookie_is_tied_to_its_account_and_cannot_be_forged(app, owner):
    with app.app_context():
        make_user(role="manager", email="second@example.org")
        db.session.commit()
    attacker = _client(app, ATTACKER_IP)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _login(attacker, "second@example.org", "guess guess")
    # The owner's device cookie is for owner@, not for second@: no way around the lock.
    assert _login(owner, "second@example.org", PASSWORD).status_code == 429
    forged = _client(app, ATTACKER_IP)
    from engagement import signing

    with app.app_context():  # a cookie for second@ signed with a guessed key
        fake = signing.make("login-device", {"e": "second@example.org", "n": "0" * 32},
                            secret="guessed-secret")
    forged.set_cookie("login_device", fake, domain="localhost", path="/login")
    assert _login(forged, "second@example.org", PASSWORD).status_code == 429


def test_device_cookie_is_httponly_lax_and_scoped_to_login(app, owner):
    cookie = owner.get_cookie("login_device", path="/login")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert cookie.path == "/login"


# --- the client address behind the reverse proxy

def _fail_until_ip_limit(app, client, headers=None):
    for n in range(app.config["LOGIN_MAX_FAILURES_PER_IP"]):
        resp = _login(client, f"spray{n}@example.org", "guess guess", headers)
        assert resp.status_code == 401
    return _login(client, "spray-last@example.org", "guess guess", headers)


def test_behind_one_trusted_proxy_each_client_has_its_own_bucket(app):
    _trust(app, 1)
    app.config["LOGIN_MAX_FAILURES_PER_IP"] = 3
    via_proxy = _client(app, PROXY_IP)
    assert _fail_until_ip_limit(app, via_proxy, {"X-Forwarded-For": ATTACKER_IP}).status_code == 429
    # Another client behind the same proxy is not punished for the attacker.
    assert _login(via_proxy, "x@example.org", "guess guess",
                  {"X-Forwarded-For": OWNER_IP}).status_code == 401
    # Spoofing a leftmost address does not give the attacker a fresh bucket.
    assert _login(via_proxy, "y@example.org", "guess guess",
                  {"X-Forwarded-For": f"192.0.2.1, {ATTACKER_IP}"}).status_code == 429


def test_without_trusted_proxies_x_forwarded_for_is_ignored(app):
    assert app.config["TRUSTED_PROXIES"] == 0
    app.config["LOGIN_MAX_FAILURES_PER_IP"] = 3
    attacker = _client(app, ATTACKER_IP)
    assert _fail_until_ip_limit(app, attacker).status_code == 429
    assert _login(attacker, "z@example.org", "guess guess",
                  {"X-Forwarded-For": "192.0.2.99"}).status_code == 429


def test_trusted_proxies_setting_wraps_the_app(sqlite_template, tmp_path, monkeypatch):
    from tests.conftest import make_app

    monkeypatch.setenv("TRUSTED_PROXIES", "2")
    app = make_app(f"sqlite:///{sqlite_template}", tmp_path)
    assert app.config["TRUSTED_PROXIES"] == 2
    from werkzeug.middleware.proxy_fix import ProxyFix

    assert isinstance(app.wsgi_app, ProxyFix) and app.wsgi_app.x_for == 2


def _trust(app, count: int) -> None:
    from engagement import trust_proxies

    app.config["TRUSTED_PROXIES"] = count
    trust_proxies(app)
