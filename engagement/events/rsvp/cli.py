"""The `expire-offers` command: pass expired waiting-list offers to the next person."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from ... import audit
from ...extensions import db
from ...timeutil import utcnow
from . import services as rsvp


@click.command("expire-offers")
@with_appcontext
def expire_offers_command() -> None:
    """Pass expired waiting-list offers to the next person (run it every few minutes;
    answering and opening invitations of an event also do it for that event)."""
    with audit.acting_as("cli:expire-offers"):
        try:
            n = rsvp.expire_offers(db.session, now=utcnow())
        except Exception as exc:
            db.session.rollback()
            raise click.ClickException(f"expiring offers failed: {exc}") from exc
        db.session.commit()
    click.echo(f"{n} expired offers passed on.")
