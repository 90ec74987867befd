"""`flask send-outbox`: the command, and a real worker process killed in the middle."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engagement.extensions import db
from engagement.mail import outbox
from engagement.mail.cli import send_outbox_command
from engagement.mail.compose import build_message
from engagement.mail.models import OutboxMessage
from engagement.timeutil import utcnow
from tests.mail_fixtures import deliver_all

ROOT = Path(__file__).resolve().parents[2]


def queue(app, n: int) -> list[str]:
    with app.app_context():
        ids = [outbox.enqueue(db.session, build_message(
            to=f"p{i}@example.org", subject=f"M{i}", text="x"), kind="test").message_id
            for i in range(n)]
        db.session.commit()
        db.session.remove()
    return ids


def counts(app) -> dict[str, int]:
    with app.app_context():
        result = dict(db.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
        db.session.remove()
    return result


def test_help(app):
    result = app.test_cli_runner().invoke(send_outbox_command, ["--help"])
    assert result.exit_code == 0
    assert "--loop" in result.output and "--batch-size" in result.output


def test_one_shot_writes_files_without_mail_server(app):
    queue(app, 3)
    result = app.test_cli_runner().invoke(send_outbox_command, [])
    assert result.exit_code == 0, result.output
    assert "sent 3, queued for retry 0, failed 0 via the mail folder" in result.output
    assert counts(app) == {"sent": 3}
    assert len(list((Path(app.instance_path) / "mail").glob("*.eml"))) == 3


def test_one_shot_fails_clearly_when_the_server_is_down(app, smtp_server):
    smtp_server.configure(app)
    smtp_server.stop()
    queue(app, 2)
    result = app.test_cli_runner().invoke(send_outbox_command, [])
    assert result.exit_code == 1
    assert "cannot connect to 127.0.0.1" in result.output
    assert "the remaining mail stays queued" in result.output
    assert counts(app) == {"queued": 2}


def test_bad_option_is_rejected(app):
    result = app.test_cli_runner().invoke(send_outbox_command, ["--batch-size", "0"])
    assert result.exit_code == 2


def _worker(app, smtp_port: int, tmp_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "FLASK_APP": "tests.mail_fixtures:cli_app()",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "ENGAGEMENT_INSTANCE": str(tmp_path),
        "SECRET_KEY": "worker-test",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "send-outbox", "--loop", "--interval", "0.1",
         "--batch-size", "10"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.mark.timeout(180)
def test_worker_killed_mid_batch_loses_nothing(app, smtp_server, tmp_path):
    """SIGKILL while the 4th message of a batch of 10 is in DATA: nothing lost, nothing twice."""
    message_ids = queue(app, 25)
    smtp_server.hold(4)
    proc = _worker(app, smtp_server.port, tmp_path / "worker")
    try:
        assert smtp_server.wait_until_holding(timeout=60), proc.stdout.read1().decode()
        # The worker commits each message before starting the next: exactly 3 are sent,
        # the other 7 of its batch are leased to it, the rest are still queued.
        assert counts(app) == {"sent": 3, "sending": 7, "queued": 15}
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    smtp_server.release(accept=False)  # the server never acknowledged the held message
    assert len(smtp_server.messages) == 3

    # A new worker: the queued rows go at once; the dead worker's rows after the lease.
    smtp_server.configure(app)
    now = utcnow()
    assert deliver_all(app, now=now).sent == 15
    assert counts(app) == {"sent": 18, "sending": 7}
    assert deliver_all(app, now=now + timedelta(seconds=301)).sent == 7
    assert counts(app) == {"sent": 25}
    received = smtp_server.message_ids()
    assert sorted(received) == sorted(message_ids)  # each exactly once


@pytest.mark.timeout(180)
def test_worker_stops_cleanly_on_sigterm(app, tmp_path, smtp_server):
    queue(app, 2)
    proc = _worker(app, smtp_server.port, tmp_path / "worker")
    try:
        # The banner line says the worker is up; delivery of the two queued mails follows.
        first = proc.stdout.readline().decode()
        assert "delivering via SMTP 127.0.0.1" in first
        line = proc.stdout.readline().decode()
        assert "sent 2" in line
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert proc.stdout.read().decode().strip().endswith("send-outbox: stopped")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert counts(app) == {"sent": 2}
