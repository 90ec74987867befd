"""Attacks on the keyed audit chain by someone with write access to the database.

The attacker turns the append-only guard off (as the database owner can), edits rows and
recomputes every digest, hash and the head, so whatever verify still finds is what the
key and the anchor add. Each attack runs on SQLite and PostgreSQL.
"""
from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from sqlalchemy import select, text

from engagement import audit, create_app
from engagement.audit import keys as audit_keys
from engagement.extensions import db

KEY_A = "a" * 64
KEY_B = "b" * 64


@pytest.fixture
def keyed(app_any):
    """The app with a known AUDIT_KEY (as production sets it)."""
    app_any.config.update(AUDIT_KEY=KEY_A, AUDIT_OLD_KEYS=[])
    return app_any


def _write(n, start=0):
    for i in range(start, start + n):
        audit.record(db.session, "member.update", "member", i, {"email": f"m{i}@example.org"},
                     {"email": f"n{i}@example.org", "ü": "ß"}, actor="cli:test")
    db.session.commit()


def _cli(app, *args):
    return app.test_cli_runner().invoke(args=["audit", *args])


def _guard_off():
    """What an attacker with database write access does first."""
    if db.engine.dialect.name == "sqlite":
        db.session.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
        db.session.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
    else:
        db.session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER ALL"))


def _canonical(payload):
    return json.dumps(payload, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def _hmac_with(key: bytes):
    return lambda payload: hmac.new(key, _canonical(payload), hashlib.sha256).hexdigest()


# How the attacker re-seals a row: the unkeyed scheme the chain used before, or HMAC with
# a guessed key (the app's SECRET_KEY, an empty key), or the real key as a control that
# shows the rehash below is exactly right and only the key stops it.
SEALS = {
    "sha256 (unkeyed scheme)": lambda payload: hashlib.sha256(_canonical(payload)).hexdigest(),
    "hmac with SECRET_KEY": _hmac_with(b"test-secret-key-not-for-production"),
    "hmac with an empty key": _hmac_with(b""),
}


def _rows():
    return db.session.execute(text(
        "SELECT id, at, actor, action, object_type, object_id, before, after, salt, "
        "content_digest, key_id FROM audit_log ORDER BY id")).all()


def _reseal_from(first_id, seal, *, key_id=None, content=None):
    """Rewrite entry `first_id`'s content (optional) and recompute every hash and the head."""
    prev = "0" * 64
    for row in _rows():
        if row.id < first_id:
            prev = db.session.execute(text("SELECT hash FROM audit_log WHERE id = :i"),
                                      {"i": row.id}).scalar()
            continue
        before, after = (json.loads(v) if isinstance(v, str) else v
                         for v in (row.before, row.after))
        if row.id == first_id and content is not None:
            after = content
        digest = audit.content_digest(salt=row.salt, actor=row.actor, before=before,
                                      after=after)
        kid = key_id or row.key_id
        at = db.session.get(audit.AuditEntry, row.id).at
        new_hash = seal({"id": row.id, "at": at.isoformat(timespec="microseconds"),
                         "action": row.action, "object_type": row.object_type,
                         "object_id": row.object_id, "content": digest, "key": kid,
                         "prev": prev})
        db.session.execute(text(
            "UPDATE audit_log SET after = :after, content_digest = :d, key_id = :k, "
            "prev_hash = :p, hash = :h WHERE id = :i"),
            {"after": json.dumps(after), "d": digest, "k": kid, "p": prev, "h": new_hash,
             "i": row.id})
        prev = new_hash
    last = db.session.execute(text("SELECT max(id) FROM audit_log")).scalar()
    db.session.execute(text("UPDATE audit_head SET last_id = :n, last_hash = :h"),
                       {"n": last, "h": prev})
    db.session.commit()
    db.session.expunge_all()


@pytest.mark.parametrize("seal", list(SEALS), ids=list(SEALS))
def test_rewrite_and_rehash_without_the_key_fails_verify(keyed, seal):
    with keyed.app_context():
        _write(5)
        _guard_off()
        _reseal_from(2, SEALS[seal], content={"email": "someone-else@example.org"})
        assert db.session.get(audit.AuditEntry, 2).after["email"] == "someone-else@example.org"
        result = audit.verify(db.session)
        assert not result.ok and not result.wrong_key
        assert result.problem == "entry 2 was altered" and result.checked == 1
    out = _cli(keyed, "verify")
    assert out.exit_code == 1 and "TAMPERED: entry 2 was altered" in out.output


def test_the_same_rehash_with_the_key_passes(keyed):
    # The control: with the key the attack works, so the rehash above is faithful and the
    # key is what defeats it. (What is left then is the anchor, see below.)
    with keyed.app_context():
        _write(5)
        _guard_off()
        _reseal_from(2, _hmac_with(KEY_A.encode()), content={"email": "x@example.org"})
        assert audit.verify(db.session).ok


def test_resealing_the_whole_log_with_an_own_key_fails_verify(keyed):
    own = b"attacker's own key"
    with keyed.app_context():
        _write(4)
        _guard_off()
        _reseal_from(1, _hmac_with(own), key_id=audit_keys.key_id(own),
                     content={"email": "x@example.org"})
        result = audit.verify(db.session)
        assert not result.ok and result.entry_id == 1
        assert "re-sealed the log with a key of their own" in result.problem
    assert _cli(keyed, "verify").exit_code != 0


def _delete_newest(n):
    last = db.session.execute(text("SELECT max(id) FROM audit_log")).scalar()
    keep = last - n
    db.session.execute(text("DELETE FROM audit_log WHERE id > :k"), {"k": keep})
    db.session.execute(text("UPDATE audit_head SET last_id = :k, last_hash = "
                            "(SELECT hash FROM audit_log WHERE id = :k)"), {"k": keep})
    db.session.commit()


@pytest.mark.parametrize("removed", [1, 3])
def test_truncation_is_caught_by_an_earlier_anchor(keyed, removed):
    with keyed.app_context():
        _write(6)
    out = _cli(keyed, "anchor")
    assert out.exit_code == 0
    anchor = out.stdout.strip()
    assert anchor.startswith("6:") and len(anchor) == 2 + 64
    with keyed.app_context():
        _guard_off()
        _delete_newest(removed)
        # Cutting entries off needs no key: without the anchor the log looks intact.
        assert audit.verify(db.session).ok
        result = audit.verify(db.session, anchor=audit.parse_anchor(anchor))
        assert not result.ok
        assert result.problem.startswith(f"the chain ends at entry {6 - removed}, but the "
                                         "anchor names entry 6")
    out = _cli(keyed, "verify", "--anchor", anchor)
    assert out.exit_code == 1
    assert "TAMPERED" in out.output and "entries were removed since the anchor" in out.output


def test_rewrite_with_a_stolen_key_is_caught_by_the_anchor(keyed):
    with keyed.app_context():
        _write(4)
    anchor = _cli(keyed, "anchor").stdout.strip()
    with keyed.app_context():
        _guard_off()
        _reseal_from(2, _hmac_with(KEY_A.encode()), content={"email": "x@example.org"})
        assert audit.verify(db.session).ok  # the key alone no longer protects it
    out = _cli(keyed, "verify", "--anchor", anchor)
    assert out.exit_code == 1 and "entry 4 is not the anchored entry" in out.output


def test_untouched_chain_verifies_with_and_without_anchor(keyed):
    with keyed.app_context():
        _write(3)
    anchor = _cli(keyed, "anchor").stdout.strip()
    with keyed.app_context():
        _write(2, start=3)
        # A logged erasure changes content, never hashes: the anchor still matches.
        audit.redact(db.session, {2: audit.Redaction("cli:test", None, {"email": "[erased]"})},
                     object_type="member", object_id=1, reason="GDPR Art. 17 erasure")
        db.session.commit()
        result = audit.verify(db.session, anchor=audit.parse_anchor(anchor))
        assert result.ok and result.checked == 6 and result.redacted == 1
    out = _cli(keyed, "verify")
    assert out.exit_code == 0 and "6 entries verified (1 redacted" in out.output
    out = _cli(keyed, "verify", "--anchor", anchor)
    assert out.exit_code == 0 and "anchor 3 matches" in out.output
    newest = _cli(keyed, "anchor").stdout.strip()
    assert newest.startswith("6:") and _cli(keyed, "verify", "--anchor", newest).exit_code == 0


@pytest.mark.parametrize("value", ["", "abc", "3:xyz", "3:" + "0" * 63, "-1:" + "0" * 64])
def test_a_malformed_anchor_is_a_usage_error(keyed, value):
    out = _cli(keyed, "verify", "--anchor", value)
    assert out.exit_code == 2 and "not an audit anchor" in out.output


def test_a_wrong_key_at_verify_time_is_reported_as_such(keyed):
    with keyed.app_context():
        _write(3)
    keyed.config["AUDIT_KEY"] = KEY_B
    with keyed.app_context():
        result = audit.verify(db.session)
        assert not result.ok and result.wrong_key and result.entry_id == 1
        assert "AUDIT_KEY is wrong" in result.problem
    out = _cli(keyed, "verify")
    assert out.exit_code == 3 and "WRONG KEY" in out.output and "TAMPERED" not in out.output
    # The key in the right place again: intact.
    keyed.config["AUDIT_KEY"] = KEY_A
    assert _cli(keyed, "verify").exit_code == 0


def _rotate_to_b(app):
    app.config.update(AUDIT_KEY=KEY_B, AUDIT_OLD_KEYS=[KEY_A])


def test_rotation_is_logged_and_old_entries_verify_with_old_keys(keyed):
    with keyed.app_context():
        _write(3)
    _rotate_to_b(keyed)
    out = _cli(keyed, "rotate-key")
    assert out.exit_code == 0 and "rotated at entry 4" in out.output
    assert "nothing to rotate" in _cli(keyed, "rotate-key").output
    with keyed.app_context():
        _write(2, start=3)
        rotation = db.session.get(audit.AuditEntry, 4)
        assert rotation.action == audit.KEY_ROTATED
        assert rotation.after["previous_key"] == audit_keys.key_id(KEY_A.encode())
        assert rotation.after["key"] == audit_keys.key_id(KEY_B.encode()) == rotation.key_id
        assert KEY_A not in json.dumps(rotation.after) and KEY_B not in json.dumps(rotation.after)
        assert set(db.session.scalars(select(audit.AuditEntry.key_id)
                                      .where(audit.AuditEntry.id > 4))) == {rotation.key_id}
        assert audit.verify(db.session).ok
    # Without the old key the old segment cannot be checked, and verify says why.
    keyed.config["AUDIT_OLD_KEYS"] = []
    out = _cli(keyed, "verify")
    assert out.exit_code == 3 and "entry 1 is sealed with audit key" in out.output


def test_the_first_write_after_a_key_change_logs_the_rotation(keyed):
    with keyed.app_context():
        _write(2)
    _rotate_to_b(keyed)
    with keyed.app_context():
        # Until something is written the chain ends on the old key, and verify says so.
        assert "run `flask audit rotate-key`" in audit.verify(db.session).problem
        _write(1, start=2)
        assert db.session.get(audit.AuditEntry, 3).action == audit.KEY_ROTATED
        assert db.session.get(audit.AuditEntry, 4).action == "member.update"
        assert audit.verify(db.session).ok


def test_a_key_change_without_the_old_key_is_refused(keyed):
    with keyed.app_context():
        _write(2)
    keyed.config["AUDIT_KEY"] = KEY_B  # the old key was lost, not kept in AUDIT_OLD_KEYS
    with keyed.app_context():
        with pytest.raises(audit.AuditKeyError, match="keep that key in AUDIT_OLD_KEYS"):
            _write(1, start=2)
        db.session.rollback()
    out = _cli(keyed, "rotate-key")
    assert out.exit_code == 1 and "AUDIT_OLD_KEYS" in out.output


def test_cutting_back_to_the_old_key_after_a_rotation_fails_verify(keyed):
    # An attacker with a leaked old key removes everything since the rotation.
    with keyed.app_context():
        _write(3)
    _rotate_to_b(keyed)
    with keyed.app_context():
        _write(2, start=3)
        _guard_off()
        _delete_newest(3)  # the rotation entry and what followed it
        result = audit.verify(db.session)
        assert not result.ok and "is sealed with an old key" in result.problem


def test_moving_old_entries_to_the_new_key_fails_verify(keyed):
    # An attacker with the new key re-seals history with it, with no rotation entry.
    with keyed.app_context():
        _write(3)
    _rotate_to_b(keyed)
    with keyed.app_context():
        _write(1, start=3)
        _guard_off()
        _reseal_from(2, _hmac_with(KEY_B.encode()), key_id=audit_keys.key_id(KEY_B.encode()),
                     content={"email": "x@example.org"})
        result = audit.verify(db.session)
        assert result.problem == "entry 2 changes the audit key without a logged rotation"


def test_production_refuses_to_start_without_audit_key(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENGAGEMENT_INSTANCE", str(tmp_path))
    monkeypatch.setenv("ENGAGEMENT_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 64)
    monkeypatch.delenv("AUDIT_KEY", raising=False)
    with pytest.raises(RuntimeError, match="AUDIT_KEY must be set in production"):
        create_app()
    assert not (tmp_path / "audit_key").exists()
    monkeypatch.setenv("AUDIT_KEY", KEY_A)
    assert create_app().config["AUDIT_KEY"] == KEY_A


def test_development_keeps_a_generated_key_in_the_instance(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENGAGEMENT_INSTANCE", str(tmp_path))
    monkeypatch.delenv("ENGAGEMENT_ENV", raising=False)
    monkeypatch.delenv("AUDIT_KEY", raising=False)
    first = create_app().config["AUDIT_KEY"]
    assert len(first) == 64 and create_app().config["AUDIT_KEY"] == first
    assert (tmp_path / "audit_key").stat().st_mode & 0o777 == 0o600
    assert first != create_app().config["SECRET_KEY"]
