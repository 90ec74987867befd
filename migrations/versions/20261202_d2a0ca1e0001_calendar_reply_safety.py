"""calendar replies: recorded SENT-BY delegates per member, and a log of every reply read

Revision ID: d2a0ca1e0001
Revises: d2a0e6f0se55
Create Date: 2026-12-15 09:00:00

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = 'd2a0ca1e0001'
down_revision = "d2a0e6f0se55"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'calendar_delegates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=255), nullable=False),
        sa.Column('note', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'],
                                name=op.f('fk_calendar_delegates_member_id_members'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_calendar_delegates_created_by_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_delegates')),
        sa.UniqueConstraint('member_id', 'email', name='uq_calendar_delegates_member_id_email'),
    )
    op.create_table(
        'calendar_reply_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('message_id', sa.String(length=255), nullable=False),
        sa.Column('sender', sa.String(length=255), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=True),
        sa.Column('invitation_id', sa.Integer(), nullable=True),
        sa.Column('uid', sa.String(length=255), nullable=True),
        sa.Column('attendee', sa.String(length=255), nullable=True),
        sa.Column('partstat', sa.String(length=32), nullable=True),
        sa.Column('result', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.String(length=64), nullable=True),
        sa.Column('detail', sa.String(length=500), nullable=False),
        sa.Column('auth', sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'],
                                name=op.f('fk_calendar_reply_log_event_id_events'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['invitation_id'], ['invitations.id'],
                                name=op.f('fk_calendar_reply_log_invitation_id_invitations'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_reply_log')),
    )
    op.create_index('ix_calendar_reply_log_event_received', 'calendar_reply_log',
                    ['event_id', 'received_at'])


def downgrade():
    op.drop_index('ix_calendar_reply_log_event_received', table_name='calendar_reply_log')
    op.drop_table('calendar_reply_log')
    op.drop_table('calendar_delegates')
