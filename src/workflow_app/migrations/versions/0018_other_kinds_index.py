"""The cases that are not complaints (hazard cases) in a partial index, so the dashboard tells a complaint's work
apart without reading every complaint

Revision ID: 0018_other_kinds_index
Revises: 0017_working_a_complaint
Create Date: 2026-12-03 16:40:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0018_other_kinds_index'
down_revision = '0017_working_a_complaint'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_complaints_other_kinds', 'complaints', ['id', 'kind'], unique=False,
                    sqlite_where=sa.text("kind <> 'complaint'"), postgresql_where=sa.text("kind <> 'complaint'"))


def downgrade() -> None:
    op.drop_index('ix_complaints_other_kinds', table_name='complaints',
                  sqlite_where=sa.text("kind <> 'complaint'"), postgresql_where=sa.text("kind <> 'complaint'"))
