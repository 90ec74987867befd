"""members.invite_opt_out_at: opting out of event invitations, apart from mailings

Revision ID: e3a0optout0001
Revises: e3a0tax00001
Create Date: 2026-12-02 09:00:00

Unsubscribing from mailings used to drop a member from event invitations too, although the
unsubscribe page promises that invitations continue. The invitation opt-out is its own flag.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e3a0optout0001'
down_revision = 'e3a0tax00001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('members') as batch_op:
        batch_op.add_column(sa.Column('invite_opt_out_at', sa.DateTime(timezone=True),
                                      nullable=True))


def downgrade():
    with op.batch_alter_table('members') as batch_op:
        batch_op.drop_column('invite_opt_out_at')
