"""Attack: someone who copied a user's cookies keeps using them after logout or a new password.

Each test signs in through the form with "stay signed in", copies the session and remember
cookies into a second browser, ends the session in the first, and tries the copies.
"""
from __future__ import annotations

import pytest

from engagement.accounts.models import User
from engagement.extensions import db
from tests.conftest import csrf_token
from tests.factories import PASSWORD, make_user

COOKIE_SETS = [("session", "remember_token"), ("remember_token",), ("session",)]


def _sign_in(app, email: str, password: str = PASSWORD):
    client = app.test_client()
    resp = client.post("/login", data={"email": email, "password": password, "remember": "y",
                                       "csrf_token": csrf_token(client)})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client


def _copy(app, client, names) -> object:
    thief = app.test_client()
    for name in names:
        thief.set_cookie(name, client.get_cookie(name).value, domain="localhost")
    return thief


def _opens_staff_page(client) -> bool:
    return client.get("/members").status_code == 200


@pytest.fixture
def users(app):
    with app.app_context():
        manager = make_user(role="manager", email="m@example.org")
        admin = make_user(role="admin", email="a@example.org")
        db.session.commit()
        return {"manager": manager.id, "admin": admin.id}


def _edit(app, admin_client, user_id: int, **changes):
    with app.app_context():
        user = db.session.get(User, user_id)
        form = {"email": user.email, "name": user.name, "role": user.role,
                "locale": user.locale or "", "member_id": "", "password": "",
                "active": "y" if user.active else ""}
    form.update(changes)
    form["csrf_token"] = csrf_token(admin_client, f"/admin/users/{user_id}")
    resp = admin_client.post(f"/admin/users/{user_id}", data=form)
    assert resp.status_code == 302, resp.get_data(as_text=True)


@pytest.mark.parametrize("names", COOKIE_SETS)
def test_logout_ends_copied_cookies(app, users, names):
    victim = _sign_in(app, "m@example.org")
    thief = _copy(app, victim, names)
    assert _opens_staff_page(thief)  # the copy works while the victim is signed in
    victim.post("/logout", data={"csrf_token": csrf_token(victim, "/members")})
    assert not _opens_staff_page(victim)
    assert not _opens_staff_page(thief)
    assert not _opens_staff_page(_copy(app, thief, [n for n in names if thief.get_cookie(n)]))


@pytest.mark.parametrize("names", COOKIE_SETS)
def test_password_change_ends_other_sessions(app, users, names):
    victim = _sign_in(app, "m@example.org")
    thief = _copy(app, victim, names)
    admin = _sign_in(app, "a@example.org")
    _edit(app, admin, users["manager"], password="a brand new password")
    assert not _opens_staff_page(thief)
    assert not _opens_staff_page(victim)
    assert _opens_staff_page(_sign_in(app, "m@example.org", "a brand new password"))


def test_own_password_change_keeps_this_session_but_ends_the_copies(app, users):
    admin = _sign_in(app, "a@example.org")
    thief = _copy(app, admin, ("session", "remember_token"))
    _edit(app, admin, users["admin"], password="another new password")
    assert not _opens_staff_page(thief)
    assert _opens_staff_page(admin)


@pytest.mark.parametrize("change", [{"role": "hr"}, {"active": ""}])
def test_role_change_and_deactivation_end_sessions(app, users, change):
    victim = _sign_in(app, "m@example.org")
    thief = _copy(app, victim, ("session", "remember_token"))
    admin = _sign_in(app, "a@example.org")
    _edit(app, admin, users["manager"], **change)
    assert victim.get("/members").status_code == 302
    assert thief.get("/members").status_code == 302


def test_an_unchanged_save_keeps_sessions(app, users):
    """Saving a user's name must not sign them out everywhere (only security changes do)."""
    victim = _sign_in(app, "m@example.org")
    admin = _sign_in(app, "a@example.org")
    _edit(app, admin, users["manager"], name="New Name")
    assert _opens_staff_page(victim)
