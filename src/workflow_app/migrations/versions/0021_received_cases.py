"""The complaints received in a period, read by the performance page and the dashboard from one covering index

Since hazard cases were told apart, every count of the complaints received in a period names the case's kind, which
neither of the performance page's covering indexes held: CH01 and the categories then read each complaint of the
year from the table (0.2 s each for a landlord-year at sector scale on SQLite). One index with the kind, the
category and what a stage 1 complaint is counted by replaces the three that each held part of it.

Revision ID: 0021_received_cases
Revises: 0020_dashboard_counts
Create Date: 2026-12-04 04:15:00.000000
"""
from alembic import op


revision = '0021_received_cases'
down_revision = '0020_dashboard_counts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_complaints_landlord_received_cases', 'complaints',
                    ['landlord', 'received_at', 'kind', 'category', 'stage', 'status', 'outcome'], unique=False)
    op.drop_index('ix_complaints_landlord_received_kind', table_name='complaints')
    op.drop_index('ix_complaints_landlord_received_stage', table_name='complaints')
    op.drop_index('ix_complaints_landlord_received_category', table_name='complaints')


def downgrade() -> None:
    op.create_index('ix_complaints_landlord_received_category', 'complaints',
                    ['landlord', 'received_at', 'category', 'stage', 'status', 'outcome'], unique=False)
    op.create_index('ix_complaints_landlord_received_stage', 'complaints',
                    ['landlord', 'received_at', 'stage', 'status', 'outcome'], unique=False)
    op.create_index('ix_complaints_landlord_received_kind', 'complaints', ['landlord', 'received_at', 'kind'],
                    unique=False)
    op.drop_index('ix_complaints_landlord_received_cases', table_name='complaints')
