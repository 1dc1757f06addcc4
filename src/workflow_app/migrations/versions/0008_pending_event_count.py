"""How many events wait for each complaint's process, so an action looks them up only when there are some

Revision ID: 0008_pending_count
Revises: 0007_clocks
Create Date: 2026-12-03 08:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_pending_count'
down_revision = '0007_clocks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('workflow_instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_events', sa.Integer(), server_default='0', nullable=False))
    op.execute(
        "UPDATE workflow_instances SET pending_events = (SELECT count(*) FROM pending_events "
        "WHERE pending_events.complaint_id = workflow_instances.complaint_id AND pending_events.delivered_at IS NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table('workflow_instances', schema=None) as batch_op:
        batch_op.drop_column('pending_events')
