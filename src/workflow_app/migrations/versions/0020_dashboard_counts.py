"""The dashboard's open deadlines of a landlord and its complaints received in a period, counted from indexes alone

Revision ID: 0020_dashboard_counts
Revises: 0019_dashboard_indexes
Create Date: 2026-12-03 22:10:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0020_dashboard_counts'
down_revision = '0019_dashboard_indexes'
branch_labels = None
depends_on = None

OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    op.create_index('ix_deadlines_open_landlord', 'deadlines', ['landlord', 'key', 'due_at', 'extended'],
                    unique=False, sqlite_where=OPEN, postgresql_where=OPEN)
    # The same index with each case's kind, so that counting complaints (not hazard cases) received reads no rows.
    op.create_index('ix_complaints_landlord_received_kind', 'complaints', ['landlord', 'received_at', 'kind'],
                    unique=False)
    op.drop_index('ix_complaints_landlord_received', table_name='complaints')


def downgrade() -> None:
    op.create_index('ix_complaints_landlord_received', 'complaints', ['landlord', 'received_at'], unique=False)
    op.drop_index('ix_complaints_landlord_received_kind', table_name='complaints')
    op.drop_index('ix_deadlines_open_landlord', table_name='deadlines', sqlite_where=OPEN, postgresql_where=OPEN)
