"""volunteer records: event roles, agreements, acceptances, HR sign-offs

Revision ID: c1a0e6f00004
Revises: c1a0e6f00002
Create Date: 2026-11-26 03:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c1a0e6f00004'
down_revision = 'c1a0e6f00002'
branch_labels = None
depends_on = None

ROLES = ('speaker', 'helper', 'organiser', 'other')


def upgrade():
    op.create_table('event_roles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum(*ROLES, name='event_role', native_enum=False, length=16),
              nullable=False),
    sa.Column('hours', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_roles_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_event_roles_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_roles'))
    )
    with op.batch_alter_table('event_roles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_roles_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_roles_member_id'), ['member_id'], unique=False)
    op.create_table('agreements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agreements')),
    sa.UniqueConstraint('key', 'version', name='uq_agreements_key_version')
    )
    op.create_table('agreement_acceptances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('agreement_id', sa.Integer(), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_agreement_acceptances_member_id_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['agreement_id'], ['agreements.id'], name=op.f('fk_agreement_acceptances_agreement_id_agreements'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agreement_acceptances'))
    )
    with op.batch_alter_table('agreement_acceptances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agreement_acceptances_member_id'), ['member_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_agreement_acceptances_agreement_id'),
                              ['agreement_id'], unique=False)
    op.create_table('record_signoffs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('signed_by_user_id', sa.Integer(), nullable=True),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_record_signoffs_member_id_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['signed_by_user_id'], ['users.id'], name=op.f('fk_record_signoffs_signed_by_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_record_signoffs')),
    sa.UniqueConstraint('member_id', 'year', name='uq_record_signoffs_member_id_year')
    )
    with op.batch_alter_table('record_signoffs', schema=None) as batch_op:
        batch_op.create_index('ix_record_signoffs_year', ['year'], unique=False)


def downgrade():
    with op.batch_alter_table('record_signoffs', schema=None) as batch_op:
        batch_op.drop_index('ix_record_signoffs_year')
    op.drop_table('record_signoffs')
    with op.batch_alter_table('agreement_acceptances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agreement_acceptances_agreement_id'))
        batch_op.drop_index(batch_op.f('ix_agreement_acceptances_member_id'))
    op.drop_table('agreement_acceptances')
    op.drop_table('agreements')
    with op.batch_alter_table('event_roles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_roles_member_id'))
        batch_op.drop_index(batch_op.f('ix_event_roles_event_id'))
    op.drop_table('event_roles')
