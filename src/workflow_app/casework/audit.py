"""The append-only audit trail: one event per change, in the change's own transaction, each complaint's
events chained by hash so that an edit, a deletion or an insertion shows.

An action records many events (a task completed, deadlines met and set, a letter issued,
the next task ready). They are kept on the session as they are recorded and written
together, in recorded order, as one multi-row insert at the session's next flush or at
commit, whichever comes first: one statement per action instead of one per event, in the
same transaction as the change they describe. A rollback drops them with it.

The chain. A complaint's record is a legal record, so each of its events is sealed:
it stores the hash of the complaint's event before it (`previous_hash`, none for the
first) and its own `hash`, SHA-256 in hex over a canonical serialisation of what it says
(`seal`): the complaint's id, the landlord, the time in UTC ISO 8601, the actor, the type,
the details as JSON with sorted keys, and the previous hash. The event's id is covered by
the order: each event names the one before it. The complaint row keeps the chain's head
(`Complaint.audit_head`, the newest event's hash), so events deleted from the end show
too. `chain_problems` walks a chain; `workflow-app verify` walks every complaint's and
names each broken one (casework/incidents.py lists them for the analysts). Events without
a complaint (a deployment) are not chained: they belong to no legal record, and the
deployment they describe is kept, with its content hash, in `definition_versions`.

Appending, and two actions at once. The events of an action are sealed where they
are written, after the head the session read with the complaint; then the head moves with
one compare-and-set update of the complaint row (`... WHERE audit_head = <the head read>`).
Of two transactions appending to one complaint at once, the second matches no row (on
PostgreSQL it waits for the first to commit, then finds the head moved; SQLite lets one
writer in at a time): it raises `StaleDataError`, which the services turn into a 409
`Conflict`, and everything it did rolls back. A chain never forks silently. This costs one
cheap statement per action, a primary-key update of a row the action has just read; the
alternative, a unique index on `(complaint_id, previous_hash)`, would cost an index entry
on every event (many per action) plus a read of the last event's hash, and could not see
events deleted from the end. Actions through `engine.Casework.act` already refuse the
second of two at once (the instance's revision); the head adds the same refusal for
notes, attachments, letters and exports added to one complaint in the same instant (the
second person is asked to try again).

Anonymisation re-seals. Retention replaces personal data in old complaints' event
details (casework/retention.py), which would break their hashes. A digest of the original
details kept beside them would let the chain stand, but a hash of a name or a short note is
personal data still (it confirms a guess), so anonymising could not keep it. Instead
`reseal` is the one sanctioned rewrite: in the anonymising transaction it first checks the
complaint's chain, then writes the redacted details and seals the chain again over them,
and retention records the check's findings in the `anonymised` event (which is sealed
after them). So an anonymised complaint verifies clean; any later edit, deletion or
reordering of its events shows exactly as for any other complaint; and tampering before
anonymisation is not laundered: the `anonymised` event says the trail was already broken,
and verify keeps naming the complaint.

The chain is tamper-evident, not tamper-proof: someone who can write to the database and
knows this rule could recompute a whole chain and its head. Keep verify's output, and the
backups, where the database's users cannot rewrite them.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import groupby
from typing import Any, NamedTuple

from sqlalchemy import bindparam, event, insert, inspect, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from workflow_app.casework.models import AuditEvent, Complaint
from workflow_app.rules import clock

CLOCK = "clock"
"""The actor of everything time does: timers firing (in a sweep, or in someone's action) and what follows."""

ANONYMISED = "anonymised"
BROKEN_BEFORE_ANONYMISING = "trail_broken"
"""The detail of an `anonymised` event that records what was wrong with the chain when it was re-sealed."""

_PENDING = "audit_events_pending"
_CHAINED = "audit_chained_complaints"

SEALED_COLUMNS = (AuditEvent.id, AuditEvent.complaint_id, AuditEvent.landlord, AuditEvent.at, AuditEvent.actor,
                  AuditEvent.type, AuditEvent.details, AuditEvent.previous_hash, AuditEvent.hash)
"""What a chain's check reads of each event."""


def record(session: Session, complaint: Complaint | None, type: str, actor: str, **details: Any) -> None:
    """Record one event; it is written, and sealed into the complaint's chain, with the session's next flush or
    commit."""
    if complaint is not None and complaint.id is None:
        session.flush()   # a complaint logged in this transaction gets its id first
    session.info.setdefault(_PENDING, []).append({
        "complaint_id": complaint.id if complaint is not None else None,
        "landlord": complaint.landlord if complaint is not None else details.pop("landlord", None),
        "at": clock.now(),
        "actor": actor,
        "type": type,
        "details": details,
    })
    if complaint is not None:
        session.info.setdefault(_CHAINED, {})[complaint.id] = complaint


def seal(complaint_id: int, landlord: str | None, at: datetime, actor: str, type: str,
         details: dict[str, Any] | None, previous: str | None) -> str:
    """An event's hash: SHA-256, in hex, of its content serialised canonically (compact JSON, keys sorted at
    every depth, ASCII only, the time in UTC), so that it reads the same from SQLite and PostgreSQL."""
    content = {"complaint_id": complaint_id, "landlord": landlord, "at": at.astimezone(UTC).isoformat(),
               "actor": actor, "type": type, "details": details or {}, "previous": previous}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode("ascii")).hexdigest()


@event.listens_for(Session, "after_flush")
def _write_after_flush(session: Session, _context) -> None:
    _write(session)


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    _write(session, carry=True)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_CHAINED, None)


def _write(session: Session, carry: bool = False) -> None:
    """Write the events recorded since the last write and move each complaint's chain head; `carry` (just before the
    commit's own flush) writes the complaint's changed stage, status and outcome in the head's statement too."""
    pending = session.info.pop(_PENDING, None)
    chained = session.info.pop(_CHAINED, {})
    if not pending:
        return
    heads = {complaint_id: complaint.audit_head for complaint_id, complaint in chained.items()}
    for row in pending:
        complaint_id = row["complaint_id"]
        if complaint_id is None:
            row["previous_hash"] = row["hash"] = None
            continue
        row["previous_hash"] = heads[complaint_id]
        row["hash"] = heads[complaint_id] = seal(complaint_id, row["landlord"], row["at"], row["actor"], row["type"],
                                                 row["details"], row["previous_hash"])
    session.connection().execute(_INSERT_EVENTS, pending)
    for complaint_id, complaint in chained.items():
        _move_head(session, complaint, heads[complaint_id], carry=carry)


_INSERT_EVENTS = insert(AuditEvent.__table__)
"""Built once, as the head's moves below: building a statement on each action cost several times what running it
does."""
_complaints = Complaint.__table__
_CARRIED = ("stage", "status", "outcome", "closed_at")
"""What an action changes of the complaint's own row: written with the head's move when it changed, rather than
by a statement of its own."""
_MOVES: dict[tuple[bool, tuple[str, ...]], Any] = {}


def _move(first: bool, carried: tuple[str, ...]) -> Any:
    """The compare-and-set of a complaint's head (the first, or on from the one read), with these columns."""
    statement = _MOVES.get((first, carried))
    if statement is None:
        read = _complaints.c.audit_head.is_(None) if first else _complaints.c.audit_head == bindparam("read")
        statement = _MOVES[(first, carried)] = update(_complaints).where(
            _complaints.c.id == bindparam("complaint"), read).values(
            audit_head=bindparam("head"), **{name: bindparam(f"new_{name}") for name in carried})
    return statement


def _move_head(session: Session, complaint: Complaint, head: str | None, carry: bool = False) -> None:
    """Move the complaint's chain head on from the one this session read, or refuse: another transaction
    appended to the chain first. `carry`: with the changes to the complaint's `_CARRIED` columns not yet
    flushed (the session's flush then has none of them to write)."""
    if head == complaint.audit_head:
        return
    changed = {}
    if carry:
        attributes = inspect(complaint).attrs
        for name in _CARRIED:
            added = attributes[name].history.added
            if added:
                changed[name] = added[0]
    first = complaint.audit_head is None
    values = {"complaint": complaint.id, "head": head, **({} if first else {"read": complaint.audit_head}),
              **{f"new_{name}": value for name, value in changed.items()}}
    moved = session.connection().execute(_move(first, tuple(changed)), values)
    if moved.rowcount != 1:
        raise StaleDataError("the complaint's audit trail was added to by another action")
    set_committed_value(complaint, "audit_head", head)
    for name, value in changed.items():
        set_committed_value(complaint, name, value)


def history(session: Session, complaint: Complaint) -> list[AuditEvent]:
    session.flush()
    _write(session)
    return list(session.scalars(
        select(AuditEvent).where(AuditEvent.complaint_id == complaint.id).order_by(AuditEvent.id)
    ))


def as_json(event: AuditEvent) -> dict[str, Any]:
    return {"at": event.at.isoformat(), "type": event.type, "actor": event.actor, **event.details}


# --- checking and re-sealing chains -------------------------------------------------------------

def chain_problems(events: Sequence[Any], head: str | None) -> list[str]:
    """What is wrong with one complaint's chain: `events` are its events in id order (rows with
    `SEALED_COLUMNS`), `head` the complaint's recorded head. Empty when the chain is whole."""
    problems = []
    previous = None
    for item in events:
        if item.previous_hash != previous:
            problems.append(f"event {item.id} ({item.type}) does not follow the event before it: "
                            "an event was deleted, inserted or moved")
        if item.hash != seal(item.complaint_id, item.landlord, item.at, item.actor, item.type, item.details,
                             item.previous_hash):
            problems.append(f"event {item.id} ({item.type}) was changed after it was written")
        if item.type == ANONYMISED and (item.details or {}).get(BROKEN_BEFORE_ANONYMISING):
            problems.append(f"the trail was already broken when it was anonymised (event {item.id}): "
                            f"{item.details[BROKEN_BEFORE_ANONYMISING]}")
        previous = item.hash
    if previous != head:
        problems.append("its audit events were deleted" if not events else
                        f"the trail ends at event {events[-1].id}, before the complaint's last recorded event: "
                        "events were deleted from its end")
    return problems


class BrokenChain(NamedTuple):
    complaint_id: int
    reference: str
    problems: list[str]


def broken_chains(session: Session) -> Iterator[BrokenChain]:
    """Every complaint whose chain is broken, in id order: one streamed query over every event, by complaint."""
    query = (select(Complaint.id.label("owner"), Complaint.reference, Complaint.audit_head, *SEALED_COLUMNS)
             .outerjoin(AuditEvent, AuditEvent.complaint_id == Complaint.id)
             .order_by(Complaint.id, AuditEvent.id).execution_options(yield_per=2000))
    for complaint_id, group in groupby(session.execute(query), key=lambda row: row.owner):
        rows = list(group)
        problems = chain_problems([row for row in rows if row.id is not None], rows[0].audit_head)
        if problems:
            yield BrokenChain(complaint_id, rows[0].reference, problems)


def reseal(session: Session, complaint: Complaint,
           redact: Callable[[dict[str, Any]], dict[str, Any]]) -> list[str]:
    """Rewrite each of the complaint's events' details through `redact` and seal its chain again over what
    remains: the one sanctioned rewrite of the trail (anonymisation). Returns what was wrong with the chain
    before, for the caller to record: re-sealing must not hide a break."""
    session.flush()
    _write(session)
    events = session.execute(select(*SEALED_COLUMNS).where(AuditEvent.complaint_id == complaint.id)
                             .order_by(AuditEvent.id)).all()
    broken = chain_problems(events, complaint.audit_head)
    rows, previous = [], None
    for item in events:
        details = redact(item.details or {})
        sealed = seal(complaint.id, item.landlord, item.at, item.actor, item.type, details, previous)
        rows.append({"event_id": item.id, "details": details, "previous_hash": previous, "hash": sealed})
        previous = sealed
    if rows:
        table = AuditEvent.__table__
        session.connection().execute(update(table).where(table.c.id == bindparam("event_id")), rows)
    _move_head(session, complaint, previous)
    return broken
