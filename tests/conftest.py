"""Shared fixtures: an app on a freshly migrated database per test, clients, roles, SMTP server.

Each test gets its own database: a copy of a SQLite file migrated once per session, or
(for `app_any` / `pg_app`) a PostgreSQL database cloned from a migrated template. That
is the "rolled back after each test" isolation, and it lets tests use commits, several
connections and several processes like production does.
"""
from __future__ import annotations

import itertools
import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engagement import create_app
from engagement.extensions import db as _db

TEST_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-not-for-production",
    "BABEL_DEFAULT_LOCALE": "en",
    "SERVER_NAME": None,
    "BASE_URL": "http://localhost",
}


def make_app(db_url: str, instance: Path, **extra):
    os.environ["ENGAGEMENT_INSTANCE"] = str(instance)
    config = {**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": db_url, **extra}
    return create_app(config)


def _migrate(db_url: str, instance: Path) -> None:
    from flask_migrate import upgrade

    app = make_app(db_url, instance)
    with app.app_context():
        upgrade()
        _db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("template")
    path = folder / "template.sqlite3"
    _migrate(f"sqlite:///{path}", folder)
    return path


def postgres_url() -> str | None:
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        url = os.environ.get("DATABASE_URL", "")
        url = url if url.startswith("postgres") else ""
    return url or None


def _pg_admin_engine(url: str):
    admin = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1)
                     if url.startswith("postgresql://") else url)
    return create_engine(admin.set(database="postgres"), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_template(tmp_path_factory):
    url = postgres_url()
    if not url:
        pytest.skip("TEST_POSTGRES_URL is not set")
    name = f"eng_tpl_{uuid.uuid4().hex[:8]}"
    engine = _pg_admin_engine(url)
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = make_url(url)
    _migrate(base.set(database=name).render_as_string(hide_password=False),
             tmp_path_factory.mktemp("pgtpl"))
    yield engine, base, name
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


_counter = itertools.count()


def _sqlite_app(sqlite_template: Path, tmp_path: Path, **extra):
    db_file = tmp_path / "test.sqlite3"
    shutil.copy(sqlite_template, db_file)
    return make_app(f"sqlite:///{db_file}", tmp_path, **extra)


def _pg_app(pg_template, tmp_path: Path, **extra):
    engine, base, template = pg_template
    name = f"eng_t_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    app = make_app(base.set(database=name).render_as_string(hide_password=False), tmp_path, **extra)
    app.config["TEST_PG_DATABASE"] = name
    return app


def _drop_pg(app, pg_template) -> None:
    with app.app_context():
        _db.engine.dispose()
    engine = pg_template[0]
    with engine.connect() as conn:
        name = app.config["TEST_PG_DATABASE"]
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def app(sqlite_template, tmp_path):
    """The app on a fresh SQLite database (the default backend)."""
    app = _sqlite_app(sqlite_template, tmp_path)
    yield app
    with app.app_context():
        _db.engine.dispose()


@pytest.fixture
def pg_app(pg_template, tmp_path):
    """The app on a fresh PostgreSQL database (skipped without TEST_POSTGRES_URL)."""
    app = _pg_app(pg_template, tmp_path)
    yield app
    _drop_pg(app, pg_template)


@pytest.fixture(params=["sqlite", "postgresql"])
def app_any(request, sqlite_template, tmp_path):
    """The app on each backend in turn: for tests that matter on both."""
    if request.param == "sqlite":
        app = _sqlite_app(sqlite_template, tmp_path)
        yield app
        with app.app_context():
            _db.engine.dispose()
        return
    pg = request.getfixturevalue("pg_template")
    app = _pg_app(pg, tmp_path)
    yield app
    _drop_pg(app, pg)


@pytest.fixture
def db_session(app):
    """The app's session inside an app context."""
    with app.app_context():
        yield _db.session
        _db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def login_as(app, client):
    """Log the test client in as a new user with `role`; returns the user's id and email."""
    from tests.factories import make_user

    def _login(role: str, **fields):
        with app.app_context():
            user = make_user(role=role, **fields)
            _db.session.commit()
            user_id, email = user.id, user.email
        with client.session_transaction() as sess:
            sess["_user_id"] = str(user_id)
            sess["_fresh"] = True
        return user_id, email

    return _login


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on a free port; `.configure(app)` points the app at it."""
    from tests.mail_fixtures import SmtpServer

    server = SmtpServer()
    server.start()
    yield server
    server.release()  # never leave a handler thread waiting
    server.stop()


def csrf_token(client, path: str = "/login") -> str:
    """Fetch a page and return the CSRF token embedded in its form."""
    import re

    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert match, f"no csrf token on {path}"
    return match.group(1)


@pytest.fixture
def api(app_any):
    """Call /api/v1 as a manager (bearer token); `.ids`: 3 members with mail + 1 without,
    `.hr_token`: an HR token."""
    from engagement.accounts.services import create_token
    from tests import factories

    with app_any.app_context():
        manager = factories.make_user(role="manager")
        hr = factories.make_user(role="hr")
        _t, token = create_token(_db.session, manager, "t")
        _t, hr_token = create_token(_db.session, hr, "t")
        members = [factories.make_member(email=f"api{i}@example.org") for i in range(3)]
        nomail = factories.make_member(email=None)
        _db.session.commit()
        ids = [m.id for m in members] + [nomail.id]
    client = app_any.test_client()

    def call(method, path, token_=None, **kw):
        headers = {"Authorization": f"Bearer {token_ or token}"}
        return client.open("/api/v1" + path, method=method, headers=headers, **kw)

    call.ids = ids
    call.hr_token = hr_token
    return call
