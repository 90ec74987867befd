"""The csv reader's first pass: per-member day sums the loader inserts new members with."""
from __future__ import annotations

from pathlib import Path

from engagement.community.importers.readers import csv_files

HEADER = "external_id,day,posts,answers,accepted_solutions,kudos_received\n"


def _plan(tmp_path: Path, body: str):
    (tmp_path / "members.csv").write_text("external_id,display_name\na,A\n", encoding="utf-8")
    (tmp_path / "contributions.csv").write_text(HEADER + body, encoding="utf-8")
    return csv_files.plan([tmp_path])


def test_sums_clean_rows_and_keeps_the_last_iso_day(tmp_path):
    plan = _plan(tmp_path, "a,2024-03-02,1,2,0,3\na,2024-01-01,4,0,1,0\nb,2024-05-05,0,0,0,1\n"
                           "a,not-a-day,9,9,9,9\na,2024-02-01,-1,0,0,0\nb;broken\n")
    totals = csv_files.day_totals(plan)
    assert len(totals) == 2
    assert totals.pop("a") == (5, 2, 1, 3, "2024-03-02")  # odd rows left to the refresh
    assert totals.pop("b") == (0, 0, 0, 1, "2024-05-05")
    assert totals.pop("a") is None  # forgotten once taken


def test_members_already_stored_are_left_out(tmp_path):
    plan = _plan(tmp_path, "a,2024-03-02,1,0,0,0\nb,2024-03-02,2,0,0,0\n")
    totals = csv_files.day_totals(plan, known={"a": 1})
    assert totals.pop("a") is None
    assert totals.pop("b") == (2, 0, 0, 0, "2024-03-02")


def test_gives_up_beyond_the_member_limit(tmp_path):
    plan = _plan(tmp_path, "a,2024-03-02,1,0,0,0\nb,2024-03-02,1,0,0,0\nc,2024-03-02,1,0,0,0\n")
    assert csv_files.day_totals(plan, limit=2) is None
    assert len(csv_files.day_totals(plan, limit=3)) == 3


def test_a_day_that_only_looks_iso_leaves_the_last_day_open(tmp_path):
    plan = _plan(tmp_path, "a,2024-02-01,1,0,0,0\na,2024-02-31,1,0,0,0\n")
    assert csv_files.day_totals(plan).pop("a") == (2, 0, 0, 0, None)


def test_a_member_listed_again_later_adds_up(tmp_path):
    plan = _plan(tmp_path, "a,2024-03-02,1,0,0,0\nb,2024-03-02,1,0,0,0\na,2024-04-01,2,1,0,0\n"
                           "a,2024-01-01,1,0,0,0\n")
    totals = csv_files.day_totals(plan)
    assert totals.pop("a") == (4, 1, 0, 0, "2024-04-01")
    assert totals.pop("b") == (1, 0, 0, 0, "2024-03-02")
