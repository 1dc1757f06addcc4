"""Working a complaint: each drafted letter is on someone's inbox until it is sent (its owner)

Revision ID: 0014_working_a_complaint
Revises: 0013_audit_chain
Create Date: 2026-12-03 12:30:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_working_a_complaint'
down_revision = '0013_audit_chain'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A column added, not the table rebuilt; letters drafted before this are the team's (no owner).
    op.add_column('letters', sa.Column('owner', sa.String(length=120), nullable=True))
    op.create_index('ix_letters_status_owner', 'letters', ['status', 'owner'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_letters_status_owner', table_name='letters')
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.drop_column('owner')
