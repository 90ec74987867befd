"""The import pages: upload, background run, status page, error report, refused paths."""
from __future__ import annotations

import io
import time
from pathlib import Path

from sqlalchemy import select

from engagement.community.models import ImportRun, Member
from engagement.extensions import db
from tests.conftest import csrf_token

DATA = Path(__file__).resolve().parents[1] / "data" / "import"


def _wait_for_run(app, run_id: int, timeout: float = 20.0) -> ImportRun:
    deadline = time.monotonic() + timeout
    while True:
        with app.app_context():
            run = db.session.get(ImportRun, run_id)
            status = run.status
            db.session.remove()
        if status != "running" or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_upload_runs_in_background_and_shows_report(app, client, login_as):
    login_as("manager")
    token = csrf_token(client, "/imports/new")
    files = [(io.BytesIO((DATA / "csv" / name).read_bytes()), name)
             for name in ("members.csv", "contributions.csv")]
    resp = client.post("/imports/new", data={
        "csrf_token": token, "format": "csv", "source": "excel", "files": files,
    }, content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    run_id = int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert _wait_for_run(app, run_id) == "completed"

    with app.app_context():
        names = db.session.scalars(select(Member.display_name).where(Member.source == "excel")
                                   .order_by(Member.external_id)).all()
        assert names == ["Jürgen Müller", "Schmidt; Anna"]
        run = db.session.get(ImportRun, run_id)
        assert run.created_by.startswith("manager:")
        db.session.remove()

    page = client.get(f"/imports/{run_id}").get_data(as_text=True)
    assert "completed" in page and 'http-equiv="refresh"' not in page
    assert "no member with external_id &#39;k-9&#39;" in page
    assert "contributions.csv" in page and "Download as CSV" in page
    listing = client.get("/imports").get_data(as_text=True)
    assert f"/imports/{run_id}" in listing and "excel" in listing

    report = client.get(f"/imports/{run_id}/issues.csv")
    assert report.status_code == 200 and report.mimetype == "text/csv"
    lines = report.get_data(as_text=True).splitlines()
    assert lines[0] == "file,line,reason"
    assert "contributions.csv,7,'posts: -1 is negative" not in lines  # only formulas are escaped
    assert "contributions.csv,7,posts: -1 is negative" in lines
    assert len(lines) == 5


def test_report_csv_escapes_formulas(app, client, login_as):
    from engagement.community.models import ImportIssue

    login_as("manager")
    with app.app_context():
        run = ImportRun(format="csv", source="csv", files=[], status="completed")
        db.session.add(run)
        db.session.flush()
        db.session.add(ImportIssue(run_id=run.id, file="=cmd|' /C calc'!A0", line=3,
                                   reason="@SUM(1+1)"))
        db.session.commit()
        run_id = run.id
        db.session.remove()
    lines = client.get(f"/imports/{run_id}/issues.csv").get_data(as_text=True).splitlines()
    assert lines[1] == "'=cmd|' /C calc'!A0,3,'@SUM(1+1)"


def test_server_path_outside_import_root_is_refused(app, client, login_as, tmp_path):
    root = tmp_path / "exports"
    (root / "csv").mkdir(parents=True)
    for name in ("members.csv", "contributions.csv"):
        (root / "csv" / name).write_bytes((DATA / "csv" / name).read_bytes())
    app.config["IMPORT_ROOT"] = str(root)
    login_as("admin")
    token = csrf_token(client, "/imports/new")
    for bad in ("../", "/etc", "csv/../../"):
        resp = client.post("/imports/new", data={"csrf_token": token, "format": "csv",
                                                 "server_path": bad})
        assert resp.status_code == 400, bad
        assert "must lie inside the import folder" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(ImportRun)).all() == []
        db.session.remove()

    resp = client.post("/imports/new", data={"csrf_token": token, "format": "csv",
                                             "server_path": "csv"})
    assert resp.status_code == 302
    run_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    assert _wait_for_run(app, run_id) == "completed"


def _import_root_with_symlinks(tmp_path: Path) -> Path:
    """IMPORT_ROOT with a real folder, a symlinked folder and a symlinked file leading out."""
    root, outside = tmp_path / "exports", tmp_path / "private"
    (root / "csv").mkdir(parents=True)
    outside.mkdir()
    for name in ("members.csv", "contributions.csv"):
        (outside / name).write_bytes((DATA / "csv" / name).read_bytes())
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "csv" / "members.csv").symlink_to(outside / "members.csv")
    (root / "csv" / "contributions.csv").write_bytes((DATA / "csv" / "contributions.csv")
                                                     .read_bytes())
    (root / "one.csv").symlink_to(outside / "members.csv")
    return root


def test_server_path_through_a_symlink_leading_out_of_import_root_is_refused(
        app, client, login_as, tmp_path):
    app.config["IMPORT_ROOT"] = str(_import_root_with_symlinks(tmp_path))
    login_as("manager")
    token = csrf_token(client, "/imports/new")
    for bad in ("escape", "escape/members.csv", "one.csv", "csv", "csv/members.csv", "."):
        resp = client.post("/imports/new", data={"csrf_token": token, "format": "csv",
                                                 "server_path": bad})
        assert resp.status_code == 400, bad
        assert "must lie inside the import folder" in resp.get_data(as_text=True), bad
    with app.app_context():
        assert db.session.scalars(select(ImportRun)).all() == []
        assert db.session.scalars(select(Member)).all() == []
        db.session.remove()


def test_import_command_is_not_limited_by_import_root(app, runner, tmp_path):
    # The CLI is the operator's own shell: any path they can read is theirs to import.
    app.config["IMPORT_ROOT"] = str(_import_root_with_symlinks(tmp_path))
    result = runner.invoke(args=["import-community", "--format", "csv",
                                 str(tmp_path / "exports" / "escape")])
    assert result.exit_code == 0, result.output


def test_server_path_with_nul_or_control_characters_is_a_form_error(app, client, login_as,
                                                                   tmp_path):
    root = tmp_path / "exports"
    root.mkdir()
    app.config["IMPORT_ROOT"] = str(root)
    login_as("manager")
    token = csrf_token(client, "/imports/new")
    for bad in ("csv\x00/../../etc", "\x00", "a\nb", "x\r\ny", "a\x1fb", "a\x7f"):
        resp = client.post("/imports/new", data={"csrf_token": token, "format": "csv",
                                                 "server_path": bad})
        assert resp.status_code == 400, repr(bad)
        assert "contains control characters" in resp.get_data(as_text=True), repr(bad)
    resp = client.post("/imports/new", data={"csrf_token": token, "format": "csv",
                                             "server_path": "a" * 5000})
    assert resp.status_code == 200 and "longer than 1000" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(ImportRun)).all() == []
        db.session.remove()


def test_server_path_disabled_without_import_root(app, client, login_as):
    login_as("manager")
    token = csrf_token(client, "/imports/new")
    resp = client.post("/imports/new", data={"csrf_token": token, "format": "csv",
                                             "server_path": "/tmp"})
    assert resp.status_code == 400
    assert "Server paths are disabled" in resp.get_data(as_text=True)


def test_running_page_refreshes_and_stale_run_shows_interrupted(app, client, login_as):
    from datetime import timedelta

    from engagement.timeutil import utcnow

    login_as("manager")
    with app.app_context():
        fresh = ImportRun(format="csv", source="csv", files=["members.csv"], status="running",
                          heartbeat_at=utcnow(), bytes_total=100, bytes_done=40)
        stale = ImportRun(format="csv", source="csv", files=["members.csv"], status="running",
                          heartbeat_at=utcnow() - timedelta(hours=1), bytes_total=100,
                          bytes_done=10)
        db.session.add_all([fresh, stale])
        db.session.commit()
        fresh_id, stale_id = fresh.id, stale.id
        db.session.remove()
    page = client.get(f"/imports/{fresh_id}").get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="2">' in page and "width: 40.0%" in page
    page = client.get(f"/imports/{stale_id}").get_data(as_text=True)
    assert "interrupted" in page and 'http-equiv="refresh"' not in page


def test_hr_and_members_cannot_import(app, client, login_as):
    login_as("hr")
    assert client.get("/imports").status_code == 403
    assert client.get("/imports/new").status_code == 403
