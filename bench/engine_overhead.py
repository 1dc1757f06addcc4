"""How much the app's service layer costs over raw SpiffWorkflow, and how fast a sweep is.

Prints, from one run (so machine noise hits both sides alike):
- the time per action (load an instance, complete a user task, save) for raw
  SpiffWorkflow in memory, and for the same action through the app's services on SQLite;
- the sweep time with 10,000 waiting instances none of which is due, and with 100 due;
- a last line `ratio: X.XX` (the app's time over the raw floor; target <= 2.0).

Run: python bench/engine_overhead.py [--actions N]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from workflow_app.casework.accounts import create_user  # noqa: E402
from workflow_app.casework.deployments import deploy, read_forms  # noqa: E402
from workflow_app.casework.letters import LetterService  # noqa: E402
from workflow_app.casework.models import Complaint, Task, WorkflowInstance  # noqa: E402
from workflow_app.casework.runtime import build_runtime  # noqa: E402
from workflow_app.casework.scheduler import sweep  # noqa: E402
from workflow_app.rules import clock  # noqa: E402  (after the path is set)
from workflow_app.rules.calendar import calendar_for  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
DIAGRAM = FIXTURES / "processes" / "testshire" / "complaint.bpmn"
RECEIVED = datetime(2026, 12, 23, 16, 30, tzinfo=UTC)
EXTEND = {"decision": "extend", "extension_days": 1}


def raw_floor(actions: int) -> list[float]:
    """Stock SpiffWorkflow: deserialize, complete the waiting user task, run engine steps, serialize."""
    functions = {name: lambda *a, f=f: f(*a).isoformat()
                 for name, f in calendar_for("ENG").expression_functions().items()}
    parser = CamundaParser()
    parser.add_bpmn_file(str(DIAGRAM))
    spec = parser.get_spec("testshire_complaint")
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG))
    engine = PythonScriptEngine(environment=TaskDataEnvironment(functions))
    workflow = BpmnWorkflow(spec, script_engine=engine)
    workflow.task_tree.data.update(received_at=RECEIVED)
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(received_at=RECEIVED)
    workflow.do_engine_steps()
    _complete(workflow, "acknowledge", {"complaint_definition": "x", "acknowledged_at": RECEIVED})
    state = serializer.serialize_json(workflow)
    timings = []
    for _ in range(actions):
        started = time.perf_counter()
        workflow = serializer.deserialize_json(state)
        workflow.script_engine = engine
        _complete(workflow, "respond1", EXTEND)
        state = serializer.serialize_json(workflow)
        timings.append(time.perf_counter() - started)
    return timings


def _complete(workflow, element_id: str, data: dict) -> None:
    [task] = [t for t in workflow.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id == element_id]
    task.data.update(data)
    task.run()
    workflow.do_engine_steps()


def app_actions(runtime, user, actions: int) -> list[float]:
    """The same action through the app: TaskService.complete on a SQLite database."""
    fields = {"landlord": "testshire", "received_at": RECEIVED.isoformat(), "channel": "email",
              "category": "other", "summary": "bench", "resident": {"name": "Bench"}}
    reference = runtime.complaints.log_complaint(fields, user)
    runtime.tasks.complete(_open_task(runtime, reference), {"complaint_definition": "x"}, user)
    letters = LetterService(runtime.sessions, runtime.casework, None)
    timings = []
    for _ in range(actions):
        task_id = _open_task(runtime, reference)
        letters.send_required(reference, user)   # the Code's letters go before the next task (not timed)
        started = time.perf_counter()
        runtime.tasks.complete(task_id, EXTEND, user)
        timings.append(time.perf_counter() - started)
    return timings


def _open_task(runtime, reference: str) -> str:
    with runtime.sessions() as session:
        return session.scalars(select(Task.id).join(Complaint, Complaint.id == Task.complaint_id)
                               .where(Complaint.reference == reference, Task.status == "open")).one()


def sweep_times(runtime, user) -> tuple[float, float]:
    """Sweep with 10,000 waiting instances none due, then with 100 of them due."""
    fields = {"landlord": "testshire", "received_at": RECEIVED.isoformat(), "channel": "email",
              "category": "other", "summary": "bench", "resident": {"name": "Bench"}}
    for _ in range(100):
        runtime.complaints.log_complaint(fields, user)
    with runtime.sessions.begin() as session:
        template = session.scalars(select(WorkflowInstance)).first()
        fillers = 10_000 - session.query(WorkflowInstance).count()
        far = clock.now() + timedelta(days=3650)
        now = clock.now()
        complaints = [{"reference": f"TH-BENCH-{n:06d}", "landlord": "testshire", "received_at": RECEIVED,
                       "channel": "email", "category": "other", "summary": "filler", "resident": {},
                       "status": "open", "stage": "1", "created_at": now, "created_by": "bench"}
                      for n in range(fillers)]
        session.execute(insert(Complaint), complaints)
        ids = session.scalars(select(Complaint.id).where(Complaint.reference.like("TH-BENCH-%"))).all()
        session.execute(insert(WorkflowInstance), [
            {"complaint_id": cid, "definition_version_id": template.definition_version_id, "state": template.state,
             "next_due_at": far, "revision": 1, "updated_at": now} for cid in ids])
    with runtime.sessions() as session:
        waiting = session.query(WorkflowInstance).count()
    assert waiting == 10_000, waiting
    idle = []
    for _ in range(20):
        started = time.perf_counter()
        moved = sweep(runtime.complaints)
        idle.append(time.perf_counter() - started)
        assert moved == 0
    clock.current().set(datetime(2027, 1, 5, tzinfo=UTC))
    started = time.perf_counter()
    moved = sweep(runtime.complaints)
    due = time.perf_counter() - started
    assert moved == 100, moved
    return statistics.median(idle), due


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, clock.using(clock.VirtualClock(RECEIVED)):
        runtime = build_runtime(f"sqlite:///{Path(folder) / 'bench.sqlite3'}", FIXTURES / "processes",
                                FIXTURES / "forms")
        with runtime.sessions.begin() as session:
            deploy(session, "testshire", DIAGRAM.read_bytes(), read_forms(FIXTURES / "forms"), "bench")
            user = create_user(session, "bench", "Bench", ["caseworker"], ["testshire"])
            session.expunge(user)
        raw = statistics.median(raw_floor(args.actions))
        app = statistics.median(app_actions(runtime, user, args.actions))
        idle, due = sweep_times(runtime, user)
        runtime.close()
    print(f"actions measured: {args.actions} each (median)")
    print(f"raw SpiffWorkflow, in memory:       {raw * 1000:8.2f} ms per action")
    print(f"app service layer, SQLite:          {app * 1000:8.2f} ms per action")
    print(f"sweep, 10,000 waiting, none due:    {idle * 1000:8.2f} ms")
    print(f"sweep, 10,000 waiting, 100 due:     {due * 1000:8.2f} ms ({due * 10:.2f} ms per complaint)")
    print(f"ratio: {app / raw:.2f}")


if __name__ == "__main__":
    main()
