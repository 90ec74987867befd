"""users.session_version ends old sessions; login_attempts.device counts trusted devices apart

Revision ID: d2a0e6f0se55
Revises: d2a0gdpr0001
Create Date: 2026-12-05 00:10:00

`session_version` is part of the id in session and "stay signed in" cookies: bumping it
(logout, new password, role change, deactivation) makes every older cookie worthless.
`device` is the digest of a signed-in-before device cookie on a login attempt: failures from
a known device are counted for that device only, so a stranger cannot lock the owner out.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd2a0e6f0se55'
down_revision = "d2a0gdpr0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), nullable=False,
                                      server_default='0'))
    with op.batch_alter_table('login_attempts') as batch_op:
        batch_op.add_column(sa.Column('device', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_login_attempts_device_at', ['device', 'at'], unique=False)


def downgrade():
    with op.batch_alter_table('login_attempts') as batch_op:
        batch_op.drop_index('ix_login_attempts_device_at')
        batch_op.drop_column('device')
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('session_version')
