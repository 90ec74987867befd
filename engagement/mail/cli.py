"""`flask send-outbox [--loop]`: the mail worker; safe to run as several processes."""
from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import DBAPIError

from ..audit import acting_as
from ..extensions import db
from .delivery import DeliveryReport, deliver_all, uses_smtp


def _summary(report: DeliveryReport) -> str:
    text = (f"sent {report.sent}, queued for retry {report.retried}, "
            f"failed {report.failed}")
    if report.cancelled:
        text += f", cancelled (target gone) {report.cancelled}"
    if report.lost:
        text += f", taken over by another worker {report.lost}"
    return text


@click.command("send-outbox", help=(
    "Deliver due mail from the outbox (SMTP when MAIL_SERVER is set, else .eml files in "
    "instance/mail/). Without --loop: deliver what is due, then exit (non-zero when the "
    "mail server could not be reached). Several workers may run at once."))
@click.option("--loop", "loop", is_flag=True,
              help="Keep running and poll for new mail; stop cleanly on SIGTERM or Ctrl-C.")
@click.option("--interval", type=click.FloatRange(min=0.05), default=5.0, show_default=True,
              help="Seconds between polls when idle (with --loop).")
@click.option("--batch-size", type=click.IntRange(min=1, max=1000), default=50,
              show_default=True, help="Messages claimed (and sent over one connection) at once.")
@with_appcontext
def send_outbox_command(loop: bool, interval: float, batch_size: int) -> None:
    target = (f"SMTP {current_app.config['MAIL_SERVER']}:{current_app.config['MAIL_PORT']}"
              if uses_smtp(current_app.config) else "the mail folder")
    with acting_as("cli:send-outbox"):
        if not loop:
            report = deliver_all(db.session, batch_size=batch_size)
            click.echo(f"send-outbox: {_summary(report)} via {target}")
            if report.connection_error:
                raise click.ClickException(
                    f"{report.connection_error}; the remaining mail stays queued")
            return

        stop = threading.Event()

        def _stop(signum, _frame):
            # Finish the message in flight, hand the rest of the batch back, then exit.
            stop.set()

        previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        click.echo(f"send-outbox: delivering via {target}; stop with Ctrl-C or SIGTERM")
        try:
            while not stop.is_set():
                try:
                    report = deliver_all(db.session, batch_size=batch_size,
                                         should_stop=stop.is_set)
                except DBAPIError as exc:
                    # The database restarting must not end a long-running worker; claimed
                    # rows are safe (their lease runs out) and the next poll reconnects.
                    db.session.rollback()
                    click.echo(f"send-outbox: database error, retrying: {exc.orig}", err=True)
                    stop.wait(interval)
                    continue
                if report.claimed:
                    click.echo(f"send-outbox: {_summary(report)}")
                if report.connection_error:
                    click.echo(f"send-outbox: {report.connection_error}", err=True)
                stop.wait(interval)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            db.session.remove()
        click.echo("send-outbox: stopped")
