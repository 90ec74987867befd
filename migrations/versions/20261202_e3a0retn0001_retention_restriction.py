"""restricted_recipients: names kept for the gift listing of erased recipients (Art. 18)

Revision ID: e3a0retn0001
Revises: d2a0ca1e0001
Create Date: 2026-12-06 09:00:00

An erased gift recipient's name stays here, visible to HR only, until the tax retention
of their gifts ends; the purge job removes it then. The `records.purge` settings row is
the lock two purge workers queue on (seeded so the first runs cannot race to create it).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e3a0retn0001'
down_revision = 'd2a0ca1e0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'restricted_recipients',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('basis', sa.String(length=255), nullable=False),
        sa.Column('restricted_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('retain_until', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'],
                                name=op.f('fk_restricted_recipients_member_id_members'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_restricted_recipients')),
        sa.UniqueConstraint('member_id', name=op.f('uq_restricted_recipients_member_id')),
    )
    with op.batch_alter_table('restricted_recipients') as batch_op:
        batch_op.create_index(batch_op.f('ix_restricted_recipients_retain_until'),
                              ['retain_until'], unique=False)
    op.execute("INSERT INTO settings (key, value, updated_at) "
               "VALUES ('records.purge', '{}', CURRENT_TIMESTAMP)")


def downgrade():
    op.execute("DELETE FROM settings WHERE key = 'records.purge'")
    with op.batch_alter_table('restricted_recipients') as batch_op:
        batch_op.drop_index(batch_op.f('ix_restricted_recipients_retain_until'))
    op.drop_table('restricted_recipients')
