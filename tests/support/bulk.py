"""Many complaints fast: copies of one logged complaint's rows, made in bulk INSERTs.

Logging a complaint runs its process (parse, start, advance, record); ten thousand of them take
minutes. A copy is what logging the same complaint again at the same instant stores: the same
instance state, deadlines, tasks and audit trail, under the next reference, with new row ids and
new task ids (the engine's task ids are in the instance state and in the tasks table, so both
change together). What the copies are then put through (the scheduler's sweeps, firing every
timer) runs the real engine on each of them.
"""
from __future__ import annotations

import json
import re
import uuid
from typing import Any

from sqlalchemy import Engine, Table, func, select, text, update

from workflow_app.casework.models import Base, Complaint, ReferenceCounter

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CHUNK = 2_000


def _children() -> list[Table]:
    """Every table holding rows of one complaint (by its complaint_id), parents first."""
    return [t for t in Base.metadata.sorted_tables if "complaint_id" in t.c and t.name != "complaints"]


def clone_complaint(engine: Engine, reference: str, copies: int) -> list[str]:
    """Store `copies` more complaints just like `reference` (logged through the engine); returns their references."""
    complaints = Complaint.__table__
    with engine.begin() as connection:
        source = dict(connection.execute(select(complaints).where(complaints.c.reference == reference)).mappings().one())
        rows = {table: [dict(r) for r in connection.execute(
            select(table).where(table.c.complaint_id == source["id"]).order_by(*table.primary_key.columns)).mappings()]
            for table in _children()}
        prefix, year, _ = reference.rsplit("-", 2)
        counters = ReferenceCounter.__table__
        last = connection.scalar(select(counters.c.last).where(counters.c.landlord == source["landlord"],
                                                               counters.c.year == int(year)))
        next_ids = {table: (connection.scalar(select(func.max(table.c.id))) or 0) + 1
                    for table in [complaints, *rows] if _serial(table)}
        references = [f"{prefix}-{year}-{last + n:06d}" for n in range(1, copies + 1)]
        batch: dict[Table, list[dict[str, Any]]] = {table: [] for table in [complaints, *rows]}

        old_ids = sorted({old for table in rows for row in rows[table] for old in _uuids(row)})
        pattern = re.compile("|".join(re.escape(x) for x in [reference, *old_ids]))
        shapes = {table: [{name: _Shape(value, pattern) for name, value in row.items()} for row in children]
                  for table, children in rows.items()}
        for new_reference in references:
            swap = {reference: new_reference, **{old: str(uuid.uuid4()) for old in old_ids}}
            complaint_id = next_ids[complaints]
            next_ids[complaints] += 1
            batch[complaints].append({**source, "id": complaint_id, "reference": new_reference})
            for table, children in shapes.items():
                for row in children:
                    copy = {name: shape.fill(swap) for name, shape in row.items()}
                    copy["complaint_id"] = complaint_id
                    if table in next_ids:
                        copy["id"] = next_ids[table]
                        next_ids[table] += 1
                    batch[table].append(copy)
            if len(batch[complaints]) >= CHUNK:
                _flush(connection, batch)
        _flush(connection, batch)

        connection.execute(update(counters).where(counters.c.landlord == source["landlord"],
                                                  counters.c.year == int(year)).values(last=last + copies))
        if engine.dialect.name == "postgresql":
            for table in next_ids:
                connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                        f"(SELECT max(id) FROM {table.name}))"))
    if engine.dialect.name == "postgresql":
        # What autovacuum would have done while the complaints came in one by one: statistics that
        # know the tables are no longer empty (else the planner scans them whole for each complaint).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))
    return references


class _Shape:
    """A column's value with the reference and the task ids in it cut out, to fill in again for each copy."""

    def __init__(self, value: Any, pattern: re.Pattern) -> None:
        self.value, self.kind = value, "str" if isinstance(value, str) else \
            "json" if isinstance(value, (dict, list)) else "other"
        if self.kind != "other":
            text_ = value if self.kind == "str" else json.dumps(value)
            self.parts = pattern.split(text_)
            self.holes = pattern.findall(text_)
            if not self.holes:
                self.kind = "other"

    def fill(self, swap: dict[str, str]) -> Any:
        if self.kind == "other":
            return self.value
        out = [self.parts[0]]
        for hole, part in zip(self.holes, self.parts[1:], strict=True):
            out.append(swap[hole])
            out.append(part)
        joined = "".join(out)
        return joined if self.kind == "str" else json.loads(joined)


def _serial(table: Table) -> bool:
    return "id" in table.c and table.c.id.primary_key and table.c.id.autoincrement in (True, "auto") \
        and table.c.id.type.python_type is int


def _uuids(row: dict[str, Any]) -> set[str]:
    return {m for value in row.values() for m in UUID.findall(value if isinstance(value, str) else
                                                              json.dumps(value) if isinstance(value, (dict, list))
                                                              else "")}


def _flush(connection, batch: dict[Table, list[dict[str, Any]]]) -> None:
    for table, rows in batch.items():   # parents first: complaints, then the tables that refer to them
        if rows:
            connection.execute(table.insert(), rows)
            rows.clear()
