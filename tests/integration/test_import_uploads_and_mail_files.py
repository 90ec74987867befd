"""Personal data in files: uploaded imports are deleted after their run, and an erasure
deletes the member's .eml files (found by outbox id, not by reading them)."""
from __future__ import annotations

import io
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engagement.community.importers import uploads
from engagement.community.importers import views as import_views
from engagement.extensions import db
from engagement.mail.delivery import eml_name
from engagement.mail.models import OutboxMessage
from engagement.records.gdpr import services as gdpr
from tests.conftest import csrf_token
from tests.factories import make_member, make_user

DATA = Path(__file__).resolve().parents[1] / "data" / "import"


class _InlineThread:
    """Runs the background import at start(): the test sees its end deterministically."""

    def __init__(self, target, name=None, daemon=None):
        self.target = target

    def start(self):
        self.target()


@pytest.fixture
def inline_imports(monkeypatch):
    monkeypatch.setattr(import_views.threading, "Thread", _InlineThread)


def _upload(client) -> int:
    token = csrf_token(client, "/imports/new")
    files = [(io.BytesIO((DATA / "csv" / name).read_bytes()), name)
             for name in ("members.csv", "contributions.csv")]
    resp = client.post("/imports/new", data={
        "csrf_token": token, "format": "csv", "source": "excel", "files": files,
    }, content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def _left(app) -> list[Path]:
    root = uploads.uploads_root(app.instance_path)
    return sorted(root.iterdir()) if root.is_dir() else []


def test_uploads_are_deleted_when_the_run_completes(app, client, login_as, inline_imports):
    login_as("manager")
    _upload(client)
    assert _left(app) == []


def test_uploads_are_deleted_when_the_run_fails(app, client, login_as, inline_imports,
                                                monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(import_views, "run_import", boom)
    login_as("manager")
    _upload(client)
    assert _left(app) == []


def test_retention_keeps_uploads_and_purges_old_ones(app, client, login_as, inline_imports):
    app.config["IMPORT_UPLOAD_RETENTION_DAYS"] = 3
    login_as("manager")
    _upload(client)
    (kept,) = _left(app)
    old = time.time() - 4 * 86400
    os.utime(kept, (old, old))
    _upload(client)  # the next import purges the folder past its retention
    left = _left(app)
    assert len(left) == 1 and left[0] != kept


def test_purge_never_follows_links_out_of_the_uploads(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "keep.csv").write_text("x")
    root = uploads.uploads_root(tmp_path / "instance")
    root.mkdir(parents=True)
    (root / "link").symlink_to(outside, target_is_directory=True)
    assert uploads.purge_old_uploads(tmp_path / "instance",
                                     now=datetime(2100, 1, 1, tzinfo=UTC), days=0) == 0
    assert (outside / "keep.csv").exists()
    assert not uploads.remove_upload_folder(tmp_path / "instance", [outside / "keep.csv"])
    assert (outside / "keep.csv").exists()


def test_erasure_deletes_the_members_mail_files_only(app, tmp_path):
    folder = tmp_path / "mail"
    folder.mkdir()
    app.config["MAIL_FILE_DIR"] = str(folder)
    created = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    with app.app_context():
        staff = make_user(role="manager", email="manager@demo.example")
        # Imported with the staff address: text search would take the staff's files too.
        member = make_member(display_name="Mallory", email="manager@demo.example")
        rows = []
        for refs in ({"member_id": member.id}, {"user_id": staff.id}):
            row = OutboxMessage(kind="test", from_addr="org@example.org",
                                to_addr="manager@demo.example", subject="Hi",
                                message_id=f"<{len(rows)}@t>", raw=b"x", created_at=created,
                                **refs)
            db.session.add(row)
            db.session.flush()
            rows.append(row)
        for row in rows:
            (folder / eml_name(row.id, created)).write_bytes(
                b"To: Mallory <manager@demo.example>\r\n\r\nHello Mallory")
        db.session.commit()
        mine, staffs = (eml_name(r.id, created) for r in rows)
        counts = gdpr.erase_member(db.session, member.id, key="k")
        db.session.commit()
        assert counts["mail_files"] == 1
    assert sorted(p.name for p in folder.iterdir()) == [staffs]
    assert mine != staffs
