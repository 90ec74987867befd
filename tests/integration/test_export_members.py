"""`flask export-members`: the API's member fields as CSV or JSON, streamed, spreadsheet-safe."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from sqlalchemy import insert, select

from engagement.audit import AuditEntry
from engagement.community.members.serialize import MEMBER_FIELDS
from engagement.community.models import Member, Tier
from engagement.extensions import db
from tests.factories import make_member

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _tier_id(name: str) -> int:
    return db.session.scalar(select(Tier.id).where(Tier.name == name))


def _seed(app) -> dict[str, int]:
    with app.app_context():
        ids = {
            "anna": make_member(external_id="a1", display_name="Anna Müller", answers=12000,
                                accepted_solutions=3000, tier_id=_tier_id("Power User")).id,
            "evil": make_member(external_id="e2", display_name="=HYPERLINK(\"http://x\")",
                                email="@evil.example", tier_id=_tier_id("Expert")).id,
            "plain": make_member(external_id="p3", display_name="-Plain+", email=None).id,
        }
        db.session.commit()
    return ids


def test_json_lists_every_member_with_the_api_fields(app, runner):
    ids = _seed(app)
    result = runner.invoke(args=["export-members", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [m["id"] for m in data] == sorted(ids.values())
    assert all(tuple(m) == MEMBER_FIELDS for m in data)
    anna = data[0]
    assert (anna["display_name"], anna["tier"], anna["answers"], anna["accepted_solutions"]) \
        == ("Anna Müller", "Power User", 12000, 3000)
    assert data[1]["display_name"] == "=HYPERLINK(\"http://x\")"  # JSON is data: unchanged
    assert data[2]["email"] is None and data[2]["tier"] is None


def test_csv_is_safe_against_formula_injection(app, runner):
    _seed(app)
    result = runner.invoke(args=["export-members"])  # csv is the default
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0] == list(MEMBER_FIELDS)
    assert len(rows) == 4
    by_ext = {r[2]: dict(zip(MEMBER_FIELDS, r, strict=True)) for r in rows[1:]}
    assert by_ext["a1"]["display_name"] == "Anna Müller"
    assert by_ext["a1"]["answers"] == "12000" and by_ext["a1"]["tier"] == "Power User"
    assert by_ext["e2"]["display_name"] == "'=HYPERLINK(\"http://x\")"
    assert by_ext["e2"]["email"] == "'@evil.example"
    assert by_ext["p3"]["display_name"] == "'-Plain+"
    assert by_ext["p3"]["email"] == "" and by_ext["p3"]["tier"] == ""


def test_tier_filter_and_unknown_tier(app, runner):
    ids = _seed(app)
    result = runner.invoke(args=["export-members", "--format", "json", "--tier", "expert"])
    assert result.exit_code == 0, result.output
    assert [m["id"] for m in json.loads(result.output)] == [ids["evil"]]
    result = runner.invoke(args=["export-members", "--format", "json", "--tier", "Legend"])
    assert result.exit_code == 0 and json.loads(result.output) == []
    result = runner.invoke(args=["export-members", "--tier", "Gold"])
    assert result.exit_code == 1
    assert "unknown tier 'Gold'" in result.output and "Power User" in result.output
    result = runner.invoke(args=["export-members", "--format", "xml"])
    assert result.exit_code == 2


def test_export_is_audited(app, runner):
    _seed(app)
    assert runner.invoke(args=["export-members", "--format", "json"]).exit_code == 0
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "members.export"))
        assert entry.actor == "cli:export-members"
        assert entry.after == {"format": "json", "tier": None, "members": 3}


def test_streams_many_members_in_batches(app, runner):
    """More rows than one batch: every member exactly once, in id order, in both formats."""
    count = 5_321
    with app.app_context():
        db.session.execute(insert(Member), [
            {"source": "bulk", "external_id": str(n), "display_name": f"Bulk {n}",
             "email": f"bulk{n}@example.org", "answers": n, "accepted_solutions": 0,
             "kudos_received": 0, "posts": n, "score": 0} for n in range(count)])
        db.session.commit()
    result = runner.invoke(args=["export-members", "--format", "json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert len(data) == count
    assert [m["answers"] for m in data] == list(range(count))
    result = runner.invoke(args=["export-members", "--format", "csv"])
    rows = list(csv.reader(io.StringIO(result.output)))
    assert len(rows) == count + 1 and rows[-1][3] == f"Bulk {count - 1}"


def _export_json(runner) -> list[dict]:
    result = runner.invoke(args=["export-members", "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_stackexchange_history_acceptance(app, runner):
    """Issue acceptance: user 771 has 179 answers, 51 accepted solutions; re-import: no-op."""
    folder = SHARED_DATA / "stackexchange-history"
    assert (folder / "Posts.xml").exists(), f"sample data missing: {folder}"
    first = runner.invoke(args=["import-community", str(folder), "--format", "stackexchange"])
    assert first.exit_code == 0, first.output
    exported = _export_json(runner)
    by_ext = {m["external_id"]: m for m in exported if m["source"] == "stackexchange"}
    assert by_ext["771"]["answers"] == 179
    assert by_ext["771"]["accepted_solutions"] == 51
    assert len(by_ext) >= 2000

    again = runner.invoke(args=["import-community", str(folder), "--format", "stackexchange"])
    assert again.exit_code == 0, again.output
    assert _export_json(runner) == exported


def test_export_streams_on_postgresql_too(app_any):
    """yield_per means a server-side cursor on PostgreSQL: same output, all rows."""
    with app_any.app_context():
        db.session.execute(insert(Member), [
            {"source": "bulk", "external_id": str(n), "display_name": f"=Bulk {n}",
             "answers": n, "accepted_solutions": 0, "kudos_received": 0, "posts": 0,
             "score": 0} for n in range(2500)])
        db.session.commit()
    runner = app_any.test_cli_runner()
    data = json.loads(runner.invoke(args=["export-members", "--format", "json"]).output)
    assert [m["answers"] for m in data] == list(range(2500))
    rows = list(csv.reader(io.StringIO(runner.invoke(args=["export-members"]).output)))
    assert len(rows) == 2501 and rows[1][3] == "'=Bulk 0"
