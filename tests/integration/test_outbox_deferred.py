"""Deferred outbox rows: bulk enqueue in the caller's transaction, rendered once by the
worker (stored before the first send, so retries send identical bytes), skips cancel."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engagement.extensions import db
from engagement.mail import outbox, render
from engagement.mail.compose import InvalidMessage, build_message
from engagement.mail.delivery import FileBackend
from engagement.mail.models import OutboxMessage, OutboxStatus
from engagement.timeutil import utcnow
from tests.mail_fixtures import deliver_all

KIND = "test-note"
calls: list[list[int]] = []


def _renderer(session, items):
    calls.append([it.id for it in items])
    results = {}
    for it in items:
        action = it.payload.get("action")
        if action == "skip":
            results[it.id] = render.Skip("the note was withdrawn")
        elif action == "boom":
            raise RuntimeError("renderer bug")
        else:
            results[it.id] = build_message(to=it.to_addr, subject=f"Note {it.payload['n']}",
                                           text=f"Note number {it.payload['n']}\n")
    return results


@pytest.fixture(autouse=True)
def renderer():
    calls.clear()
    render.register_renderer(KIND, _renderer)
    yield
    calls.clear()


def _mails(n, **payload):
    return [outbox.Deferred(to_addr=f"p{i}@example.org", payload={"n": i, **payload},
                            dedupe_key=f"note:{i}", subject=f"Note {i}") for i in range(n)]


def _rows():
    return db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def test_enqueue_many_joins_the_callers_transaction_and_dedupes(app_any):
    with app_any.app_context():
        assert outbox.enqueue_many(db.session, _mails(3), kind=KIND) == 3
        db.session.rollback()
        assert _rows() == []
        assert outbox.enqueue_many(db.session, _mails(3), kind=KIND, batch_size=2) == 3
        # A re-run (double click, second request) adds only the new key.
        assert outbox.enqueue_many(db.session, _mails(4), kind=KIND) == 1
        db.session.commit()
        rows = _rows()
        assert [r.to_addr for r in rows] == [f"p{i}@example.org" for i in range(4)]
        assert all(r.raw is None and r.status == OutboxStatus.QUEUED for r in rows)
        assert rows[2].payload == {"n": 2} and rows[2].subject == "Note 2"
        assert rows[0].from_addr == "engagement@localhost"
        assert len({r.message_id for r in rows}) == 4
        assert all(r.message_id.startswith("<") and r.message_id.endswith(">") for r in rows)


def test_enqueue_many_rejects_unknown_kinds_and_bad_addresses(app):
    with app.app_context():
        with pytest.raises(ValueError, match="no renderer"):
            outbox.enqueue_many(db.session, _mails(1), kind="nobody-renders-this")
        for bad in ("Name <a@example.org>", "a@example.org\r\nBcc: x@example.org", "nobody"):
            with pytest.raises(InvalidMessage):
                outbox.enqueue_many(db.session, [outbox.Deferred(bad, {})], kind=KIND)
        with pytest.raises(ValueError, match="aware"):
            outbox.enqueue_many(db.session, _mails(1), kind=KIND,
                                send_after=utcnow().replace(tzinfo=None))


def test_rendered_once_and_a_retry_sends_the_identical_message(app, smtp_server):
    smtp_server.configure(app)
    with app.app_context():
        outbox.enqueue_many(db.session, _mails(2), kind=KIND)
        db.session.commit()
        assigned = [r.message_id for r in _rows()]
    smtp_server.fail_data()  # the server takes nothing for now
    report = deliver_all(app)
    assert report.retried == 2 and smtp_server.messages == []
    assert len(calls) == 1  # one batch, rendered once
    with app.app_context():
        stored = [r.raw for r in _rows()]
        assert all(raw and b"Note number" in raw for raw in stored)
    smtp_server.fail_data(None)
    report = deliver_all(app, now=utcnow() + timedelta(hours=2))
    assert report.sent == 2 and len(calls) == 1  # not rendered again
    received = sorted(smtp_server.messages, key=lambda m: m.rcpt_tos[0])
    assert [m.message_id for m in received] == assigned
    for message, raw in zip(received, stored, strict=True):
        assert message.raw.replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")
    with app.app_context():
        rows = _rows()
        assert [r.subject for r in rows] == ["Note 0", "Note 1"]
        assert all(r.status == OutboxStatus.SENT for r in rows)


def test_skips_cancel_with_reason_errors_back_off_unknown_kinds_fail(app, tmp_path):
    with app.app_context():
        outbox.enqueue_many(db.session, _mails(2, action="skip"), kind=KIND)
        outbox.enqueue_many(db.session, [outbox.Deferred("x@example.org", {"n": 9})],
                            kind=KIND)
        db.session.commit()
    report = deliver_all(app, backend=FileBackend(tmp_path))
    assert (report.sent, report.cancelled) == (1, 2)
    with app.app_context():
        rows = _rows()
        assert [(r.status, r.last_error, r.dedupe_key) for r in rows[:2]] == [
            (OutboxStatus.CANCELLED, "the note was withdrawn", None)] * 2
        # The key was given up: the same note can be queued again.
        assert outbox.enqueue_many(db.session, _mails(1), kind=KIND) == 1
        db.session.execute(OutboxMessage.__table__.delete())
        outbox.enqueue_many(db.session, _mails(1, action="boom"), kind=KIND)
        # Another kind in the same claim: its renderer forgets a row (a bug, not a skip).
        render.register_renderer("test-forgetful", lambda session, items: {})
        outbox.enqueue_many(db.session, [outbox.Deferred("f@example.org", {})],
                            kind="test-forgetful")
        db.session.execute(OutboxMessage.__table__.insert().values(
            kind="retired-kind", from_addr="engagement@localhost", to_addr="r@example.org",
            subject="", message_id="<r@localhost>", raw=None, payload={}, status="queued",
            attempts=0, next_attempt_at=utcnow(), created_at=utcnow()))
        db.session.commit()
    report = deliver_all(app, backend=FileBackend(tmp_path))
    assert (report.sent, report.retried, report.failed) == (0, 2, 1)
    with app.app_context():
        by_to = {r.to_addr: r for r in _rows()}
        assert by_to["p0@example.org"].status == OutboxStatus.QUEUED
        assert "renderer bug" in by_to["p0@example.org"].last_error
        assert by_to["f@example.org"].last_error == "the renderer returned no message"
        assert by_to["r@example.org"].status == OutboxStatus.FAILED
        assert "no renderer registered" in by_to["r@example.org"].last_error
        assert all(r.raw is None for r in by_to.values())
