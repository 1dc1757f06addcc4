"""The complaints as the performance page counts them (report_complaints), whether a measured response's complaint went to stage 2, and each deadline's landlord, so the page counts a landlord-year from indexes alone

Revision ID: 0010_report_complaints
Revises: 0009_report_answers
Create Date: 2026-12-03 12:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import workflow_app.casework.models


revision = '0010_report_complaints'
down_revision = '0009_report_answers'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_complaints',
    sa.Column('complaint_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('landlord', sa.String(length=60), nullable=False),
    sa.Column('received_at', workflow_app.casework.models.UTCDateTime(), nullable=False),
    sa.Column('category', sa.String(length=60), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('closed_at', workflow_app.casework.models.UTCDateTime(), nullable=True),
    sa.Column('escalated', sa.Boolean(), nullable=False),
    sa.Column('stage1_answered', sa.Boolean(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], ),
    sa.PrimaryKeyConstraint('complaint_id')
    )
    with op.batch_alter_table('report_complaints', schema=None) as batch_op:
        batch_op.create_index('ix_report_complaints_closed', ['landlord', 'closed_at', 'status', 'stage1_answered',
                                                              'escalated'], unique=False)
        batch_op.create_index('ix_report_complaints_received', ['landlord', 'received_at', 'category', 'escalated'],
                              unique=False)
        batch_op.create_index('ix_report_complaints_event', ['event_id'], unique=False)

    # Columns added, not tables rebuilt: `batch_alter_table` would copy every deadline on SQLite.
    op.add_column('report_responses', sa.Column('escalated', sa.Boolean(), nullable=True))
    op.create_index('ix_report_responses_escalated', 'report_responses',
                    ['landlord', 'responded_at', 'stage', 'complaint_id', 'escalated'], unique=False)
    op.add_column('deadlines', sa.Column('landlord', sa.String(length=60), nullable=True))
    op.create_index('ix_deadlines_key_landlord_met', 'deadlines', ['key', 'landlord', 'met_at', 'due_at'],
                    unique=False)
    op.create_index('ix_deadlines_key_landlord_due', 'deadlines',
                    ['key', 'landlord', 'due_at', 'status', 'met_at', 'extended'], unique=False)
    op.create_index('ix_deadlines_landlord_unknown', 'deadlines', ['landlord', 'key', 'complaint_id'], unique=False,
                    sqlite_where=sa.text('landlord IS NULL'), postgresql_where=sa.text('landlord IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_index('ix_deadlines_landlord_unknown', sqlite_where=sa.text('landlord IS NULL'),
                            postgresql_where=sa.text('landlord IS NULL'))
        batch_op.drop_index('ix_deadlines_key_landlord_due')
        batch_op.drop_index('ix_deadlines_key_landlord_met')
        batch_op.drop_column('landlord')
    with op.batch_alter_table('report_responses', schema=None) as batch_op:
        batch_op.drop_index('ix_report_responses_escalated')
        batch_op.drop_column('escalated')
    with op.batch_alter_table('report_complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_report_complaints_event')
        batch_op.drop_index('ix_report_complaints_received')
        batch_op.drop_index('ix_report_complaints_closed')

    op.drop_table('report_complaints')
