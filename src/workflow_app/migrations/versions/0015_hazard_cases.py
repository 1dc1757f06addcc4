"""Hazard cases beside complaints (Awaab's Law): each case's kind, and a hazard case's link to the complaint it was raised from

Revision ID: 0015_hazard_cases
Revises: 0014_letter_pdfs
Create Date: 2026-12-03 12:30:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0015_hazard_cases'
down_revision = '0014_letter_pdfs'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Columns added with a server default, not the table rebuilt: every complaint already logged is a complaint.
    op.add_column('complaints', sa.Column('kind', sa.String(length=20), nullable=False, server_default='complaint'))
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite adds a column with its reference in place; alembic would rebuild the table to add the constraint.
        op.execute('ALTER TABLE complaints ADD COLUMN raised_from_id INTEGER REFERENCES complaints (id)')
    else:
        op.add_column('complaints', sa.Column('raised_from_id', sa.Integer(), nullable=True))
        op.create_foreign_key('complaints_raised_from_id_fkey', 'complaints', 'complaints', ['raised_from_id'], ['id'])
    op.create_index('ix_complaints_raised_from_id', 'complaints', ['raised_from_id'], unique=False)


def downgrade() -> None:
    # Dropped in place (SQLite 3.35 and later), as 0013 does: rebuilding `complaints` in a batch would need every
    # table that refers to it emptied first.
    op.drop_index('ix_complaints_raised_from_id', table_name='complaints')
    op.drop_column('complaints', 'raised_from_id')
    op.drop_column('complaints', 'kind')
