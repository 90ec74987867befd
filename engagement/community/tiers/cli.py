"""CLI: compute-tiers."""
from __future__ import annotations

from datetime import date

import click
from flask.cli import with_appcontext

from ... import audit
from ...extensions import db
from ...timeutil import local_today, utcnow
from .services import TierRuleInvalid, compute_tiers


def _parse_date(_ctx, _param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None


@click.command("compute-tiers")
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", callback=_parse_date,
              help="Compute as of this day (default: today in DEFAULT_TIMEZONE).")
@with_appcontext
def compute_tiers_command(as_of: date | None) -> None:
    """Apply the tier rules to every member and record the changes in the tier history.

    Rebuilds the 30/90/365-day statistics first. Promotions apply at once; demotions wait
    for the tier's grace period; manual overrides win.
    """
    with audit.acting_as("cli:compute-tiers"):
        try:
            result = compute_tiers(db.session, as_of or local_today(), utcnow())
        except TierRuleInvalid as exc:
            db.session.rollback()
            raise click.ClickException(f"{exc}; fix the rule on the tiers page") from None
        db.session.commit()
    click.echo(result.summary())
