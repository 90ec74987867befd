"""The outbox: same-transaction enqueue, dedupe, claims and leases, exactly-once delivery."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, select, text, update

from engagement.community.models import Member
from engagement.extensions import db
from engagement.mail import delivery, outbox
from engagement.mail.compose import build_message
from engagement.mail.models import OutboxMessage, OutboxStatus
from engagement.mail.rules import RetryPolicy
from engagement.timeutil import utcnow
from tests.factories import make_member
from tests.mail_fixtures import deliver_all

LEASE = timedelta(seconds=300)


def queue(app, n: int, kind: str = "test", prefix: str = "person") -> list[int]:
    with app.app_context():
        ids = [outbox.enqueue(db.session, build_message(
            to=f"{prefix}{i}@example.org", subject=f"Message {i}", text=f"Body {i}\n"),
            kind=kind).id for i in range(n)]
        db.session.commit()
        db.session.remove()
    return ids


def statuses(app) -> dict[int, str]:
    with app.app_context():
        rows = dict(db.session.execute(select(OutboxMessage.id, OutboxMessage.status)).all())
        db.session.remove()
    return rows


def test_enqueue_belongs_to_the_callers_transaction(app):
    with app.app_context():
        make_member(display_name="Rolled back")
        outbox.enqueue(db.session, build_message(to="a@example.org", subject="s", text="t"),
                       kind="welcome")
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert db.session.scalar(select(func.count()).select_from(Member)) == 0

        msg = build_message(to="a@example.org", subject="Kept", text="t")
        make_member(display_name="Kept")
        row = outbox.enqueue(db.session, msg, kind="welcome")
        db.session.commit()
        stored = db.session.get(OutboxMessage, row.id)
        assert (stored.status, stored.attempts, stored.to_addr) == ("queued", 0, "a@example.org")
        assert stored.message_id == msg["Message-ID"]
        assert stored.subject == "Kept"
        assert b"\r\nSubject: Kept\r\n" in b"\r\n" + stored.raw
        assert stored.from_addr == "engagement@localhost"


def test_dedupe_key_returns_the_existing_row(app_any):
    with app_any.app_context():
        first = outbox.enqueue(db.session, build_message(to="a@example.org", subject="1", text="t"),
                               kind="invite", dedupe_key="event:1:invite:7")
        again = outbox.enqueue(db.session, build_message(to="a@example.org", subject="2", text="t"),
                               kind="invite", dedupe_key="event:1:invite:7")
        db.session.commit()
        assert again.id == first.id
        # Also across transactions (a re-run of the same command).
        third = outbox.enqueue(db.session, build_message(to="a@example.org", subject="3", text="t"),
                               kind="invite", dedupe_key="event:1:invite:7")
        db.session.commit()
        assert third.id == first.id
        assert db.session.scalars(select(OutboxMessage.subject)).all() == ["1"]


def test_cancel_pending_by_prefix_frees_the_key(app_any):
    with app_any.app_context():
        for key in ("event:1:reminder:1", "event:1:reminder:2", "event:10:reminder:1",
                    "event:1%:reminder:1"):
            outbox.enqueue(db.session, build_message(to="a@example.org", subject=key, text="t"),
                           kind="reminder", dedupe_key=key, send_after=utcnow() + timedelta(days=3))
        db.session.commit()
        assert outbox.cancel_pending(db.session, "event:1:") == 2
        db.session.commit()
        rows = dict(db.session.execute(select(OutboxMessage.subject, OutboxMessage.status)).all())
        assert rows == {"event:1:reminder:1": "cancelled", "event:1:reminder:2": "cancelled",
                        "event:10:reminder:1": "queued", "event:1%:reminder:1": "queued"}
        again = outbox.enqueue(db.session, build_message(to="a@example.org", subject="new",
                                                         text="t"),
                               kind="reminder", dedupe_key="event:1:reminder:1")
        db.session.commit()
        assert again.status == "queued" and again.subject == "new"
        with pytest.raises(ValueError):
            outbox.cancel_pending(db.session, "")


def test_enqueue_needs_one_recipient(app):
    from email.message import EmailMessage

    from engagement.mail.compose import InvalidMessage

    msg = EmailMessage()
    msg["From"] = "a@example.org"
    msg["To"] = "b@example.org, c@example.org"
    msg.set_content("x")
    with app.app_context(), pytest.raises(InvalidMessage):
        outbox.enqueue(db.session, msg, kind="x")


def test_file_backend_writes_eml_files(app):
    ids = queue(app, 2)
    now = utcnow()
    report = deliver_all(app, now=now)
    assert (report.sent, report.claimed) == (2, 2)
    folder = app.config.get("MAIL_FILE_DIR") or f"{app.instance_path}/mail"
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        for row in rows:
            path = delivery.mail_folder() / delivery.eml_name(row.id, row.created_at)
            assert path.read_bytes() == row.raw
            assert row.status == "sent" and row.sent_at == now and row.attempts == 1
        names = sorted(p.name for p in delivery.mail_folder().iterdir())
        assert [n.split("-")[1] for n in names] == [f"{i:010d}.eml" for i in ids]
    assert str(delivery.mail_folder(app)).startswith(str(folder))
    assert deliver_all(app, now=now).claimed == 0


def test_send_after_schedules(app):
    with app.app_context():
        now = utcnow()
        outbox.enqueue(db.session, build_message(to="a@example.org", subject="s", text="t"),
                       kind="reminder", send_after=now + timedelta(days=1))
        db.session.commit()
    assert deliver_all(app, now=now + timedelta(hours=23)).claimed == 0
    assert deliver_all(app, now=now + timedelta(days=1)).sent == 1


def test_worker_dies_after_claiming_lease_expires_and_another_sends(app, smtp_server):
    smtp_server.configure(app)
    queue(app, 3)
    now = utcnow()
    with app.app_context():
        claimed = delivery.claim(db.session, "dead-worker/1", now=now, limit=10, lease=LEASE,
                                 policy=RetryPolicy())
        db.session.commit()  # ... and the worker process dies here
        db.session.remove()
    assert len(claimed) == 3
    assert set(statuses(app).values()) == {"sending"}
    # While the lease runs, nobody else touches the rows.
    assert deliver_all(app, now=now + LEASE - timedelta(seconds=1)).claimed == 0
    report = deliver_all(app, now=now + LEASE + timedelta(seconds=1))
    assert report.sent == 3
    assert sorted(r.rcpt_tos[0] for r in smtp_server.messages) == [
        "person0@example.org", "person1@example.org", "person2@example.org"]
    with app.app_context():
        assert db.session.scalars(select(OutboxMessage.attempts)).all() == [2, 2, 2]


def test_the_documented_window_resends_the_identical_message(app, smtp_server, monkeypatch):
    """Killed between the server's 250 and our commit: sent again, byte-identical."""
    smtp_server.configure(app)
    queue(app, 1)
    now = utcnow()
    real_finish = delivery._finish

    def die_before_commit(session, token, item_id, **values):
        if values.get("status") == OutboxStatus.SENT:
            raise KeyboardInterrupt  # the process is killed right after the server accepted
        return real_finish(session, token, item_id, **values)

    monkeypatch.setattr(delivery, "_finish", die_before_commit)
    with pytest.raises(KeyboardInterrupt):
        deliver_all(app, now=now)
    monkeypatch.setattr(delivery, "_finish", real_finish)
    assert list(statuses(app).values()) == ["sending"]
    assert deliver_all(app, now=now + LEASE + timedelta(seconds=1)).sent == 1
    first, second = smtp_server.messages
    assert first.raw == second.raw
    assert first.message_id == second.message_id


def test_a_row_that_kills_its_worker_every_time_is_given_up(app):
    queue(app, 1)
    now = utcnow()
    with app.app_context():
        db.session.execute(update(OutboxMessage).values(
            status="sending", attempts=8, locked_by="w", locked_until=now - timedelta(seconds=1)))
        db.session.commit()
    assert deliver_all(app, now=now).claimed == 0
    with app.app_context():
        row = db.session.scalars(select(OutboxMessage)).one()
        assert (row.status, row.last_error) == ("failed", delivery.INTERRUPTED)
        assert row.locked_by is None


def test_stopping_hands_the_rest_of_the_batch_back(app):
    queue(app, 5)
    sent: list[int] = []

    class CountingBackend(delivery.FileBackend):
        def send(self, item):
            super().send(item)
            sent.append(item.id)

    with app.app_context():
        report = delivery.deliver_due(
            db.session, now=utcnow(), backend=CountingBackend(delivery.mail_folder()),
            should_stop=lambda: len(sent) >= 2)
        db.session.remove()
    assert (report.claimed, report.sent) == (5, 2)
    with app.app_context():
        rows = db.session.execute(select(OutboxMessage.status, OutboxMessage.attempts,
                                         OutboxMessage.locked_by)
                                  .order_by(OutboxMessage.id)).all()
    assert rows == [("sent", 1, None)] * 2 + [("queued", 0, None)] * 3


def test_a_stalled_worker_that_lost_its_lease_does_not_send(app):
    queue(app, 2)
    now = utcnow()
    with app.app_context():
        ids = delivery.claim(db.session, "stalled/1", now=now, limit=10, lease=LEASE,
                             policy=RetryPolicy())
        db.session.commit()
        # Another worker takes the rows over after the lease ran out.
        taken = delivery.claim(db.session, "other/1", now=now + LEASE * 2, limit=10, lease=LEASE,
                               policy=RetryPolicy())
        db.session.commit()
        assert ids == taken
        # The stalled worker wakes up: its status change must not apply.
        assert delivery._finish(db.session, "stalled/1", ids[0], status="sent") is False
        db.session.commit()
        assert db.session.get(OutboxMessage, ids[0]).locked_by == "other/1"


def _run_workers(app, count: int, batch_size: int) -> list:
    errors: list = []
    start = threading.Barrier(count)

    def work(n):
        try:
            start.wait()
            deliver_all(app, batch_size=batch_size, worker=f"thread-{n}")
        except Exception as exc:  # reported to the test below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_concurrent_workers_send_each_message_once(app_any, smtp_server):
    smtp_server.configure(app_any)
    ids = queue(app_any, 120)
    errors = _run_workers(app_any, 4, batch_size=7)
    assert errors == []
    assert set(statuses(app_any).values()) == {"sent"}
    received = smtp_server.messages
    assert len(received) == len(ids)
    assert len(set(smtp_server.message_ids())) == len(ids)
    assert sorted(r.rcpt_tos[0] for r in received) == sorted(
        f"person{i}@example.org" for i in range(120))


def test_skip_locked_claims_around_rows_another_worker_is_claiming(pg_app):
    """PostgreSQL: a claim does not wait for, and never takes, rows locked by another claim."""
    ids = queue(pg_app, 6)
    engine = create_engine(pg_app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.connect() as other:
            other.execute(text("SET lock_timeout = '5s'"))
            locked = other.execute(text(
                "SELECT id FROM outbox_messages WHERE id <= :last ORDER BY id FOR UPDATE"),
                {"last": ids[2]}).scalars().all()
            assert locked == ids[:3]
            with pg_app.app_context():
                db.session.execute(text("SET lock_timeout = '5s'"))  # fail, never hang
                got = delivery.claim(db.session, "w2/1", now=utcnow(), limit=10, lease=LEASE,
                                     policy=RetryPolicy())
                db.session.commit()
                db.session.remove()
            assert got == ids[3:]
            other.rollback()
    finally:
        engine.dispose()
