"""Deadlines met another way (a refusal meets the acknowledgement) and incidents for the analysts

Revision ID: 0007_clocks
Revises: 0006
Create Date: 2026-12-03 09:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import workflow_app.casework.models


revision = '0007_clocks'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('landlord', sa.String(length=60), nullable=False),
    sa.Column('element_id', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('since', workflow_app.casework.models.UTCDateTime(), nullable=False),
    sa.Column('resolved_at', workflow_app.casework.models.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incidents_complaint_id'), ['complaint_id'], unique=False)
        batch_op.create_index('ix_incidents_open', ['landlord', 'resolved_at', 'since'], unique=False)

    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('met_by', sa.String(length=60), nullable=True))

    with op.batch_alter_table('workflow_instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('open_incidents', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('workflow_instances', schema=None) as batch_op:
        batch_op.drop_column('open_incidents')

    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_column('met_by')

    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_open')
        batch_op.drop_index(batch_op.f('ix_incidents_complaint_id'))

    op.drop_table('incidents')
