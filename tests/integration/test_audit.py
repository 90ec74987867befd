"""Audit log: hash chain, append-only triggers, tamper detection by `audit verify`."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from engagement import audit
from engagement.extensions import db


def _write(n):
    for i in range(n):
        audit.record(db.session, "thing.update", "thing", i, {"v": i}, {"v": i + 1, "ü": "ß"},
                     actor="test")
    db.session.commit()


def test_chain_verifies(app_any):
    with app_any.app_context():
        _write(5)
        result = audit.verify(db.session)
        assert result.ok and result.checked == 5
    out = app_any.test_cli_runner().invoke(args=["audit", "verify"])
    assert out.exit_code == 0 and "5 entries" in out.output


def test_database_refuses_update_and_delete(app_any):
    with app_any.app_context():
        _write(2)
        for stmt in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
            with pytest.raises(DatabaseError):
                db.session.execute(text(stmt))
            db.session.rollback()


def _drop_triggers():
    if db.engine.dialect.name == "sqlite":
        db.session.execute(text("DROP TRIGGER audit_log_no_update"))
        db.session.execute(text("DROP TRIGGER audit_log_no_delete"))
    else:
        db.session.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))


@pytest.mark.parametrize("tamper, problem", [
    ("UPDATE audit_log SET after = '{\"v\": 99}' WHERE id = 2", "entry 2 was altered"),
    ("DELETE FROM audit_log WHERE id = 2", "entry 2 is missing"),
    ("DELETE FROM audit_log WHERE id = 3", "newest entries were removed"),
])
def test_verify_detects_tampering(app_any, tamper, problem):
    with app_any.app_context():
        _write(3)
        # Someone with database rights removes the guard and edits history.
        _drop_triggers()
        db.session.execute(text(tamper))
        db.session.commit()
        assert problem in audit.verify(db.session).problem
    out = app_any.test_cli_runner().invoke(args=["audit", "verify"])
    assert out.exit_code == 1 and "TAMPERED" in out.output
