"""Outbox and mail-file pages: roles, failures with their error, retry, safe file access."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

from engagement.audit import AuditEntry
from engagement.extensions import db
from engagement.mail import outbox
from engagement.mail.compose import build_message
from engagement.mail.models import OutboxMessage
from tests.conftest import csrf_token
from tests.mail_fixtures import deliver_all


def make_rows(app, spec: dict[str, str]) -> dict[str, int]:
    """{recipient: status} -> {recipient: id}; failed rows get an SMTP error."""
    with app.app_context():
        ids = {}
        for to, status in spec.items():
            row = outbox.enqueue(db.session, build_message(
                to=to, subject=f"Subject for {to}", text=f"Text for {to}\n"), kind="test")
            ids[to] = row.id
            if status != "queued":
                db.session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(
                    status=status, attempts=1,
                    last_error=f"550 5.1.1 <{to}> no such user" if status == "failed" else None))
        db.session.commit()
        db.session.remove()
    return ids


@pytest.mark.parametrize("role, code", [("admin", 200), ("manager", 200), ("hr", 403),
                                        ("member", 403)])
def test_outbox_page_roles(app, client, login_as, role, code):
    login_as(role)
    assert client.get("/mail/outbox").status_code == code


def test_outbox_lists_counts_and_failures_with_error(app, client, login_as):
    make_rows(app, {"ok@example.org": "sent", "bad@example.org": "failed",
                         "wait@example.org": "queued"})
    login_as("manager")
    html = client.get("/mail/outbox").get_data(as_text=True)
    assert "550 5.1.1 &lt;bad@example.org&gt; no such user" in html
    assert "Retry all failed" in html
    failed = client.get("/mail/outbox?status=failed").get_data(as_text=True)
    assert "bad@example.org" in failed and "ok@example.org" not in failed
    assert "wait@example.org" not in failed
    filtered = client.get("/mail/outbox?to=wait").get_data(as_text=True)
    assert "wait@example.org" in filtered and "bad@example.org" not in filtered
    # Unknown filters are ignored, not errors.
    assert client.get("/mail/outbox?status=nonsense&page=-3").status_code == 200


def test_retry_one_and_all(app, client, login_as):
    ids = make_rows(app, {"a@example.org": "failed", "b@example.org": "failed",
                               "c@example.org": "failed", "d@example.org": "sent"})
    login_as("manager")
    token = csrf_token(client, "/mail/outbox")
    resp = client.post(f"/mail/outbox/{ids['a@example.org']}/retry",
                       data={"csrf_token": token})
    assert resp.status_code == 302
    assert client.post(f"/mail/outbox/{ids['a@example.org']}/retry", data={}).status_code == 400
    resp = client.post(f"/mail/outbox/{ids['d@example.org']}/retry",
                       data={"csrf_token": token}, follow_redirects=True)
    assert "Only failed or cancelled messages can be retried." in resp.get_data(as_text=True)
    with app.app_context():
        row = db.session.get(OutboxMessage, ids["a@example.org"])
        assert (row.status, row.attempts) == ("queued", 0)
    resp = client.post("/mail/outbox/retry-failed", data={"csrf_token": token},
                       follow_redirects=True)
    assert "2 failed messages queued again." in resp.get_data(as_text=True)
    with app.app_context():
        statuses = dict(db.session.execute(
            select(OutboxMessage.to_addr, OutboxMessage.status)).all())
        assert statuses == {"a@example.org": "queued", "b@example.org": "queued",
                            "c@example.org": "queued", "d@example.org": "sent"}
        actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["mail.retry", "mail.retry_all"]
        entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry.after == {"requeued": 2} and entry.actor.startswith("manager:")


def test_cancel_a_queued_message(app, client, login_as):
    ids = make_rows(app, {"a@example.org": "queued"})
    login_as("admin")
    token = csrf_token(client, "/mail/outbox")
    client.post(f"/mail/outbox/{ids['a@example.org']}/cancel", data={"csrf_token": token})
    with app.app_context():
        assert db.session.get(OutboxMessage, ids["a@example.org"]).status == "cancelled"
    assert deliver_all(app).claimed == 0


def test_message_page_shows_headers_structure_and_text(app, client, login_as):
    with app.app_context():
        row = outbox.enqueue(db.session, build_message(
            to="anna@example.org", subject="Einladung <Sommerfest>", text="Hallo Anna\n",
            html="<script>alert(1)</script>", calendar=(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
                                                        "REQUEST")), kind="invitation")
        db.session.commit()
        row_id, message_id = row.id, row.message_id
    login_as("manager")
    html = client.get(f"/mail/outbox/{row_id}").get_data(as_text=True)
    assert "Einladung &lt;Sommerfest&gt;" in html
    assert message_id.replace("<", "&lt;").replace(">", "&gt;") in html
    assert "text/calendar" in html and "multipart/alternative" in html
    assert "Hallo Anna" in html
    assert "<script>alert(1)</script>" not in html
    raw = client.get(f"/mail/outbox/{row_id}/raw")
    assert raw.status_code == 200 and raw.mimetype == "message/rfc822"
    assert b"Message-ID: " + message_id.encode() in raw.data
    assert client.get("/mail/outbox/999999").status_code == 404


def test_mail_files_page_lists_and_serves_only_its_files(app, client, login_as):
    make_rows(app, {"anna@example.org": "queued", "ben@example.org": "queued"})
    assert deliver_all(app).sent == 2
    with app.app_context():
        from engagement.mail.delivery import mail_folder

        (mail_folder() / "notes.txt").write_text("not a mail")
    login_as("admin")
    html = client.get("/mail/files").get_data(as_text=True)
    assert "Subject for anna@example.org" in html and "Subject for ben@example.org" in html
    assert "notes.txt" not in html
    with app.app_context():
        from engagement.mail.delivery import eml_name

        row = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.to_addr == "anna@example.org")).one()
        name = eml_name(row.id, row.created_at)
        raw_bytes = row.raw
    page = client.get(f"/mail/files/{name}").get_data(as_text=True)
    assert "Text for anna@example.org" in page
    download = client.get(f"/mail/files/{name}/raw")
    assert download.data == raw_bytes
    for bad in ("notes.txt", "..%2Fsecret_key", "x.eml", "20260101T000000Z-0000000001.eml",
                "%2E%2E", "..%2F..%2Fetc%2Fpasswd"):
        assert client.get(f"/mail/files/{bad}").status_code == 404, bad
        assert client.get(f"/mail/files/{bad}/raw").status_code == 404, bad


def test_mail_files_is_admin_only(app, client, login_as):
    login_as("manager")
    assert client.get("/mail/files").status_code == 403
