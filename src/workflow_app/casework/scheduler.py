"""The scheduler: wakes complaints whose earliest timer is due.

A sweep reads only instances whose indexed `next_due_at` has passed (one indexed
query), fires each in its own transaction and saves it. Two sweeps at once cannot fire
one timer twice: PostgreSQL skips rows another sweep has locked, and on every backend
the instance's revision counter refuses the second writer.

After each sweep the scheduler runs the jobs it was given (`after_sweep`): the web app and
the scheduler process give it the read side's refresh (`reporting.projections`), so the
managers' pages read figures brought up to date here, never written by a page view.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import select

from workflow_app.casework.complaints import ComplaintService
from workflow_app.casework.models import WorkflowInstance
from workflow_app.rules import clock

log = logging.getLogger(__name__)
SWEEP_SECONDS = 30
BATCH = 200


def due_instances(service: ComplaintService, limit: int = BATCH) -> list[int]:
    with service.sessions() as session:
        return list(session.scalars(
            select(WorkflowInstance.complaint_id)
            .where(WorkflowInstance.next_due_at < clock.now())
            .order_by(WorkflowInstance.next_due_at)
            .limit(limit)
        ))


def sweep(service: ComplaintService, limit: int = BATCH) -> int:
    """Fire every due timer once; returns how many complaints were moved."""
    fired = 0
    for complaint_id in due_instances(service, limit):
        try:
            if service.fire_due_timers(complaint_id):
                fired += 1
        except Exception:
            log.exception("timer sweep failed for complaint id %s; it stays due and is retried", complaint_id)
    if fired:
        log.info("timer sweep moved %d complaint(s)", fired)
    return fired


def sweep_job(service: ComplaintService, run_clock: clock.Clock,
              after_sweep: Sequence[Callable[[], object]] = ()) -> Callable[[], int]:
    """A sweep for the scheduler's own threads, reading the runtime's clock (the system clock in production),
    then each job to run after a sweep."""
    def job() -> int:
        with clock.using(run_clock):
            fired = sweep(service)
            for after in after_sweep:
                try:
                    after()
                except Exception:
                    log.exception("a job after the timer sweep failed; it runs again after the next sweep")
            return fired
    return job


def start_background(service: ComplaintService, run_clock: clock.Clock = clock.SYSTEM,
                     seconds: int = SWEEP_SECONDS,
                     after_sweep: Sequence[Callable[[], object]] = ()) -> BackgroundScheduler:
    """Run sweeps inside the web process (the default for a single-process install)."""
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(sweep_job(service, run_clock, after_sweep), "interval", seconds=seconds, max_instances=1,
                      coalesce=True, id="timer-sweep")
    scheduler.start()
    return scheduler


def run_forever(service: ComplaintService, run_clock: clock.Clock = clock.SYSTEM,
                seconds: int = SWEEP_SECONDS, after_sweep: Sequence[Callable[[], object]] = ()) -> None:
    """Run sweeps as a standalone process (`workflow-app scheduler`)."""
    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(sweep_job(service, run_clock, after_sweep), "interval", seconds=seconds, max_instances=1,
                      coalesce=True, id="timer-sweep")
    log.info("scheduler sweeping every %d s", seconds)
    scheduler.start()
