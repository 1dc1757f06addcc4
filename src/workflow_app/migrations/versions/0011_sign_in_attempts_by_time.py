"""An index on sign-in attempts by time, so the old ones are forgotten with an indexed delete

Revision ID: 0011_sign_in_attempts_by_time
Revises: 0010_report_complaints
Create Date: 2026-12-04 09:00:00.000000
"""
from alembic import op


revision = '0011_sign_in_attempts_by_time'
down_revision = '0010_report_complaints'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sign_in_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_sign_in_attempts_at', ['at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sign_in_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_sign_in_attempts_at')
