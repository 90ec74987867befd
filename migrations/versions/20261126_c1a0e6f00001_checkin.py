"""check-in: walk-in flag on invitations

Revision ID: c1a0e6f00001
Revises: 7d3a9e5f2b61
Create Date: 2026-11-26 03:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c1a0e6f00001'
down_revision = '7d3a9e5f2b61'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('walk_in', sa.Boolean(), server_default='0',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_column('walk_in')
