"""Working a complaint: each drafted letter is on someone's inbox until it is sent (its owner); notifications in the app and by email (each, or a daily digest, a person's choice), and the outbox carrying staff notifications as well as letters

Revision ID: 0017_working_a_complaint
Revises: 0016_complaint_search
Create Date: 2026-12-03 12:30:00.000000
"""
from alembic import op
import sqlalchemy as sa
import workflow_app.casework.models


revision = '0017_working_a_complaint'
down_revision = '0016_complaint_search'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A column added, not the table rebuilt; letters drafted before this are the team's (no owner).
    op.add_column('letters', sa.Column('owner', sa.String(length=120), nullable=True))
    op.create_index('ix_letters_status_owner', 'letters', ['status', 'owner'], unique=False)
    op.add_column('users', sa.Column('email', sa.String(length=320), nullable=True))
    op.add_column('users', sa.Column('notify_by', sa.String(length=10), server_default='each', nullable=False))
    op.add_column('users', sa.Column('digest_sent_on', sa.Date(), nullable=True))
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=True),
    sa.Column('task_id', sa.String(length=64), nullable=True),
    sa.Column('due_at', workflow_app.casework.models.UTCDateTime(), nullable=True),
    sa.Column('text', sa.String(length=300), nullable=False),
    sa.Column('created_at', workflow_app.casework.models.UTCDateTime(), nullable=False),
    sa.Column('read_at', workflow_app.casework.models.UTCDateTime(), nullable=True),
    sa.Column('mailed_at', workflow_app.casework.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username', 'kind', 'task_id', 'due_at', name='uq_notifications_once')
    )
    op.create_index('ix_notifications_user', 'notifications', ['username', 'read_at'], unique=False)
    op.create_index('ix_notifications_unmailed', 'notifications', ['mailed_at'], unique=False,
                    sqlite_where=sa.text('mailed_at IS NULL'), postgresql_where=sa.text('mailed_at IS NULL'))
    # A notification's email has no letter or complaint (the outbox is small: rebuilt on SQLite).
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('letter_id', existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column('complaint_id', existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE letter_id IS NULL")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('complaint_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('letter_id', existing_type=sa.Integer(), nullable=False)
    op.drop_index('ix_notifications_unmailed', table_name='notifications')
    op.drop_index('ix_notifications_user', table_name='notifications')
    op.drop_table('notifications')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('digest_sent_on')
        batch_op.drop_column('notify_by')
        batch_op.drop_column('email')
    op.drop_index('ix_letters_status_owner', table_name='letters')
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.drop_column('owner')
