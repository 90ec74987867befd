"""door staff: event assignments, walk-in guests who are not members, plus-ones at the door

Revision ID: e3a0door0001
Revises: e3a0optout0001
Create Date: 2026-12-02 09:00:00

A `door` login checks people in only at the events in event_door_staff. A walk-in guest
who is not a member keeps just a name and an e-mail address. An invitation's plus-one is
counted when it arrives with the invitee.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e3a0door0001'
down_revision = 'e3a0optout0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'event_door_staff',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'],
                                name=op.f('fk_event_door_staff_event_id_events'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_event_door_staff_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_event_door_staff')),
        sa.UniqueConstraint('event_id', 'user_id', name='uq_event_door_staff_event_id_user_id'),
    )
    with op.batch_alter_table('event_door_staff') as batch_op:
        batch_op.create_index(batch_op.f('ix_event_door_staff_user_id'), ['user_id'],
                              unique=False)
    op.create_table(
        'walk_in_guests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('email', sa.String(length=255), nullable=True),
        sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'],
                                name=op.f('fk_walk_in_guests_event_id_events'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_walk_in_guests')),
    )
    with op.batch_alter_table('walk_in_guests') as batch_op:
        batch_op.create_index(batch_op.f('ix_walk_in_guests_event_id'), ['event_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_walk_in_guests_email'), ['email'], unique=False)
    with op.batch_alter_table('invitations') as batch_op:
        batch_op.add_column(sa.Column('plus_one_checked_in', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('invitations') as batch_op:
        batch_op.drop_column('plus_one_checked_in')
    with op.batch_alter_table('walk_in_guests') as batch_op:
        batch_op.drop_index(batch_op.f('ix_walk_in_guests_email'))
        batch_op.drop_index(batch_op.f('ix_walk_in_guests_event_id'))
    op.drop_table('walk_in_guests')
    with op.batch_alter_table('event_door_staff') as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_door_staff_user_id'))
    op.drop_table('event_door_staff')
