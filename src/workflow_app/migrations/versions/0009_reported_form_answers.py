"""The answers the managers' reports count, copied once from each completed form (report_forms, report_choices); indexes covering the performance page's counts and the dashboard's overdue work

Revision ID: 0009_report_answers
Revises: 0008_pending_count
Create Date: 2026-12-03 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import workflow_app.casework.models


revision = '0009_report_answers'
down_revision = '0008_pending_count'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_forms',
    sa.Column('event_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=True),
    sa.Column('landlord', sa.String(length=60), nullable=True),
    sa.Column('completed_at', workflow_app.casework.models.UTCDateTime(), nullable=False),
    sa.Column('stage', sa.String(length=10), nullable=True),
    sa.Column('compensation', sa.Float(), nullable=True),
    sa.Column('survey_status', sa.String(length=60), nullable=True),
    sa.Column('satisfaction', sa.String(length=60), nullable=True),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], ),
    sa.ForeignKeyConstraint(['event_id'], ['audit_events.id'], ),
    sa.PrimaryKeyConstraint('event_id')
    )
    with op.batch_alter_table('report_forms', schema=None) as batch_op:
        batch_op.create_index('ix_report_forms_landlord_at', ['landlord', 'completed_at', 'stage', 'compensation',
                                                               'survey_status', 'satisfaction'], unique=False)

    op.create_table('report_choices',
    sa.Column('event_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('field', sa.String(length=60), nullable=False),
    sa.Column('position', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('value', sa.String(length=200), nullable=True),
    sa.Column('complaint_id', sa.Integer(), nullable=True),
    sa.Column('landlord', sa.String(length=60), nullable=True),
    sa.Column('completed_at', workflow_app.casework.models.UTCDateTime(), nullable=False),
    sa.Column('stage', sa.String(length=10), nullable=True),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], ),
    sa.ForeignKeyConstraint(['event_id'], ['audit_events.id'], ),
    sa.PrimaryKeyConstraint('event_id', 'field', 'position')
    )
    with op.batch_alter_table('report_choices', schema=None) as batch_op:
        batch_op.create_index('ix_report_choices_complaint_field', ['complaint_id', 'field', 'value'], unique=False)
        batch_op.create_index('ix_report_choices_landlord_field_at', ['landlord', 'field', 'completed_at', 'stage',
                                                                      'value'], unique=False)

    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index('ix_complaints_landlord_received_category', ['landlord', 'received_at', 'category',
                                                                           'stage', 'status', 'outcome'], unique=False)
        batch_op.create_index('ix_complaints_landlord_closed_outcome', ['landlord', 'closed_at', 'status', 'outcome'],
                              unique=False)
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_open_due_work', ['status', 'landlord', 'element_id', 'assignee', 'due_at'],
                              unique=False, sqlite_where=sa.text("status = 'open'"),
                              postgresql_where=sa.text("status = 'open'"))
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.create_index('ix_deadlines_key_due', ['key', 'due_at', 'status', 'met_at', 'extended',
                                                       'complaint_id'], unique=False)
        batch_op.create_index('ix_deadlines_key_complaint', ['key', 'complaint_id'], unique=False)
    with op.batch_alter_table('report_responses', schema=None) as batch_op:
        batch_op.create_index('ix_report_responses_figures', ['landlord', 'responded_at', 'stage', 'within_code',
                                                              'extended', 'met_own_deadline', 'days_from_start',
                                                              'complaint_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('report_responses', schema=None) as batch_op:
        batch_op.drop_index('ix_report_responses_figures')
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_index('ix_deadlines_key_complaint')
        batch_op.drop_index('ix_deadlines_key_due')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_open_due_work', sqlite_where=sa.text("status = 'open'"),
                            postgresql_where=sa.text("status = 'open'"))
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_complaints_landlord_closed_outcome')
        batch_op.drop_index('ix_complaints_landlord_received_category')

    with op.batch_alter_table('report_choices', schema=None) as batch_op:
        batch_op.drop_index('ix_report_choices_landlord_field_at')
        batch_op.drop_index('ix_report_choices_complaint_field')

    op.drop_table('report_choices')
    with op.batch_alter_table('report_forms', schema=None) as batch_op:
        batch_op.drop_index('ix_report_forms_landlord_at')

    op.drop_table('report_forms')
