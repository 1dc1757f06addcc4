"""The answers the managers' reports count, copied once from each completed form (report_forms, report_choices)

Revision ID: 0008_report_answers
Revises: 0007_clocks
Create Date: 2026-12-03 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import workflow_app.casework.models


revision = '0008_report_answers'
down_revision = '0007_clocks'
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


def downgrade() -> None:
    with op.batch_alter_table('report_choices', schema=None) as batch_op:
        batch_op.drop_index('ix_report_choices_landlord_field_at')
        batch_op.drop_index('ix_report_choices_complaint_field')

    op.drop_table('report_choices')
    with op.batch_alter_table('report_forms', schema=None) as batch_op:
        batch_op.drop_index('ix_report_forms_landlord_at')

    op.drop_table('report_forms')
