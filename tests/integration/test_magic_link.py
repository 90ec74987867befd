"""Magic sign-in links end to end: request -> real SMTP -> confirm -> signed in; refusals."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engagement.accounts.models import User
from engagement.accounts.signin import links as magic
from engagement.accounts.signin.rules import LinkQuota
from engagement.extensions import db
from engagement.mail.models import OutboxMessage
from engagement.timeutil import utcnow
from tests.conftest import csrf_token
from tests.factories import make_event, make_invitation, make_member, make_user
from tests.mail_fixtures import deliver_all

LINK = re.compile(r"http://localhost/login/link/([A-Za-z0-9_\-]+)")
NEUTRAL = "If the address belongs to a community member, a sign-in link is on its way."


def _request(client, email):
    token = csrf_token(client, "/login/link")
    return client.post("/login/link", data={"csrf_token": token, "email": email})


def _magic_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == magic.MAIL_KIND))


def test_member_signs_in_by_link_and_sees_invitations(app, client, smtp_server):
    smtp_server.configure(app)
    with app.app_context():
        member = make_member(email="ada@example.org", display_name="Ada", locale="en")
        make_invitation(make_event("Sommerfest"), member)
        db.session.commit()
        member_id = member.id
    r = _request(client, "  Ada@Example.org ")
    assert r.status_code == 200 and NEUTRAL in r.get_data(as_text=True)
    deliver_all(app)
    [mail] = smtp_server.messages
    assert mail.rcpt_tos == ["ada@example.org"]
    assert str(mail.message["Subject"]) == "Your sign-in link"
    text = mail.message.get_body(("plain",)).get_content()
    token = LINK.search(text).group(1)
    # A mail scanner prefetching the link (GET) must not use it up.
    for _ in range(2):
        page = client.get(f"/login/link/{token}")
        assert page.status_code == 200 and "Continue as ada@example.org?" in page.get_data(
            as_text=True)
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "ada@example.org")) is None
    form_token = csrf_token(client, f"/login/link/{token}")
    r = client.post(f"/login/link/{token}", data={"csrf_token": form_token})
    assert r.status_code == 302 and r.headers["Location"].endswith("/me/invitations")
    page = client.get("/me/invitations").get_data(as_text=True)
    assert "Sommerfest" in page and "Invited" in page
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "ada@example.org"))
        assert (user.role, user.member_id, user.password_hash) == ("member", member_id, None)
        assert user.last_login_at is not None
    # Used once: a second click (other browser) is refused.
    other = app.test_client()
    r = other.post(f"/login/link/{token}", data={"csrf_token": csrf_token(other, "/login/link")})
    assert r.status_code == 410 and "used already" in r.get_data(as_text=True)
    assert other.get("/me/invitations").status_code == 302


def test_existing_member_user_gets_link_in_german(app, client, smtp_server):
    smtp_server.configure(app)
    with app.app_context():
        member = make_member(email="bo@example.org")
        make_user(role="member", email="bo@example.org", member_id=member.id, locale="de")
        db.session.commit()
    _request(client, "bo@example.org")  # no invitation needed: the user exists
    deliver_all(app)
    [mail] = smtp_server.messages
    assert str(mail.message["Subject"]) == "Ihr Anmeldelink"
    assert mail.message["Content-Language"] == "de"


def test_neutral_answer_and_no_mail_for_unknown_staff_or_uninvited(app, client):
    with app.app_context():
        make_user(role="manager", email="boss@example.org")
        make_member(email="lurker@example.org")  # a member, but never invited
        inactive = make_member(email="gone@example.org")
        make_user(role="member", email="gone@example.org", member_id=inactive.id).active = False
        db.session.commit()
    answers = set()
    for email in ("nobody@example.org", "boss@example.org", "lurker@example.org",
                  "gone@example.org"):
        r = _request(client, email)
        assert r.status_code == 200
        answers.add(re.sub(r'name="csrf_token"[^>]*>', "", r.get_data(as_text=True)))
    assert len(answers) == 1 and NEUTRAL in answers.pop()
    assert _magic_rows(app) == 0


def test_bad_form_is_a_422_not_a_mail(app, client):
    token = csrf_token(client, "/login/link")
    assert client.post("/login/link", data={"csrf_token": token, "email": ""}).status_code == 422
    # Without the CSRF token the app-wide protection refuses before anything is looked up.
    assert client.post("/login/link", data={"email": "a@example.org"}).status_code == 400
    assert _magic_rows(app) == 0


def test_rate_limit_per_address_still_answers_neutrally(app, client):
    app.config["MAGIC_LINK_MAX_PER_EMAIL"] = 3
    with app.app_context():
        make_invitation(make_event(), make_member(email="eve@example.org"))
        db.session.commit()
    for _ in range(5):
        r = _request(client, "eve@example.org")
        assert r.status_code == 200 and NEUTRAL in r.get_data(as_text=True)
    assert _magic_rows(app) == 3


def test_rate_limit_per_client_address(app, client):
    app.config["MAGIC_LINK_MAX_PER_IP"] = 2
    with app.app_context():
        event = make_event()
        for i in range(4):
            make_invitation(event, make_member(email=f"m{i}@example.org"))
        db.session.commit()
    for i in range(4):
        _request(client, f"m{i}@example.org")
    assert _magic_rows(app) == 2


def test_expired_tampered_and_unknown_links_are_refused(app, client):
    with app.app_context():
        make_invitation(make_event(), make_member(email="old@example.org"))
        db.session.commit()
    sent: list[str] = []

    def capture(to, url, **kw):
        sent.append(url.rsplit("/", 1)[1])
        return original(to, url, **kw)

    original = magic.build_link_mail
    magic.build_link_mail = capture
    try:
        with app.app_context():
            long_ago = utcnow() - timedelta(minutes=31)
            magic.request_link(db.session, "old@example.org", ip="10.0.0.1", now=long_ago,
                               minutes=30, quota=magic.quota_from_config(),
                               base_url="http://localhost")
            db.session.commit()
    finally:
        magic.build_link_mail = original
    [token] = sent
    r = client.get(f"/login/link/{token}")
    assert r.status_code == 410 and "has expired" in r.get_data(as_text=True)
    form = csrf_token(client, "/login/link")
    assert client.post(f"/login/link/{token}", data={"csrf_token": form}).status_code == 410
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get(f"/login/link/{tampered}").status_code == 404
    assert client.post(f"/login/link/{tampered}", data={"csrf_token": form}).status_code == 404
    assert client.get("/login/link/" + "x" * 300).status_code == 404
    assert client.get("/me/invitations").status_code == 302  # still signed out


def test_confirm_without_csrf_does_not_use_the_link(app, client):
    with app.app_context():
        make_invitation(make_event(), make_member(email="cs@example.org"))
        link_token = _issue(app, "cs@example.org")
    assert client.post(f"/login/link/{link_token}", data={}).status_code == 400
    assert client.get(f"/login/link/{link_token}").status_code == 200


def _issue(app, email, now=None) -> str:
    """Request a link through the service and return its plain token."""
    tokens: list[str] = []
    original = magic.build_link_mail

    def capture(to, url, **kw):
        tokens.append(url.rsplit("/", 1)[1])
        return original(to, url, **kw)

    magic.build_link_mail = capture
    try:
        outcome = magic.request_link(
            db.session, email, ip="10.0.0.9", now=now or utcnow(), minutes=30,
            quota=LinkQuota(5, 20, timedelta(hours=1)), base_url="http://localhost")
        db.session.commit()
    finally:
        magic.build_link_mail = original
    assert outcome.sent, outcome
    return tokens[0]


def test_link_is_single_use_on_both_databases(app_any):
    with app_any.app_context():
        member = make_member(email="twice@example.org")
        make_invitation(make_event(), member)
        db.session.commit()
        token = _issue(app_any, "twice@example.org")
        now = datetime.now(UTC)
        user = magic.consume_link(db.session, token, now)
        db.session.commit()
        assert user.member_id == member.id
        with pytest.raises(magic.LinkInvalid) as exc:
            magic.consume_link(db.session, token, now)
        assert exc.value.state == "used"
        db.session.rollback()
        # A second link for the same address signs in the same (now existing) user.
        again = magic.consume_link(db.session, _issue(app_any, "twice@example.org"), now)
        assert again.id == user.id
        assert db.session.scalar(select(func.count()).select_from(User).where(
            User.email == "twice@example.org")) == 1


def test_staff_link_never_signs_in_even_if_row_exists(app):
    with app.app_context():
        member = make_member(email="shift@example.org")
        make_invitation(make_event(), member)
        db.session.commit()
        token = _issue(app, "shift@example.org")
        # The address became a manager's between request and click: refuse.
        make_user(role="manager", email="shift@example.org")
        db.session.commit()
        with pytest.raises(magic.LinkInvalid) as exc:
            magic.consume_link(db.session, token, utcnow())
        assert exc.value.state == "refused"


def test_old_links_of_an_address_are_removed_on_the_next_request(app):
    with app.app_context():
        make_invitation(make_event(), make_member(email="keep@example.org"))
        db.session.commit()
        _issue(app, "keep@example.org", now=utcnow() - timedelta(days=2))
        _issue(app, "keep@example.org", now=utcnow() - timedelta(hours=3))
        _issue(app, "keep@example.org")
        created = sorted(db.session.scalars(select(magic.MagicLink.created_at)).all())
        assert len(created) == 2 and created[0] > utcnow() - timedelta(hours=4)


def test_two_simultaneous_clicks_sign_in_once(app_any):
    """Both requests load the valid link; the conditional UPDATE lets exactly one through."""
    import threading

    with app_any.app_context():
        make_invitation(make_event(), make_member(email="race@example.org"))
        db.session.commit()
        token = _issue(app_any, "race@example.org")
    barrier = threading.Barrier(2)
    results: list[str] = []

    def click():
        with app_any.app_context():
            try:
                link = magic.check_link(db.session, token, utcnow())
                assert link is not None
                barrier.wait(timeout=10)  # both have seen the link as valid
                magic.consume_link(db.session, token, utcnow())
                db.session.commit()
                results.append("in")
            except magic.LinkInvalid as exc:
                db.session.rollback()
                results.append(exc.state)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == ["in", "used"]
    with app_any.app_context():
        assert db.session.scalar(select(func.count()).select_from(User).where(
            User.email == "race@example.org")) == 1


def test_managers_cannot_read_sign_in_links_in_the_outbox(app, client, login_as):
    with app.app_context():
        make_user(role="member", email="linkee@example.org")
        db.session.commit()
    _request(client, "linkee@example.org")
    with app.app_context():
        row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == magic.MAIL_KIND))
        row_id, raw = row.id, row.raw
    token = re.search(rb"/login/link/([A-Za-z0-9_-]+)", raw.replace(b"=\r\n", b"")).group(1)
    login_as("manager")
    page = client.get(f"/mail/outbox/{row_id}")
    assert page.status_code == 200 and "linkee@example.org" in page.get_data(as_text=True)
    assert token.decode() not in page.get_data(as_text=True)
    assert "visible only to its recipient" in page.get_data(as_text=True)
    assert client.get(f"/mail/outbox/{row_id}/raw").status_code == 403
