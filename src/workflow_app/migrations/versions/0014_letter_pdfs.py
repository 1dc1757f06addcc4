"""Each sent letter kept as the PDF that is posted (large print when the complaint's reasonable adjustments ask for it)

Revision ID: 0014_letter_pdfs
Revises: 0013_audit_chain
Create Date: 2026-12-03 12:30:00.000000
"""
from alembic import op
import sqlalchemy as sa
import workflow_app.casework.models


revision = '0014_letter_pdfs'
down_revision = '0013_audit_chain'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('letter_pdfs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('letter_id', sa.Integer(), nullable=False),
    sa.Column('complaint_id', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('pages', sa.Integer(), nullable=False),
    sa.Column('print_size_pt', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', workflow_app.casework.models.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], ),
    sa.ForeignKeyConstraint(['letter_id'], ['letters.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('letter_id')
    )
    with op.batch_alter_table('letter_pdfs', schema=None) as batch_op:
        batch_op.create_index('ix_letter_pdfs_complaint_id', ['complaint_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('letter_pdfs', schema=None) as batch_op:
        batch_op.drop_index('ix_letter_pdfs_complaint_id')

    op.drop_table('letter_pdfs')
