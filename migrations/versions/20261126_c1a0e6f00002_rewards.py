"""rewards: catalogue items and grants

Revision ID: c1a0e6f00002
Revises: c1a0e6f00001
Create Date: 2026-11-26 03:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c1a0e6f00002'
down_revision = 'c1a0e6f00001'
branch_labels = None
depends_on = None

KINDS = ('gift', 'voucher', 'travel', 'hospitality')


def _enum(values, name):
    return sa.Enum(*values, name=name, native_enum=False, length=16)


def upgrade():
    op.create_table('reward_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('value', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('kind', _enum(KINDS, 'reward_kind'), nullable=False),
    sa.Column('active', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reward_items'))
    )
    op.create_table('reward_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('kind', _enum(KINDS, 'reward_grant_kind'), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('status', _enum(('proposed', 'approved', 'rejected'), 'reward_grant_status'),
              nullable=False),
    sa.Column('fulfilment', _enum(('ordered', 'shipped', 'delivered', 'cancelled'),
                                  'reward_fulfilment'), nullable=True),
    sa.Column('fulfilment_note', sa.Text(), nullable=False),
    sa.Column('granted_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fulfilment_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_reward_grants_member_id_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['item_id'], ['reward_items.id'], name=op.f('fk_reward_grants_item_id_reward_items'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_reward_grants_event_id_events'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['granted_by_id'], ['users.id'], name=op.f('fk_reward_grants_granted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_reward_grants_approved_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reward_grants'))
    )
    with op.batch_alter_table('reward_grants', schema=None) as batch_op:
        batch_op.create_index('ix_reward_grants_member_year', ['member_id', 'year'], unique=False)
        batch_op.create_index('ix_reward_grants_year_status', ['year', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_reward_grants_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reward_grants_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reward_grants_granted_by_id'), ['granted_by_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_reward_grants_approved_by_id'), ['approved_by_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('reward_grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reward_grants_approved_by_id'))
        batch_op.drop_index(batch_op.f('ix_reward_grants_granted_by_id'))
        batch_op.drop_index(batch_op.f('ix_reward_grants_event_id'))
        batch_op.drop_index(batch_op.f('ix_reward_grants_item_id'))
        batch_op.drop_index('ix_reward_grants_year_status')
        batch_op.drop_index('ix_reward_grants_member_year')
    op.drop_table('reward_grants')
    op.drop_table('reward_items')
