"""RSVP: answers, plus-ones, consents, waiting-list offers, per-event serialisation

Revision ID: 9b2d4f6a1c83
Revises: 4e7a1c2b9d10
Create Date: 2026-11-26 13:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9b2d4f6a1c83'
down_revision = '4e7a1c2b9d10'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rsvp_version', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('waitlist_by_tier', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('plus_one', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('answers', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('waitlist_rank', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('offer_expires_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('rsvp_source', sa.String(length=16), nullable=True))
        batch_op.create_index('ix_invitations_event_waitlist',
                              ['event_id', 'waitlist_position'], unique=False)
        batch_op.create_index('ix_invitations_offer_expires_at', ['offer_expires_at'],
                              unique=False)

    op.create_table('event_consents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_consents_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_consents')),
    sa.UniqueConstraint('event_id', 'key', name='uq_event_consents_event_id_key')
    )
    op.create_table('invitation_consents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invitation_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('given', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invitation_id'], ['invitations.id'], name=op.f('fk_invitation_consents_invitation_id_invitations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitation_consents'))
    )
    with op.batch_alter_table('invitation_consents', schema=None) as batch_op:
        batch_op.create_index('ix_invitation_consents_invitation_key', ['invitation_id', 'key'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('invitation_consents', schema=None) as batch_op:
        batch_op.drop_index('ix_invitation_consents_invitation_key')
    op.drop_table('invitation_consents')
    op.drop_table('event_consents')
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index('ix_invitations_offer_expires_at')
        batch_op.drop_index('ix_invitations_event_waitlist')
        batch_op.drop_column('rsvp_source')
        batch_op.drop_column('reminded_at')
        batch_op.drop_column('offer_expires_at')
        batch_op.drop_column('waitlist_rank')
        batch_op.drop_column('answers')
        batch_op.drop_column('plus_one')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('waitlist_by_tier')
        batch_op.drop_column('rsvp_version')
