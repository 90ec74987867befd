"""Events schema on both databases, plus the fixtures the event tests share.

While the issue's migrations are separate branches (the lead chains them), the templates
here upgrade to every head; once chained, "heads" is the same as "head".
"""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from engagement.extensions import db
from tests import conftest as base
from tests.factories import make_member


def _migrate_heads(db_url, instance) -> None:
    from flask_migrate import upgrade

    app = base.make_app(db_url, instance)
    with app.app_context():
        upgrade(revision="heads")
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("events-template")
    path = folder / "template.sqlite3"
    _migrate_heads(f"sqlite:///{path}", folder)
    return path


@pytest.fixture(scope="session")
def pg_template(tmp_path_factory):
    url = base.postgres_url()
    if not url:
        pytest.skip("TEST_POSTGRES_URL is not set")
    name = f"eng_evtpl_{uuid.uuid4().hex[:8]}"
    engine = base._pg_admin_engine(url)
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    from sqlalchemy.engine import make_url

    url_obj = make_url(url)
    _migrate_heads(url_obj.set(database=name).render_as_string(hide_password=False),
                   tmp_path_factory.mktemp("events-pgtpl"))
    yield engine, url_obj, name
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def wire(app):
    """Register the events and mail blueprints when the app factory does not yet."""
    from engagement.events import init_app
    from tests.mail_fixtures import ensure_mail

    ensure_mail(app)
    init_app(app)
    return app


def test_one_invitation_per_event_and_member(app_any):
    from engagement.events.models import Event, Invitation

    wire(app_any)
    from datetime import UTC, datetime

    with app_any.app_context():
        member = make_member()
        event = Event(uid=f"{uuid.uuid4()}@test", title="T", timezone="Europe/Berlin",
                      starts_at=datetime(2030, 1, 1, 17, tzinfo=UTC),
                      ends_at=datetime(2030, 1, 1, 19, tzinfo=UTC), organizer_email="o@x.org")
        db.session.add(event)
        db.session.flush()
        db.session.add(Invitation(event_id=event.id, member_id=member.id, nonce="a"))
        db.session.commit()
        stored = db.session.scalars(db.select(Invitation)).one()
        assert stored.status == "invited" and stored.created_at.tzinfo is not None
        db.session.add(Invitation(event_id=event.id, member_id=member.id, nonce="b"))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
