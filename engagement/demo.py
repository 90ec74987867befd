"""CLI: seed-demo — a synthetic community, a demo event and demo logins, so `make run` is live.

It sits above the features (it uses community and events), so it lives at the top level.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from . import audit
from .accounts.services import AccountError
from .community.demo import (
    DEFAULT_CONTRIBUTIONS,
    DEFAULT_MEMBERS,
    LOGINS_FILE,
    ensure_demo_users,
    load_or_create_passwords,
    seed_community,
)
from .community.models import Member
from .events.demo import seed_demo_programme
from .extensions import db
from .rewards.demo import seed_demo_rewards
from .timeutil import utcnow


@click.command("seed-demo", help=(
    "Load a realistic synthetic community (heavy-tailed: a few dozen power users with more "
    "than 10,000 answers, most members with a handful) as source 'demo', compute tiers, "
    "add a demo event with its invitations, a reward catalogue with a few grants, and create "
    "demo logins (admin, manager, hr, member) whose passwords are kept in "
    "instance/demo-logins.txt and printed."))
@click.option("--members", type=click.IntRange(1, 5_000_000), default=DEFAULT_MEMBERS,
              show_default=True, help="Number of members.")
@click.option("--contributions", type=click.IntRange(0, 50_000_000),
              default=DEFAULT_CONTRIBUTIONS, show_default=True,
              help="Number of (member, day) contribution rows.")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Random seed: the same seed and day give the same community.")
@click.option("--if-empty", is_flag=True,
              help="Only generate data when there are no members yet (used by `make run`); "
                   "the demo logins are ensured and printed either way.")
@with_appcontext
def seed_demo_command(members: int, contributions: int, seed: int, if_empty: bool) -> None:
    session = db.session
    with audit.acting_as("cli:seed-demo"):
        has_members = session.scalar(select(Member.id).limit(1)) is not None
        if if_empty and has_members:
            click.echo("members exist already: skipping the demo data")
        else:
            # run_import commits batch by batch (its contract); tiers are committed below.
            seed_community(session, members, contributions, seed, date.today())
        passwords = load_or_create_passwords(Path(current_app.instance_path) / LOGINS_FILE)
        try:
            logins = ensure_demo_users(session, passwords)
        except AccountError as exc:
            session.rollback()
            raise click.ClickException(str(exc)) from None
        summary = seed_demo_programme(
            session, now=utcnow(), base_url=current_app.config["BASE_URL"],
            organizer_email=current_app.config["MAIL_DEFAULT_SENDER"])
        if summary:
            click.echo(summary)
        rewards = seed_demo_rewards(session, now=utcnow(),
                                    tz_name=current_app.config["DEFAULT_TIMEZONE"])
        if rewards:
            click.echo(rewards)
        session.commit()
    click.echo(f"\nDemo logins (kept in {Path(current_app.instance_path) / LOGINS_FILE}):")
    for login in logins:
        note = "" if login.works else "   (password changed since; not shown)"
        shown = login.password if login.works else "-"
        click.echo(f"  {login.role:<8} {login.email:<24} {shown}{note}")
    click.echo(f"Sign in at {current_app.config['BASE_URL'].rstrip('/')}/login")


def init_app(app: Flask) -> None:
    """Register the `seed-demo` command."""
    app.cli.add_command(seed_demo_command)
