"""audit log: salted content digests in the chain, so a GDPR erasure can redact entries

Revision ID: c1a0e6f00005
Revises: c1a0e6f00004
Create Date: 2026-12-01 00:10:00

The chain used to hash each entry's content directly, so no entry could ever lose a
member's e-mail address without breaking `audit verify`. From here on the chain covers
a salted digest of the content (see engagement/audit.py). Existing entries are re-sealed:
the old chain is verified first (a tampered log stops the upgrade: it needs a person, not
a migration), every entry gets a salt, digest and new hash, and an `audit.resealed` entry
records how many entries were re-sealed and the old chain's last hash.

The hashing below is a frozen copy on purpose: a migration must keep doing what it did
when it was written, whatever engagement/audit.py becomes.
"""
import hashlib
import json
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c1a0e6f00005'
down_revision = 'c1a0e6f00004'
branch_labels = None
depends_on = None

GENESIS = "0" * 64
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
)
head = sa.table("audit_head", sa.column("id", sa.Integer), sa.column("last_id", sa.Integer),
                sa.column("last_hash", sa.String))


def _sha(payload):
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _utc(value):
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _v1_hash(row, prev):
    return _sha({"id": row.id, "at": _utc(row.at).isoformat(timespec="microseconds"),
                 "actor": row.actor, "action": row.action, "object_type": row.object_type,
                 "object_id": row.object_id, "before": row.before, "after": row.after,
                 "prev": prev})


def _v2_hash(row_id, at, action, object_type, object_id, digest, prev):
    return _sha({"id": row_id, "at": _utc(at).isoformat(timespec="microseconds"),
                 "action": action, "object_type": object_type, "object_id": object_id,
                 "content": digest, "prev": prev})


_OLD_COLUMNS = ("id", "at", "actor", "action", "object_type", "object_id", "before",
                "after", "prev_hash", "hash")


def _rows(bind, batch=2000, columns=_OLD_COLUMNS):
    last = 0
    while True:
        rows = bind.execute(sa.select(*(log.c[c] for c in columns)).where(log.c.id > last)
                            .order_by(log.c.id).limit(batch)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def _drop_triggers():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")


# The only UPDATE allowed: content replaced, salt dropped, pointing at a later entry (the
# redaction) that is newer than any earlier redaction of the row, so rewriting a redacted
# row again needs a new redaction entry in the chain; id, time, action, object, links and
# hashes unchanged.
_SQLITE_ALLOWED = (
    "NEW.id IS OLD.id AND NEW.at IS OLD.at AND NEW.action IS OLD.action"
    " AND NEW.object_type IS OLD.object_type AND NEW.object_id IS OLD.object_id"
    " AND NEW.actor_user_id IS OLD.actor_user_id AND NEW.prev_hash IS OLD.prev_hash"
    " AND NEW.hash IS OLD.hash AND NEW.content_digest IS OLD.content_digest"
    " AND NEW.salt IS NULL AND NEW.redacted_by IS NOT NULL AND NEW.redacted_by > OLD.id"
    " AND (OLD.redacted_by IS NULL OR NEW.redacted_by > OLD.redacted_by)"
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
)


def _redaction_triggers():
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
                   f"WHEN NOT ({_SQLITE_ALLOWED}) BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")
        op.execute("CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
                   f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")
    else:
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN IF TG_OP = 'UPDATE' AND {_PG_ALLOWED} THEN RETURN NEW; END IF; "
            f"RAISE EXCEPTION '{MESSAGE}'; END $$"
        )
        op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()")


def _old_triggers():
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                       "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END")
    else:
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$")
        op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()")


def _verify_old_chain(bind):
    """Check the chain in the old scheme before anything changes; returns (count, hash)."""
    prev, count = GENESIS, 0
    for row in _rows(bind):
        if row.id != count + 1 or row.prev_hash != prev or _v1_hash(row, prev) != row.hash:
            raise RuntimeError(
                f"audit log entry {row.id} fails verification: the log was tampered with. "
                "Restore the audit_log table from a backup before upgrading; this migration "
                "will not re-seal a broken chain.")
        prev, count = row.hash, count + 1
    stored = bind.execute(sa.select(head.c.last_id, head.c.last_hash)
                          .where(head.c.id == 1)).first()
    if stored is not None and tuple(stored) != (count, prev):
        raise RuntimeError("audit log: the newest entries were removed (audit_head does not "
                           "match the last entry). Restore the table before upgrading.")
    return count, prev


def upgrade():
    bind = op.get_bind()
    count, old_head = _verify_old_chain(bind)
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_digest', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('salt', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('redacted_by', sa.Integer(), nullable=True))
    _drop_triggers()
    prev, last_at = GENESIS, None
    for row in _rows(bind):
        salt = secrets.token_hex(16)
        digest = _sha({"salt": salt, "actor": row.actor, "before": row.before,
                       "after": row.after})
        new_hash = _v2_hash(row.id, row.at, row.action, row.object_type, row.object_id,
                            digest, prev)
        bind.execute(log.update().where(log.c.id == row.id).values(
            salt=salt, content_digest=digest, prev_hash=prev, hash=new_hash))
        prev, last_at = new_hash, row.at
    if count:
        # Anchor the old chain in the new one.
        at = max(datetime.now(UTC), _utc(last_at))
        entry = dict(id=count + 1, at=at, actor="migration:c1a0e6f00005",
                     action="audit.resealed", object_type="audit_log", object_id=None,
                     before=None, after={"entries": count, "previous_last_hash": old_head})
        salt = secrets.token_hex(16)
        digest = _sha({"salt": salt, "actor": entry["actor"], "before": None,
                       "after": entry["after"]})
        new_hash = _v2_hash(entry["id"], at, entry["action"], entry["object_type"], None,
                            digest, prev)
        bind.execute(log.insert().values(**entry, prev_hash=prev, hash=new_hash,
                                         content_digest=digest, salt=salt))
        bind.execute(head.update().where(head.c.id == 1)
                     .values(last_id=count + 1, last_hash=new_hash))
    _redaction_triggers()


def downgrade():
    bind = op.get_bind()
    redacted = bind.execute(sa.select(sa.func.count()).select_from(log)
                            .where(log.c.redacted_by.is_not(None))).scalar()
    if redacted:
        raise RuntimeError(f"{redacted} audit entries were redacted by GDPR erasures; the "
                           "old hash scheme cannot cover them, so this cannot be downgraded.")
    _drop_triggers()
    prev, count = GENESIS, 0
    for row in _rows(bind):
        new_hash = _v1_hash(row, prev)
        bind.execute(log.update().where(log.c.id == row.id).values(prev_hash=prev,
                                                                   hash=new_hash))
        prev, count = new_hash, count + 1
    bind.execute(head.update().where(head.c.id == 1).values(last_id=count, last_hash=prev))
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_column('redacted_by')
        batch_op.drop_column('salt')
        batch_op.drop_column('content_digest')
    _old_triggers()
