"""The scheduler: fires each complaint's timer on the second it falls due.

It sleeps until the earliest `next_due_at` among waiting instances (one indexed query), and
never longer than `LONGEST_SLEEP`: so the jobs after a sweep (`after_sweep`: the web app and
the scheduler process give it the read side's refresh, `reporting.projections`) still run
regularly, and a deadline armed where no signal reaches is still seen within that time. It
is woken early when a transaction arms an earlier deadline: in its own process by the
committing transaction (`watch_deadlines`), and on PostgreSQL from any process by a `NOTIFY`
sent in that transaction, which the scheduler `LISTEN`s for on a connection of its own. A
lost signal costs at most one capped sleep.

A sweep keeps going while timers are due, a batch at a time, for at most `SWEEP_BUDGET`
seconds before it lets the after-sweep jobs run and looks again. After a sweep that moved
complaints the jobs run when nothing more falls due within `AFTER_SWEEP_EVERY`, else once that
long has passed (not after each sweep of deadlines a fraction of a second apart).

On SQLite each complaint fires in its own transaction, and each scheduler works through a
batch in an order of its own: SQLite has no row locks to skip, so two schedulers reading the
same batch in the same order would both work out the same complaint's firing and one would
throw it away, every time (two schedulers were slower than one); in orders of their own they
rarely meet, and a complaint the other has fired costs one read. On PostgreSQL a sweep claims a few due instances with
`SELECT … FOR UPDATE SKIP LOCKED` and fires them inside that claim (each in a savepoint), so
several schedulers split a burst of deadlines due at the same 23:59:59 instead of queuing on
the same oldest rows. No timer fires twice: a claimed row is invisible to every other sweep,
and on every backend the instance's revision counter refuses a second writer.

Companions run beside it from its start to its stop, in threads of their own: the outbox's
sender (`casework.outbox`), which sends the letters' email once their transactions commit.
"""
from __future__ import annotations

import logging
import random
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, Self

from sqlalchemy import Connection, Engine, and_, event, func, or_, select
from sqlalchemy.orm import sessionmaker

from workflow_app.casework.complaints import ComplaintService
from workflow_app.casework.models import WorkflowInstance
from workflow_app.rules import clock

log = logging.getLogger(__name__)

LONGEST_SLEEP = 30.0
"""Seconds the scheduler sleeps at most, however far off the next deadline is."""
BATCH = 200
"""Due instances a sweep reads at a time on SQLite."""
CLAIM = 20
"""Due instances a sweep claims at a time on PostgreSQL: their timers commit together, so a claim is kept short."""
SWEEP_BUDGET = 10.0
"""Seconds a sweep works through a burst before the after-sweep jobs run and it carries on."""
AFTER_SWEEP_EVERY = 1.0
"""Seconds the after-sweep jobs may wait after a sweep moved complaints while more timers keep falling due
(deadlines a fraction of a second apart wake the scheduler for each, and the jobs, about 30 ms, ran after every
sweep); they run at once when the next deadline is further off."""
AFTER_FAILURE = 5.0
"""Seconds the scheduler waits after a sweep failed (the database gone, say) before it tries again."""
DUE = timedelta(milliseconds=1)
"""A timer is due strictly after its instant: the scheduler wakes this long after it."""
CHANNEL = "workflow_app_deadlines"
"""The PostgreSQL notification channel on which an earlier deadline is announced."""


# --- the sweep ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Swept:
    moved: int
    finished: bool
    """False when the sweep stopped at its budget with timers still due."""


def due_instances(service: ComplaintService, limit: int = BATCH) -> list[int]:
    """The complaints whose earliest timer is due, oldest first."""
    with service.sessions() as session:
        return list(session.scalars(
            select(WorkflowInstance.complaint_id)
            .where(WorkflowInstance.next_due_at < clock.now())
            .order_by(WorkflowInstance.next_due_at)
            .limit(limit)
        ))


def sweep(service: ComplaintService, limit: int = BATCH, budget: float = SWEEP_BUDGET) -> int:
    """Fire every due timer once; returns how many complaints were moved."""
    return sweep_until_done(service, limit, budget).moved


def sweep_until_done(service: ComplaintService, limit: int = BATCH, budget: float = SWEEP_BUDGET) -> Swept:
    """Fire due timers a batch at a time until none is due or `budget` seconds have gone.

    Each batch starts after the last one (by due time, then complaint id), so a complaint
    that could not be moved (its sweep failed, or a person's action got there first) is left
    for the next sweep instead of being tried again and again in this one."""
    started = time.monotonic()
    postgres = _dialect(service) == "postgresql"
    size = min(limit, CLAIM) if postgres else limit
    moved, after = 0, None
    while True:
        if postgres:
            taken, fired = _claim_and_fire(service, size, after)
        else:
            taken = _due(service, size, after)
            fired = _fire_in_an_order_of_its_own(service, taken)
        moved += fired
        if len(taken) < size:
            finished = True
            break
        after = taken[-1]
        if time.monotonic() - started >= budget:
            finished = False
            break
    if moved:
        log.info("timer sweep moved %d complaint(s)", moved)
    return Swept(moved, finished)


def _due_query(limit: int, after: tuple[datetime, int] | None):
    query = select(WorkflowInstance.next_due_at, WorkflowInstance.complaint_id) \
        .where(WorkflowInstance.next_due_at < clock.now())
    if after is not None:
        due_at, complaint_id = after
        query = query.where(or_(WorkflowInstance.next_due_at > due_at,
                                and_(WorkflowInstance.next_due_at == due_at,
                                     WorkflowInstance.complaint_id > complaint_id)))
    return query.order_by(WorkflowInstance.next_due_at, WorkflowInstance.complaint_id).limit(limit)


def _due(service: ComplaintService, limit: int, after: tuple[datetime, int] | None) -> list[tuple[datetime, int]]:
    with service.sessions() as session:
        return [tuple(row) for row in session.execute(_due_query(limit, after))]


def _fire_in_an_order_of_its_own(service: ComplaintService, taken: list[tuple[datetime, int]]) -> int:
    """SQLite: fire the batch's complaints in this scheduler's own order, a few at a time, leaving out those another
    scheduler has fired meanwhile (one read for the few, rather than one failed firing each). The batch is already
    due, so its order changes no timer's lateness by more than the batch takes. The module's generator is seeded
    afresh in each process, a forked one included."""
    complaint_ids = [complaint_id for _, complaint_id in taken]
    random.shuffle(complaint_ids)
    fired = 0
    for start in range(0, len(complaint_ids), CLAIM):
        fired += sum(_fire(service, complaint_id) for complaint_id in
                     _still_due(service, complaint_ids[start:start + CLAIM]))
    return fired


def _still_due(service: ComplaintService, complaint_ids: list[int]) -> list[int]:
    with service.sessions() as session:
        due = set(session.scalars(select(WorkflowInstance.complaint_id).where(
            WorkflowInstance.complaint_id.in_(complaint_ids), WorkflowInstance.next_due_at < clock.now())))
    return [complaint_id for complaint_id in complaint_ids if complaint_id in due]


def _claim_and_fire(service: ComplaintService, limit: int,
                    after: tuple[datetime, int] | None) -> tuple[list[tuple[datetime, int]], int]:
    """PostgreSQL: lock up to `limit` due instances no other sweep holds, and fire them in that transaction."""
    with service.sessions() as claim, claim.begin():
        taken = [tuple(row) for row in claim.execute(_due_query(limit, after).with_for_update(skip_locked=True))]
        if not taken:
            return taken, 0
        # The same service on the claim's connection: each firing is a savepoint inside the claim.
        inside = ComplaintService(sessionmaker(bind=claim.connection(), join_transaction_mode="create_savepoint",
                                               expire_on_commit=False), service.casework)
        return taken, sum(_fire(inside, complaint_id) for _, complaint_id in taken)


def _fire(service: ComplaintService, complaint_id: int) -> bool:
    try:
        return service.fire_due_timers(complaint_id)
    except Exception:
        log.exception("timer sweep failed for complaint id %s; it stays due and is retried", complaint_id)
        return False


def earliest_deadline(service: ComplaintService, since: datetime) -> datetime | None:
    """The earliest `next_due_at` from `since` on (what was due before it, the last sweep left to the next)."""
    with service.sessions() as session:
        return session.scalar(select(func.min(WorkflowInstance.next_due_at))
                              .where(WorkflowInstance.next_due_at >= since))


def seconds_until(next_due: datetime | None, now: datetime, longest: float = LONGEST_SLEEP) -> float:
    """How long to sleep: until just after the next deadline falls due, and at most `longest`."""
    if next_due is None:
        return longest
    return min(max((next_due + DUE - now).total_seconds(), 0.0), longest)


def sweep_job(service: ComplaintService, run_clock: clock.Clock,
              after_sweep: Sequence[Callable[[], object]] = ()) -> Callable[[], int]:
    """One sweep on a thread of its own, reading the runtime's clock (the system clock in production), then
    each job to run after a sweep; returns how many complaints moved."""
    def job() -> int:
        with clock.using(run_clock):
            moved = sweep(service)
            _run_after(after_sweep)
            return moved
    return job


def _run_after(after_sweep: Sequence[Callable[[], object]]) -> None:
    for after in after_sweep:
        try:
            after()
        except Exception:
            log.exception("a job after the timer sweep failed; it runs again after the next sweep")


# --- waking early ---------------------------------------------------------------------------

_ARMED = "workflow_app_armed"
_FOREVER = datetime.max.replace(tzinfo=UTC)
_INSTANCES = WorkflowInstance.__table__
_awake: weakref.WeakSet[Scheduler] = weakref.WeakSet()


def watch_deadlines(engine: Engine) -> None:
    """Let the schedulers know when a transaction on `engine` arms a deadline earlier than they would wake.

    Whatever writes `next_due_at` (an ORM flush or an UPDATE of its own), the statement is
    seen as it runs; as the transaction commits, each scheduler running in this process is
    told, and on PostgreSQL a deadline due within `LONGEST_SLEEP` is announced with `NOTIFY`
    in that very transaction, so every process's schedulers hear of it when (and only if)
    it commits."""
    event.listen(engine, "after_cursor_execute", _note_armed)
    event.listen(engine, "commit", _announce_armed)
    event.listen(engine, "rollback", _forget_armed)


def _note_armed(connection: Connection, _cursor, _statement, _parameters, context, _executemany) -> None:
    compiled = getattr(context, "compiled", None)
    if compiled is None or getattr(compiled.statement, "table", None) is not _INSTANCES \
            or not (context.isinsert or context.isupdate):
        return
    armed = [due for due in (p.get("next_due_at") for p in context.compiled_parameters) if isinstance(due, datetime)]
    if armed:
        earliest = min(armed)
        noted = connection.info.get(_ARMED)
        connection.info[_ARMED] = earliest if noted is None else min(noted, earliest)


def _announce_armed(connection: Connection) -> None:
    earliest = connection.info.pop(_ARMED, None)
    if earliest is None:
        return
    if connection.dialect.name == "postgresql" and earliest < clock.now() + timedelta(seconds=LONGEST_SLEEP):
        cursor = connection.connection.cursor()     # the driver's own cursor: no statement events again
        try:
            cursor.execute(f"NOTIFY {CHANNEL}")
        finally:
            cursor.close()
    for scheduler in list(_awake):
        scheduler.deadline_armed(earliest)


def _forget_armed(connection: Connection) -> None:
    """A connection the server dropped has no note to forget (its pool record clears its `info` as it
    reconnects), and reading `info` there would raise instead of letting the rollback finish."""
    if not connection.invalidated:
        connection.info.pop(_ARMED, None)


class Listener(threading.Thread):
    """PostgreSQL: calls `wake` on each notification on `channel`, from any process (the scheduler listens
    for earlier deadlines, the outbox's sender for new email)."""

    def __init__(self, engine: Engine, wake: Callable[[], None], stopping: threading.Event,
                 channel: str = CHANNEL, name: str = "timer-scheduler-listener",
                 news: str = "earlier deadlines") -> None:
        super().__init__(name=name, daemon=True)
        self.engine, self.wake, self.stopping, self.channel, self.news = engine, wake, stopping, channel, news

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._listen()
            except Exception as error:
                log.warning("listening for %s failed (%s); the capped sleep still applies, trying again",
                            self.news, type(error).__name__)
                self.stopping.wait(AFTER_FAILURE)

    def _listen(self) -> None:
        dialect = self.engine.dialect
        arguments, options = dialect.create_connect_args(self.engine.url)
        connection = dialect.loaded_dbapi.connect(*arguments, **options)
        try:
            connection.autocommit = True
            connection.execute(f"LISTEN {self.channel}")
            log.info("listening for %s on %s", self.news, self.channel)
            self.wake()   # whatever was announced while nobody listened is looked at now
            while not self.stopping.is_set():
                for _ in connection.notifies(timeout=1.0):
                    self.wake()
        finally:
            connection.close()


# --- the scheduler --------------------------------------------------------------------------

class Companion(Protocol):
    """Work that runs beside the scheduler in threads of its own, started and stopped with it (the
    outbox's sender: `casework.outbox.OutboxSender`)."""

    def start(self) -> object: ...

    def stop(self, timeout: float = 30.0) -> None: ...


class Loop:
    """A loop on a thread of its own (`run`), woken early through `_wake`, stopped through `_stopping`, with the
    thread that LISTENs for its wake-ups on PostgreSQL (`listener`) when it has one."""

    thread_name = "loop"

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.listener: Listener | None = None

    def run(self) -> None:
        raise NotImplementedError

    def start(self) -> Self:
        """Run in a background thread of this process."""
        self._thread = threading.Thread(target=self.run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        self._wake.set()
        for thread in (self._thread, self.listener):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout)


class Scheduler(Loop):
    """Sweeps when the next timer falls due (or is woken), runs the after-sweep jobs, and sleeps again;
    its companions run beside it from its start to its stop."""

    thread_name = "timer-scheduler"

    def __init__(self, service: ComplaintService, run_clock: clock.Clock = clock.SYSTEM,
                 longest: float = LONGEST_SLEEP, after_sweep: Sequence[Callable[[], object]] = (),
                 companions: Sequence[Companion] = ()) -> None:
        super().__init__()
        self.service = service
        self.clock = run_clock
        self.longest = longest
        self.after_sweep = tuple(after_sweep)
        self.companions = tuple(companions)
        self.wake_at: datetime | None = None
        """When it means to wake; a deadline armed in this process before then wakes it."""
        self._armed: datetime | None = None
        self._lock = threading.Lock()

    def deadline_armed(self, due_at: datetime) -> None:
        """A transaction in this process is committing a deadline due at `due_at`: wake now if that is earlier
        than planned, and remember it (its commit may not be visible yet when the scheduler next looks)."""
        with self._lock:
            self._armed = due_at if self._armed is None else min(self._armed, due_at)
        planned = self.wake_at
        if planned is not None and due_at < planned:
            self._wake.set()

    def run(self) -> None:
        """Sweep and sleep until stopped (in this thread).

        A signal is cleared only as a sweep begins, so one that arrives while it sweeps or
        plans makes it look again at once instead of sleeping."""
        with clock.using(self.clock):
            _awake.add(self)
            engine = _engine(self.service)
            if engine.dialect.name == "postgresql":
                self.listener = Listener(engine, self._wake.set, self._stopping)
                self.listener.start()
            for companion in self.companions:
                companion.start()
            refresh_due = time.monotonic()
            owed_since: float | None = None     # when a sweep first moved complaints since the jobs last ran
            try:
                while True:
                    self._wake.clear()
                    if self._stopping.is_set():
                        break
                    started = clock.now()
                    # While it sweeps, what is armed from `started` on its planning sees; anything earlier wakes it.
                    self.wake_at = started
                    try:
                        sweeping_since = time.monotonic()
                        swept = sweep_until_done(self.service)
                        if swept.moved and owed_since is None:
                            owed_since = sweeping_since
                        pause = self._plan(started) if swept.finished else 0.0
                        now = time.monotonic()
                        owed = owed_since is not None and (pause >= AFTER_SWEEP_EVERY
                                                           or now - owed_since >= AFTER_SWEEP_EVERY)
                        if owed or now >= refresh_due:
                            _run_after(self.after_sweep)
                            owed_since, refresh_due = None, time.monotonic() + self.longest
                            pause = self._left_of(pause)
                        if not swept.finished:
                            continue
                    except Exception:
                        log.exception("the timer sweep failed; trying again in %s s", AFTER_FAILURE)
                        pause = AFTER_FAILURE
                    self._wake.wait(pause)
            finally:
                _awake.discard(self)
                self._stopping.set()
                for companion in self.companions:
                    companion.stop()

    def _left_of(self, pause: float) -> float:
        """What is left of a planned pause after the after-sweep jobs took their time."""
        if self.wake_at is None or pause <= 0:
            return pause
        return min(max((self.wake_at - clock.now()).total_seconds(), 0.0), pause)

    def _plan(self, swept_from: datetime) -> float:
        """Seconds until the next deadline after the sweep that started at `swept_from` (what fell due since
        then is swept at once; what was due before, that sweep left to the next)."""
        self.wake_at = _FOREVER          # while it looks, anything armed wakes it
        found = earliest_deadline(self.service, swept_from)
        with self._lock:                 # taken after looking: what was committing as it looked counts too
            armed, self._armed = self._armed, None
        pause = seconds_until(min((due for due in (found, armed) if due is not None), default=None), clock.now(),
                              self.longest)
        self.wake_at = clock.now() + timedelta(seconds=pause)
        return pause



def start_background(service: ComplaintService, run_clock: clock.Clock = clock.SYSTEM,
                     longest: float = LONGEST_SLEEP, after_sweep: Sequence[Callable[[], object]] = (),
                     companions: Sequence[Companion] = ()) -> Scheduler:
    """Run the scheduler in a thread of this process (`workflow-app serve`, a single-process install)."""
    return Scheduler(service, run_clock, longest, after_sweep, companions).start()


def run_forever(service: ComplaintService, run_clock: clock.Clock = clock.SYSTEM,
                longest: float = LONGEST_SLEEP, after_sweep: Sequence[Callable[[], object]] = (),
                companions: Sequence[Companion] = ()) -> None:
    """Run the scheduler as a process of its own (`workflow-app scheduler`) until interrupted."""
    scheduler = Scheduler(service, run_clock, longest, after_sweep, companions)
    log.info("scheduler running: it sleeps until the next timer is due, at most %s s", longest)
    try:
        scheduler.run()
    except KeyboardInterrupt:
        scheduler.stop()


def _engine(service: ComplaintService) -> Engine:
    with service.sessions() as session:
        return session.get_bind()


def _dialect(service: ComplaintService) -> str:
    return _engine(service).dialect.name
