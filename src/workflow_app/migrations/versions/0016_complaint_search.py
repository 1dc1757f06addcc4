"""Finding a complaint by name, address, postcode, phone or email: the search entries and the distinct words of names, with the database's own trigram text search over the words and the addresses (pg_trgm on PostgreSQL, FTS5 on SQLite); every complaint not anonymised indexed

Revision ID: 0016_complaint_search
Revises: 0015_hazard_cases
Create Date: 2026-12-03 12:30:00.000000
"""
from alembic import op
import sqlalchemy as sa
from workflow_app.casework.search import NAME, entries


revision = '0016_complaint_search'
down_revision = '0015_hazard_cases'
branch_labels = None
depends_on = None

BATCH = 5000
"""Complaints read and indexed at a time."""

complaints = sa.table('complaints', sa.column('id', sa.Integer()), sa.column('resident', sa.JSON()),
                      sa.column('representative', sa.JSON()), sa.column('anonymised_at', sa.DateTime()))


def upgrade() -> None:
    op.create_table(
        'search_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('complaint_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('value', sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_search_entries_complaint_id', 'search_entries', ['complaint_id'])
    op.create_index('ix_search_entries_kind_value', 'search_entries', ['kind', 'value', 'complaint_id'])
    op.create_table(
        'search_terms',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('term', sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('term'),
    )
    connection = op.get_bind()
    if connection.dialect.name == 'postgresql':
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.execute('CREATE INDEX ix_search_terms_trgm ON search_terms USING gist (term gist_trgm_ops)')
        op.execute("CREATE INDEX ix_search_entries_address_trgm ON search_entries USING gin (value gin_trgm_ops) "
                   "WHERE kind = 'address'")
    else:
        # Contentless FTS5 tables kept by triggers, so every write to the tables keeps them in the same
        # transaction; a word is indexed between ^ and $ so that its first and last letters make trigrams too.
        op.execute("CREATE VIRTUAL TABLE search_fts_terms USING fts5(term, content='', tokenize='trigram')")
        op.execute("CREATE TRIGGER search_terms_added AFTER INSERT ON search_terms BEGIN "
                   "INSERT INTO search_fts_terms (rowid, term) VALUES (new.id, '^' || new.term || '$'); END")
        op.execute("CREATE TRIGGER search_terms_removed AFTER DELETE ON search_terms BEGIN "
                   "INSERT INTO search_fts_terms (search_fts_terms, rowid, term) "
                   "VALUES ('delete', old.id, '^' || old.term || '$'); END")
        op.execute("CREATE VIRTUAL TABLE search_fts_addresses USING fts5(value, content='', tokenize='trigram')")
        op.execute("CREATE TRIGGER search_entries_address_added AFTER INSERT ON search_entries "
                   "WHEN new.kind = 'address' BEGIN "
                   "INSERT INTO search_fts_addresses (rowid, value) VALUES (new.id, new.value); END")
        op.execute("CREATE TRIGGER search_entries_address_removed AFTER DELETE ON search_entries "
                   "WHEN old.kind = 'address' BEGIN "
                   "INSERT INTO search_fts_addresses (search_fts_addresses, rowid, value) "
                   "VALUES ('delete', old.id, old.value); END")
    index_every_complaint(connection)


def index_every_complaint(connection) -> None:
    """Each complaint not anonymised, a batch at a time in id order."""
    search_entries = sa.table('search_entries', sa.column('complaint_id', sa.Integer()),
                              sa.column('kind', sa.String()), sa.column('value', sa.String()))
    search_terms = sa.table('search_terms', sa.column('term', sa.String()))
    read = sa.select(complaints.c.id, complaints.c.resident, complaints.c.representative) \
        .where(complaints.c.anonymised_at.is_(None)).order_by(complaints.c.id).limit(BATCH)
    last, words = 0, set()
    while True:
        rows = connection.execute(read.where(complaints.c.id > last)).all()
        if not rows:
            break
        found = [{'complaint_id': row.id, 'kind': kind, 'value': value}
                 for row in rows for kind, value in sorted(entries(row.resident, row.representative))]
        if found:
            connection.execute(search_entries.insert(), found)
        words.update(item['value'] for item in found if item['kind'] == NAME)
        last = rows[-1].id
    if words:
        connection.execute(search_terms.insert(), [{'term': word} for word in sorted(words)])


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_search_entries_address_trgm')
        op.execute('DROP INDEX IF EXISTS ix_search_terms_trgm')
    else:
        for trigger in ('search_terms_added', 'search_terms_removed', 'search_entries_address_added',
                        'search_entries_address_removed'):
            op.execute(f'DROP TRIGGER IF EXISTS {trigger}')
        op.execute('DROP TABLE IF EXISTS search_fts_addresses')
        op.execute('DROP TABLE IF EXISTS search_fts_terms')
    op.drop_table('search_terms')
    op.drop_index('ix_search_entries_kind_value', table_name='search_entries')
    op.drop_index('ix_search_entries_complaint_id', table_name='search_entries')
    op.drop_table('search_entries')
