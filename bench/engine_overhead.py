"""What the app's service layer costs over raw SpiffWorkflow, step by step, on the landlords' own diagrams.

For each landlord, the hand-worked scenario `tests/scenarios/<landlord>_on_time.json` is
played many times, twice over, alternating in one run (so machine noise hits both alike):

- **raw**: SpiffWorkflow alone on the same parsed spec. Each step restores the workflow from
  its saved state (spec-free, as the app stores it: the spec lives once per version), moves
  it (starts it, completes the user task with the scenario's answers, or lets due timers
  fire), runs the engine steps and saves it again as a JSON string;
- **app**: the same steps through the services on a SQLite database: `log_complaint`,
  `TaskService.complete`, `ComplaintService.fire_due_timers` (the letters the Code requires
  are sent between steps, untimed, as a caseworker would).

It also times the two halves every action contains: **load** (raw: parse the state and
rebuild the workflow; app: read the complaint and its instance in a session and rebuild
it) and **save** (raw: serialise to JSON; app: serialise and write the row in a transaction).

CPU time (`time.process_time`, which includes SQLite's work in this process), the mean per
step within a round, the median over rounds; then app / raw per step and in total (the sum
of the steps of one complaint's scenario), each beside the goal (<= 1.5). Beside them, the part of the
app's time spent in SQLite's own calls (its statements and commits, timed around the driver's calls) and
the ratio without it: what the database itself costs, which raw SpiffWorkflow, saving to a string, does
not pay.

Last, the cost of state growth: completing Great Places' agreed-update task after 1 round of the
reminder and after 100 (goal: within 1.2x), with the saved state's size.

Run: python bench/engine_overhead.py [--rounds 5] [--complaints 10] [--landlord great_places ...]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Engine, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from workflow_app.casework.deployments import current_version, deploy, diagram_files, read_forms  # noqa: E402
from workflow_app.casework.engine import _save as save_instance  # noqa: E402
from workflow_app.casework.engine import load_definition  # noqa: E402
from workflow_app.casework.instances import _thread_serializer, script_engine_for  # noqa: E402
from workflow_app.casework.letters import LetterService  # noqa: E402
from workflow_app.casework.models import Complaint, Task  # noqa: E402
from workflow_app.casework.runner import ComplaintRun, scratch_runtime  # noqa: E402
from workflow_app.casework.runtime import Runtime  # noqa: E402
from workflow_app.diagrams.definitions import CaseMessage, DeadlineTimer  # noqa: E402
from workflow_app.rules import clock  # noqa: E402
from workflow_app.rules.roles import WORKER_ROLES  # noqa: E402
from workflow_app.rules.statuses import TaskStatus  # noqa: E402

SCENARIOS = ROOT / "tests" / "scenarios"
LANDLORDS = ("great_places", "brighter_places", "harrogate")
STEPS = ("create", "complete", "fire", "event", "load", "save")
GOAL = 1.5
GROWTH_GOAL = 1.2


def scenario(landlord: str) -> dict[str, Any]:
    return json.loads((SCENARIOS / f"{landlord}_on_time.json").read_text())


class DatabaseTime:
    """The CPU time spent inside the database driver's calls. SQLite runs in this process, so this is its own
    work on the app's statements and commits (with the kernel's writes of its log): work raw SpiffWorkflow, which
    saves to a string, does not do. Two clock readings a statement, a few microseconds an action."""

    def __init__(self) -> None:
        self.spent = 0.0

    def watch(self, engine: Engine) -> None:
        dialect = engine.dialect
        for name in ("do_execute", "do_executemany", "do_execute_no_params", "do_commit"):
            setattr(dialect, name, self._timed(getattr(dialect, name)))

    def _timed(self, call: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any) -> Any:
            started = time.process_time()
            try:
                return call(*args)
            finally:
                self.spent += time.process_time() - started
        return timed


DATABASE = DatabaseTime()
IN_DATABASE = " in the database"


@contextmanager
def cpu(times: dict[str, list[float]], step: str) -> Iterator[None]:
    """The step's CPU time, and the part of it spent in the database."""
    started, in_database = time.process_time(), DATABASE.spent
    yield
    times[step].append(time.process_time() - started)
    times[step + IN_DATABASE].append(DATABASE.spent - in_database)


# --- raw SpiffWorkflow ------------------------------------------------------------------------

class Raw:
    """SpiffWorkflow alone: one parsed spec, states saved as JSON strings without the spec."""

    def __init__(self, runtime: Runtime, landlord: str) -> None:
        with runtime.sessions() as session:
            self.definition = load_definition(current_version(session, landlord))
        self.engine = script_engine_for(runtime.landlords[landlord].nation)
        self.serializer = _thread_serializer()

    def save(self, workflow: BpmnWorkflow) -> str:
        registry = self.serializer.registry
        registry._encoder_mode = True
        try:
            return json.dumps(self.serializer.to_dict(workflow), cls=self.serializer._encoder_cls,
                              separators=(",", ":"))
        finally:
            registry._encoder_mode = False

    def load(self, state: str) -> BpmnWorkflow:
        workflow = self.serializer.from_dict(json.loads(state), definition=self.definition)
        workflow.script_engine = self.engine
        return workflow

    def run_engine(self, workflow: BpmnWorkflow) -> None:
        while True:
            workflow.refresh_timers()
            workflow.do_engine_steps(will_complete_task=self.stamp)
            if not any(not t.task_spec.manual for t in workflow.get_tasks(state=TaskState.READY)):
                return

    def stamp(self, task) -> None:
        """As the app does (`Instance._stamp`): an element the engine runs with a `timestamp` property records
        when it completed (Harrogate's closing letter counts from one)."""
        element = self.definition.elements.get(task.task_spec.bpmn_id or "")
        if element is not None and element.properties.get("timestamp"):
            task.data[element.properties["timestamp"]] = clock.now()

    def play(self, story: dict[str, Any], times: dict[str, list[float]]) -> None:
        run_clock = clock.VirtualClock(datetime.fromisoformat(story["complaint"]["received_at"]))
        with clock.using(run_clock):
            case = {"reference": "RAW-1", "landlord": story["landlord"], "channel": story["complaint"]["channel"],
                    "category": story["complaint"]["category"], "has_representative": False,
                    "received_at": run_clock.now()}
            with cpu(times, "create"):
                workflow = BpmnWorkflow(self.definition.spec, self.definition.subprocess_specs,
                                        script_engine=self.engine)
                workflow.task_tree.data.update(case)
                for task in workflow.get_tasks(state=TaskState.READY):
                    task.data.update(case)
                self.run_engine(workflow)
                state = self.save(workflow)
            next_due = _next_due(self.load(state))
            for step in story["steps"]:
                when = datetime.fromisoformat(step["at"])
                while next_due is not None and next_due + timedelta(seconds=1) <= when:
                    run_clock.set(max(next_due + timedelta(seconds=1), run_clock.now()))
                    with cpu(times, "fire"):
                        workflow = self.load(state)
                        self.run_engine(workflow)
                        state = self.save(workflow)
                    next_due = _next_due(workflow)
                run_clock.set(when)
                if "event" in step:
                    with cpu(times, "event"):
                        workflow = self.load(state)
                        event = BpmnEvent(CaseMessage(step["event"]), payload={
                            "payload": dict(step.get("data", {})), "result_var": step["event"], "at": when})
                        workflow.event_manager.catch(event, internal=False)
                        self.run_engine(workflow)
                        state = self.save(workflow)
                    next_due = _next_due(workflow)
                if "complete" not in step:
                    continue
                with cpu(times, "load"):
                    workflow = self.load(state)
                with cpu(times, "complete"):
                    workflow = self.load(state)
                    [task] = [t for t in workflow.get_tasks(state=TaskState.READY, manual=True)
                              if t.task_spec.bpmn_id == step["complete"]]
                    data = dict(step.get("data", {}))
                    stamp = self.definition.element(step["complete"]).properties.get("timestamp")
                    if stamp:
                        data[stamp] = run_clock.now()
                    task.data.update(data)
                    task.run()
                    self.run_engine(workflow)
                    state = self.save(workflow)
                with cpu(times, "save"):
                    self.save(workflow)
                next_due = _next_due(workflow)


def _next_due(workflow: BpmnWorkflow) -> datetime | None:
    """The earliest due time among the waiting deadline timers (what the app keeps as next_due_at)."""
    dues = []
    for task in workflow.event_manager.tasks.values():
        if task.state != TaskState.WAITING:
            continue
        definition = task.task_spec.event_definition
        for timer in getattr(definition, "event_definitions", [definition]):
            due = timer.due_at(task) if isinstance(timer, DeadlineTimer) else None
            if due is not None:
                dues.append(due)
    return min(dues, default=None)


# --- the app ----------------------------------------------------------------------------------

class App:
    """The same story through the services on SQLite."""

    def __init__(self, runtime: Runtime, landlord: str) -> None:
        self.runtime = runtime
        self.letters = LetterService(runtime.sessions, runtime.casework, None)
        from workflow_app.casework.accounts import create_user
        with runtime.sessions.begin() as session:
            self.user = create_user(session, f"bench-{landlord}", "Bench", list(WORKER_ROLES), [landlord])
            session.flush()
            session.expunge(self.user)

    def play(self, story: dict[str, Any], times: dict[str, list[float]]) -> None:
        runtime, user = self.runtime, self.user
        run_clock = clock.VirtualClock(datetime.fromisoformat(story["complaint"]["received_at"]))
        with clock.using(run_clock):
            with cpu(times, "create"):
                reference = runtime.complaints.log_complaint({"landlord": story["landlord"], **story["complaint"]},
                                                             user)
            complaint_id, next_due = self._instance(reference)
            self.letters.send_required(reference, user)
            for step in story["steps"]:
                when = datetime.fromisoformat(step["at"])
                while next_due is not None and next_due + timedelta(seconds=1) <= when:
                    run_clock.set(max(next_due + timedelta(seconds=1), run_clock.now()))
                    with cpu(times, "fire"):
                        runtime.complaints.fire_due_timers(complaint_id)
                    _, next_due = self._instance(reference)
                run_clock.set(when)
                self.letters.send_required(reference, user)
                if "event" in step:
                    with cpu(times, "event"):
                        runtime.complaints.send_event(reference, step["event"], dict(step.get("data", {})), user)
                    self.letters.send_required(reference, user)
                    _, next_due = self._instance(reference)
                if "complete" not in step:
                    continue
                self._load_and_save(complaint_id, times)
                task_id = self._open_task(reference, step["complete"])
                with cpu(times, "complete"):
                    runtime.tasks.complete(task_id, dict(step.get("data", {})), user)
                self.letters.send_required(reference, user)
                _, next_due = self._instance(reference)

    def _load_and_save(self, complaint_id: int, times: dict[str, list[float]]) -> None:
        casework = self.runtime.casework
        with cpu(times, "load"), self.runtime.sessions() as session:
            complaint = session.get(Complaint, complaint_id)
            instance, record = casework.instance_of(complaint), complaint.instance
        with cpu(times, "save"), self.runtime.sessions.begin() as session:
            save_instance(session, record, instance.dump(), record.next_due_at)   # as an action does, revision checked

    def _instance(self, reference: str) -> tuple[int, datetime | None]:
        with self.runtime.sessions() as session:
            complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
            return complaint.id, complaint.instance.next_due_at

    def _open_task(self, reference: str, element_id: str) -> str:
        with self.runtime.sessions() as session:
            return session.scalars(select(Task.id).join(Complaint, Complaint.id == Task.complaint_id).where(
                Complaint.reference == reference, Task.status == TaskStatus.OPEN,
                Task.element_id == element_id)).one()


# --- state that does not grow ------------------------------------------------------------------

def reminder_rounds(runtime: Runtime, rounds: int, samples: int = 15) -> tuple[float, float, int, int]:
    """Great Places' agreed updates (a reminder that comes round again, once a day here): CPU time of
    completing the update task in the first rounds and after `rounds`, median of `samples` completions
    each, and the saved state's size after the first round and after `rounds`."""
    story = json.loads((SCENARIOS / "great_places_late_updates.json").read_text())
    run = ComplaintRun(runtime, datetime.fromisoformat(story["complaint"]["received_at"]))
    early, late, sizes = [], [], []
    with run:
        user = run.person("bench-reminders", list(WORKER_ROLES), ["great_places"])
        reference = run.log({"landlord": "great_places", **story["complaint"]}, user)
        for step in story["steps"][:3]:      # accepted, acknowledged, updates agreed (after a timer)
            run.at(datetime.fromisoformat(step["at"]))
            run.complete(reference, run.open_task(reference, step["complete"]), step["data"], user)
        for number in range(1, rounds + samples + 1):
            run.at(run.now() + timedelta(days=1))
            run.send_required_letters(reference, user)
            task_id = run.open_task(reference, "keep_informed")
            started = time.process_time()
            runtime.tasks.complete(task_id, {"update_notes": f"Update {number}."}, user)
            spent = time.process_time() - started
            if number <= samples:
                early.append(spent)
            elif number > rounds:
                late.append(spent)
            if number in (1, rounds):
                with runtime.sessions() as session:
                    complaint = session.scalars(select(Complaint).where(Complaint.reference == reference)).one()
                    sizes.append(len(complaint.instance.state))
    return statistics.median(early), statistics.median(late), sizes[0], sizes[-1]


# --- the run ----------------------------------------------------------------------------------

def measure(landlord: str, runtime: Runtime, rounds: int, complaints: int) -> dict[str, dict[str, float]]:
    """Median over rounds of the mean CPU time per step, for raw and app, played alternately."""
    story = {"landlord": landlord, **scenario(landlord)}
    sides: dict[str, Callable[[dict, dict], None]] = {"raw": Raw(runtime, landlord).play,
                                                      "app": App(runtime, landlord).play}
    for play in sides.values():     # warm both (caches, first imports), untimed
        play(story, defaultdict(list))
    per_round: dict[str, dict[str, list[float]]] = {side: defaultdict(list) for side in sides}
    for number in range(rounds):
        order = list(sides) if number % 2 == 0 else list(reversed(sides))
        for side in order:
            times: dict[str, list[float]] = defaultdict(list)
            for _ in range(complaints):
                sides[side](story, times)
            for step in STEPS:
                for part in (step, step + IN_DATABASE):
                    per_round[side][part].append(statistics.fmean(times[part]) if times[part] else 0.0)
            # a complaint's whole scenario: create + every completion + every timer
            for suffix in ("", IN_DATABASE):
                per_round[side]["scenario" + suffix].append(sum(sum(times[s + suffix]) / complaints
                                                                for s in ("create", "complete", "fire", "event")))
    return {side: {step: statistics.median(values) for step, values in steps.items()}
            for side, steps in per_round.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--complaints", type=int, default=10, help="complaints per side per round")
    parser.add_argument("--landlord", action="append", choices=LANDLORDS)
    parser.add_argument("--reminder-rounds", type=int, default=100)
    args = parser.parse_args()
    print(f"CPU ms: mean per step within a round, median of {args.rounds} rounds of {args.complaints} "
          f"complaints per side; goal app/raw <= {GOAL}")
    print("db ms: the part of the app's time spent in SQLite's own calls (statements, commits), which raw "
          "SpiffWorkflow does not make; the last column is the ratio without it")
    print(f"{'landlord':16} {'step':9} {'raw ms':>8} {'app ms':>8} {'ratio':>6}  goal        "
          f"{'db ms':>6} {'without':>7}")
    worst = 0.0
    with scratch_runtime(ROOT / "processes", ROOT / "forms", prefix="bench-engine-") as runtime:
        DATABASE.watch(runtime.engine)
        with runtime.sessions.begin() as session:
            for landlord, path in diagram_files(ROOT / "processes"):
                deploy(session, landlord, path.read_bytes(), read_forms(ROOT / "forms"), "bench")
        for landlord in args.landlord or LANDLORDS:
            figures = measure(landlord, runtime, args.rounds, args.complaints)
            for step in (*STEPS, "scenario"):
                raw, app = figures["raw"][step] * 1000, figures["app"][step] * 1000
                if not raw:
                    continue  # this landlord's scenario has no such step
                ratio = app / raw
                if step in ("create", "complete", "fire", "event", "scenario"):
                    worst = max(worst, ratio)
                verdict = "ok" if ratio <= GOAL else "over"
                database = figures["app"][step + IN_DATABASE] * 1000
                print(f"{landlord:16} {step:9} {raw:8.2f} {app:8.2f} {ratio:6.2f}  <= {GOAL} {verdict:4}  "
                      f"{database:6.2f} {(app - database) / raw:7.2f}")
        early, late, small, large = reminder_rounds(runtime, args.reminder_rounds)
    print(f"agreed updates, completing one: {early * 1000:.2f} ms after the first round, {late * 1000:.2f} ms "
          f"after {args.reminder_rounds}: {late / early:.2f}x (goal <= {GROWTH_GOAL}); saved state {small:,} -> "
          f"{large:,} bytes")
    print(f"ratio: {worst:.2f} (the worst of create, complete, fire and whole scenario; goal <= {GOAL})")


if __name__ == "__main__":
    main()
