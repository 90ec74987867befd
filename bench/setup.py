"""Bench fixtures: the synthetic CSV (generated once, reused from bench-data/) and databases."""
from __future__ import annotations

import json
import os
import shutil
import time
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_ROOT = PROJECT_ROOT / "bench-data"  # gitignored


def synthetic_data(root: Path, members: int, contributions: int, seed: int,
                   log=print) -> tuple[Path, date]:
    """The folder with members.csv/contributions.csv for these sizes, generating it if needed."""
    from engagement.community.synthetic import write_synthetic_csv

    folder = root / f"m{members}-c{contributions}-s{seed}"
    meta = folder / "meta.json"
    if meta.exists():
        generated_on = date.fromisoformat(json.loads(meta.read_text())["generated_on"])
        log(f"reusing synthetic data in {folder} (generated for {generated_on})")
        return folder, generated_on
    today = date.today()
    started = time.perf_counter()
    write_synthetic_csv(folder, members, contributions, seed=seed, today=today)
    # Written last: a folder without it is an interrupted run and is regenerated.
    meta.write_text(json.dumps({"members": members, "contributions": contributions,
                                "seed": seed, "generated_on": today.isoformat()}))
    log(f"generated synthetic data in {folder} ({time.perf_counter() - started:.1f} s)")
    return folder, today


def app_for(db_path: Path, work_dir: Path):
    """The Flask app on the SQLite file `db_path` (instance folder inside `work_dir`)."""
    return app_for_url(f"sqlite:///{db_path}", work_dir)


def app_for_url(db_url: str, work_dir: Path):
    """The Flask app on any database URL (instance folder inside `work_dir`)."""
    os.environ["ENGAGEMENT_INSTANCE"] = str(work_dir / "instance")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret")
    from engagement import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": db_url, "BABEL_DEFAULT_LOCALE": "en"})


def migrated_template(work_dir: Path) -> Path:
    """An empty database at the migrations' head, to be copied for each benchmark."""
    from flask_migrate import upgrade

    from engagement.extensions import db

    path = work_dir / "template.sqlite3"
    app = app_for(path, work_dir)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


def fresh_copy(template: Path, target: Path) -> Path:
    """A copy of the migrated template (WAL side files are not needed: it was closed)."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    shutil.copy(template, target)
    return target
