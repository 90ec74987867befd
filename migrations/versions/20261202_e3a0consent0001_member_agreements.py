"""Members accept and withdraw agreements themselves; an event may require an agreement

Revision ID: e3a0consent0001
Revises: e3a0lifecycle01
Create Date: 2026-12-06 09:00:00

- `agreements.withdrawable`: the text is a consent (data processing, photos) the member may
  withdraw at any time (Art. 7(3) GDPR); binding agreements such as an NDA are not.
- `agreement_acceptances.withdrawn_at`: when the member withdrew that accepted version.
- `invitation_consents.withdrawn`: the row records a withdrawal of an event consent given
  before (not a refusal), so managers and HR can tell the two apart.
- `events.required_agreement_key`: the agreement (by key; its current version is asked) an
  invitee must accept before answering "yes".
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e3a0consent0001'
down_revision = 'e3a0lifecycle01'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('agreements') as batch_op:
        batch_op.add_column(sa.Column('withdrawable', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('agreement_acceptances') as batch_op:
        batch_op.add_column(sa.Column('withdrawn_at', sa.DateTime(timezone=True),
                                      nullable=True))
    with op.batch_alter_table('invitation_consents') as batch_op:
        batch_op.add_column(sa.Column('withdrawn', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('events') as batch_op:
        batch_op.add_column(sa.Column('required_agreement_key', sa.String(length=64),
                                      nullable=True))


def downgrade():
    with op.batch_alter_table('events') as batch_op:
        batch_op.drop_column('required_agreement_key')
    with op.batch_alter_table('invitation_consents') as batch_op:
        batch_op.drop_column('withdrawn')
    with op.batch_alter_table('agreement_acceptances') as batch_op:
        batch_op.drop_column('withdrawn_at')
    with op.batch_alter_table('agreements') as batch_op:
        batch_op.drop_column('withdrawable')
