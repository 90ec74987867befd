"""The `ingest-replies` command: read calendar replies from a mail file or mailbox and apply
them (inbound.py) like online RSVPs; the mail package only parses, events owns the command.
`calendar-delegates` records who may answer for a member (delegates.py)."""
from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

import click
from flask.cli import with_appcontext

from ... import audit
from ...extensions import db
from ...timeutil import utcnow
from . import delegates
from .inbound import APPLIED, IGNORED, SKIPPED, Outcome, counts, ingest_message


class UnreadableInput(Exception):
    """The path is not a mail file, mbox or Maildir that can be read."""


def read_messages(path: Path) -> Iterator[tuple[str, bytes]]:
    """(label, raw bytes) of every message in an .eml file, an mbox file, a Maildir, or a
    folder of .eml files. Raises UnreadableInput."""
    try:
        if path.is_dir():
            if all((path / sub).is_dir() for sub in ("cur", "new", "tmp")):
                box = mailbox.Maildir(str(path), factory=None, create=False)
                for key in sorted(box.keys()):
                    yield key, box.get_bytes(key)
                return
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".eml")
            if not files:
                raise UnreadableInput(f"{path}: neither a Maildir (cur/new/tmp) nor a folder "
                                      "with .eml files")
            for file in files:
                yield file.name, file.read_bytes()
            return
        with path.open("rb") as fh:
            head = fh.read(5)
        if head == b"From ":
            box = mailbox.mbox(str(path), factory=None, create=False)
            for key in box.keys():
                yield f"{path.name}#{key + 1}", box.get_bytes(key)
            return
        yield path.name, path.read_bytes()
    except OSError as exc:
        raise UnreadableInput(f"{path}: {exc.strerror or exc}") from exc


@click.command("ingest-replies", help=(
    "Apply calendar replies (iCalendar METHOD:REPLY, e.g. 'Accepted: ...' mails from Outlook "
    "or Google) read from PATH: an .eml file, an mbox file, a Maildir or a folder of .eml "
    "files. Prints one line per reply: applied, ignored: <reason> or skipped: <reason>. "
    "Re-reading the same mails changes nothing. Exits non-zero only when PATH cannot be read."))
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@with_appcontext
def ingest_replies_command(path: Path) -> None:
    now = utcnow()
    outcomes: list[Outcome] = []
    messages = 0
    with audit.acting_as("cli:ingest-replies"):
        try:
            for label, raw in read_messages(path):
                messages += 1
                found = ingest_message(db.session, raw, now=now, label=label, source="cli")
                for outcome in found:
                    click.echo(outcome.line())
                outcomes.extend(found)
        except UnreadableInput as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
        total = counts(outcomes)
        audit.record(db.session, "events.ingest_replies", "mailbox", str(path)[:64],
                     after={"messages": messages, **total}, at=now)
        db.session.commit()
    click.echo(f"{messages} messages: {total[APPLIED]} applied, {total[IGNORED]} ignored, "
               f"{total[SKIPPED]} skipped")


@click.group("calendar-delegates", help=(
    "Addresses that may answer a member's calendar invitations on their behalf (SENT-BY), "
    "e.g. an assistant's. A calendar reply sent on behalf of anyone not recorded here is "
    "ignored."))
def delegates_command() -> None:
    """The `calendar-delegates` command group."""


def _member(email: str):
    member = delegates.find_member(db.session, email)
    if member is None:
        raise click.ClickException(f"no member (or more than one) has the address {email}")
    return member


@delegates_command.command("add")
@click.argument("member_email")
@click.argument("delegate_email")
@click.option("--note", default="", help="Who the delegate is.")
@with_appcontext
def delegates_add(member_email: str, delegate_email: str, note: str) -> None:
    """Let DELEGATE_EMAIL answer for the member with MEMBER_EMAIL."""
    member = _member(member_email)
    with audit.acting_as("cli:calendar-delegates"):
        try:
            row = delegates.add_delegate(db.session, member.id, delegate_email, now=utcnow(),
                                         note=note)
        except delegates.DelegateError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
        db.session.commit()
    click.echo(f"{row.email} may answer for {member.display_name} <{member.email}>")


@delegates_command.command("remove")
@click.argument("member_email")
@click.argument("delegate_email")
@with_appcontext
def delegates_remove(member_email: str, delegate_email: str) -> None:
    """Stop DELEGATE_EMAIL answering for the member with MEMBER_EMAIL."""
    member = _member(member_email)
    wanted = delegate_email.strip().lower()
    row = next((d for d in delegates.for_member(db.session, member.id) if d.email == wanted),
               None)
    if row is None:
        raise click.ClickException(f"{wanted} is not a delegate of {member.email}")
    with audit.acting_as("cli:calendar-delegates"):
        delegates.remove_delegate(db.session, row, now=utcnow())
        db.session.commit()
    click.echo(f"{wanted} removed")


@delegates_command.command("list")
@click.argument("member_email")
@with_appcontext
def delegates_list(member_email: str) -> None:
    """The delegates recorded for the member with MEMBER_EMAIL."""
    member = _member(member_email)
    for row in delegates.for_member(db.session, member.id):
        click.echo(f"{row.email}\t{row.note}")
