"""A killed import leaves whole batches only; running it again completes the job."""
from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BATCH = 2000
MEMBERS, DAYS = 6000, 120_000


def _write_csv(folder: Path) -> None:
    rnd = random.Random(7)
    folder.mkdir()
    with open(folder / "members.csv", "w") as fh:
        fh.write("external_id,display_name,email,joined_at,locale,region\n")
        for i in range(MEMBERS):
            fh.write(f"m{i},Member {i},m{i}@example.org,2020-01-01,de,Berlin\n")
    with open(folder / "contributions.csv", "w") as fh:
        fh.write("external_id,day,posts,answers,accepted_solutions,kudos_received\n")
        for n in range(DAYS):
            day = 1 + n // MEMBERS
            fh.write(f"m{n % MEMBERS},2023-{1 + day // 28:02d}-{1 + day % 28:02d},"
                     f"{rnd.randint(1, 5)},{rnd.randint(0, 3)},{rnd.randint(0, 1)},"
                     f"{rnd.randint(0, 4)}\n")


def _env(db_file: Path, instance: Path) -> dict:
    instance.mkdir(exist_ok=True)
    # Small batches so the kill lands between many commits (read from instance/config.py).
    (instance / "config.py").write_text(f"IMPORT_BATCH_ROWS = {BATCH}\nSECRET_KEY = 'test'\n")
    return {**os.environ, "DATABASE_URL": f"sqlite:///{db_file}",
            "ENGAGEMENT_INSTANCE": str(instance), "BABEL_DEFAULT_LOCALE": "en"}


def _cmd(folder: Path) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "app", "import-community", str(folder),
            "--format", "csv"]


def _snapshot(db_file: Path) -> tuple:
    con = sqlite3.connect(db_file)
    members = con.execute(
        "SELECT external_id, display_name, email, posts, answers, accepted_solutions, "
        "kudos_received, score, last_active FROM members ORDER BY external_id").fetchall()
    days = con.execute(
        "SELECT m.external_id, d.day, d.posts, d.answers, d.accepted_solutions, d.kudos_received "
        "FROM contribution_days d JOIN members m ON m.id = d.member_id "
        "ORDER BY m.external_id, d.day").fetchall()
    con.close()
    return members, days


def _index_names(db_file: Path) -> set[str]:
    con = sqlite3.connect(db_file)
    names = {row[0] for row in con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN "
        "('members', 'contribution_days') AND name NOT LIKE 'sqlite_autoindex%'")}
    con.close()
    return names


def test_killed_import_is_consistent_and_completes_on_rerun(sqlite_template, tmp_path):
    data = tmp_path / "data"
    _write_csv(data)
    killed_db, clean_db = tmp_path / "killed.sqlite3", tmp_path / "clean.sqlite3"
    shutil.copy(sqlite_template, killed_db)
    shutil.copy(sqlite_template, clean_db)

    proc = subprocess.Popen(_cmd(data), cwd=ROOT, env=_env(killed_db, tmp_path / "i1"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    days_seen = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                con = sqlite3.connect(killed_db, timeout=1)
                days_seen = con.execute("SELECT count(*) FROM contribution_days").fetchone()[0]
                con.close()
            except sqlite3.OperationalError:
                days_seen = 0
            if days_seen >= 4 * BATCH:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the import finished before it could be killed"

    con = sqlite3.connect(killed_db)
    members = con.execute("SELECT count(*) FROM members").fetchone()[0]
    days = con.execute("SELECT count(*) FROM contribution_days").fetchone()[0]
    status = con.execute("SELECT status FROM import_runs").fetchall()
    con.close()
    assert members == MEMBERS  # members come first, all their batches were committed
    assert days % BATCH == 0 and 0 < days < DAYS  # whole batches only
    assert status == [("running",)]
    # A first import into empty tables loads in bulk mode: killed mid-load, it left the
    # secondary indexes dropped (the unique (source, external_id) one stays).
    indexed = _index_names(clean_db)
    assert len(indexed) == 13 and _index_names(killed_db) == set()

    rerun = subprocess.run(_cmd(data), cwd=ROOT, env=_env(killed_db, tmp_path / "i1"),
                           capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert "0 new" in rerun.stdout and f"{DAYS:,} contribution days" in rerun.stdout
    clean = subprocess.run(_cmd(data), cwd=ROOT, env=_env(clean_db, tmp_path / "i2"),
                           capture_output=True, text=True, timeout=120)
    assert clean.returncode == 0, clean.stderr
    assert f"{MEMBERS:,} new" in clean.stdout
    assert _snapshot(killed_db) == _snapshot(clean_db)
    assert _index_names(killed_db) == _index_names(clean_db) == indexed  # rebuilt by the rerun
