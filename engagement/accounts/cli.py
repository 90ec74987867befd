"""CLI: create-user, create-token."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from ..audit import acting_as
from ..extensions import db
from ..security import Role
from . import services
from .models import User


@click.command("create-user", help="Create a user, or update the role/password of an existing one.")
@click.argument("email")
@with_appcontext
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--name", default=None, help="Display name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--member-id", type=int, default=None, help="Link to a member (for role member).")
def create_user_command(email, role, name, password_stdin, member_id):
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    with acting_as("cli:create-user"):
        try:
            user, created = services.save_user(db.session, email, role, name=name,
                                               password=password, member_id=member_id)
        except services.AccountError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
        db.session.commit()
    click.echo(f"{'created' if created else 'updated'} {user.email} ({user.role})")


@click.command("create-token", help="Print a new API token for the user with this e-mail.")
@click.argument("email")
@with_appcontext
@click.option("--name", default="cli", help="A name to recognise the token by.")
def create_token_command(email, name):
    user = db.session.scalar(select(User).where(User.email == services.normalise_email(email)))
    if user is None:
        raise click.ClickException(f"no user with e-mail {email}")
    if not user.active:
        raise click.ClickException(f"user {email} is deactivated")
    with acting_as("cli:create-token"):
        _token, plain = services.create_token(db.session, user, name)
        db.session.commit()
    click.echo(plain)


COMMANDS = (create_user_command, create_token_command)
