"""invitations.action_needed_until holds an incomplete seat; invitation_consents.source

Revision ID: e3a0lifecycle01
Revises: d2a0a0d17001
Create Date: 2026-12-06 09:00:00

A calendar "Accept" (or a manager's quick answer) for an event with required questions or
consents holds the seat until `action_needed_until` while the member completes the answer;
then the seat goes to the waiting list. `source` says who recorded a consent answer (the
invitee online, the API, or a manager on their behalf with how the member gave it).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e3a0lifecycle01'
down_revision = 'd2a0a0d17001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invitations') as batch_op:
        batch_op.add_column(sa.Column('action_needed_until', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.create_index('ix_invitations_action_needed_until', ['action_needed_until'],
                              unique=False)
    with op.batch_alter_table('invitation_consents') as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('invitation_consents') as batch_op:
        batch_op.drop_column('source')
    with op.batch_alter_table('invitations') as batch_op:
        batch_op.drop_index('ix_invitations_action_needed_until')
        batch_op.drop_column('action_needed_until')
