"""GDPR references: the member an audit entry or a mail is about, the user of an import issue

Revision ID: d2a0gdpr0001
Revises: c1a0e6f00005
Create Date: 2026-12-02 09:00:00

Erasure used to find a member's audit entries, outbox mail and import issues by searching
for their name and address, which rewrote other people's entries when a name matched.
These columns let it find them by reference instead:
- audit_log.subject_member_id: the member an entry is about (written from now on; older
  entries are found by their object type and id). The append-only triggers are recreated
  so a redaction cannot change it either.
- outbox_messages.member_id / user_id: who a mail is for.
- import_issues.external_id: the platform user a rejected row was about.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd2a0gdpr0001'
down_revision = 'c1a0e6f00005'
branch_labels = None
depends_on = None

MESSAGE = "audit_log is append-only (only a logged redaction may change an entry)"

# A frozen copy of c1a0e6f00005's rule, plus the new column.
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
_SQLITE_SUBJECT = " AND NEW.subject_member_id IS OLD.subject_member_id"
_PG_SUBJECT = " AND NEW.subject_member_id IS NOT DISTINCT FROM OLD.subject_member_id"


def _drop_triggers():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")


def _triggers(with_subject):
    if op.get_bind().dialect.name == "sqlite":
        allowed = _SQLITE_ALLOWED + (_SQLITE_SUBJECT if with_subject else "")
        op.execute(f"CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
                   f"WHEN NOT ({allowed}) BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")
        op.execute("CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
                   f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")
    else:
        allowed = _PG_ALLOWED + (_PG_SUBJECT if with_subject else "")
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN IF TG_OP = 'UPDATE' AND {allowed} THEN RETURN NEW; END IF; "
            f"RAISE EXCEPTION '{MESSAGE}'; END $$"
        )
        op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()")


def upgrade():
    _drop_triggers()
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject_member_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_log_subject_member_id'),
                              ['subject_member_id'], unique=False)
    _triggers(with_subject=True)
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('member_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_messages_member_id'), ['member_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_messages_user_id'), ['user_id'],
                              unique=False)
    with op.batch_alter_table('import_issues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('import_issues', schema=None) as batch_op:
        batch_op.drop_column('external_id')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_messages_user_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_messages_member_id'))
        batch_op.drop_column('user_id')
        batch_op.drop_column('member_id')
    _drop_triggers()
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_subject_member_id'))
        batch_op.drop_column('subject_member_id')
    _triggers(with_subject=False)
