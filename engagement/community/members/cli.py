"""CLI: export-members (the API's member fields as CSV or JSON on stdout)."""
from __future__ import annotations

import io
import json

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from ... import audit
from ...extensions import db
from ...formatting import SafeWriter
from ..models import Member, Tier
from .serialize import MEMBER_FIELDS, member_rows, row_dict

BATCH = 2000  # rows fetched and written at a time: memory stays flat at 730,000 members


@click.command("export-members", help=(
    "Write all members (or one tier's) with the API's member fields to standard output, "
    "as CSV (safe to open in spreadsheets) or as one JSON array. Streamed, so it works for "
    "any community size."))
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True, help="Output format.")
@click.option("--tier", "tier_name", default=None, metavar="NAME",
              help="Only members currently in this tier (name, case-insensitive).")
@with_appcontext
def export_members_command(fmt: str, tier_name: str | None) -> None:
    session = db.session
    query = member_rows().order_by(Member.id)
    if tier_name:
        tier = session.scalar(select(Tier).where(func.lower(Tier.name) == tier_name.lower()))
        if tier is None:
            known = ", ".join(session.scalars(select(Tier.name).order_by(Tier.rank)))
            raise click.ClickException(f"unknown tier {tier_name!r}; known tiers: {known}")
        query = query.where(Member.tier_id == tier.id)
    rows = session.execute(query.execution_options(yield_per=BATCH))
    count = 0
    if fmt == "json":
        count = _write_json(rows)
    else:
        count = _write_csv(rows)
    with audit.acting_as("cli:export-members"):
        # Reading personal data in bulk is worth a trace for HR/legal, even if nothing changed.
        audit.record(session, "members.export", "member", None, None,
                     {"format": fmt, "tier": tier_name, "members": count})
        session.commit()


def _write_json(rows) -> int:
    count = 0
    click.echo("[", nl=False)
    for batch in rows.partitions():
        parts = [json.dumps(row_dict(r), ensure_ascii=False) for r in batch]
        click.echo(("," if count else "") + "\n" + ",\n".join(parts), nl=False)
        count += len(parts)
    click.echo("\n]")
    return count


def _write_csv(rows) -> int:
    buffer = io.StringIO()
    writer = SafeWriter(buffer, lineterminator="\r\n")
    writer.writerow(MEMBER_FIELDS)
    count = 0
    for batch in rows.partitions():
        for r in batch:
            d = row_dict(r)
            writer.writerow(["" if d[f] is None else d[f] for f in MEMBER_FIELDS])
        count += len(batch)
        click.echo(buffer.getvalue(), nl=False)
        buffer.seek(0)
        buffer.truncate()
    click.echo(buffer.getvalue(), nl=False)
    return count
