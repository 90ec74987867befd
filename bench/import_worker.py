"""Runs one import in its own process, so the parent can read its peak memory."""
from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

from bench.setup import app_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--source", default="bench")
    parser.add_argument("paths", type=Path, nargs="+")
    args = parser.parse_args()

    app = app_for(args.db, args.work_dir)
    with app.app_context():
        from engagement.community.importers.services import run_import
        from engagement.extensions import db

        started = time.perf_counter()
        run = run_import(db.session, list(args.paths), "csv", args.source, actor="bench")
        db.session.commit()
        seconds = time.perf_counter() - started
        result = {"seconds": seconds, "status": run.status, "error": run.error,
                  "members_created": run.members_created,
                  "contribution_rows": run.contribution_rows,
                  "rows_rejected": run.rows_rejected,
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
        db.engine.dispose()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
