"""Migrations build the schema the models describe, on SQLite and PostgreSQL, both ways."""
from __future__ import annotations

from datetime import UTC, datetime

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


def _old_scheme_hash(row_id, at, actor, action, before, after, prev):
    """How the release before c1a0e6f00005 hashed an entry (its content directly)."""
    import hashlib
    import json

    payload = json.dumps({"id": row_id, "at": at, "actor": actor, "action": action,
                          "object_type": "member", "object_id": "1", "before": before,
                          "after": after, "prev": prev},
                         sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def _write_old_chain(n, *, break_at=None):
    import json

    prev = "0" * 64
    for i in range(1, n + 1):
        after = {"email": f"user{i}@example.org", "ü": "ß"}
        digest = _old_scheme_hash(i, f"2026-11-0{i}T10:00:00.000000+00:00", "cli:test",
                                  "member.update", None, after, prev)
        if i == break_at:
            after["email"] = "changed@example.org"
        db.session.execute(text(
            "INSERT INTO audit_log (id, at, actor, action, object_type, object_id, before,"
            " after, prev_hash, hash) VALUES (:id, :at, 'cli:test', 'member.update', 'member',"
            " '1', 'null', :after, :prev, :hash)"),
            {"id": i, "at": datetime(2026, 11, i, 10, tzinfo=UTC).replace(
                tzinfo=None if db.engine.dialect.name == "sqlite" else UTC),
             "after": json.dumps(after), "prev": prev, "hash": digest})
        prev = digest
    db.session.execute(text("UPDATE audit_head SET last_id = :n, last_hash = :h"),
                       {"n": n, "h": prev})
    db.session.commit()
    return prev


def test_upgrade_reseals_an_existing_chain(app_any):
    from engagement import audit

    with app_any.app_context():
        downgrade(revision="c1a0e6f00004")
        old_head = _write_old_chain(3)
        upgrade()
        result = audit.verify(db.session)
        # c1a0e6f00005 re-sealed 3 entries (entry 4), d2a0a0d17001 keyed those 4 (entry 5).
        assert result.ok and result.checked == 5
        last = db.session.get(audit.AuditEntry, 4)
        assert last.action == "audit.resealed"
        assert last.after == {"entries": 3, "previous_last_hash": old_head}
        assert db.session.get(audit.AuditEntry, 5).after["entries"] == 4
        first = db.session.get(audit.AuditEntry, 1)
        assert first.after["email"] == "user1@example.org" and first.salt
        # The re-sealed log can be redacted like any other.
        audit.redact(db.session, {1: audit.Redaction("cli:test", None, {"email": "[erased]"})},
                     object_type="member", object_id=1, reason="test")
        db.session.commit()
        assert audit.verify(db.session).ok


def test_upgrade_refuses_to_reseal_a_tampered_chain(app_any, capsys, caplog):
    import pytest

    with app_any.app_context():
        downgrade(revision="c1a0e6f00004")
        _write_old_chain(3, break_at=2)
        # Flask-Migrate logs the error and exits non-zero, as `flask db upgrade` does.
        with pytest.raises(SystemExit):
            upgrade()
        said = caplog.text + capsys.readouterr().err
        assert "audit log entry 2 fails verification" in said
        db.session.rollback()
        # Nothing changed: still the old revision, the old columns, the old hashes.
        assert db.session.execute(text("SELECT version_num FROM alembic_version")).scalar() \
            == "c1a0e6f00004"
        columns = {c["name"] for c in inspect(db.engine).get_columns("audit_log")}
        assert "content_digest" not in columns
        assert db.session.execute(text("SELECT count(*) FROM audit_log")).scalar() == 3


BEFORE_KEYING = "e3a0retn0001"  # the revision the audit-keying migration d2a0a0d17001 follows


def _unkeyed_chain(n):
    """An audit log as c1a0e6f00005 left it: salted digests, unkeyed SHA-256 hashes."""
    downgrade(revision="c1a0e6f00004")
    _write_old_chain(n)
    upgrade(revision="c1a0e6f00005")


def test_keying_upgrade_refuses_a_tampered_unkeyed_chain(app_any, capsys, caplog):
    import pytest

    with app_any.app_context():
        _unkeyed_chain(3)
        if db.engine.dialect.name == "sqlite":
            db.session.execute(text("DROP TRIGGER audit_log_no_update"))
        else:
            db.session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER ALL"))
        db.session.execute(text("UPDATE audit_log SET actor = 'someone' WHERE id = 2"))
        db.session.commit()
        with pytest.raises(SystemExit):
            upgrade()
        said = caplog.text + capsys.readouterr().err
        assert "audit log entry 2 fails verification" in said
        db.session.rollback()
        # The keying migration changed nothing. PostgreSQL rolls the whole upgrade back (one
        # transaction for all the DDL); SQLite keeps the migrations before the keying one.
        expected = "c1a0e6f00005" if db.engine.dialect.name == "postgresql" else BEFORE_KEYING
        assert db.session.execute(text("SELECT version_num FROM alembic_version")).scalar() \
            == expected
        columns = {c["name"] for c in inspect(db.engine).get_columns("audit_log")}
        assert "key_id" not in columns


def test_keying_upgrade_reseals_with_the_key_and_downgrades(app_any):
    from engagement import audit

    app_any.config.update(AUDIT_KEY="k" * 64, AUDIT_OLD_KEYS=[])
    with app_any.app_context():
        _unkeyed_chain(3)
        unkeyed_head = db.session.execute(text("SELECT last_hash FROM audit_head")).scalar()
        db.session.commit()  # a migration's DDL waits for every open transaction
        upgrade()
        result = audit.verify(db.session)
        assert result.ok and result.checked == 5
        resealed = db.session.get(audit.AuditEntry, 5)
        assert resealed.action == "audit.resealed" and resealed.after == {
            "entries": 4, "previous_last_hash": unkeyed_head, "scheme": "hmac-sha256"}
        assert not audit.verify(db.session, keys=audit.KeyRing.from_texts("x" * 64)).ok
        audit.redact(db.session, {1: audit.Redaction("cli:test", None, {"email": "[erased]"})},
                     object_type="member", object_id=1, reason="test")
        db.session.commit()
        assert audit.verify(db.session).ok
        db.session.commit()
        # Down and up again: the downgrade leaves a chain the upgrade verifies and re-keys.
        downgrade(revision="c1a0e6f00005")
        columns = {c["name"] for c in inspect(db.engine).get_columns("audit_log")}
        assert "key_id" not in columns
        upgrade()
        result = audit.verify(db.session)
        assert result.ok and result.checked == 7 and result.redacted == 1
