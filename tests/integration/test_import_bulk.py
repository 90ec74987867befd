"""Bulk mode: a first import into empty SQLite tables drops secondary indexes and rebuilds them."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import event, inspect, select, text

from engagement.community.importers import loader as loader_module
from engagement.community.importers.loader import Loader, ensure_indexes
from engagement.community.importers.services import run_import
from engagement.community.models import ContributionDay, ImportRun, Member
from engagement.community.synthetic import write_synthetic_csv
from engagement.extensions import db
from tests.conftest import make_app

MEMBERS, DAYS, BATCH = 400, 3000, 500
SECONDARY = {ix.name for t in (Member.__table__, ContributionDay.__table__) for ix in t.indexes}


class SimulatedKill(BaseException):
    """Stands for SIGKILL: no `except Exception` and no cleanup of the importer sees it."""


@pytest.fixture
def files(tmp_path) -> list[Path]:
    return list(write_synthetic_csv(tmp_path / "data", MEMBERS, DAYS, seed=3))


def _indexes(bind) -> dict[str, list[tuple]]:
    insp = inspect(bind)
    return {table: sorted((ix["name"], tuple(ix["column_names"]), bool(ix["unique"]))
                          for ix in insp.get_indexes(table))
            for table in ("members", "contribution_days")}


def _names(indexes: dict) -> set[str]:
    return {name for rows in indexes.values() for name, _cols, _unique in rows}


def _snapshot(app) -> tuple:
    """What an import stores, without ids and timestamps of the write itself."""
    with app.app_context():
        members = db.session.execute(text(
            "SELECT source, external_id, display_name, email, joined_at, locale, region, "
            "posts, answers, accepted_solutions, kudos_received, score, last_active "
            "FROM members ORDER BY source, external_id")).all()
        days = db.session.execute(text(
            "SELECT m.external_id, d.day, d.posts, d.answers, d.accepted_solutions, "
            "d.kudos_received FROM contribution_days d JOIN members m ON m.id = d.member_id "
            "ORDER BY m.external_id, d.day")).all()
        db.session.remove()
    return [tuple(r) for r in members], [tuple(r) for r in days]


def _import(app, files, **kw) -> ImportRun:
    with app.app_context():
        run = run_import(db.session, files, "csv", "forum", batch_rows=BATCH, **kw)
        status, error = run.status, run.error
        db.session.remove()
    assert status == "completed", error
    return run


def _watch_loads(monkeypatch) -> dict:
    """Record whether bulk mode was taken and which indexes exist while days are written."""
    seen: dict = {"bulk": [], "during_load": [], "dropped": []}
    begin, flush_days = Loader.begin_bulk, Loader.flush_days

    def begin_bulk(self):
        taken = begin(self)
        seen["bulk"].append(taken)
        return taken

    def watch_flush_days(self):
        if self.days:
            seen["during_load"].append(_names(_indexes(self.session.connection())))
        return flush_days(self)

    monkeypatch.setattr(Loader, "begin_bulk", begin_bulk)
    monkeypatch.setattr(Loader, "flush_days", watch_flush_days)
    return seen


def _count_drops(app, seen: dict):
    with app.app_context():
        @event.listens_for(db.engine, "before_cursor_execute")
        def drops(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("DROP INDEX"):
                seen["dropped"].append(statement)


def test_models_declare_every_index_the_migrations_create(app):
    """Bulk mode rebuilds from the models: an index only a migration knows would be lost."""
    with app.app_context():
        migrated = _names(_indexes(db.engine))
    assert migrated == SECONDARY
    assert len(SECONDARY) == 13  # 12 on members, 1 on contribution_days


def test_first_import_on_empty_sqlite_takes_bulk_mode_and_rebuilds_every_index(
        app, files, monkeypatch):
    with app.app_context():
        before = _indexes(db.engine)
    seen = _watch_loads(monkeypatch)
    _count_drops(app, seen)

    _import(app, files)

    assert seen["bulk"] == [True]
    assert len(seen["dropped"]) == len(SECONDARY)
    assert seen["during_load"] and all(not names & SECONDARY for names in seen["during_load"])
    with app.app_context():
        assert _indexes(db.engine) == before
        assert db.session.scalar(select(ContributionDay.member_id).limit(1)) is not None
        # ANALYZE ran: the planner has statistics for the rebuilt indexes.
        stats = {row[0] for row in db.session.execute(text("SELECT idx FROM sqlite_stat1"))}
        db.session.remove()
    assert {"ix_members_score", "ix_contribution_days_day"} <= stats


def test_bulk_import_gives_the_same_state_as_an_indexed_import(app, files, monkeypatch,
                                                               sqlite_template, tmp_path):
    _import(app, files)
    shutil.copy(sqlite_template, tmp_path / "indexed.sqlite3")
    (tmp_path / "i2").mkdir()
    indexed = make_app(f"sqlite:///{tmp_path / 'indexed.sqlite3'}", tmp_path / "i2")
    monkeypatch.setattr(Loader, "bulk_wanted", lambda self: False)
    _import(indexed, files)
    try:
        assert _snapshot(app) == _snapshot(indexed)
    finally:
        with indexed.app_context():
            db.engine.dispose()


def test_killed_bulk_import_is_repaired_by_the_next_import(app, files, monkeypatch,
                                                           sqlite_template, tmp_path):
    with app.app_context():
        before = _indexes(db.engine)
    flush_days = Loader.flush_days
    calls = {"n": 0}

    def dies_on_third_batch(self):
        calls["n"] += 1
        if calls["n"] == 3:
            raise SimulatedKill
        return flush_days(self)

    monkeypatch.setattr(Loader, "flush_days", dies_on_third_batch)
    with app.app_context():
        with pytest.raises(SimulatedKill):
            run_import(db.session, files, "csv", "forum", batch_rows=BATCH)
        db.session.rollback()
        db.session.remove()
    monkeypatch.setattr(Loader, "flush_days", flush_days)

    with app.app_context():
        # The kill left the tables loaded in part and without their secondary indexes...
        assert _names(_indexes(db.engine)) & SECONDARY == set()
        assert db.session.scalar(text("SELECT count(*) FROM members")) == MEMBERS
        assert db.session.scalar(text("SELECT count(*) FROM contribution_days")) == 2 * BATCH
        db.session.remove()

    seen = _watch_loads(monkeypatch)
    run = _import(app, files)
    # ...the next import rebuilds them before it writes anything, and takes the normal path.
    assert seen["bulk"] == [False]
    assert seen["during_load"] and all(SECONDARY <= names for names in seen["during_load"])
    with app.app_context():
        assert _indexes(db.engine) == before
        again = db.session.get(ImportRun, run.id)
        assert again.members_created == 0 and again.contribution_rows == DAYS
        db.session.remove()

    shutil.copy(sqlite_template, tmp_path / "clean.sqlite3")
    (tmp_path / "i2").mkdir()
    clean = make_app(f"sqlite:///{tmp_path / 'clean.sqlite3'}", tmp_path / "i2")
    _import(clean, files)
    try:
        assert _snapshot(app) == _snapshot(clean)
    finally:
        with clean.app_context():
            db.engine.dispose()


def test_failed_bulk_import_still_rebuilds_the_indexes(app, files, monkeypatch):
    with app.app_context():
        before = _indexes(db.engine)

    def breaks(self):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Loader, "flush_days", breaks)
    with app.app_context():
        run = run_import(db.session, files, "csv", "forum", batch_rows=BATCH)
        assert run.status == "failed" and "disk on fire" in run.error
        db.session.remove()
        assert _indexes(db.engine) == before


def test_second_import_never_drops_indexes(app_any, files, monkeypatch):
    _import(app_any, files)
    with app_any.app_context():
        before = _indexes(db.engine)
    seen = _watch_loads(monkeypatch)
    _count_drops(app_any, seen)

    _import(app_any, files)

    assert seen["bulk"] == [False]
    assert seen["dropped"] == []
    assert seen["during_load"] and all(SECONDARY <= names for names in seen["during_load"])
    with app_any.app_context():
        assert _indexes(db.engine) == before


def test_postgresql_keeps_its_indexes_on_a_first_import(pg_app, files, monkeypatch):
    seen = _watch_loads(monkeypatch)
    _count_drops(pg_app, seen)
    _import(pg_app, files)
    assert seen["bulk"] == [False] and seen["dropped"] == []
    assert all(SECONDARY <= names for names in seen["during_load"])


def test_a_second_source_into_a_filled_table_is_not_bulk(app, files, monkeypatch):
    _import(app, files)
    seen = _watch_loads(monkeypatch)
    with app.app_context():
        run = run_import(db.session, files, "csv", "other-forum", batch_rows=BATCH)
        assert run.status == "completed" and run.members_created == MEMBERS
        db.session.remove()
    assert seen["bulk"] == [False]


def test_ensure_indexes_creates_only_what_is_missing(app_any):
    with app_any.app_context():
        before = _indexes(db.engine)
        assert ensure_indexes(db.session) == []
        with db.engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_members_score"))
            conn.execute(text("DROP INDEX ix_contribution_days_day"))
        assert ensure_indexes(db.session) == ["ix_members_score", "ix_contribution_days_day"]
        assert _indexes(db.engine) == before
        assert loader_module.secondary_indexes()[0].name == sorted(SECONDARY)[0]
        db.session.remove()
