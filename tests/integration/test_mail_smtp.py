"""Delivery to a real SMTP server (aiosmtpd): MIME on the wire, outages, 4xx vs 5xx."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engagement.extensions import db
from engagement.mail import outbox
from engagement.mail.compose import build_message
from engagement.mail.models import OutboxMessage
from engagement.timeutil import utcnow
from tests.mail_fixtures import deliver_all

ICS = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//engagement//EN\r\nMETHOD:REQUEST\r\n"
       b"BEGIN:VEVENT\r\nUID:evt-1@example.com\r\nSEQUENCE:0\r\nSUMMARY:Community-Treffen\r\n"
       b"DTSTART:20270115T170000Z\r\nDTEND:20270115T200000Z\r\nDTSTAMP:20261126T000000Z\r\n"
       b"END:VEVENT\r\nEND:VCALENDAR\r\n")
LINK = "http://localhost/invitations/abc123"


def rows(app) -> list[OutboxMessage]:
    with app.app_context():
        result = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        db.session.expunge_all()
        db.session.remove()
    return result


def queue(app, recipients) -> None:
    with app.app_context():
        for to in recipients:
            outbox.enqueue(db.session, build_message(to=to, subject=f"Hi {to}", text="Hello\n"),
                           kind="test")
        db.session.commit()
        db.session.remove()


def test_invitation_arrives_with_its_mime_structure(app, smtp_server):
    smtp_server.configure(app)
    app.config["MAIL_DEFAULT_SENDER"] = "Community Team <team@example.com>"
    with app.app_context():
        msg = build_message(
            to="anna@example.org", to_name="Anna Öz", subject="Einladung: Community-Treffen",
            text=f"Hallo Anna,\nantworte hier: {LINK}\n",
            html=f'<p>Hallo Anna,</p><p><a href="{LINK}">Antworten</a></p>',
            calendar=(ICS, "REQUEST"), attachments=[("invite.ics", "text/calendar", ICS)],
            headers={"List-Unsubscribe": "<http://localhost/unsubscribe/t0k3n>"})
        row = outbox.enqueue(db.session, msg, kind="invitation")
        db.session.commit()
        message_id = row.message_id
    assert deliver_all(app).sent == 1
    [got] = smtp_server.messages
    assert got.mail_from == "team@example.com"
    assert got.rcpt_tos == ["anna@example.org"]
    m = got.message
    assert m["Message-ID"] == message_id
    assert m["Subject"] == "Einladung: Community-Treffen"
    assert m["To"].addresses[0].display_name == "Anna Öz"
    assert m["List-Unsubscribe"] == "<http://localhost/unsubscribe/t0k3n>"
    assert m.get_content_type() == "multipart/mixed"
    alternative, attachment = list(m.iter_parts())
    plain, html, cal = list(alternative.iter_parts())
    assert (plain.get_content_type(), html.get_content_type(), cal.get_content_type()) == (
        "text/plain", "text/html", "text/calendar")
    assert LINK in plain.get_content() and f'href="{LINK}"' in html.get_content()
    assert cal.get_param("method") == "REQUEST"
    assert cal.get_payload(decode=True) == ICS
    assert attachment.get_filename() == "invite.ics"
    assert attachment.get_payload(decode=True) == ICS
    stored = rows(app)[0]
    assert (stored.status, stored.attempts, stored.last_error) == ("sent", 1, None)
    assert got.raw.replace(b"\r\n", b"\n").rstrip() == stored.raw.replace(b"\r\n", b"\n").rstrip()


def test_smtp_down_mail_waits_and_goes_out_once_when_back(app, smtp_server):
    smtp_server.configure(app)
    queue(app, ["a@example.org", "b@example.org", "c@example.org"])
    smtp_server.stop()
    now = utcnow()
    report = deliver_all(app, now=now)
    assert (report.sent, report.retried) == (0, 3)
    assert "cannot connect" in report.connection_error
    for row in rows(app):
        assert (row.status, row.attempts) == ("queued", 1)
        assert row.next_attempt_at == now + timedelta(minutes=1)
        assert "cannot connect to 127.0.0.1" in row.last_error
    # Not due yet: the backoff holds even when the server is back.
    smtp_server.start()
    assert deliver_all(app, now=now + timedelta(seconds=59)).claimed == 0
    assert smtp_server.messages == []
    # Still down at the second try: the wait doubles.
    smtp_server.stop()
    deliver_all(app, now=now + timedelta(minutes=1))
    assert {(r.status, r.attempts, r.next_attempt_at) for r in rows(app)} == {
        ("queued", 2, now + timedelta(minutes=3))}
    smtp_server.start()
    assert deliver_all(app, now=now + timedelta(minutes=3)).sent == 3
    assert sorted(r.rcpt_tos[0] for r in smtp_server.messages) == [
        "a@example.org", "b@example.org", "c@example.org"]
    assert deliver_all(app, now=now + timedelta(days=1)).claimed == 0
    assert len(smtp_server.messages) == 3
    assert {r.status for r in rows(app)} == {"sent"}


def test_temporary_refusal_backs_off_then_gives_up(app, smtp_server):
    smtp_server.configure(app)
    app.config["MAIL_MAX_ATTEMPTS"] = 4
    queue(app, ["a@example.org"])
    smtp_server.fail_data("451 4.3.0 mailbox busy")
    now = utcnow()
    waits = []
    for _ in range(3):
        deliver_all(app, now=now)
        [row] = rows(app)
        assert row.status == "queued" and row.last_error == "451 4.3.0 mailbox busy"
        waits.append(row.next_attempt_at - now)
        now = row.next_attempt_at
    assert waits == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    deliver_all(app, now=now)
    [row] = rows(app)
    assert (row.status, row.attempts) == ("failed", 4)
    assert row.last_error == "gave up after 4 attempts: 451 4.3.0 mailbox busy"
    assert smtp_server.messages == []


def test_permanent_refusal_fails_only_that_message(app, smtp_server):
    smtp_server.configure(app)
    smtp_server.refuse("gone@example.org", "550 5.1.1 no such user")
    queue(app, ["a@example.org", "gone@example.org", "c@example.org"])
    report = deliver_all(app)
    assert (report.sent, report.failed, report.retried) == (2, 1, 0)
    by_to = {r.to_addr: r for r in rows(app)}
    assert by_to["gone@example.org"].status == "failed"
    assert by_to["gone@example.org"].last_error == "550 5.1.1 no such user"
    assert by_to["a@example.org"].status == by_to["c@example.org"].status == "sent"
    # Fixed (the mailbox exists again): a retry from the UI sends it, once.
    del smtp_server.handler.refuse["gone@example.org"]
    with app.app_context():
        assert outbox.retry(db.session, by_to["gone@example.org"].id) is True
        db.session.commit()
    assert deliver_all(app).sent == 1
    assert sorted(r.rcpt_tos[0] for r in smtp_server.messages) == [
        "a@example.org", "c@example.org", "gone@example.org"]
    assert by_to["gone@example.org"].message_id == smtp_server.messages[-1].message_id
