"""Each complaint's audit trail is a hash chain: `workflow-app verify` names every complaint whose events were
edited, deleted, inserted or reordered in the database, anonymising does not look like tampering, two actions at
once never fork a chain, and the migration seals the events recorded before it exactly as the app does."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text, update
from sqlalchemy.orm.exc import StaleDataError

from tests.conftest import make_user
from tests.integration.test_complaints import at, log, open_task
from tests.integration.test_data_protection import closed_complaint
from workflow_app.casework import audit
from workflow_app.casework.case_record import CaseRecord
from workflow_app.casework.incidents import AUDIT_TRAIL
from workflow_app.casework.models import AuditEvent, Complaint, Incident
from workflow_app.casework.retention import apply_retention
from workflow_app.casework.scheduler import sweep
from workflow_app.rules.errors import Conflict
from workflow_app.tools.cli import main


def verify(runtime):
    return CliRunner().invoke(main, ["verify"], obj=runtime, catch_exceptions=False)


def complaint_id(runtime, reference: str) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(Complaint.id).where(Complaint.reference == reference))


def event_ids(runtime, reference: str, type: str | None = None) -> list[int]:
    query = select(AuditEvent.id).where(AuditEvent.complaint_id == complaint_id(runtime, reference))
    if type:
        query = query.where(AuditEvent.type == type)
    with runtime.sessions() as session:
        return list(session.scalars(query.order_by(AuditEvent.id)))


def tamper(runtime, *statements: tuple[str, dict]) -> None:
    """Change the database behind the app's back, as someone with SQL access could."""
    with runtime.engine.begin() as connection:
        for statement, values in statements:
            connection.execute(text(statement), values)


def chains(runtime) -> dict[str, list[str]]:
    with runtime.sessions() as session:
        return {broken.reference: broken.problems for broken in audit.broken_chains(session)}


@pytest.fixture
def complaints(deployed, officer, caseworker, virtual_clock):
    """Three complaints with some history: tasks completed, a note, timers fired in a sweep."""
    references = [log(deployed, officer) for _ in range(3)]
    virtual_clock.set(at("2026-12-24T10:00:00+00:00"))
    for reference in references[:2]:
        deployed.tasks.complete(open_task(deployed, reference, "acknowledge"), {"complaint_definition": "Leak"},
                                caseworker)
    CaseRecord(deployed.sessions, deployed.casework).add_note(references[1], "Rang the resident.", caseworker)
    virtual_clock.set(at("2027-01-20T00:00:00+00:00"))
    sweep(deployed.complaints)
    return references


def test_an_untouched_database_verifies_clean_and_each_event_follows_the_one_before(deployed, complaints):
    result = verify(deployed)
    assert result.exit_code == 0, result.output
    assert "0 inconsistent complaint(s)" in result.output and "0 broken audit trail(s)" in result.output
    with deployed.sessions() as session:
        for complaint in session.scalars(select(Complaint)):
            events = session.scalars(select(AuditEvent).where(AuditEvent.complaint_id == complaint.id)
                                     .order_by(AuditEvent.id)).all()
            assert len(events) > 3 and events[0].previous_hash is None
            assert [e.previous_hash for e in events[1:]] == [e.hash for e in events[:-1]]
            assert complaint.audit_head == events[-1].hash and len({e.hash for e in events}) == len(events)
        deployments = session.scalars(select(AuditEvent).where(AuditEvent.complaint_id.is_(None))).all()
        assert deployments and all(e.hash is None and e.previous_hash is None for e in deployments)
        assert session.scalar(select(func.count(Incident.id))) == 0


def test_an_event_edited_in_the_database_names_its_complaint_and_verify_fails(deployed, complaints):
    first, second, third = complaints
    [completed] = event_ids(deployed, second, "task_completed")
    tamper(deployed, ("UPDATE audit_events SET details = :details WHERE id = :id",
                      {"details": '{"task_id": "x", "data": {"complaint_definition": "Nothing wrong"}}',
                       "id": completed}))

    result = verify(deployed)
    assert result.exit_code == 1
    assert f"{second}: audit trail: event {completed} (task_completed) was changed after it was written" \
        in result.output
    assert first not in result.output and third not in result.output
    assert "1 broken audit trail(s): 1 new incident(s)" in result.output
    # recorded once for the analysts, however often verify runs
    assert verify(deployed).exit_code == 1
    with deployed.sessions() as session:
        [incident] = session.scalars(select(Incident)).all()
    assert incident.kind == AUDIT_TRAIL and incident.resolved_at is None
    assert incident.complaint_id == complaint_id(deployed, second) and f"event {completed}" in incident.message


def test_an_edit_to_who_or_when_shows_as_well_as_to_what(deployed, complaints):
    first, second, _ = complaints
    [logged] = event_ids(deployed, first, "complaint_logged")
    [note] = event_ids(deployed, second, "note_added")
    tamper(deployed, ("UPDATE audit_events SET actor = 'someone_else' WHERE id = :id", {"id": logged}),
           ("UPDATE audit_events SET at = :at WHERE id = :id", {"id": note, "at": "2026-12-24 09:00:00.000000"}))
    broken = chains(deployed)
    assert set(broken) == {first, second}
    assert broken[first] == [f"event {logged} (complaint_logged) was changed after it was written"]


def test_a_deleted_event_breaks_the_chain_in_the_middle_or_at_the_end(deployed, complaints):
    first, second, _ = complaints
    middle = event_ids(deployed, first)[2]
    last = event_ids(deployed, second)[-1]
    tamper(deployed, ("DELETE FROM audit_events WHERE id IN (:middle, :last)", {"middle": middle, "last": last}))
    after, now_last = event_ids(deployed, first)[2], event_ids(deployed, second)[-1]

    result = verify(deployed)
    assert result.exit_code == 1
    assert f"{first}: audit trail: event {after} (" in result.output and "does not follow the event before it" \
        in result.output
    assert f"{second}: audit trail: the trail ends at event {now_last}, before the complaint's last recorded " \
        "event" in result.output
    assert "2 broken audit trail(s)" in result.output


def test_events_swapped_in_order_break_the_chain(deployed, complaints):
    first = complaints[0]
    one, two = event_ids(deployed, first)[1:3]
    tamper(deployed, ("UPDATE audit_events SET id = -1 WHERE id = :one", {"one": one}),
           ("UPDATE audit_events SET id = :one WHERE id = :two", {"one": one, "two": two}),
           ("UPDATE audit_events SET id = :two WHERE id = -1", {"two": two}))
    broken = chains(deployed)
    assert list(broken) == [first]
    assert all("does not follow the event before it" in problem for problem in broken[first])
    assert len(broken[first]) == 3      # both moved events, and the one after them


def test_an_event_inserted_with_its_own_valid_seal_still_breaks_the_chain(deployed, complaints):
    first = complaints[0]
    with deployed.sessions() as session:
        events = session.execute(select(*audit.SEALED_COLUMNS).where(
            AuditEvent.complaint_id == complaint_id(deployed, first)).order_by(AuditEvent.id)).all()
    earlier = events[1]
    forged = {"complaint_id": earlier.complaint_id, "landlord": earlier.landlord, "actor": "olive",
              "type": "deadline_met", "details": {"key": "stage1_response"}, "previous_hash": earlier.hash,
              "at": earlier.at + timedelta(minutes=1)}
    forged["hash"] = audit.seal(forged["complaint_id"], forged["landlord"], forged["at"], forged["actor"],
                                forged["type"], forged["details"], forged["previous_hash"])
    with deployed.engine.begin() as connection:
        connection.execute(AuditEvent.__table__.insert().values(**forged))
    assert list(chains(deployed)) == [first]


def test_a_trail_made_whole_again_resolves_its_incident(deployed, complaints):
    second = complaints[1]
    [note] = event_ids(deployed, second, "note_added")
    with deployed.engine.connect() as connection:
        actor = connection.execute(text("SELECT actor FROM audit_events WHERE id = :id"), {"id": note}).scalar()
    tamper(deployed, ("UPDATE audit_events SET actor = 'nobody' WHERE id = :id", {"id": note}))
    assert verify(deployed).exit_code == 1
    tamper(deployed, ("UPDATE audit_events SET actor = :actor WHERE id = :id", {"actor": actor, "id": note}))

    result = verify(deployed)
    assert result.exit_code == 0, result.output
    assert "1 trail(s) whole again, their incidents resolved" in result.output
    with deployed.sessions() as session:
        assert session.scalars(select(Incident.resolved_at)).one() is not None
    assert [e["type"] for e in deployed.complaints.history(second, audit_reader(deployed))][-2:] == [
        "incident_opened", "incident_resolved"]


def audit_reader(runtime):
    from workflow_app.casework.models import User
    return User(username="admin", roles=["admin"], landlords=["*"], active=True)


def test_a_broken_trail_is_listed_for_the_analysts_beside_the_timer_incidents(deployed, officer, caseworker,
                                                                             database_url):
    from tests.integration.test_caseworker import make_app, sign_in
    from tests.integration.test_clocks import TEST_FORMS, _testshire_with_response_timer
    from workflow_app.casework.deployments import deploy, read_forms
    with deployed.sessions.begin() as session:
        deploy(session, "testshire", _testshire_with_response_timer("working_days_after(acknowledged_at, 9999)"),
               read_forms(TEST_FORMS), "tester")
    reference = log(deployed, officer)
    deployed.tasks.complete(open_task(deployed, reference, "acknowledge"), {"complaint_definition": "Leak"}, caseworker)
    [logged] = event_ids(deployed, reference, "complaint_logged")
    tamper(deployed, ("DELETE FROM audit_events WHERE id = :id", {"id": logged}))
    verify(deployed)
    make_user(deployed, "ana", ["analyst"])
    app = make_app(database_url)
    try:
        web = app.test_client()
        sign_in(web, "ana")
        page = web.get("/analyst/testshire/incidents").get_data(as_text=True)
        timers, trails = page.split("Broken audit trails")
        assert reference in timers and "between 0 and 1000, got 9999" in timers
        assert reference in trails and "does not follow the event before it" in trails
        assert "2 open" in web.get("/analyst/").get_data(as_text=True)
    finally:
        app.extensions["workflow_app"].close()
    # trying the complaint's timers again (which resolves its timer incidents that work again) leaves it listed
    assert deployed.complaints.retry(reference, officer)["failed_timers"] == ["respond1_due"]
    with deployed.sessions() as session:
        assert session.scalars(select(Incident.kind).where(Incident.resolved_at.is_(None))
                               .order_by(Incident.id)).all() == ["timer", AUDIT_TRAIL]


# --- anonymisation re-seals ------------------------------------------------------------------------

def anonymised(deployed, officer, caseworker, virtual_clock) -> str:
    reference = closed_complaint(deployed, officer, caseworker, virtual_clock)
    virtual_clock.set(at("2033-03-02T12:00:00+00:00"))
    assert [d.reference for d in apply_retention(deployed.sessions, deployed.casework, "tester", False)] == [reference]
    return reference


def test_anonymised_complaints_verify_clean(deployed, officer, caseworker, virtual_clock):
    reference = anonymised(deployed, officer, caseworker, virtual_clock)
    [completed, *_] = event_ids(deployed, reference, "task_completed")
    with deployed.sessions() as session:
        assert session.get(AuditEvent, completed).details["data"] == "[anonymised]"
    result = verify(deployed)
    assert result.exit_code == 0, result.output
    history = deployed.complaints.history(reference, officer)
    assert history[-1]["type"] == "anonymised" and "trail_broken" not in history[-1]


def test_an_edit_to_an_anonymised_complaints_events_still_shows(deployed, officer, caseworker, virtual_clock):
    reference = anonymised(deployed, officer, caseworker, virtual_clock)
    [completed, *_] = event_ids(deployed, reference, "task_completed")
    tamper(deployed, ("UPDATE audit_events SET details = :details WHERE id = :id",
                      {"details": '{"task_id": "x", "data": "[anonymised]", "stage": "2"}', "id": completed}))
    assert chains(deployed) == {reference: [f"event {completed} (task_completed) was changed after it was written"]}


def test_anonymising_a_broken_trail_does_not_hide_the_break(deployed, officer, caseworker, virtual_clock):
    reference = closed_complaint(deployed, officer, caseworker, virtual_clock)
    [completed, *_] = event_ids(deployed, reference, "task_completed")
    tamper(deployed, ("UPDATE audit_events SET actor = 'nobody' WHERE id = :id", {"id": completed}))
    virtual_clock.set(at("2033-03-02T12:00:00+00:00"))
    apply_retention(deployed.sessions, deployed.casework, "tester", False)

    [problem] = chains(deployed)[reference]
    assert problem.startswith("the trail was already broken when it was anonymised") and f"event {completed}" \
        in problem
    assert verify(deployed).exit_code == 1


# --- two appends at once ---------------------------------------------------------------------------

def test_a_second_append_after_the_same_head_is_refused(deployed, complaints, caseworker):
    """Two transactions read the same chain head; the one that writes second is refused, whenever it commits."""
    reference = complaints[0]
    notes = CaseRecord(deployed.sessions, deployed.casework)
    with deployed.sessions() as slow:
        complaint = slow.scalars(select(Complaint).where(Complaint.reference == reference)).one()
        notes.add_note(reference, "Written first.", caseworker)
        audit.record(slow, complaint, "record_exported", caseworker.username, bytes=1)
        with pytest.raises(StaleDataError, match="added to by another action"):
            slow.commit()
    assert chains(deployed) == {}
    assert [e["type"] for e in deployed.complaints.history(reference, caseworker)][-1] == "note_added"


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)   # SQLite lets one writer in at a time
def test_two_concurrent_appends_on_postgresql_never_fork_the_chain(deployed, complaints):
    reference = complaints[0]
    people = [make_user(deployed, name, ["caseworker"]) for name in ("cara", "cody", "cleo", "cyd")]
    notes = CaseRecord(deployed.sessions, deployed.casework)
    barrier, outcomes = threading.Barrier(len(people)), []

    def add_note(user):
        barrier.wait()
        try:
            notes.add_note(reference, f"Note by {user.username}.", user)
            outcomes.append("done")
        except Conflict as error:
            outcomes.append(str(error))

    for _ in range(5):
        threads = [threading.Thread(target=add_note, args=(user,)) for user in people]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert outcomes.count("done") >= 5       # at least one of each round
    assert all(o == "done" or "same moment" in o for o in outcomes)
    assert len(event_ids(deployed, reference, "note_added")) == outcomes.count("done")
    with deployed.sessions() as session:
        forks = session.execute(select(AuditEvent.previous_hash).where(AuditEvent.complaint_id.is_not(None))
                                .group_by(AuditEvent.complaint_id, AuditEvent.previous_hash)
                                .having(func.count() > 1)).all()
    assert forks == [] and chains(deployed) == {}


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)   # SQLite lets one writer in at a time
def test_on_postgresql_the_second_append_waits_for_the_first_then_is_refused(deployed, complaints):
    reference = complaints[0]
    first = deployed.sessions()
    complaint = first.scalars(select(Complaint).where(Complaint.reference == reference)).one()
    audit.record(first, complaint, "record_exported", "first", bytes=1)
    audit.history(first, complaint)             # written, the head moved and its row locked, not committed
    refused = []

    def second():
        with deployed.sessions() as session:
            other = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
            audit.record(session, other, "record_exported", "second", bytes=2)
            try:
                session.commit()
            except StaleDataError as error:
                refused.append(error)

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive()                    # waiting for the first's lock on the complaint row
    first.commit()
    first.close()
    thread.join()
    assert len(refused) == 1 and "added to by another action" in str(refused[0])
    assert chains(deployed) == {}


# --- the migration seals what was recorded before it -----------------------------------------------

def test_the_migration_seals_the_recorded_events_exactly_as_the_app_does(deployed, complaints, officer, caseworker,
                                                                          virtual_clock, monkeypatch):
    import importlib.util

    from alembic import command

    from workflow_app.casework.db import MIGRATIONS, alembic_config
    anonymised(deployed, officer, caseworker, virtual_clock)
    with deployed.sessions() as session:
        sealed = session.execute(select(AuditEvent.id, AuditEvent.previous_hash, AuditEvent.hash)
                                 .order_by(AuditEvent.id)).all()
        heads = session.execute(select(Complaint.id, Complaint.audit_head).order_by(Complaint.id)).all()

    with deployed.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0012_email_outbox")
    with deployed.engine.begin() as connection:
        command.upgrade(alembic_config(connection), "head")

    def now_sealed():
        with deployed.sessions() as session:
            return (session.execute(select(AuditEvent.id, AuditEvent.previous_hash, AuditEvent.hash)
                                    .order_by(AuditEvent.id)).all(),
                    session.execute(select(Complaint.id, Complaint.audit_head).order_by(Complaint.id)).all())
    assert now_sealed() == (sealed, heads)

    # in batches smaller than one complaint's trail, across the boundaries
    spec = importlib.util.spec_from_file_location("audit_chain_migration",
                                                  MIGRATIONS / "versions" / "0013_audit_chain.py")
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    monkeypatch.setattr(migration, "BATCH", 3)
    with deployed.engine.begin() as connection:
        connection.execute(update(AuditEvent.__table__).values(previous_hash=None, hash=None))
        connection.execute(update(Complaint.__table__).values(audit_head=None))
        migration.seal_recorded_events(connection)
    assert now_sealed() == (sealed, heads)
    assert verify(deployed).exit_code == 0
