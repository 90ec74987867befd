"""audit log: the chain is keyed (HMAC-SHA256 with AUDIT_KEY, kept outside the database)

Revision ID: d2a0a0d17001
Revises: e3a0retn0001
Create Date: 2026-12-02 00:10:00

Until now every entry's hash was a plain SHA-256, so anyone with write access to the
database could rewrite an entry and recompute every later hash and the head. From here on
each hash is an HMAC under AUDIT_KEY and each entry names its key (`key_id`), see
engagement/audit/. Existing entries are re-sealed: the chain is verified in the old scheme
first (a tampered log stops the upgrade: it needs a person, not a migration), every entry
gets its key id and a keyed hash, and an `audit.resealed` entry records how many entries
were re-sealed and the old chain's last hash (write that down: it is the old anchor).

The hashing below is a frozen copy on purpose: a migration must keep doing what it did
when it was written, whatever engagement/audit/ becomes. The key comes from the app's
configuration (`flask db upgrade` runs inside the app), never from the database.
"""
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from flask import current_app

# revision identifiers, used by Alembic.
revision = 'd2a0a0d17001'
down_revision = 'e3a0retn0001'
branch_labels = None
depends_on = None

GENESIS = "0" * 64
REDACTED = "audit.redacted"
KEY_ROTATED = "audit.key_rotated"
MESSAGE = "audit_log is append-only (only a logged redaction may change an entry)"

log = sa.table(
    "audit_log",
    sa.column("id", sa.Integer), sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String), sa.column("actor_user_id", sa.Integer),
    sa.column("action", sa.String), sa.column("object_type", sa.String),
    sa.column("object_id", sa.String), sa.column("before", sa.JSON),
    sa.column("after", sa.JSON), sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String), sa.column("content_digest", sa.String),
    sa.column("salt", sa.String), sa.column("redacted_by", sa.Integer),
    sa.column("key_id", sa.String),
)
head = sa.table("audit_head", sa.column("id", sa.Integer), sa.column("last_id", sa.Integer),
                sa.column("last_hash", sa.String))
_V2_COLUMNS = ("id", "at", "actor", "action", "object_type", "object_id", "before", "after",
               "prev_hash", "hash", "content_digest", "salt", "redacted_by")


def _canonical(payload):
    return json.dumps(payload, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def _sha(payload):
    return hashlib.sha256(_canonical(payload)).hexdigest()


def _mac(key, payload):
    return hmac.new(key, _canonical(payload), hashlib.sha256).hexdigest()


def _key_id(key):
    return hmac.new(key, b"engagement audit key id", hashlib.sha256).hexdigest()[:16]


def _utc(value):
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _meta(row_id, at, action, object_type, object_id, digest, prev):
    return {"id": row_id, "at": _utc(at).isoformat(timespec="microseconds"),
            "action": action, "object_type": object_type, "object_id": object_id,
            "content": digest, "prev": prev}


def _v2_hash(row, prev):
    return _sha(_meta(row.id, row.at, row.action, row.object_type, row.object_id,
                      row.content_digest or "", prev))


def _v3_hash(key, key_id, row_id, at, action, object_type, object_id, digest, prev):
    return _mac(key, {**_meta(row_id, at, action, object_type, object_id, digest, prev),
                      "key": key_id})


def _configured_keys():
    """AUDIT_KEY and AUDIT_OLD_KEYS by key id; the current key's id."""
    config = current_app.config
    if not config.get("AUDIT_KEY"):
        raise RuntimeError("AUDIT_KEY is not configured: the audit log cannot be sealed")
    texts = [*(config.get("AUDIT_OLD_KEYS") or []), config["AUDIT_KEY"]]
    keys = {_key_id(t.encode("utf-8")): t.encode("utf-8") for t in texts if t}
    return keys, _key_id(config["AUDIT_KEY"].encode("utf-8"))


def _rows(bind, columns, batch=2000):
    last = 0
    while True:
        rows = bind.execute(sa.select(*(log.c[c] for c in columns)).where(log.c.id > last)
                            .order_by(log.c.id).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def _tampered(entry_id):
    return RuntimeError(
        f"audit log entry {entry_id} fails verification: the log was tampered with. Restore "
        "the audit_log table from a backup before migrating; this migration will not "
        "re-seal a broken chain.")


def _check_content(row, waiting):
    """The digest of an unredacted entry; a redacted one must be listed by a later entry."""
    if row.redacted_by is None:
        digest = _sha({"salt": row.salt, "actor": row.actor, "before": row.before,
                       "after": row.after})
        if row.salt is None or row.content_digest != digest:
            raise _tampered(row.id)
    elif row.redacted_by <= row.id:
        raise _tampered(row.id)
    else:
        waiting.setdefault(row.redacted_by, []).append(row.id)
    if row.id in waiting:
        listed = (row.after or {}).get("entries", []) if row.action == REDACTED else []
        unlisted = sorted(set(waiting.pop(row.id)) - set(listed))
        if unlisted:
            raise _tampered(unlisted[0])


def _check_head(bind, count, prev, waiting):
    if waiting:
        raise _tampered(min(min(ids) for ids in waiting.values()))
    stored = bind.execute(sa.select(head.c.last_id, head.c.last_hash)
                          .where(head.c.id == 1)).first()
    if stored is not None and tuple(stored) != (count, prev):
        raise RuntimeError("audit log: the newest entries were removed (audit_head does not "
                           "match the last entry). Restore the table before migrating.")


def _verify_unkeyed_chain(bind):
    """The chain in the old (c1a0e6f00005) scheme; returns (count, last hash)."""
    prev, count, waiting = GENESIS, 0, {}
    for row in _rows(bind, _V2_COLUMNS):
        if row.id != count + 1 or row.prev_hash != prev or _v2_hash(row, prev) != row.hash:
            raise _tampered(row.id if row.id == count + 1 else count + 1)
        _check_content(row, waiting)
        prev, count = row.hash, count + 1
    _check_head(bind, count, prev, waiting)
    return count, prev


def _verify_keyed_chain(bind, keys):
    """The chain in this revision's scheme, before a downgrade drops the keys."""
    prev, count, waiting, key_id = GENESIS, 0, {}, None
    for row in _rows(bind, (*_V2_COLUMNS, "key_id")):
        if row.key_id not in keys:
            raise RuntimeError(f"audit log entry {row.id} is sealed with key {row.key_id}, "
                               "which is not in AUDIT_KEY or AUDIT_OLD_KEYS: cannot verify")
        if key_id is not None and row.key_id != key_id and row.action != KEY_ROTATED:
            raise _tampered(row.id)
        expected = _v3_hash(keys[row.key_id], row.key_id, row.id, row.at, row.action,
                            row.object_type, row.object_id, row.content_digest or "", prev)
        if row.id != count + 1 or row.prev_hash != prev or expected != row.hash:
            raise _tampered(row.id if row.id == count + 1 else count + 1)
        _check_content(row, waiting)
        prev, count, key_id = row.hash, count + 1, row.key_id
    _check_head(bind, count, prev, waiting)
    return count, prev


def _drop_triggers():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")


# As in d2a0gdpr0001 (the only UPDATE allowed is the shape of a logged redaction, the
# subject reference never changes), and the key id never changes either.
_SQLITE_ALLOWED = (
    "NEW.id IS OLD.id AND NEW.at IS OLD.at AND NEW.action IS OLD.action"
    " AND NEW.object_type IS OLD.object_type AND NEW.object_id IS OLD.object_id"
    " AND NEW.actor_user_id IS OLD.actor_user_id AND NEW.prev_hash IS OLD.prev_hash"
    " AND NEW.hash IS OLD.hash AND NEW.content_digest IS OLD.content_digest"
    " AND NEW.salt IS NULL AND NEW.redacted_by IS NOT NULL AND NEW.redacted_by > OLD.id"
    " AND (OLD.redacted_by IS NULL OR NEW.redacted_by > OLD.redacted_by)"
    " AND NEW.subject_member_id IS OLD.subject_member_id"
)
_PG_ALLOWED = (
    "NEW.id = OLD.id AND NEW.at = OLD.at AND NEW.action = OLD.action"
    " AND NEW.object_type = OLD.object_type"
    " AND NEW.object_id IS NOT DISTINCT FROM OLD.object_id"
    " AND NEW.actor_user_id IS NOT DISTINCT FROM OLD.actor_user_id"
    " AND NEW.prev_hash = OLD.prev_hash AND NEW.hash = OLD.hash"
    " AND NEW.content_digest IS NOT DISTINCT FROM OLD.content_digest"
    " AND NEW.salt IS NULL AND NEW.redacted_by IS NOT NULL AND NEW.redacted_by > OLD.id"
    " AND (OLD.redacted_by IS NULL OR NEW.redacted_by > OLD.redacted_by)"
    " AND NEW.subject_member_id IS NOT DISTINCT FROM OLD.subject_member_id"
)
_SQLITE_KEY = " AND NEW.key_id IS OLD.key_id"
_PG_KEY = " AND NEW.key_id IS NOT DISTINCT FROM OLD.key_id"


def _create_triggers(with_key):
    if op.get_bind().dialect.name == "sqlite":
        allowed = _SQLITE_ALLOWED + (_SQLITE_KEY if with_key else "")
        op.execute(f"CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
                   f"WHEN NOT ({allowed}) BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")
        op.execute("CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
                   f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")
    else:
        allowed = _PG_ALLOWED + (_PG_KEY if with_key else "")
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN IF TG_OP = 'UPDATE' AND {allowed} THEN RETURN NEW; END IF; "
            f"RAISE EXCEPTION '{MESSAGE}'; END $$"
        )
        op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()")


def _reseal(bind, key, key_id):
    prev, last_at = GENESIS, None
    for row in _rows(bind, ("id", "at", "action", "object_type", "object_id",
                            "content_digest")):
        new_hash = _v3_hash(key, key_id, row.id, row.at, row.action, row.object_type,
                            row.object_id, row.content_digest or "", prev)
        bind.execute(log.update().where(log.c.id == row.id).values(
            key_id=key_id, prev_hash=prev, hash=new_hash))
        prev, last_at = new_hash, row.at
    return prev, last_at


def upgrade():
    bind = op.get_bind()
    count, old_head = _verify_unkeyed_chain(bind)
    _drop_triggers()
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_id', sa.String(length=16), nullable=True))
    if count:
        keys, key_id = _configured_keys()
        prev, last_at = _reseal(bind, keys[key_id], key_id)
        # Anchor the unkeyed chain in the keyed one.
        at = max(datetime.now(UTC), _utc(last_at))
        entry = dict(id=count + 1, at=at, actor="migration:d2a0a0d17001",
                     action="audit.resealed", object_type="audit_log", object_id=None,
                     before=None, after={"entries": count, "previous_last_hash": old_head,
                                         "scheme": "hmac-sha256"})
        salt = secrets.token_hex(16)
        digest = _sha({"salt": salt, "actor": entry["actor"], "before": None,
                       "after": entry["after"]})
        new_hash = _v3_hash(keys[key_id], key_id, entry["id"], at, entry["action"],
                            entry["object_type"], None, digest, prev)
        bind.execute(log.insert().values(**entry, prev_hash=prev, hash=new_hash,
                                         content_digest=digest, salt=salt, key_id=key_id))
        bind.execute(head.update().where(head.c.id == 1)
                     .values(last_id=count + 1, last_hash=new_hash))
    _create_triggers(with_key=True)


def downgrade():
    bind = op.get_bind()
    count = bind.execute(sa.select(sa.func.count()).select_from(log)).scalar()
    if count:
        _verify_keyed_chain(bind, _configured_keys()[0])
    _drop_triggers()
    prev = GENESIS
    for row in _rows(bind, ("id", "at", "action", "object_type", "object_id",
                            "content_digest")):
        new_hash = _v2_hash(row, prev)
        bind.execute(log.update().where(log.c.id == row.id).values(prev_hash=prev,
                                                                   hash=new_hash))
        prev = new_hash
    if count:
        bind.execute(head.update().where(head.c.id == 1).values(last_id=count, last_hash=prev))
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_column('key_id')
    _create_triggers(with_key=False)
