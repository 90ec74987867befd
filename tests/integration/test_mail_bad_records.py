"""One bad record (a line break in a title or name, CR/LF in an address) fails alone: it
never blocks the outbox, an invitation run or an RSVP. Real SMTP server, real worker."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

from engagement.events import rules, services
from engagement.events.models import Event
from engagement.extensions import db
from engagement.mail.compose import InvalidMessage, build_message
from engagement.mail.models import OutboxMessage, OutboxStatus
from tests.factories import make_member
from tests.helpers import EVENT_BODY as BODY
from tests.helpers import EVENT_NOW as NOW
from tests.helpers import published_event as _published_event
from tests.mail_fixtures import deliver_all


@pytest.fixture
def mail_app(app, smtp_server):
    smtp_server.configure(app)
    return app


def _statuses(kind_prefix: str = "event-invitation") -> dict[str, tuple[str, str | None]]:
    rows = db.session.execute(select(OutboxMessage.to_addr, OutboxMessage.status,
                                     OutboxMessage.last_error)
                              .where(OutboxMessage.kind == kind_prefix)).all()
    return {to: (str(status), error) for to, status, error in rows}


def test_a_line_break_in_one_members_name_fails_only_that_mail(mail_app, smtp_server):
    app = mail_app
    with app.app_context():
        good = [make_member(display_name=f"Good {i}", email=f"good{i}@example.org")
                for i in range(3)]
        # What an old import left behind (the importers clean names now)
        bad = make_member(display_name="Mallory\r\nBcc: victim@example.org",
                          email="mallory@example.org")
        event = _published_event()
        result = services.invite(db.session, event, now=NOW,
                                 member_ids=[m.id for m in good] + [bad.id])
        assert result.created == 4
        db.session.commit()
    deliver_all(app)
    received = sorted(m.rcpt_tos[0] for m in smtp_server.messages)
    assert "victim@example.org" not in received
    with app.app_context():
        statuses = _statuses()
        for i in range(3):
            assert statuses[f"good{i}@example.org"][0] == OutboxStatus.SENT
        # Either the name was cleaned and the mail went out, or it failed alone.
        status, error = statuses["mallory@example.org"]
        assert status in (OutboxStatus.SENT, OutboxStatus.FAILED)
        if status == OutboxStatus.FAILED:
            assert error and "line break" in error
    assert {f"good{i}@example.org" for i in range(3)} <= set(received)


def test_a_line_break_in_an_old_event_title_fails_alone_not_the_batch(mail_app,
                                                                      smtp_server):
    app = mail_app
    with app.app_context():
        members = [make_member(display_name=f"M {i}", email=f"m{i}@example.org")
                   for i in range(4)]
        ok_event = _published_event(title="Fine event")
        bad_event = _published_event(title="Broken event")
        services.invite(db.session, ok_event, now=NOW, member_ids=[m.id for m in members[:2]])
        services.invite(db.session, bad_event, now=NOW, member_ids=[m.id for m in members[2:]])
        # A title saved before titles were checked (the API used to accept it)
        db.session.execute(update(Event).where(Event.id == bad_event.id)
                           .values(title="Broken\r\nBcc: victim@example.org"))
        db.session.commit()
    deliver_all(app)
    received = sorted(m.rcpt_tos[0] for m in smtp_server.messages)
    assert "victim@example.org" not in received
    assert {"m0@example.org", "m1@example.org"} <= set(received)
    with app.app_context():
        statuses = _statuses()
        assert statuses["m0@example.org"][0] == statuses["m1@example.org"][0] == "sent"
        for addr in ("m2@example.org", "m3@example.org"):
            status, error = statuses[addr]
            assert status in (OutboxStatus.SENT, OutboxStatus.FAILED), status
            if status == OutboxStatus.FAILED:
                assert "line break" in error
    for message in smtp_server.messages:
        assert "victim" not in message.raw.decode("utf-8", "replace").split("\r\n\r\n")[0]


def test_the_outbox_page_shows_the_failed_mail_with_its_reason(mail_app, smtp_server,
                                                               client, login_as):
    app = mail_app
    with app.app_context():
        bad = make_member(display_name="Bad\nName", email="bad@example.org")
        good = make_member(display_name="Good", email="good@example.org")
        event = _published_event()
        services.invite(db.session, event, now=NOW, member_ids=[bad.id, good.id])
        db.session.execute(update(Event).where(Event.id == event.id)
                           .values(title="Line\nbreak"))
        db.session.commit()
    deliver_all(app)
    login_as("manager")
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "event-invitation")).all()
        assert {r.status for r in rows} <= {OutboxStatus.SENT, OutboxStatus.FAILED}
        failed = [r for r in rows if r.status == OutboxStatus.FAILED]
    page = client.get("/mail/outbox", query_string={"status": "failed"}).get_data(as_text=True)
    for row in failed:
        assert "line break" in page
        assert client.get(f"/mail/outbox/{row.id}").status_code == 200


def test_a_crlf_address_from_an_old_import_does_not_break_an_invitation_run(app):
    with app.app_context():
        good = make_member(display_name="Good", email="good@example.org")
        bad = make_member(display_name="Bad", email="x@example.com\r\nBcc: victim@example.org")
        event = _published_event()
        result = services.invite(db.session, event, now=NOW, member_ids=[good.id, bad.id])
        assert result.created == 1
        assert [(s.member_id, s.reason) for s in result.skipped] == [(bad.id, "invalid_email")]
        db.session.commit()


def test_rsvp_on_an_event_with_a_line_break_in_its_title_is_no_500(mail_app, client,
                                                                   smtp_server):
    from engagement.events import notifications
    from engagement.events.models import Invitation
    from tests.conftest import csrf_token

    app = mail_app
    with app.app_context():
        member = make_member(display_name="Anna", email="anna@example.org")
        other = make_member(display_name="Ben", email="ben@example.org")
        event = _published_event()
        services.invite(db.session, event, now=NOW, member_ids=[member.id, other.id])
        db.session.execute(update(Event).where(Event.id == event.id)
                           .values(title="Summit\r\nBcc: victim@example.org"))
        db.session.commit()
        invitation = db.session.scalars(select(Invitation).where(
            Invitation.member_id == member.id)).one()
        token = notifications.make_token(invitation.id, invitation.nonce)
    assert client.get(f"/i/{token}").status_code == 200
    csrf = csrf_token(client, f"/i/{token}")
    resp = client.post(f"/i/{token}/rsvp", data={"csrf_token": csrf, "status": "accepted"})
    assert resp.status_code == 302, resp.status_code
    with app.app_context():
        assert db.session.get(Invitation, invitation.id).status == "accepted"
    deliver_all(app)
    assert "victim@example.org" not in [r for m in smtp_server.messages for r in m.rcpt_tos]


@pytest.mark.parametrize("field", ["title", "venue", "organizer_name"])
@pytest.mark.parametrize("value", ["A\r\nBcc: victim@example.org", "A\nB", "A\rB",
                                   "A\u2028B", "A\x00B"])
def test_line_breaks_in_single_line_event_fields_are_refused_by_the_api(api, field, value):  # noqa: F811
    r = api("POST", "/events", json={**BODY, field: value})
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["error"]["message"]


def test_line_breaks_in_the_title_are_a_form_error_in_the_ui(app, client, login_as):
    from tests.conftest import csrf_token

    login_as("manager")
    token = csrf_token(client, "/events/new")
    form = {"csrf_token": token, "title": "Summit\r\nBcc: x@example.org",
            "starts_at": "2030-11-05T18:00", "ends_at": "2030-11-05T22:00",
            "timezone": "Europe/Berlin", "organizer_email": "events@example.org"}
    r = client.post("/events/new", data=form)
    assert r.status_code == 422
    assert "Must be a single line" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Event)).all() == []


@pytest.mark.parametrize("header, value", [
    ("Subject", "Hi\r\nBcc: x@example.org"), ("Subject", "Hi\nthere"), ("X-Tag", "a\rb"),
    ("to_name", "Eve\r\nBcc: x@example.org"), ("to", "x@example.org\r\nBcc: y@example.org"),
    ("reply_to", "x@example.org\nBcc: y@example.org"), ("Subject", "Hi\u2028there"),
    ("Subject", "Hi\x00there"),
])
def test_header_building_refuses_line_breaks_in_any_header_value(app, header, value):
    kwargs = {"to": "ok@example.org", "subject": "Hello", "text": "body"}
    if header in ("Subject",):
        kwargs["subject"] = value
    elif header in ("to_name", "to", "reply_to"):
        kwargs[header] = value
    else:
        kwargs["headers"] = {header: value}
    with app.app_context(), pytest.raises(InvalidMessage):
        build_message(**kwargs)


def test_event_rules_refuse_line_breaks_in_single_line_fields():
    base = dict(title="T", starts_at=rules.parse_local("2030-11-05T18:00", rules.zone("UTC")),
                ends_at=rules.parse_local("2030-11-05T20:00", rules.zone("UTC")),
                timezone="UTC", organizer_email="events@example.org")
    rules.validate_event(rules.EventInput(**base, address="Street 1\n50667 Köln"))
    for field in ("title", "venue", "organizer_name"):
        with pytest.raises(rules.EventRuleError) as info:
            rules.validate_event(rules.EventInput(**{**base, field: "a\r\nb"}))
        assert field in info.value.errors
