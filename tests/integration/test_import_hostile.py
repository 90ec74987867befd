"""Hostile or damaged import files: control characters in names and e-mails, malformed
Khoros/Discourse pages. Bad rows are rejected with file, line and reason; never a crash."""
from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from engagement.community.importers.records import ImportSetupError
from engagement.community.importers.services import run_import
from engagement.community.models import ImportIssue, Member
from engagement.extensions import db

DATA = Path(__file__).resolve().parents[1] / "data" / "import"

BAD_EMAILS = ["x@example.com\r\nBcc: victim@example.org", "x@example.com\nBcc: v@e.org",
              "a\x00@example.org", "no-at-sign", "two@@example.org", "sp ace@example.org",
              "<x@example.org>", "x@example.org, y@example.org"]


def _run(app, paths, fmt):
    with app.app_context():
        run = run_import(db.session, [Path(p) for p in paths], fmt)
        issues = [(i.file, i.line, i.reason) for i in db.session.scalars(
            select(ImportIssue).where(ImportIssue.run_id == run.id).order_by(ImportIssue.id))]
        members = {m.external_id: (m.display_name, m.email)
                   for m in db.session.scalars(select(Member).where(Member.source == run.source))}
        status = run.status
        db.session.remove()
    return status, issues, members


def test_csv_names_are_cleaned_and_bad_emails_rejected_with_line(app, tmp_path):
    rows = [["external_id", "display_name", "email"],
            ["c-1", "Anna\r\nBcc: victim@example.org", "anna@example.org"],
            ["c-2", "Tab\tand\x00nul\x1b[31m  esc", "ok@example.org"],
            ["c-3", "Line\u2028sep", ""]]
    rows += [[f"e-{i}", f"Bad {i}", email] for i, email in enumerate(BAD_EMAILS)]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";").writerows(rows)  # quotes the fields with CR/LF
    body = buffer.getvalue()
    (tmp_path / "members.csv").write_text(body, encoding="utf-8", newline="")
    status, issues, members = _run(app, [tmp_path / "members.csv"], "csv")
    assert status == "completed"
    assert members["c-1"] == ("Anna Bcc: victim@example.org", "anna@example.org")
    assert members["c-2"] == ("Tab and nul [31m esc", "ok@example.org")
    assert members["c-3"][0] == "Line sep"
    for i in range(len(BAD_EMAILS)):
        assert f"e-{i}" not in members
    email_issues = [(f, line, r) for f, line, r in issues if "email" in r]
    assert len(email_issues) == len(BAD_EMAILS)
    assert all(f == "members.csv" and line and line > 1 for f, line, _r in email_issues)
    for name, email in members.values():
        assert "\r" not in name and "\n" not in name and (email is None or "\n" not in email)


def _khoros_users(tmp_path: Path, items) -> Path:
    folder = tmp_path / "khoros"
    folder.mkdir()
    shutil.copy(DATA / "khoros" / "messages.json", folder / "messages.json")
    page = json.loads((DATA / "khoros" / "users.json").read_text())
    page["data"]["items"] = items
    (folder / "users.json").write_text(json.dumps(page))
    return folder


def test_khoros_names_cleaned_and_bad_emails_rejected(app, tmp_path):
    items = [{"type": "user", "id": "1", "login": "Eve\r\nBcc: victim@example.org",
              "email": "eve@example.org"}]
    items += [{"type": "user", "id": str(10 + i), "login": f"bad{i}", "email": email}
              for i, email in enumerate(BAD_EMAILS)]
    folder = _khoros_users(tmp_path, items)
    status, issues, members = _run(app, [folder], "khoros")
    assert status == "completed"
    assert members["1"] == ("Eve Bcc: victim@example.org", "eve@example.org")
    for i in range(len(BAD_EMAILS)):
        assert str(10 + i) not in members
    email_issues = [i for i in issues if "email" in i[2]]
    assert len(email_issues) == len(BAD_EMAILS)
    assert all(f == "users.json" for f, _line, _r in email_issues)


@pytest.mark.parametrize("items", [
    "not a list", 42, None, [1, 2, 3], [[]], [{"id": {"nested": 1}, "login": "x"}],
    [{"id": "5", "login": ["x"], "email": 7}], [{"id": "6", "login": "ok", "email": {"a": 1}}],
    [{"id": True, "login": "t"}], [{"id": "7", "login": "x", "messages": {"count": "many"}}],
    [{"id": "8", "login": "x", "messages": "12"}], [{"id": "9", "login": "x",
                                                     "join_date": 12345}],
    [{"id": "10", "login": "x", "kudos_received": {"sum": {"weight": -1e308}}}],
])
def test_khoros_items_of_the_wrong_shape_are_rejected_not_a_crash(app, tmp_path, items):
    folder = _khoros_users(tmp_path, items)
    try:
        status, issues, _members = _run(app, [folder], "khoros")
    except ImportSetupError as exc:
        assert exc.file and "users.json" in str(exc.file)
        return
    assert status in ("completed", "failed")
    if status == "completed" and items not in ([],):
        assert issues, "a wrong shape must be reported"


@pytest.mark.parametrize("content", [
    "not json at all", "", "[]", "null", '{"data": 5}', '{"data": {"items": {}}}',
    '{"status": "success", "data": {"items": "x"}}', "[" * 5000 + "]" * 5000,
    '{"directory_items": 5}', '{"users": [1, "a", null]}', '\x00\x01\x02',
])
@pytest.mark.parametrize("fmt, name", [("khoros", "users.json"),
                                       ("discourse", "directory_items_page0.json"),
                                       ("discourse", "user_list.json")])
def test_malformed_json_pages_are_rejected_with_the_file_name(app, tmp_path, content, fmt, name):
    folder = tmp_path / fmt
    shutil.copytree(DATA / fmt, folder)
    (folder / name).write_text(content, encoding="utf-8")
    try:
        status, issues, _members = _run(app, [folder], fmt)
    except ImportSetupError as exc:
        assert name in f"{exc.file} {exc}", str(exc)
        return
    assert status in ("completed", "failed")
    if status == "completed":
        assert any(name == f for f, _l, _r in issues), issues
