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


def _content(entry_id):
    e = db.session.get(audit.AuditEntry, entry_id)
    db.session.refresh(e)
    return e


def test_logged_redaction_keeps_the_chain_verifiable(app_any):
    with app_any.app_context():
        _write(4)
        entry = audit.redact(db.session, {
            2: audit.Redaction(actor="test", before={"v": 1}, after={"v": "[erased]"}),
            3: audit.Redaction(actor="someone else", before=None, after=None),
        }, object_type="member", object_id=7, reason="GDPR Art. 17 erasure of member #7")
        db.session.commit()
        assert entry.id == 5 and entry.after == {"entries": [2, 3], "reason": entry.after["reason"]}
        second = _content(2)
        assert second.after == {"v": "[erased]"} and second.redacted_by == 5
        assert second.salt is None and second.content_digest
        assert _content(1).salt is not None and _content(1).redacted_by is None
        result = audit.verify(db.session)
        assert result.ok and result.checked == 5 and result.redacted == 2
    out = app_any.test_cli_runner().invoke(args=["audit", "verify"])
    assert out.exit_code == 0 and "5 entries verified (2 redacted" in out.output


def test_database_allows_only_the_shape_of_a_redaction(app_any):
    with app_any.app_context():
        _write(3)
        refused = (
            # content changed but still claims to be an original (salt kept)
            "UPDATE audit_log SET actor = 'x', redacted_by = 3 WHERE id = 1",
            # a redaction cannot point back in time
            "UPDATE audit_log SET actor = 'x', salt = NULL, redacted_by = 1 WHERE id = 2",
            # the chain fields never change
            "UPDATE audit_log SET hash = 'f', salt = NULL, redacted_by = 3 WHERE id = 1",
            "UPDATE audit_log SET action = 'y', salt = NULL, redacted_by = 3 WHERE id = 1",
        )
        for stmt in refused:
            with pytest.raises(DatabaseError):
                db.session.execute(text(stmt))
            db.session.rollback()
        # Re-redacting an already redacted row needs a newer redaction entry.
        db.session.execute(text(
            "UPDATE audit_log SET actor = 'x', salt = NULL, redacted_by = 2 WHERE id = 1"))
        db.session.commit()
        with pytest.raises(DatabaseError):
            db.session.execute(text("UPDATE audit_log SET actor = 'y', salt = NULL, "
                                    "redacted_by = 2 WHERE id = 1"))
        db.session.rollback()


def test_verify_detects_a_redaction_that_was_not_logged(app_any):
    with app_any.app_context():
        _write(3)
        # The trigger lets the shape through; only the chain can tell it was not logged.
        db.session.execute(text(
            "UPDATE audit_log SET actor = 'x', salt = NULL, redacted_by = 3 WHERE id = 1"))
        db.session.commit()
        result = audit.verify(db.session)
        assert not result.ok
        assert result.problem == "entry 1 was redacted without a logged redaction"
        # Pointing at an entry that does not exist (yet) is caught as well.
        db.session.execute(text(
            "UPDATE audit_log SET salt = NULL, redacted_by = 99 WHERE id = 2"))
        db.session.commit()
        assert audit.verify(db.session).problem.startswith("entry 1 was redacted without")
    out = app_any.test_cli_runner().invoke(args=["audit", "verify"])
    assert out.exit_code == 1 and "TAMPERED" in out.output


def test_verify_detects_a_changed_digest(app_any):
    with app_any.app_context():
        _write(3)
        _drop_triggers()
        db.session.execute(text(
            "UPDATE audit_log SET content_digest = 'ab', after = '{\"v\": 7}' WHERE id = 2"))
        db.session.commit()
        assert audit.verify(db.session).problem == "entry 2 was altered"
