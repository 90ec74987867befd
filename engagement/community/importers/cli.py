"""`flask import-community`: import members and contributions from a platform's export."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ... import audit
from ...extensions import db
from .records import ImportSetupError
from .services import FORMATS, issue_page, refresh_window_stats_after_import, run_import

SHOW_ISSUES = 20


@click.command("import-community")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True,
              help="Export format of the files.")
@click.option("--source", default=None,
              help="Name the members are matched under (default: the format name).")
@with_appcontext
def import_community_command(paths: tuple[Path, ...], fmt: str, source: str | None) -> None:
    """Import community members and daily contributions from PATH... (files or folders).

    csv: members.csv, contributions.csv; stackexchange: Users.xml, Posts.xml [, Votes.xml];
    discourse and khoros: saved API responses (*.json). Re-importing the same files changes
    nothing; an interrupted import is completed by running it again.
    """
    session = db.session
    with audit.acting_as("cli:import-community"):
        bar = None
        progress = None
        if sys.stdout.isatty():
            bar = click.progressbar(length=1, label=f"importing {fmt}", show_percent=True)
            bar.__enter__()

            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)
        try:
            run = run_import(session, list(paths), fmt, source, progress=progress,
                             actor="cli:import-community",
                             batch_rows=current_app.config["IMPORT_BATCH_ROWS"])
        except ImportSetupError as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
        _report_issues(session, run.id, run.rows_rejected)
        if run.status != "completed":
            click.echo(run.summary.line(), err=True)
            raise click.ClickException(f"import failed: {run.error}")
        refresh_window_stats_after_import(session)
        session.commit()
        click.echo(run.summary.line())


def _report_issues(session, run_id: int, rejected: int) -> None:
    if not rejected:
        return
    page = issue_page(session, run_id, 1, per_page=SHOW_ISSUES)
    for issue in page.items:
        where = f"{issue.file}:{issue.line}" if issue.line else issue.file
        click.echo(f"{where}: {issue.reason}", err=True)
    if rejected > len(page.items):
        click.echo(f"… and {rejected - len(page.items):,} more rejected rows "
                   f"(see the import page for run {run_id})", err=True)
