"""`flask audit verify [--anchor VALUE]`, `flask audit anchor`, `flask audit rotate-key`."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from ..extensions import db
from .chain import acting_as, rotate_key
from .check import Anchor, BadAnchor, VerifyResult, parse_anchor, verify
from .keys import AuditKeyError, ring

EXIT_TAMPERED = 1
EXIT_WRONG_KEY = 3


@click.group("audit", help="Inspect the audit log.")
def audit_cli() -> None:
    pass


def _anchor_option(ctx: click.Context, param: click.Parameter, value: str | None
                   ) -> Anchor | None:
    if value is None:
        return None
    try:
        return parse_anchor(value)
    except BadAnchor as e:
        raise click.BadParameter(str(e)) from None


def _fail(result: VerifyResult) -> None:
    if result.wrong_key:
        click.echo(f"audit log cannot be verified: WRONG KEY: {result.problem} "
                   f"({result.checked} entries ok before it)", err=True)
        sys.exit(EXIT_WRONG_KEY)
    click.echo(f"audit log TAMPERED: {result.problem} "
               f"({result.checked} entries ok before it)", err=True)
    sys.exit(EXIT_TAMPERED)


@audit_cli.command("verify", help="Check the audit log's keyed hash chain (and that it still "
                   "contains an anchor taken earlier); exit 1 on tampering, 3 on a wrong key.")
@click.option("--anchor", "anchor", metavar="ENTRY_ID:HASH", callback=_anchor_option,
              help="a value printed by `flask audit anchor` earlier")
@with_appcontext
def verify_command(anchor: Anchor | None) -> None:
    result = verify(db.session, anchor=anchor)
    if not result.ok:
        _fail(result)
    note = f" ({result.redacted} redacted by logged erasures)" if result.redacted else ""
    since = f"; anchor {anchor.entry_id} matches" if anchor else ""
    click.echo(f"audit log intact: {result.checked} entries verified{note}{since}")


@audit_cli.command("anchor", help="Verify the chain and print its head (ENTRY_ID:HASH); keep "
                   "it outside the database and check later with `verify --anchor`.")
@with_appcontext
def anchor_command() -> None:
    result = verify(db.session)
    if not result.ok:
        _fail(result)
    click.echo(str(result.anchor))


@audit_cli.command("rotate-key", help="Log the switch to a new AUDIT_KEY (the old one must be "
                   "in AUDIT_OLD_KEYS); later entries are sealed with the new key.")
@with_appcontext
def rotate_key_command() -> None:
    keys = ring()
    try:
        with acting_as("cli:audit rotate-key"):
            entry = rotate_key(db.session)
        db.session.commit()
    except AuditKeyError as e:
        db.session.rollback()
        raise click.ClickException(str(e)) from None
    if entry is None:
        click.echo(f"nothing to rotate: the audit log is already sealed with AUDIT_KEY "
                   f"(key {keys.current_id}). To rotate, move the current key to "
                   "AUDIT_OLD_KEYS, set a new AUDIT_KEY, then run this command again.")
        return
    click.echo(f"audit key rotated at entry {entry.id}: key {entry.after['previous_key']} -> "
               f"{entry.after['key']}; keep the old key in AUDIT_OLD_KEYS to verify older "
               "entries")
