"""Migrations build the schema the models describe, on SQLite and PostgreSQL, both ways."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from engagement.extensions import db


def test_head_matches_the_models(app_any):
    with app_any.app_context():
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"


def test_downgrade_to_base_and_upgrade_again(app_any):
    with app_any.app_context():
        downgrade(revision="base")
        tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        upgrade()
        assert "members" in inspect(db.engine).get_table_names()
        head = db.session.execute(text("SELECT last_id, last_hash FROM audit_head")).one()
        assert head == (0, "0" * 64)
