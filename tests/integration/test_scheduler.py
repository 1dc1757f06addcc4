"""The timer scheduler: when it wakes, what wakes it early, how a sweep works through a burst, who runs it."""
from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select, update

from tests.conftest import FORMS, PROCESSES
from tests.support.bulk import clone_complaint
from workflow_app.casework.complaints import ComplaintService
from workflow_app.casework.engine import Casework
from workflow_app.casework.models import AuditEvent, WorkflowInstance
from workflow_app.casework.scheduler import DUE, Scheduler, earliest_deadline, seconds_until, sweep, sweep_until_done
from workflow_app.rules import clock

RECEIVED = "2026-12-23T16:30:00+00:00"
ACKNOWLEDGE_BY = datetime(2027, 1, 4, 23, 59, 59, tzinfo=UTC)   # testshire: 5 working days after RECEIVED
AFTER = ACKNOWLEDGE_BY + timedelta(seconds=1)


def log(runtime, user) -> str:
    return runtime.complaints.log_complaint({
        "landlord": "testshire", "received_at": RECEIVED, "channel": "email", "category": "other",
        "summary": "Timer", "resident": {"name": "A Resident"}}, user)


def timers_fired(runtime) -> Counter[int]:
    with runtime.sessions() as session:
        return Counter(session.scalars(select(AuditEvent.complaint_id).where(AuditEvent.type == "timer_fired")))


def eventually(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# --- when it wakes --------------------------------------------------------------------------

def test_it_sleeps_until_just_after_the_next_deadline_and_never_longer_than_its_cap():
    now = datetime(2027, 1, 4, 23, 59, 50, tzinfo=UTC)
    assert seconds_until(None, now, 30) == 30                                   # nothing waits: the cap
    assert seconds_until(ACKNOWLEDGE_BY, now, 30) == pytest.approx(9.001)       # due means strictly after
    assert seconds_until(ACKNOWLEDGE_BY, now, 5) == 5                           # too far off: the cap
    assert seconds_until(ACKNOWLEDGE_BY, AFTER, 30) == 0                        # already due: at once


def test_the_next_deadline_leaves_out_what_the_last_sweep_left_behind(deployed, officer, virtual_clock):
    log(deployed, officer)
    assert earliest_deadline(deployed.complaints, virtual_clock.now()) == ACKNOWLEDGE_BY
    assert earliest_deadline(deployed.complaints, AFTER) is None   # due before that sweep began: the next one's


def test_an_earlier_deadline_armed_in_this_process_wakes_the_scheduler(deployed, officer, virtual_clock):
    virtual_clock.set(ACKNOWLEDGE_BY - timedelta(seconds=1))
    scheduler = Scheduler(deployed.complaints, virtual_clock, longest=600).start()
    try:
        assert eventually(lambda: scheduler.wake_at == virtual_clock.now() + timedelta(seconds=600))

        log(deployed, officer)            # its acknowledgement falls due in a second of the scheduler's clock

        assert eventually(lambda: scheduler.wake_at == ACKNOWLEDGE_BY + DUE), scheduler.wake_at
        earlier = ACKNOWLEDGE_BY - timedelta(milliseconds=500)
        with deployed.engine.begin() as connection:      # a write of its own, not through the ORM, is seen too
            connection.execute(update(WorkflowInstance.__table__).values(next_due_at=earlier))
        assert eventually(lambda: scheduler.wake_at == earlier + DUE), scheduler.wake_at
        assert timers_fired(deployed) == Counter()
        virtual_clock.set(AFTER)
        assert eventually(lambda: sum(timers_fired(deployed).values()) == 1)
    finally:
        scheduler.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_while_deadlines_keep_falling_due_the_after_sweep_jobs_run_once_a_second_and_at_once_when_they_stop(
        runtime, monkeypatch):
    """Deadlines 0.1 s apart wake it ten times a second; the jobs after a sweep (about 30 ms of read-side
    refresh and notifications) ran after each of those sweeps, and now at most once a second."""
    from workflow_app.casework import scheduler as scheduling

    class RealTime:
        def now(self) -> datetime:
            return datetime.now(UTC)

    keep_coming = threading.Event()
    keep_coming.set()
    sweeps: list[float] = []
    jobs: list[float] = []
    monkeypatch.setattr(scheduling, "sweep_until_done",
                        lambda service: sweeps.append(time.monotonic()) or scheduling.Swept(1, True))
    monkeypatch.setattr(scheduling, "earliest_deadline", lambda service, since:
                        datetime.now(UTC) + timedelta(seconds=0.1) if keep_coming.is_set() else None)
    scheduler = Scheduler(runtime.complaints, RealTime(), longest=600,
                          after_sweep=[lambda: jobs.append(time.monotonic())]).start()
    try:
        time.sleep(2.5)
        swept_meanwhile, ran_meanwhile = len(sweeps), len(jobs)
        keep_coming.clear()
        stopped = time.monotonic()
        assert eventually(lambda: jobs and jobs[-1] > stopped, seconds=2)
    finally:
        scheduler.stop()

    assert swept_meanwhile >= 10
    assert 2 <= ran_meanwhile <= 4, (swept_meanwhile, ran_meanwhile)      # as it starts, then once a second
    assert jobs[-1] - stopped < 0.5


# --- a sweep through a burst ----------------------------------------------------------------

def test_a_sweep_keeps_going_past_one_batch_while_timers_are_due(deployed, officer, virtual_clock):
    first = log(deployed, officer)
    clone_complaint(deployed.engine, first, 6)
    virtual_clock.set(AFTER)

    assert sweep(deployed.complaints, limit=3) == 7
    fired = timers_fired(deployed)
    assert len(fired) == 7 and set(fired.values()) == {1}


def test_a_complaint_that_fails_is_left_for_the_next_sweep_and_holds_up_no_other(deployed, officer, virtual_clock,
                                                                               monkeypatch):
    first = log(deployed, officer)
    clone_complaint(deployed.engine, first, 4)
    with deployed.sessions() as session:
        broken = session.scalar(select(func.min(WorkflowInstance.complaint_id)))
    original = ComplaintService.fire_due_timers

    def fire(service, complaint_id):
        if complaint_id == broken:
            raise RuntimeError("a broken instance")
        return original(service, complaint_id)

    monkeypatch.setattr(ComplaintService, "fire_due_timers", fire)
    virtual_clock.set(AFTER)

    swept = sweep_until_done(deployed.complaints, limit=2)
    assert swept.moved == 4 and swept.finished
    assert broken not in timers_fired(deployed)


def sweep_in_two_threads(runtime, virtual_clock) -> dict[str, int]:
    """Two sweeps at once, as two schedulers would (threads here: processes in tests/integration/
    test_service_processes.py); returns how many complaints each moved."""
    barrier = threading.Barrier(2)
    moved: dict[str, int] = {}

    def run():
        with clock.using(virtual_clock):
            barrier.wait()
            moved[threading.current_thread().name] = sweep(runtime.complaints)

    threads = [threading.Thread(target=run, name=name) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return moved


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_sweeps_at_once_split_a_burst_on_postgresql(deployed, officer, virtual_clock, monkeypatch):
    first = log(deployed, officer)
    clone_complaint(deployed.engine, first, 119)
    virtual_clock.set(AFTER)
    tried: list[tuple[str, int]] = []
    original = ComplaintService.fire_due_timers

    def fire(service, complaint_id):
        tried.append((threading.current_thread().name, complaint_id))
        return original(service, complaint_id)

    monkeypatch.setattr(ComplaintService, "fire_due_timers", fire)

    moved = sweep_in_two_threads(deployed, virtual_clock)

    assert sum(moved.values()) == 120 and all(moved.values()), moved
    by_complaint = Counter(complaint_id for _, complaint_id in tried)
    assert len(by_complaint) == 120 and set(by_complaint.values()) == {1}   # no complaint tried by both
    fired = timers_fired(deployed)
    assert len(fired) == 120 and set(fired.values()) == {1}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_two_sweeps_at_once_split_a_burst_on_sqlite_and_rarely_work_out_the_same_firing(
        deployed, officer, virtual_clock, monkeypatch):
    """SQLite has no row locks to skip: both sweeps read the same batch. Each works through it in an order of its
    own, so they seldom both run the engine for one complaint (in the same order, they did so for most)."""
    first = log(deployed, officer)
    clone_complaint(deployed.engine, first, 119)
    virtual_clock.set(AFTER)
    worked_out: list[int] = []
    original = Casework.act

    def act(casework, session, complaint, *rest, **options):
        worked_out.append(complaint.id)
        return original(casework, session, complaint, *rest, **options)

    monkeypatch.setattr(Casework, "act", act)

    moved = sweep_in_two_threads(deployed, virtual_clock)

    assert sum(moved.values()) == 120 and all(moved.values()), moved
    fired = timers_fired(deployed)
    assert len(fired) == 120 and set(fired.values()) == {1}
    assert len(worked_out) <= 132, f"{len(worked_out) - 120} firings worked out twice and thrown away"


# --- who runs it ----------------------------------------------------------------------------

@pytest.fixture
def environment(tmp_path, monkeypatch):
    for name in ("RUN_SCHEDULER", "DATABASE_URL", "NOW"):
        monkeypatch.delenv(f"WORKFLOW_APP_{name}", raising=False)
    monkeypatch.setenv("WORKFLOW_APP_SECRET_KEY", "a-long-random-value")
    monkeypatch.setenv("WORKFLOW_APP_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("WORKFLOW_APP_PROCESSES", str(PROCESSES))
    monkeypatch.setenv("WORKFLOW_APP_FORMS", str(FORMS))


def test_a_web_worker_runs_no_scheduler_by_default(environment):
    from workflow_app.web import create_app
    app = create_app()     # as gunicorn builds it: `workflow_app.web:create_app()`
    try:
        assert app.config["RUN_SCHEDULER"] is False and "workflow_app_scheduler" not in app.extensions
    finally:
        app.extensions["workflow_app"].close()


def test_serve_runs_the_scheduler_in_its_own_process(environment, monkeypatch):
    served = {}

    def run(app, **kwargs):
        served["scheduler"] = app.extensions.get("workflow_app_scheduler")
        if served["scheduler"] is not None:
            served["scheduler"].stop()
        app.extensions["workflow_app"].close()

    monkeypatch.setattr(Flask, "run", run)
    from workflow_app.tools.cli import main
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 0, result.output
    assert isinstance(served["scheduler"], Scheduler)
