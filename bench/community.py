"""Community benchmarks (SPEC §9): import, compute-tiers, leaderboard and member pages."""
from __future__ import annotations

import csv
import json
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import Context, Result, benchmark
from bench.setup import PROJECT_ROOT, app_for, fresh_copy

IMPORT_SECONDS = 30.0
IMPORT_RATIO = 2.0
IMPORT_RSS_MB = 500.0
TIERS_SECONDS = 10.0
PAGE_MS = 100.0
REQUESTS = 20


def _sqlite(path: Path) -> sqlite3.Connection:
    # The same pragmas the app sets (engagement/db.py), so only the work differs.
    con = sqlite3.connect(path)
    for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL"):
        con.execute(f"PRAGMA {pragma}")
    return con


def plain_load(db_path: Path, members_csv: Path, contributions_csv: Path) -> float:
    """The floor for an import: csv-parsed rows straight into the same schema by executemany."""
    started = time.perf_counter()
    con = _sqlite(db_path)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    with members_csv.open(newline="", encoding="utf-8-sig") as fh:
        rows = csv.reader(fh)
        next(rows)
        con.executemany(
            "INSERT INTO members (source, external_id, display_name, email, joined_at, locale,"
            " region, posts, answers, accepted_solutions, kudos_received, score, created_at,"
            " updated_at) VALUES ('baseline', ?, ?, ?, ?, ?, ?, 0, 0, 0, 0, 0, ?, ?)",
            ((r[0], r[1], r[2] or None, r[3].replace("T", " ").rstrip("Z"), r[4], r[5], now, now)
             for r in rows))
    ids = dict(con.execute("SELECT external_id, id FROM members WHERE source = 'baseline'"))
    with contributions_csv.open(newline="", encoding="utf-8-sig") as fh:
        rows = csv.reader(fh)
        next(rows)
        con.executemany(
            "INSERT INTO contribution_days (member_id, day, posts, answers, accepted_solutions,"
            " kudos_received) VALUES (?, ?, ?, ?, ?, ?)",
            ((ids[r[0]], r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows))
    con.commit()
    con.close()
    return time.perf_counter() - started


@benchmark(10, "import")
def bench_import(ctx: Context) -> list[Result]:
    members_csv = ctx.data_dir / "members.csv"
    contributions_csv = ctx.data_dir / "contributions.csv"
    db_path = fresh_copy(ctx.template_db, ctx.work_dir / "community.sqlite3")
    # In a child process: its peak RSS is then the import's alone (RUSAGE_CHILDREN).
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, "-m", "bench.import_worker", "--db", str(db_path),
         "--work-dir", str(ctx.work_dir), str(members_csv), str(contributions_csv)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"import worker failed:\n{proc.stderr[-4000:]}")
    outcome = json.loads(proc.stdout.strip().splitlines()[-1])
    if outcome["status"] != "completed":
        raise RuntimeError(f"import did not complete: {outcome}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    peak_kb = after.ru_maxrss
    if peak_kb <= before.ru_maxrss:  # an earlier child was bigger: use the child's own figure
        peak_kb = outcome["maxrss_kb"]
    ctx.shared["community_db"] = db_path

    baseline_db = fresh_copy(ctx.template_db, ctx.work_dir / "baseline.sqlite3")
    cpu_started = time.process_time()
    baseline = plain_load(baseline_db, members_csv, contributions_csv)
    baseline_cpu = time.process_time() - cpu_started
    baseline_db.unlink()
    seconds = outcome["seconds"]
    size = f"{ctx.members:,} m / {ctx.contributions:,} d"
    return [
        Result(f"import csv ({size})", seconds, "s",
               f"< {IMPORT_SECONDS:g} s, ratio <= {IMPORT_RATIO:g}",
               seconds < IMPORT_SECONDS and seconds <= IMPORT_RATIO * baseline,
               baseline, "sqlite3 executemany",
               note=f"cpu {cpu:.1f} s incl. app start-up, baseline cpu {baseline_cpu:.1f} s"),
        Result("import peak RSS", peak_kb / 1024, "MB", f"< {IMPORT_RSS_MB:g} MB",
               peak_kb / 1024 < IMPORT_RSS_MB),
    ]


@benchmark(20, "compute-tiers")
def bench_compute_tiers(ctx: Context) -> list[Result]:
    db_path = ctx.shared["community_db"]
    app = app_for(db_path, ctx.work_dir)
    with app.app_context():
        from engagement.community.tiers.services import compute_tiers
        from engagement.extensions import db

        started, cpu_started = time.perf_counter(), time.process_time()
        result = compute_tiers(db.session, as_of=ctx.generated_on, now=datetime.now(UTC))
        db.session.commit()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        db.engine.dispose()
    con = _sqlite(db_path)
    started = time.perf_counter()
    con.execute(
        "SELECT member_id, SUM(posts), SUM(answers), SUM(accepted_solutions),"
        " SUM(kudos_received) FROM contribution_days GROUP BY member_id").fetchall()
    baseline = time.perf_counter() - started
    con.close()
    ctx.shared["tiers_evaluated"] = result.evaluated
    return [Result(f"compute-tiers ({result.evaluated:,} members)", seconds, "s",
                   f"< {TIERS_SECONDS:g} s", seconds < TIERS_SECONDS,
                   baseline, "SQL GROUP BY contribution_days", note=f"cpu {cpu:.1f} s")]


def _median_ms(call, repeat: int = REQUESTS) -> float:
    call()  # warm caches (templates, statement cache, page cache) once
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


@benchmark(30, "pages")
def bench_pages(ctx: Context) -> list[Result]:
    db_path = ctx.shared["community_db"]
    con = _sqlite(db_path)
    baseline = _median_ms(lambda: con.execute(
        "SELECT id, display_name, answers FROM members ORDER BY answers DESC LIMIT 50"
    ).fetchall())
    con.close()
    ctx.shared["page_baseline_ms"] = baseline  # the segment pages compare with the same figure

    app = app_for(db_path, ctx.work_dir)
    results = []
    with app.app_context():
        from engagement.accounts.models import User
        from engagement.accounts.services import create_token
        from engagement.extensions import db

        manager = User(email="bench-manager@bench.example", name="Bench", role="manager",
                       active=True)
        db.session.add(manager)
        db.session.flush()
        _token, plain = create_token(db.session, manager, "bench")
        db.session.commit()
        manager_id = manager.id
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = str(manager_id)
        sess["_fresh"] = True
    api_headers = {"Authorization": f"Bearer {plain}"}
    pages = [
        ("leaderboard page", "/leaderboards", {}),
        ("members list page", "/members", {}),
        ("API members list", "/api/v1/members?per_page=50", api_headers),
        ("API members search (q=)", "/api/v1/members?q=M%C3%BCller&per_page=50", api_headers),
        ("API members of a tier", "/api/v1/members?tier=Expert&per_page=50", api_headers),
        ("API tiers (member counts)", "/api/v1/tiers", api_headers),
    ]
    for name, url, headers in pages:
        statuses = set()

        def get(url=url, headers=headers, statuses=statuses):
            statuses.add(client.get(url, headers=headers).status_code)

        ms = _median_ms(get)
        ok = statuses == {200}
        label = name if ok else f"{name} (HTTP {','.join(map(str, sorted(statuses)))})"
        results.append(Result(label, ms, "ms", f"< {PAGE_MS:g} ms", ok and ms < PAGE_MS,
                              baseline, "sqlite3 top-50 query"))
    with app.app_context():
        db.engine.dispose()
    return results
