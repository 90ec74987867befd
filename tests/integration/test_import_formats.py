"""Each import format on real or realistic files, malformed input, and idempotency."""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engagement.audit import AuditEntry
from engagement.community.importers.loader import Dialect, Loader, refresh_totals_sql
from engagement.community.importers.records import ImportSetupError
from engagement.community.importers.services import run_import
from engagement.community.models import ContributionDay, ImportIssue, ImportRun, Member
from engagement.community.scoring import load_weights
from engagement.community.synthetic import write_synthetic_csv
from engagement.extensions import db

DATA = Path(__file__).resolve().parents[1] / "data" / "import"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SE = SHARED / "stackexchange-history"


def _import(app, paths, fmt, source=None):
    with app.app_context():
        run = run_import(db.session, [Path(p) for p in paths], fmt, source)
        result = {"status": run.status, "error": run.error, "summary": run.summary,
                  "run_id": run.id}
        db.session.remove()
    return result


def _member(app, source, external_id) -> dict:
    with app.app_context():
        m = db.session.scalar(select(Member).where(Member.source == source,
                                                   Member.external_id == external_id))
        out = None if m is None else {c: getattr(m, c) for c in (
            "display_name", "email", "posts", "answers", "accepted_solutions", "kudos_received",
            "score", "reported_posts", "reported_answers", "reported_accepted_solutions",
            "reported_kudos_received", "joined_at", "last_active", "updated_at", "region")}
        db.session.remove()
    return out


def _state(app) -> tuple:
    """Everything an import writes (members and days), for before/after comparisons."""
    with app.app_context():
        members = db.session.execute(select(
            Member.source, Member.external_id, Member.display_name, Member.email, Member.joined_at,
            Member.last_active, Member.posts, Member.answers, Member.accepted_solutions,
            Member.kudos_received, Member.score, Member.updated_at,
        ).order_by(Member.source, Member.external_id)).all()
        days = db.session.execute(select(ContributionDay).order_by(
            ContributionDay.member_id, ContributionDay.day)).scalars().all()
        day_rows = [(d.member_id, d.day, d.posts, d.answers, d.accepted_solutions,
                     d.kudos_received) for d in days]
        db.session.remove()
    return members, day_rows


def _issues(app, run_id) -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(select(ImportIssue.file, ImportIssue.line, ImportIssue.reason)
                                  .where(ImportIssue.run_id == run_id)
                                  .order_by(ImportIssue.id)).all()
        db.session.remove()
    return [tuple(r) for r in rows]


# -- Stack Exchange ---------------------------------------------------------------------
def test_stackexchange_history_dump_and_reimport(app_any):
    first = _import(app_any, [SE], "stackexchange")
    assert first["status"] == "completed", first["error"]
    s = first["summary"]
    assert (s.created, s.updated, s.unchanged, s.skipped, s.rejected) == (2294, 0, 0, 1, 0)
    assert s.skipped_reasons == ("system account",)
    ted = _member(app_any, "stackexchange", "771")
    assert (ted["display_name"], ted["answers"], ted["accepted_solutions"]) == ("T.E.D.", 179, 51)
    assert ted["posts"] == 192 and ted["kudos_received"] == 773  # score of posts without Votes
    assert ted["score"] == 2 * 179 + 15 * 51 + 4 * 773
    assert _member(app_any, "stackexchange", "-1") is None
    before = _state(app_any)

    second = _import(app_any, [SE], "stackexchange")
    assert second["status"] == "completed"
    assert (second["summary"].created, second["summary"].updated,
            second["summary"].unchanged) == (0, 0, 2294)
    assert _state(app_any) == before  # nothing changed, not even updated_at
    with app_any.app_context():
        runs = db.session.scalars(select(ImportRun).order_by(ImportRun.id)).all()
        assert [r.status for r in runs] == ["completed", "completed"]
        assert [r.rows_skipped for r in runs] == [1, 1]  # the system account
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                                 .where(AuditEntry.action == "import.run")) == 2


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


USERS = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE users SYSTEM 'users.dtd'>
<users>
  <row Id="-1" DisplayName="Community" CreationDate="2011-10-11T18:16:00.230" />
  <row Id="5" DisplayName="Ada" CreationDate="2012-01-01T10:00:00.000" Location="Berlin" />
  <row Id="6" DisplayName="Bob" CreationDate="2012-01-02T10:00:00.000" />
</users>
"""
POSTS = """<?xml version="1.0" encoding="utf-8"?>
<posts>
  <row Id="1" PostTypeId="1"
       CreationDate="2012-02-01T10:00:00.000" Score="3" OwnerUserId="6" AcceptedAnswerId="2" />
  <row Id="2" PostTypeId="2" ParentId="1"
       CreationDate="2012-02-01T11:00:00.000" Score="5" OwnerUserId="5" />
  <row Id="3" PostTypeId="2" ParentId="1"
       CreationDate="2012-02-02T11:00:00.000" Score="-2" OwnerUserId="5" />
  <row Id="4" PostTypeId="2" ParentId="1"
       CreationDate="2012-02-02T12:00:00.000" Score="1" OwnerDisplayName="gone" />
  <row Id="5" PostTypeId="2" ParentId="1"
       CreationDate="2012-02-03T12:00:00.000" Score="1" OwnerUserId="-1" />
</posts>
"""
VOTES = """<?xml version="1.0" encoding="utf-8"?>
<votes>
  <row Id="1" PostId="2" VoteTypeId="2"
       CreationDate="2012-02-05T00:00:00.000" />
  <row Id="2" PostId="2" VoteTypeId="2"
       CreationDate="2012-02-05T00:00:00.000" />
  <row Id="3" PostId="3" VoteTypeId="3"
       CreationDate="2012-02-06T00:00:00.000" />
  <row Id="4" PostId="1" VoteTypeId="2"
       CreationDate="2012-02-07T00:00:00.000" />
</votes>
"""


def test_stackexchange_votes_give_kudos_by_vote_day(app, tmp_path):
    for name, text in (("Users.xml", USERS), ("Posts.xml", POSTS), ("Votes.xml", VOTES)):
        _write(tmp_path / name, text)
    result = _import(app, [tmp_path], "stackexchange")
    assert result["status"] == "completed", result["error"]
    ada = _member(app, "stackexchange", "5")
    assert (ada["posts"], ada["answers"], ada["accepted_solutions"], ada["kudos_received"]) == (
        2, 2, 1, 2)
    with app.app_context():
        days = db.session.execute(
            select(ContributionDay.day, ContributionDay.kudos_received, ContributionDay.answers)
            .join(Member).where(Member.external_id == "5").order_by(ContributionDay.day)).all()
        db.session.remove()
    assert [tuple(d) for d in days] == [(date(2012, 2, 1), 0, 1), (date(2012, 2, 2), 0, 1),
                                        (date(2012, 2, 5), 2, 0)]


def test_stackexchange_truncated_posts_writes_nothing(app, tmp_path):
    _write(tmp_path / "Users.xml", USERS)
    _write(tmp_path / "Posts.xml", POSTS[:POSTS.index('<row Id="3"') + 40])
    result = _import(app, [tmp_path], "stackexchange")
    assert result["status"] == "failed"
    assert "Posts.xml:" in result["error"] and "not well-formed XML" in result["error"]
    assert _state(app) == ([], [])


def test_stackexchange_entity_bomb_is_refused(app, tmp_path):
    bomb = ('<?xml version="1.0"?>\n<!DOCTYPE users [\n <!ENTITY a "aaaaaaaaaa">\n'
            ' <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;">\n'
            ']>\n<users><row Id="5" DisplayName="&c;" /></users>\n')
    _write(tmp_path / "Users.xml", bomb)
    _write(tmp_path / "Posts.xml", POSTS)
    result = _import(app, [tmp_path], "stackexchange")
    assert result["status"] == "failed"
    assert "Users.xml:3" in result["error"] and "entities" in result["error"]
    assert _state(app) == ([], [])


def test_stackexchange_requires_users_and_posts(app, tmp_path):
    _write(tmp_path / "Users.xml", USERS)
    with app.app_context(), pytest.raises(ImportSetupError, match="Posts.xml is missing"):
        run_import(db.session, [tmp_path], "stackexchange")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ImportRun)) == 0


# -- CSV --------------------------------------------------------------------------------
def test_csv_from_german_excel_with_bad_rows(app_any):
    result = _import(app_any, [DATA / "csv"], "csv", source="forum")
    assert result["status"] == "completed", result["error"]
    s = result["summary"]
    assert (s.created, s.days, s.rejected) == (2, 3, 4)
    juergen = _member(app_any, "forum", "k-1")
    assert juergen["display_name"] == "Jürgen Müller"  # BOM stripped, UTF-8 kept
    assert juergen["joined_at"].date() == date(2019, 2, 1)
    assert (juergen["posts"], juergen["answers"], juergen["accepted_solutions"],
            juergen["kudos_received"]) == (4, 3, 1, 4)
    assert _member(app_any, "forum", "k-2")["display_name"] == "Schmidt; Anna"
    assert _member(app_any, "forum", "k-2")["email"] is None
    assert _issues(app_any, result["run_id"]) == [
        ("members.csv", 4, "joined_at: 'gestern' is not a date/time (use ISO 8601)"),
        ("contributions.csv", 5, "posts: 'x' is not a whole number"),
        ("contributions.csv", 6, "no member with external_id 'k-9'"),
        ("contributions.csv", 7, "posts: -1 is negative"),
    ]
    before = _state(app_any)
    again = _import(app_any, [DATA / "csv"], "csv", source="forum")
    assert (again["summary"].created, again["summary"].updated,
            again["summary"].unchanged) == (0, 0, 2)
    assert _state(app_any) == before


def test_csv_changed_values_update_and_set_days(app, tmp_path):
    _write(tmp_path / "members.csv", "external_id,display_name\nm1,Old Name\n")
    _write(tmp_path / "contributions.csv",
           "external_id,day,posts,answers,accepted_solutions,kudos_received\n"
           "m1,2024-01-01,5,5,1,0\n")
    assert _import(app, [tmp_path], "csv")["status"] == "completed"
    _write(tmp_path / "members.csv", "external_id,display_name\nm1,New Name\n")
    _write(tmp_path / "contributions.csv",
           "external_id,day,posts,answers,accepted_solutions,kudos_received\n"
           "m1,2024-01-01,2,2,0,0\n")
    result = _import(app, [tmp_path], "csv")
    assert (result["summary"].updated, result["summary"].unchanged) == (1, 0)
    m = _member(app, "csv", "m1")
    # A day is replaced, not added to: re-exports of the same day must not double count.
    assert (m["display_name"], m["answers"], m["accepted_solutions"]) == ("New Name", 2, 0)


def _count_refresh_writes(monkeypatch) -> list[int]:
    """Members the closing refresh rewrote, per run (it returns the count)."""
    writes: list[int] = []
    original = Loader.refresh_totals

    def counting(self):
        writes.append(original(self))
        return writes[-1]

    monkeypatch.setattr(Loader, "refresh_totals", counting)
    return writes


def test_csv_new_members_are_written_once_with_final_totals(app_any, tmp_path, monkeypatch):
    writes = _count_refresh_writes(monkeypatch)
    _write(tmp_path / "members.csv",
           "external_id,display_name,last_active,reported_posts\n"
           "a,Ada,2024-01-10T08:00:00Z,5\nb,Bob,2024-06-01T09:30:00Z,\nc,Cem,,7\n")
    _write(tmp_path / "contributions.csv",
           "external_id,day,posts,answers,accepted_solutions,kudos_received\n"
           "a,2024-03-01,1,1,0,1\na,2024-03-02,0,1,1,0\nb,2024-04-01,1,0,0,2\n")
    first = _import(app_any, [tmp_path], "csv")
    assert first["status"] == "completed", first["error"]
    assert writes == [0]  # the totals were right on insert: no second write of any row
    a = _member(app_any, "csv", "a")
    assert (a["posts"], a["answers"], a["accepted_solutions"], a["kudos_received"],
            a["score"]) == (5, 2, 1, 1, 2 * 2 + 15 * 1 + 4 * 1)
    assert a["last_active"].isoformat() == "2024-03-02T00:00:00+00:00"
    b = _member(app_any, "csv", "b")
    assert (b["posts"], b["kudos_received"], b["score"]) == (1, 2, 8)
    assert b["last_active"].isoformat() == "2024-06-01T09:30:00+00:00"  # later than its days
    c = _member(app_any, "csv", "c")
    assert (c["posts"], c["score"], c["last_active"]) == (7, 0, None)
    before = _state(app_any)

    assert _import(app_any, [tmp_path], "csv")["summary"].unchanged == 3
    assert writes == [0, 0] and _state(app_any) == before


def test_csv_rows_the_first_pass_cannot_sum_are_corrected(app_any, tmp_path, monkeypatch):
    writes = _count_refresh_writes(monkeypatch)
    _write(tmp_path / "members.csv", "external_id,display_name\na,Ada\nb,Bob\n")
    _write(tmp_path / "contributions.csv",
           "external_id,day,posts,answers,accepted_solutions,kudos_received\n"
           "a,2024-03-01,4,1,0,0\n"
           "a,2024-03-01,2,0,0,0\n"  # the same day again: replaces, does not add
           "b,05.04.2024,1,2,0,3\n"  # a German date: left to the careful path
           "b,2024-04-01,1,0,0,0\n")
    result = _import(app_any, [tmp_path], "csv")
    assert result["status"] == "completed", result["error"]
    assert writes == [2]  # both guesses were off; the refresh fixed exactly those two
    a = _member(app_any, "csv", "a")
    assert (a["posts"], a["answers"], a["score"]) == (2, 0, 0)
    assert a["last_active"].isoformat() == "2024-03-01T00:00:00+00:00"
    b = _member(app_any, "csv", "b")
    assert (b["posts"], b["answers"], b["kudos_received"], b["score"]) == (2, 2, 3, 16)
    assert b["last_active"].isoformat() == "2024-04-05T00:00:00+00:00"


def test_csv_days_for_stored_members_add_to_earlier_imports(app, tmp_path):
    _write(tmp_path / "one" / "members.csv", "external_id,display_name\na,Ada\n")
    _write(tmp_path / "one" / "contributions.csv",
           "external_id,day,posts,answers,accepted_solutions,kudos_received\n"
           "a,2024-01-01,3,0,0,0\n")
    _write(tmp_path / "two" / "members.csv", "external_id,display_name\na,Ada\nb,Bob\n")
    _write(tmp_path / "two" / "contributions.csv",
           "external_id,day,posts,answers,accepted_solutions,kudos_received\n"
           "a,2024-02-01,4,0,0,0\nb,2024-02-01,1,0,0,0\n")
    assert _import(app, [tmp_path / "one"], "csv")["status"] == "completed"
    second = _import(app, [tmp_path / "two"], "csv")
    assert (second["summary"].created, second["summary"].unchanged) == (1, 1)
    assert _member(app, "csv", "a")["posts"] == 7  # both files' days
    assert _member(app, "csv", "b")["posts"] == 1


def test_first_import_skips_a_refresh_that_would_change_nothing(app_any, tmp_path, monkeypatch):
    write_synthetic_csv(tmp_path, 400, 3000, seed=3, today=date(2026, 1, 1))
    decisions: list[bool] = []
    original = Loader._totals_known_right

    def recording(self, weights):
        decisions.append(original(self, weights))
        return decisions[-1]

    monkeypatch.setattr(Loader, "_totals_known_right", recording)
    result = _import(app_any, [tmp_path], "csv", source="syn")
    assert result["status"] == "completed", result["error"]
    assert decisions == [True]
    with app_any.app_context():
        # The refresh it skipped, run for real: every member already has its values.
        d = Dialect(db.engine.dialect.name)
        cur = db.session.connection().connection.cursor()
        cur.execute(refresh_totals_sql(d, load_weights(db.session).sql(prefix="x.")),
                    ("syn", "syn"))
        assert cur.rowcount == 0
        assert db.session.scalar(select(func.sum(Member.posts))) > 0
        db.session.rollback()
        db.session.remove()
    assert _import(app_any, [tmp_path], "csv", source="syn")["summary"].unchanged == 400
    assert decisions == [True, False]  # a source with members: the refresh runs


def test_csv_wrong_encoding_fails_before_writing(app, tmp_path):
    (tmp_path / "members.csv").write_bytes(
        "external_id;display_name\nk1;Ok\nk2;J\u00fcrgen\n".encode("cp1252"))
    with app.app_context(), pytest.raises(ImportSetupError) as err:
        run_import(db.session, [tmp_path], "csv")
    assert "members.csv:3" in str(err.value) and "UTF-8" in str(err.value)
    assert _state(app) == ([], [])


def test_csv_missing_columns_fails_before_writing(app, tmp_path):
    _write(tmp_path / "members.csv", "external_id,display_name\nm1,A\n")
    _write(tmp_path / "contributions.csv", "external_id,day,posts\nm1,2024-01-01,1\n")
    with app.app_context(), pytest.raises(ImportSetupError) as err:
        run_import(db.session, [tmp_path], "csv")
    assert "contributions.csv" in str(err.value)
    assert "answers, accepted_solutions, kudos_received" in str(err.value)
    assert _state(app) == ([], [])


def test_unknown_format_is_refused(app, tmp_path):
    with app.app_context(), pytest.raises(ImportSetupError, match="unknown format"):
        run_import(db.session, [tmp_path], "xlsx")


# -- Discourse --------------------------------------------------------------------------
def test_discourse_pages(app_any):
    result = _import(app_any, [DATA / "discourse"], "discourse")
    assert result["status"] == "completed", result["error"]
    assert result["summary"].skipped == 1 and result["summary"].rejected == 0
    user = _member(app_any, "discourse", "1")
    assert user["email"] == "batman@gotham.com"  # from the admin user list
    assert (user["reported_posts"], user["reported_answers"],
            user["reported_accepted_solutions"], user["reported_kudos_received"]) == (
        14, 106, 37, 310)  # first non-empty value wins: user list's post_count, then directory
    assert (user["posts"], user["answers"], user["accepted_solutions"],
            user["kudos_received"]) == (14, 106, 37, 310)
    assert _member(app_any, "discourse", "-1") is None
    steve = _member(app_any, "discourse", "18")
    assert (steve["reported_answers"], steve["kudos_received"]) == (3, 2)
    before = _state(app_any)
    again = _import(app_any, [DATA / "discourse"], "discourse")
    assert again["summary"].created == 0 and again["summary"].updated == 0
    assert _state(app_any) == before


def test_discourse_truncated_page_writes_nothing(app, tmp_path):
    shutil.copytree(DATA / "discourse", tmp_path / "d")
    text = (tmp_path / "d" / "posts_latest.json").read_text()
    (tmp_path / "d" / "posts_latest.json").write_text(text[: len(text) // 2])
    with app.app_context(), pytest.raises(ImportSetupError) as err:
        run_import(db.session, [tmp_path / "d"], "discourse")
    assert "posts_latest.json:" in str(err.value) and "not valid JSON" in str(err.value)
    assert _state(app) == ([], [])


# -- Khoros -----------------------------------------------------------------------------
def test_khoros_liql_results(app_any):
    result = _import(app_any, [DATA / "khoros"], "khoros")
    assert result["status"] == "completed", result["error"]
    s = result["summary"]
    assert (s.created, s.skipped, s.rejected) == (2, 1, 1)
    big = _member(app_any, "khoros", "4711")
    assert (big["display_name"], big["email"]) == ("NetzWerker", "netzwerker@example.de")
    assert (big["posts"], big["accepted_solutions"], big["kudos_received"]) == (12840, 2210, 9120)
    assert big["answers"] == 2  # dated replies (depth > 0); the users query has no answer count
    mia = _member(app_any, "khoros", "815")
    assert (mia["posts"], mia["kudos_received"]) == (3, 1)
    with app_any.app_context():
        days = db.session.execute(
            select(ContributionDay.day, ContributionDay.posts, ContributionDay.answers,
                   ContributionDay.accepted_solutions, ContributionDay.kudos_received)
            .join(Member).where(Member.external_id == "4711").order_by(ContributionDay.day)).all()
        db.session.remove()
    # 23:10 +02:00 is 21:10 UTC on the 28th; the duplicate message counts once.
    assert [tuple(d) for d in days] == [(date(2024, 5, 28), 1, 1, 1, 4),
                                        (date(2024, 5, 29), 1, 1, 0, 0)]
    assert "post_time" in _issues(app_any, result["run_id"])[0][2]
    before = _state(app_any)
    _import(app_any, [DATA / "khoros"], "khoros")
    assert _state(app_any) == before


def test_khoros_error_envelope(app, tmp_path):
    with app.app_context(), pytest.raises(ImportSetupError) as err:
        run_import(db.session, [DATA / "khoros_error.json"], "khoros")
    assert "API error" in str(err.value) and "Invalid query syntax" in str(err.value)
