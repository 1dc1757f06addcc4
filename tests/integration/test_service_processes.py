"""Running as a real service on PostgreSQL: several OS processes, crashes, nothing lost.

These need a PostgreSQL server (WORKFLOW_APP_TEST_POSTGRES_URL); CI provides one and
makes them mandatory. Every request goes to 127.0.0.1 only, in bounded loops.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import FORMS, PROCESSES, postgres_migrated
from tests.support.bulk import clone_complaint
from workflow_app.casework.accounts import create_token, create_user
from workflow_app.casework.consistency import inconsistent_complaints
from workflow_app.casework.deployments import deploy, diagram_files, read_forms
from workflow_app.casework.models import AuditEvent, Complaint, Task, User, WorkflowInstance
from workflow_app.casework.runtime import build_runtime
from workflow_app.rules import clock

# One after another on one xdist worker (`--dist loadgroup`): each runs several busy OS processes.
pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("service_processes")]
ROOT = Path(__file__).resolve().parents[2]
RECEIVED = "2026-12-23T16:30:00+00:00"
AFTER_ACK_DEADLINE = "2027-01-05T00:00:00+00:00"


@pytest.fixture
def pg(templates):
    url = postgres_migrated(templates)
    runtime = build_runtime(url, PROCESSES, FORMS)
    with runtime.sessions.begin() as session:
        for landlord, path in diagram_files(PROCESSES):
            deploy(session, landlord, path.read_bytes(), read_forms(FORMS), "tester")
        create_user(session, "loader", "Loader", ["complaints_officer", "caseworker"], ["testshire"])
    env = {**os.environ, "WORKFLOW_APP_DATABASE_URL": url, "WORKFLOW_APP_PROCESSES": str(PROCESSES),
           "WORKFLOW_APP_FORMS": str(FORMS), "WORKFLOW_APP_RUN_SCHEDULER": "0",
           "WORKFLOW_APP_SECRET_KEY": "service-processes-test-secret"}
    yield runtime, env
    runtime.close()


def run_all(commands: list[list[str]], env: dict[str, str], timeout: int = 600) -> list[str]:
    processes = [subprocess.Popen(c, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for c in commands]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=timeout)
        assert process.returncode == 0, err
        outputs.append(out)
    return outputs


def log_in_processes(env, total: int, processes: int = 2) -> None:
    run_all([[sys.executable, "-m", "tests.support.process_tools", "log", str(total // processes), RECEIVED]
             for _ in range(processes)], env)


def log_many(runtime, env, total: int, logged: int = 100) -> None:
    """`total` complaints received at RECEIVED, each waiting on its acknowledgement timer: `logged` of them
    logged through the process by two OS processes at once, the rest stored as copies of the first
    (tests/support/bulk.py: what logging it again stores, in bulk INSERTs rather than `total` engine runs)."""
    log_in_processes(env, logged)
    with runtime.sessions() as session:
        first = session.scalar(select(Complaint.reference).order_by(Complaint.id).limit(1))
    clone_complaint(runtime.engine, first, total - logged)
    with runtime.sessions() as session:
        assert session.scalar(select(func.count(func.distinct(Complaint.reference)))) == total
        assert session.scalar(select(func.count(func.distinct(Task.id))).where(Task.status == "open")) == total
        assert session.scalar(select(func.count(WorkflowInstance.id)).where(
            WorkflowInstance.next_due_at < datetime.fromisoformat(AFTER_ACK_DEADLINE))) == total


SCHEDULER = [sys.executable, "-c", "from workflow_app.tools.cli import main; main()", "scheduler", "--until-idle"]


def test_ten_thousand_due_timers_fire_exactly_once_across_two_scheduler_processes(pg):
    runtime, env = pg
    log_many(runtime, env, 10_000)

    outputs = run_all([SCHEDULER, SCHEDULER], {**env, "WORKFLOW_APP_NOW": AFTER_ACK_DEADLINE})

    moved = [int(out.split()[0]) for out in outputs]
    assert sum(moved) == 10_000 and all(m > 0 for m in moved), moved
    with runtime.sessions() as session:
        fired = session.execute(select(AuditEvent.complaint_id, func.count(AuditEvent.id))
                                .where(AuditEvent.type == "timer_fired").group_by(AuditEvent.complaint_id)).all()
        assert len(fired) == 10_000 and {count for _, count in fired} == {1}
        assert session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.type == "deadline_missed")) == 10_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _gunicorn_options() -> list[str]:
    """No control socket where gunicorn has one (from 24): its default path is one per user, which two
    servers at once (tests in parallel) would fight over."""
    import gunicorn.config
    return ["--no-control-socket"] if any(s.name == "control_socket_disable" for s in gunicorn.config.KNOWN_SETTINGS) \
        else []


class Server:
    """gunicorn with two workers on loopback."""

    def __init__(self, env):
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "workflow_app.web:create_app()", "--workers", "2", "--threads", "8",
             "--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "5", *_gunicorn_options()],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=2)
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("gunicorn did not start: " + self.process.stderr.read())

    def workers(self) -> list[int]:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True,
                             check=False)
        return [int(pid) for pid in out.stdout.split()]

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


class Client(threading.Thread):
    """Logs complaints and completes their first task, remembering what the server acknowledged."""

    def __init__(self, port, token, until):
        super().__init__(daemon=True)
        self.base, self.token, self.until = f"http://127.0.0.1:{port}", token, until
        self.logged, self.completed, self.failures = [], [], []

    def call(self, method, path, body=None):
        request = urllib.request.Request(self.base + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Authorization": f"Bearer {self.token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())

    def run(self):
        received = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
        while time.monotonic() < self.until:
            try:
                _status, body = self.call("POST", "/api/complaints", {
                    "landlord": "testshire", "received_at": received, "channel": "phone", "category": "other",
                    "summary": "load", "resident": {"name": "Load Test"}})
                self.logged.append(body["reference"])
                _, complaint = self.call("GET", f"/api/complaints/{body['reference']}")
                task = complaint["open_tasks"][0]["id"]
                self.call("POST", f"/api/tasks/{task}/complete", {"data": {"complaint_definition": "x"}})
                self.completed.append(task)
            except (urllib.error.URLError, OSError, KeyError, IndexError) as error:
                self.failures.append(repr(error))


def drive(port, token, seconds: float, clients: int) -> list[Client]:
    until = time.monotonic() + seconds
    workers = [Client(port, token, until) for _ in range(clients)]
    for worker in workers:
        worker.start()
    return workers


def token(runtime) -> str:
    with runtime.sessions.begin() as session:
        user = session.scalars(select(User).where(User.username == "loader")).one()
        return create_token(session, user, "load")


def assert_nothing_lost(runtime, clients: list[Client]) -> None:
    logged = [r for c in clients for r in c.logged]
    completed = [t for c in clients for t in c.completed]
    with runtime.sessions() as session:
        stored = set(session.scalars(select(Complaint.reference)))
        assert set(logged) <= stored
        done = set(session.scalars(select(Task.id).where(Task.status == "completed")))
        assert set(completed) <= done
        counts = dict(session.execute(select(AuditEvent.type, func.count(AuditEvent.id))
                                      .group_by(AuditEvent.type)).all())
        assert counts["complaint_logged"] == len(stored)
        assert counts["task_completed"] == len(done)
        assert list(inconsistent_complaints(session, runtime.casework)) == []


def test_fifty_clients_for_sixty_seconds_lose_nothing(pg):
    runtime, env = pg
    server = Server(env)
    try:
        clients = drive(server.port, token(runtime), 60, 50)
        for client in clients:
            client.join(timeout=120)
    finally:
        server.stop()
    failures = [f for c in clients for f in c.failures]
    logged = sum(len(c.logged) for c in clients)
    print(f"load: {logged} complaints logged, {sum(len(c.completed) for c in clients)} tasks completed "
          f"by 50 clients in 60 s; {len(failures)} failed requests")
    assert failures == [] and logged > 100
    assert_nothing_lost(runtime, clients)


def test_killing_a_web_worker_mid_work_loses_nothing_acknowledged(pg):
    runtime, env = pg
    server = Server(env)
    try:
        clients = drive(server.port, token(runtime), 20, 10)
        time.sleep(8)
        os.kill(server.workers()[0], signal.SIGKILL)
        for client in clients:
            client.join(timeout=60)
    finally:
        server.stop()
    assert sum(len(c.logged) for c in clients) > 0
    assert_nothing_lost(runtime, clients)


def test_a_deadline_armed_in_another_process_wakes_a_sleeping_scheduler_at_once(pg):
    """The scheduler process sleeps up to 120 s; a complaint logged here, whose acknowledgement falls due
    before then, is announced with NOTIFY and fired long before the scheduler would have woken."""
    runtime, env = pg
    scheduler = subprocess.Popen([*SCHEDULER[:3], "-v", "scheduler", "--interval", "120"], cwd=ROOT, text=True,
                                 env={**env, "WORKFLOW_APP_NOW": AFTER_ACK_DEADLINE},
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in scheduler.stderr], daemon=True).start()
    try:
        seen = ""
        while "listening for earlier deadlines" not in seen:
            seen = lines.get(timeout=60)
        time.sleep(1)     # its first sweep done, it sleeps
        with runtime.sessions() as session:
            user = session.scalars(select(User).where(User.username == "loader")).one()
        armed_at = datetime.fromisoformat(AFTER_ACK_DEADLINE) - timedelta(seconds=10)   # due in 9 s here
        with clock.using(clock.VirtualClock(armed_at)):
            runtime.complaints.log_complaint({"landlord": "testshire", "received_at": RECEIVED, "channel": "email",
                                              "category": "other", "summary": "notify",
                                              "resident": {"name": "A Resident"}}, user)
        logged = time.monotonic()
        while "timer sweep moved 1 complaint" not in seen:
            seen = lines.get(timeout=60)
        assert time.monotonic() - logged < 60, "woken by its capped sleep, not by the notification"
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=30)
    with runtime.sessions() as session:
        assert session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.type == "timer_fired")) == 1


def test_killing_a_scheduler_mid_sweep_fires_everything_late_and_once(pg):
    runtime, env = pg
    log_many(runtime, env, 1_000)
    later = {**env, "WORKFLOW_APP_NOW": AFTER_ACK_DEADLINE}
    victim = subprocess.Popen(SCHEDULER, env=later, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with runtime.sessions() as session:
        for _ in range(200):
            if session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.type == "timer_fired")):
                break
            time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    with runtime.sessions() as session:
        fired_before = session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.type == "timer_fired"))
    assert 0 < fired_before < 1_000, "the scheduler should have been killed mid-sweep"

    [out] = run_all([SCHEDULER], later)

    assert int(out.split()[0]) == 1_000 - fired_before
    with runtime.sessions() as session:
        fired = session.execute(select(AuditEvent.complaint_id, func.count(AuditEvent.id))
                                .where(AuditEvent.type == "timer_fired").group_by(AuditEvent.complaint_id)).all()
        assert len(fired) == 1_000 and {count for _, count in fired} == {1}
        assert list(inconsistent_complaints(session, runtime.casework)) == []
