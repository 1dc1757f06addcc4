"""The dashboard's running complaints by stage, and each person's caseload, read from partial indexes alone

Revision ID: 0019_dashboard_indexes
Revises: 0018_other_kinds_index
Create Date: 2026-12-03 18:10:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0019_dashboard_indexes'
down_revision = '0018_other_kinds_index'
branch_labels = None
depends_on = None

RUNNING = sa.text("status = 'open'")


def upgrade() -> None:
    op.create_index('ix_complaints_running_stage', 'complaints', ['landlord', 'stage', 'id'], unique=False,
                    sqlite_where=RUNNING, postgresql_where=RUNNING)
    op.create_index('ix_tasks_open_assignee_complaint', 'tasks', ['assignee', 'complaint_id', 'landlord'],
                    unique=False, sqlite_where=RUNNING, postgresql_where=RUNNING)


def downgrade() -> None:
    op.drop_index('ix_tasks_open_assignee_complaint', table_name='tasks', sqlite_where=RUNNING,
                  postgresql_where=RUNNING)
    op.drop_index('ix_complaints_running_stage', table_name='complaints', sqlite_where=RUNNING,
                  postgresql_where=RUNNING)
