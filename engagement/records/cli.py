"""`flask purge [--loop]`: remove personal data whose retention period has ended."""
from __future__ import annotations

import signal
import threading
from datetime import datetime

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import DBAPIError

from ..audit import acting_as
from ..extensions import db
from ..timeutil import utcnow
from .retention import services as retention


def _run(now: datetime) -> dict[str, int]:
    cfg = current_app.config
    try:
        counts = retention.purge(db.session, now=now,
                                 upload_days=int(cfg["IMPORT_UPLOAD_RETENTION_DAYS"]),
                                 instance_path=current_app.instance_path)
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    return counts


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in counts.items())


def _moment(_ctx, _param, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("an ISO date and time, e.g. 2037-01-01T00:00:00+00:00") \
            from None
    if moment.tzinfo is None:
        raise click.BadParameter("give the time zone, e.g. +00:00")
    return moment


@click.command("purge", help=(
    "Remove personal data whose retention period has ended (RSVP answers, sent mail "
    "bodies, login attempts, sign-in links, import uploads, restricted tax names). "
    "Running it again removes nothing more; several may run at once."))
@click.option("--loop", "loop", is_flag=True,
              help="Keep running, every PURGE_INTERVAL_MINUTES; stop on SIGTERM or Ctrl-C.")
@click.option("--now", "now", callback=_moment, hidden=True,
              help="Purge as of this moment (tests and dry runs of the future).")
@with_appcontext
def purge_command(loop: bool, now: datetime | None) -> None:
    with acting_as("cli:purge"):
        if not loop:
            click.echo(f"purge: {_summary(_run(now or utcnow()))}")
            return
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set())
                    for sig in (signal.SIGTERM, signal.SIGINT)}
        interval = float(current_app.config["PURGE_INTERVAL_MINUTES"]) * 60
        click.echo("purge: running; stop with Ctrl-C or SIGTERM")
        try:
            while not stop.is_set():
                try:
                    counts = _run(utcnow())
                except DBAPIError as exc:  # a database restart must not end the worker
                    click.echo(f"purge: database error, retrying: {exc.orig}", err=True)
                else:
                    if any(counts.values()):
                        click.echo(f"purge: {_summary(counts)}")
                stop.wait(interval)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            db.session.remove()
        click.echo("purge: stopped")
