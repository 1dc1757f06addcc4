"""Each complaint's audit events chained by hash (each stores the hash of the one before it and its own), and the chain's head on the complaint; the events already recorded sealed in order

Revision ID: 0013_audit_chain
Revises: 0012_email_outbox
Create Date: 2026-12-03 09:30:00.000000
"""
from alembic import op
import sqlalchemy as sa
import workflow_app.casework.models
from workflow_app.casework.audit import seal


revision = '0013_audit_chain'
down_revision = '0012_email_outbox'
branch_labels = None
depends_on = None

BATCH = 2000
"""Events read, sealed and written at a time, so a large trail never sits in memory whole."""

events = sa.table(
    'audit_events',
    sa.column('id', sa.Integer()), sa.column('complaint_id', sa.Integer()), sa.column('landlord', sa.String()),
    sa.column('at', workflow_app.casework.models.UTCDateTime()), sa.column('actor', sa.String()),
    sa.column('type', sa.String()), sa.column('details', sa.JSON()),
    sa.column('previous_hash', sa.String()), sa.column('hash', sa.String()),
)
complaints = sa.table('complaints', sa.column('id', sa.Integer()), sa.column('audit_head', sa.String()))


def upgrade() -> None:
    # Columns added, not tables rebuilt: `batch_alter_table` would copy every event on SQLite.
    op.add_column('audit_events', sa.Column('previous_hash', sa.String(length=64), nullable=True))
    op.add_column('audit_events', sa.Column('hash', sa.String(length=64), nullable=True))
    op.add_column('complaints', sa.Column('audit_head', sa.String(length=64), nullable=True))
    seal_recorded_events(op.get_bind())


def seal_recorded_events(connection) -> None:
    """Chain every complaint's events in id order, a batch at a time, in the order of `ix_audit_complaint`."""
    read = sa.select(events.c.id, events.c.complaint_id, events.c.landlord, events.c.at, events.c.actor,
                     events.c.type, events.c.details).where(events.c.complaint_id.is_not(None)) \
        .order_by(events.c.complaint_id, events.c.id).limit(BATCH)
    write_events = events.update().where(events.c.id == sa.bindparam('event_id'))
    write_heads = complaints.update().where(complaints.c.id == sa.bindparam('owner'))
    owner, last, head = None, None, None     # the complaint being sealed, its last event sealed, that event's hash
    while True:
        query = read if owner is None else read.where(sa.or_(
            events.c.complaint_id > owner, sa.and_(events.c.complaint_id == owner, events.c.id > last)))
        rows = connection.execute(query).all()
        if not rows:
            break
        sealed, heads = [], []
        for row in rows:
            if row.complaint_id != owner:
                if owner is not None:
                    heads.append({'owner': owner, 'audit_head': head})
                owner, head = row.complaint_id, None
            previous = head
            head = seal(row.complaint_id, row.landlord, row.at, row.actor, row.type, row.details, previous)
            sealed.append({'event_id': row.id, 'previous_hash': previous, 'hash': head})
            last = row.id
        connection.execute(write_events, sealed)
        if heads:
            connection.execute(write_heads, heads)
    if owner is not None:
        connection.execute(write_heads, [{'owner': owner, 'audit_head': head}])


def downgrade() -> None:
    # Dropped in place (SQLite 3.35 and later): rebuilding `complaints` in a batch would need every table that
    # refers to it emptied first.
    op.drop_column('complaints', 'audit_head')
    op.drop_column('audit_events', 'hash')
    op.drop_column('audit_events', 'previous_hash')
