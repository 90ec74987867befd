"""Import use cases: run an import, and look up runs and their rejected rows."""
from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ... import audit
from ...db import Page, paginate
from ...formatting import safe_cell
from ...timeutil import utcnow
from ..models import ImportIssue, ImportRun
from ..stats import refresh_window_stats
from .loader import Loader, ensure_indexes
from .readers import get_reader
from .readers.base import ByteCounter, Plan
from .records import ImportSetupError
from .rules import RunState, Summary, run_state

FORMATS = ("csv", "stackexchange", "discourse", "khoros")
log = logging.getLogger(__name__)


def normalise_source(fmt: str, source: str | None) -> str:
    """The source name members are matched under (default: the format name)."""
    name = (source or fmt).strip()
    if not name or len(name) > 32:
        raise ImportSetupError("the source name must have 1 to 32 characters")
    return name


def plan_import(paths: list[Path], fmt: str) -> Plan:
    """Validate the set of files for a format; raises ImportSetupError, writes nothing."""
    if fmt not in FORMATS:
        raise ImportSetupError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not paths:
        raise ImportSetupError("no files given")
    return get_reader(fmt).plan([Path(p) for p in paths])


def start_run(session: Session, plan: Plan, fmt: str, source: str, actor: str = "") -> ImportRun:
    """Create the run row (status running) and commit it, so progress is visible at once."""
    run = ImportRun(format=fmt, source=source, files=[p.name for p in plan.files],
                    status=RunState.RUNNING, started_at=utcnow(), heartbeat_at=utcnow(),
                    bytes_total=plan.total_bytes, bytes_done=0, created_by=actor[:255])
    session.add(run)
    session.commit()
    return run


def run_import(session: Session, paths: list[Path], fmt: str, source: str | None = None, *,
               run: ImportRun | None = None,
               progress: Callable[[int, int], None] | None = None,
               actor: str = "", batch_rows: int | None = None) -> ImportRun:
    """Import the files; commits batch by batch and returns the finished run.

    A set of files that cannot be imported raises ImportSetupError before anything is
    written (or, when a `run` was created beforehand, fails that run).
    """
    started = time.monotonic()
    try:
        source = normalise_source(fmt, source if run is None else run.source)
        plan = plan_import(paths, fmt)
    except ImportSetupError as exc:
        if run is None:
            raise
        return _fail(session, run, str(exc), None, actor)
    if run is None:
        run = start_run(session, plan, fmt, source, actor)
    else:
        run.bytes_total, run.files = plan.total_bytes, [p.name for p in plan.files]
        session.commit()
    sizes = {"member_batch": batch_rows, "day_batch": batch_rows} if batch_rows else {}
    reader = get_reader(fmt)
    loader = Loader(session, run, source, progress=progress, **sizes)
    counter = ByteCounter(plan.total_bytes, loader.on_bytes)
    try:
        # Every import first repairs the indexes a killed bulk import left dropped (cheap
        # when none is missing); then a first import into empty SQLite tables loads without
        # secondary indexes and rebuilds them at the end (Loader.begin_bulk). Kept here,
        # not in `flask db upgrade`: only an import can leave them missing.
        ensure_indexes(session)
        if loader.begin_bulk():
            log.info("import run %s: bulk mode, secondary indexes rebuilt at the end", run.id)
        if hasattr(reader, "day_totals"):
            # Formats whose days can be summed up front (csv): new members are written once.
            loader.day_totals = reader.day_totals(plan, known=loader.ids) or loader.day_totals
        loader.load(reader.read(plan, counter))
        loader.refresh_totals()
        loader.end_bulk()
    except ImportSetupError as exc:
        session.rollback()
        _end_bulk_after_failure(loader)
        return _fail(session, run, str(exc), loader, actor, started)
    except Exception as exc:  # a crash must still leave a failed run, not a 'running' one
        session.rollback()
        log.exception("import run %s failed", run.id)
        _end_bulk_after_failure(loader)
        return _fail(session, run, f"unexpected error: {exc}", loader, actor, started)
    finally:
        session.commit()
        loader.close()
    loader.bytes_done = plan.total_bytes
    loader.write_progress()
    run.status, run.finished_at = RunState.COMPLETED, utcnow()
    summary = loader.summary(fmt, time.monotonic() - started)
    _audit(session, run, summary, plan.notes, actor)
    session.commit()
    run.summary = summary  # for the caller (CLI); not a column
    return run


def _end_bulk_after_failure(loader: Loader) -> None:
    """The batches committed before a failure stay: give them their indexes back now."""
    try:
        loader.end_bulk()
    except Exception:  # the next import's ensure_indexes() rebuilds them
        loader.session.rollback()
        log.exception("rebuilding indexes after a failed bulk import")


def _fail(session: Session, run: ImportRun, message: str, loader: Loader | None, actor: str,
          started: float | None = None) -> ImportRun:
    if loader is not None:
        loader.write_progress()
    run.status, run.finished_at, run.error = RunState.FAILED, utcnow(), message[:4000]
    summary = loader.summary(run.format, time.monotonic() - (started or time.monotonic())) \
        if loader is not None else Summary(fmt=run.format)
    _audit(session, run, summary, (), actor, error=message)
    session.commit()
    run.summary = summary
    return run


def _audit(session: Session, run: ImportRun, summary: Summary, notes: tuple[str, ...],
           actor: str, error: str | None = None) -> None:
    after = {
        "format": run.format, "source": run.source, "files": run.files, "status": run.status,
        "members_created": summary.created, "members_updated": summary.updated,
        "members_unchanged": summary.unchanged, "contribution_days": summary.days,
        "skipped": summary.skipped, "skipped_reasons": list(summary.skipped_reasons),
        "rows_rejected": summary.rejected, "notes": list(notes), "summary": summary.line(),
    }
    if error:
        after["error"] = error
    audit.record(session, "import.run", "import_run", run.id, None, after, actor=actor or None)


# -- reading runs back (status page, list, report) ------------------------------------
def shown_state(run: ImportRun, now=None) -> str:
    """running / completed / failed, or interrupted for a run that stopped reporting."""
    return run_state(run.status, run.heartbeat_at, run.started_at, now or utcnow())


def run_details(session: Session, run: ImportRun) -> dict:
    """What the run's audit entry adds to the row: skip reasons, notes and the summary line."""
    entry = session.scalar(
        select(audit.AuditEntry.after).where(audit.AuditEntry.action == "import.run",
                                             audit.AuditEntry.object_id == str(run.id))
        .order_by(audit.AuditEntry.id.desc()).limit(1))
    return entry or {}


def issue_page(session: Session, run_id: int, page: int, per_page: int = 50) -> Page:
    """One page of a run's rejected rows, oldest first (past the end: the last page)."""
    query = select(ImportIssue).where(ImportIssue.run_id == run_id).order_by(ImportIssue.id)
    return paginate(session, query, page=max(1, page), per_page=per_page,
                    past_end_shows_last=True)


def refresh_window_stats_after_import(session: Session) -> None:
    """Windowed statistics follow the new data (leaderboards and tier rules read them)."""
    refresh_window_stats(session, date.today())


def issues_csv(session: Session, run_id: int) -> Iterator[str]:
    """The run's error report as CSV lines, safe to open in a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["file", "line", "reason"])
    rows = session.execute(select(ImportIssue.file, ImportIssue.line, ImportIssue.reason)
                           .where(ImportIssue.run_id == run_id).order_by(ImportIssue.id))
    for file, line, reason in rows:
        writer.writerow([safe_cell(file or ""), "" if line is None else line, safe_cell(reason)])
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
