"""Letters' email goes through an outbox: each letter's message is written with the letter and sent after the transaction commits, once

Revision ID: 0012_email_outbox
Revises: 0011_sign_in_attempts_by_time
Create Date: 2026-12-10 12:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import workflow_app.casework.models


revision = '0012_email_outbox'
down_revision = '0011_sign_in_attempts_by_time'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('letter_id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=250), nullable=False),
    sa.Column('recipient', sa.String(length=300), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', workflow_app.casework.models.UTCDateTime(), nullable=True),
    sa.Column('claimed_at', workflow_app.casework.models.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('sent_at', workflow_app.casework.models.UTCDateTime(), nullable=True),
    sa.Column('created_at', workflow_app.casework.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], ),
    sa.ForeignKeyConstraint(['letter_id'], ['letters.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('letter_id'),
    sa.UniqueConstraint('message_id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_complaint_id', ['complaint_id'], unique=False)
        batch_op.create_index('ix_outbox_due', ['next_attempt_at'], unique=False,
                              sqlite_where=sa.text('next_attempt_at IS NOT NULL'),
                              postgresql_where=sa.text('next_attempt_at IS NOT NULL'))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_due', sqlite_where=sa.text('next_attempt_at IS NOT NULL'),
                            postgresql_where=sa.text('next_attempt_at IS NOT NULL'))
        batch_op.drop_index('ix_outbox_complaint_id')

    op.drop_table('outbox')
