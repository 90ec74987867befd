"""`flask seed-demo`: a heavy-tailed demo community, tiers, and demo logins kept in instance/."""
from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from engagement.accounts.models import User
from engagement.audit import AuditEntry, verify
from engagement.community.demo import DEMO_USERS, LOGINS_FILE
from engagement.community.models import ContributionDay, ImportRun, Member
from engagement.extensions import db

SMALL = ["--members", "400", "--contributions", "4000"]


def _logins(path: Path) -> dict[str, str]:
    rows = [line.split() for line in path.read_text().splitlines() if not line.startswith("#")]
    return {email: password for _role, email, password in rows}


def test_seed_demo_small(app, runner):
    result = runner.invoke(args=["seed-demo", *SMALL])
    assert result.exit_code == 0, result.output
    logins_file = Path(app.instance_path) / LOGINS_FILE
    assert stat.S_IMODE(logins_file.stat().st_mode) == 0o600
    passwords = _logins(logins_file)
    assert set(passwords) == {email for _r, email, _n in DEMO_USERS}
    for email, password in passwords.items():
        assert f"{email}" in result.output and password in result.output
        assert len(password) >= 12
    with app.app_context():
        session = db.session
        assert session.scalar(select(func.count()).select_from(Member)
                              .where(Member.source == "demo")) == 400
        assert session.scalar(select(func.count()).select_from(ContributionDay)) == 4000
        assert session.scalar(select(func.count()).select_from(Member)
                              .where(Member.tier_id.is_not(None))) > 0
        run = session.scalar(select(ImportRun))
        assert (run.status, run.source, run.format) == ("completed", "demo", "csv")
        users = {u.email: u for u in session.scalars(select(User))}
        for role, email, _name in DEMO_USERS:
            assert users[email].role == role
            assert check_password_hash(users[email].password_hash, passwords[email])
        top = session.scalar(select(Member).order_by(Member.answers.desc()).limit(1))
        assert users["member@demo.example"].member_id == top.id
        actions = set(session.scalars(select(AuditEntry.action)
                                      .where(AuditEntry.actor == "cli:seed-demo")))
        assert {"user.create"} <= actions and len(actions) >= 2  # import/tier entries too
        assert verify(session).ok


def test_if_empty_keeps_data_and_passwords(app, runner):
    assert runner.invoke(args=["seed-demo", *SMALL]).exit_code == 0
    logins_file = Path(app.instance_path) / LOGINS_FILE
    before = _logins(logins_file)
    with app.app_context():
        members_before = db.session.scalar(select(func.count()).select_from(Member))

    result = runner.invoke(args=["seed-demo", "--if-empty", "--members", "999"])
    assert result.exit_code == 0, result.output
    assert "skipping" in result.output
    assert _logins(logins_file) == before
    assert all(p in result.output for p in before.values())
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Member)) == members_before
        assert db.session.scalar(select(func.count()).select_from(User)) == 4


def test_if_empty_on_an_empty_database_seeds(app, runner):
    result = runner.invoke(args=["seed-demo", "--if-empty", *SMALL])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Member)) == 400


def test_users_recreated_from_the_kept_file(app, runner):
    """A fresh database (e.g. after `make clean`) gets the same, already printed passwords."""
    logins_file = Path(app.instance_path) / LOGINS_FILE
    logins_file.write_text("# kept\nadmin admin@demo.example Keep1234567890ab\n")
    result = runner.invoke(args=["seed-demo", "--members", "50", "--contributions", "100"])
    assert result.exit_code == 0, result.output
    passwords = _logins(logins_file)
    assert passwords["admin@demo.example"] == "Keep1234567890ab"
    assert len(passwords) == 4
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.email == "admin@demo.example"))
        assert check_password_hash(admin.password_hash, "Keep1234567890ab")


def test_changed_password_is_not_reset_or_shown(app, runner):
    assert runner.invoke(args=["seed-demo", "--members", "50", "--contributions", "100"]
                         ).exit_code == 0
    with app.app_context():
        from engagement.accounts.services import set_password

        hr = db.session.scalar(select(User).where(User.email == "hr@demo.example"))
        set_password(hr, "a-new-password-of-hr")
        db.session.commit()
    result = runner.invoke(args=["seed-demo", "--if-empty"])
    assert result.exit_code == 0
    line = next(line for line in result.output.splitlines() if "hr@demo.example" in line)
    assert "changed" in line
    with app.app_context():
        hr = db.session.scalar(select(User).where(User.email == "hr@demo.example"))
        assert check_password_hash(hr.password_hash, "a-new-password-of-hr")


def test_bad_sizes_are_clear_errors(runner):
    result = runner.invoke(args=["seed-demo", "--members", "0"])
    assert result.exit_code == 2 and "--members" in result.output


def test_demo_programme_invites_the_top_tiers_once(app, runner):
    from engagement.community.segments.models import Segment
    from engagement.events.demo import EVENT_TITLE, SEGMENT_NAME
    from engagement.events.models import Event, Invitation
    from engagement.mail.models import OutboxMessage

    assert runner.invoke(args=["seed-demo", "--members", "3000", "--contributions",
                               "30000"]).exit_code == 0
    again = runner.invoke(args=["seed-demo", "--if-empty"])
    assert again.exit_code == 0 and "demo event" not in again.output
    with app.app_context():
        session = db.session
        event = session.scalar(select(Event).where(Event.title == EVENT_TITLE))
        assert event.status == "published" and len(event.questions) == 2
        segment = session.scalar(select(Segment).where(Segment.name == SEGMENT_NAME))
        invited = session.scalar(select(func.count()).select_from(Invitation)
                                 .where(Invitation.event_id == event.id))
        assert invited == segment.member_count > 0
        assert session.scalar(select(func.count()).select_from(Event)) == 1
        invitation_mails = session.scalar(select(func.count()).select_from(OutboxMessage)
                                          .where(OutboxMessage.kind == "event-invitation"))
        assert invitation_mails == invited


def test_seed_demo_fills_the_reward_catalogue_once(app, runner):
    from decimal import Decimal

    from engagement.rewards import services as rewards
    from engagement.rewards.models import Grant, RewardItem
    from engagement.timeutil import local_year

    result = runner.invoke(args=["seed-demo", *SMALL])
    assert result.exit_code == 0, result.output
    assert "demo rewards:" in result.output
    with app.app_context():
        session = db.session
        items = {i.name: i for i in session.scalars(select(RewardItem))}
        assert {"Community-Tasse", "Community-Hoodie", "Bluetooth-Headset",
                "Ticket Fachkonferenz"} <= set(items)
        assert all(i.active and i.net_value > 0 for i in items.values())
        # Net price and VAT rate give the gross value exactly.
        assert (items["Community-Hoodie"].net_value, items["Community-Hoodie"].vat_rate,
                items["Community-Hoodie"].value) == (Decimal("29.41"), Decimal("19.00"),
                                                     Decimal("35.00"))
        assert items["Fachbuch nach Wahl"].vat_rate == Decimal("7.00")
        grants = list(session.scalars(select(Grant)))
        assert len(grants) >= 5
        assert {g.status for g in grants} == {"approved", "proposed"}
        top = session.scalar(select(Member.id).order_by(Member.answers.desc(), Member.id)
                             .limit(1))
        year = local_year("Europe/Berlin")
        # The most active member is over the limit: the demo shows the flag and the warning.
        assert top in rewards.over_limit(session, year, "Europe/Berlin", [top])
        actions = set(session.scalars(select(AuditEntry.action)
                                      .where(AuditEntry.actor == "cli:seed-demo")))
        assert {"rewards.item_create", "rewards.grant", "rewards.approve"} <= actions
        counts = (len(items), len(grants))
    # Run again (also with --if-empty): nothing is added twice.
    for args in (["seed-demo", "--if-empty"], ["seed-demo", *SMALL]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
        assert "demo rewards:" not in result.output
    with app.app_context():
        assert (db.session.scalar(select(func.count()).select_from(RewardItem)),
                db.session.scalar(select(func.count()).select_from(Grant))) == counts
