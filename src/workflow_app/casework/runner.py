"""Complaints through time: the one runner the simulator, Try it, the demo's history and the test data use.

A run has its own virtual clock, entered only for the code inside `with ComplaintRun(...)`
(a context variable: the rest of the process, the timer sweep's threads included, keeps the
real time). Moving the clock fires every timer due on the way, in order, with the product's
own sweep; people log complaints, complete tasks and raise events through the product's own
services; and the letters the Code requires are sent as a caseworker must: before the next
task, always, and, when the run says so, as soon as the step that drafted them is done.
Everything it does is kept in `record`.
"""
from __future__ import annotations

import heapq
import itertools
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import Token
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from workflow_app.casework.accounts import create_user
from workflow_app.casework.letters import LetterService
from workflow_app.casework.models import Complaint, Task, User, WorkflowInstance
from workflow_app.casework.runtime import Runtime, build_runtime
from workflow_app.casework.scheduler import sweep
from workflow_app.rules import clock
from workflow_app.rules.statuses import TaskStatus

ONE_SECOND = timedelta(seconds=1)


@contextmanager
def scratch_runtime(processes_dir: Path | None = None, forms_dir: Path | None = None,
                    prefix: str = "workflow-app-run-") -> Iterator[Runtime]:
    """A runtime on a throwaway SQLite database, removed when the block ends."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        runtime = build_runtime(f"sqlite:///{Path(folder) / 'run.sqlite3'}", processes_dir, forms_dir)
        try:
            yield runtime
        finally:
            runtime.close()


@dataclass(frozen=True)
class Happened:
    """One thing a run did: when, what, to which complaint, by whom."""

    at: datetime
    what: str
    reference: str | None = None
    by: str | None = None
    detail: str | None = None


@dataclass(order=True)
class _Planned:
    at: datetime
    order: int
    sequence: int
    action: Callable[[], Any] = field(compare=False)


class ComplaintRun:
    """Complaints on one virtual clock, worked by the product's services.

    `send_letters_after`: send the letters the Code requires as soon as the step that drafted
    them is done (a log, a task, an event), by the person who did it; otherwise they wait until
    someone next completes a task of the complaint, who sends them first. `print_letters`: make each
    sent letter's PDF, as the product does; a run whose database is thrown away may skip it.
    """

    def __init__(self, runtime: Runtime, start: datetime, *, send_letters_after: bool = True,
                 print_letters: bool = True) -> None:
        self.runtime = runtime
        self.clock = clock.VirtualClock(start)
        self.send_letters_after = send_letters_after
        self.letters = LetterService(runtime.sessions, runtime.casework, None, printing=print_letters)
        self.record: list[Happened] = []
        self._tokens: list[Token] = []
        self._plan: list[_Planned] = []
        self._sequence = itertools.count()

    def __enter__(self) -> ComplaintRun:
        self._tokens.append(clock.enter(self.clock))
        return self

    def __exit__(self, *_: object) -> None:
        clock.leave(self._tokens.pop())

    def now(self) -> datetime:
        return self.clock.now()

    def _note(self, what: str, reference: str | None = None, by: User | None = None,
              detail: str | None = None) -> None:
        self.record.append(Happened(self.now(), what, reference, by.username if by else None, detail))

    # --- time -------------------------------------------------------------------------------

    def at(self, when: datetime) -> ComplaintRun:
        """Go forward to `when` (never back), firing the timers due on the way."""
        if when.tzinfo is None:
            raise ValueError("'at' needs a UTC offset")
        if when < self.now():
            raise ValueError(f"'at' goes back in time (the clock is at {self.now().isoformat()})")
        self.advance_to(when)
        return self

    def advance_to(self, when: datetime) -> None:
        """Set the clock to `when`, firing every timer due before it in order, each a second after it fell due."""
        self._require_own_clock()
        while True:
            with self.runtime.sessions() as session:
                next_due = session.scalar(select(WorkflowInstance.next_due_at)
                                          .where(WorkflowInstance.next_due_at.is_not(None))
                                          .order_by(WorkflowInstance.next_due_at).limit(1))
            if next_due is None or next_due + ONE_SECOND > when:
                break
            self.clock.set(max(next_due + ONE_SECOND, self.now()))
            self.fire_due_timers()
        self.clock.set(when)
        self.fire_due_timers()

    def fire_due_timers(self) -> int:
        """The scheduler's sweep, now: every timer due by the run's clock fires; returns how many complaints moved."""
        self._require_own_clock()
        fired = sweep(self.runtime.complaints)
        if fired:
            self._note("timers_fired", detail=str(fired))
        return fired

    def _require_own_clock(self) -> None:
        if clock.current() is not self.clock:
            raise RuntimeError("a ComplaintRun moves its own clock: use it inside `with run:`")

    # --- planned actions ---------------------------------------------------------------------

    def plan(self, when: datetime, action: Callable[[], Any], order: int = 0) -> None:
        """Do `action` at `when` during `play` (at one time, lower `order` first, then in the order planned)."""
        heapq.heappush(self._plan, _Planned(when, order, next(self._sequence), action))

    def play(self, until: datetime) -> int:
        """Do every planned action due before `until` in time order (actions may plan more), then go to `until`.
        Actions at or after `until` are left undone; returns how many were done."""
        done = 0
        while self._plan and self._plan[0].at < until:
            planned = heapq.heappop(self._plan)
            self.advance_to(planned.at)
            planned.action()
            done += 1
        self._plan.clear()
        self.advance_to(until)
        return done

    # --- people's work -------------------------------------------------------------------------

    def person(self, username: str, roles: Sequence[str], landlords: Sequence[str],
               display_name: str | None = None, password: str | None = None) -> User:
        """The user `username`, added with these roles and landlords the first time."""
        with self.runtime.sessions.begin() as session:
            user = session.scalars(select(User).where(User.username == username)).first()
            if user is None:
                user = create_user(session, username, display_name or username, list(roles), list(landlords),
                                   password)
            session.flush()
            session.expunge(user)
            return user

    def log(self, complaint: Mapping[str, Any], by: User) -> str:
        """Log a complaint (as the API takes it); returns its reference."""
        reference = self.runtime.complaints.log_complaint(dict(complaint), by)
        self._note("logged", reference, by)
        self._letters_after(reference, by)
        return reference

    def complete(self, reference: str, task_id: str, answers: Mapping[str, Any], by: User) -> None:
        """Complete a task with form answers, sending first the letters the Code requires (no task may be
        completed while one is unsent)."""
        self.send_required_letters(reference, by)
        self.runtime.tasks.complete(task_id, dict(answers), by)
        self._note("completed", reference, by, task_id)
        self._letters_after(reference, by)

    def event(self, reference: str, name: str, by: User, data: Mapping[str, Any] | None = None) -> None:
        """An event from outside the process (the resident escalates, replies...)."""
        self.runtime.complaints.send_event(reference, name, dict(data or {}), by)
        self._note("event", reference, by, name)
        self._letters_after(reference, by)

    def claim(self, task_id: str, assignee: str, by: User) -> None:
        self.runtime.tasks.assign(task_id, assignee, by)
        self._note("assigned", None, by, f"{task_id} to {assignee}")

    def send_required_letters(self, reference: str, by: User) -> list[int]:
        """Send, as drafted, every letter the Code requires that the complaint still has as a draft."""
        sent = self.letters.send_required(reference, by)
        if sent:
            self._note("letters_sent", reference, by, ", ".join(map(str, sent)))
        return sent

    def _letters_after(self, reference: str, by: User) -> None:
        if self.send_letters_after:
            self.send_required_letters(reference, by)

    # --- reading ---------------------------------------------------------------------------------

    def open_task(self, reference: str, element_id: str, required: bool = True) -> str | None:
        """The id of the complaint's open task at `element_id` (None when there is none and none is required)."""
        with self.runtime.sessions() as session:
            rows = session.execute(
                select(Task.id, Task.element_id).join(Complaint, Complaint.id == Task.complaint_id)
                .where(Complaint.reference == reference, Task.status == TaskStatus.OPEN)
            ).all()
        for task_id, element in rows:
            if element == element_id:
                return task_id
        if not required:
            return None
        waiting = ", ".join(sorted(e for _, e in rows)) or "none"
        raise ValueError(f"no open task {element_id!r} (open tasks: {waiting})")

    def task_is_open(self, task_id: str) -> bool:
        with self.runtime.sessions() as session:
            task = session.get(Task, task_id)
            return task is not None and task.status == TaskStatus.OPEN
