"""Task completions and complaint creations per second over HTTP, against gunicorn as production runs it.

For each database (a fresh SQLite file; with --postgres URL also a fresh PostgreSQL database on
that server, dropped afterwards): deploy the three landlords' processes (processes/), make a
user with an API token, start gunicorn as docs/operations.md does (2 workers x 8 threads, the
in-process scheduler off), then drive it with concurrent keep-alive clients:

1. creations: each client logs complaints (POST /api/complaints) for --seconds;
2. completions: each client completes the open tasks those complaints now have, for --seconds:
   the tasks a landlord's process lets be done before the Code requires a letter (first contact,
   the acceptance decision, the acknowledgement), with the values the scenarios use.

Only a 201 counts as a creation and only a 200 as a completion: a completion the app refuses
(409 for a letter unsent, a conflict, an error) is counted apart as refused. Each line gives the
rate, p50/p95 latency and the goal (>= 100 completions a second).

Run: python bench/http_throughput.py [--seconds 20] [--clients 32] [--postgres postgresql+psycopg://…/]
The server imports the same `workflow_app` this script does: PYTHONPATH=/other/checkout/src
measures another tree.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "src"))   # after PYTHONPATH, so PYTHONPATH can name another tree

import workflow_app  # noqa: E402
from workflow_app.casework.accounts import create_token, create_user  # noqa: E402
from workflow_app.casework.deployments import deploy, diagram_files, read_forms  # noqa: E402
from workflow_app.casework.models import Task  # noqa: E402
from workflow_app.casework.runtime import build_runtime  # noqa: E402

PROCESSES = ROOT / "processes"
FORMS = ROOT / "forms"
WORKERS, THREADS = 2, 8   # docs/operations.md: gunicorn --workers 2 --threads 8
GOAL = 100.0              # completions a second (issue 13)

ACKNOWLEDGE = {
    "complaint_definition": "The bedroom ceiling leaks when it rains; two repair visits did not fix it.",
    "outcomes_sought": "The roof repaired and compensation for the damaged carpet.",
    "our_responsibility": "Repairs to the roof and the repair visits.",
    "not_our_responsibility": "The contents insurance claim (the resident's insurer).",
    "investigator": "Alice Example, complaints officer",
}
COMPLETABLE = {
    "great_places": {
        "decide_acceptance": {"complaint_kind": "complaint", "acceptance": "accept"},
        "acknowledge": ACKNOWLEDGE,
    },
    "harrogate": {
        "first_contact": {"first_contact_result": "formal"},
        "decide_acceptance": {"acceptance": "accept"},
        "acknowledge": ACKNOWLEDGE,
    },
    "brighter_places": {
        "first_contact": {"contact_kind": "dissatisfaction", "first_contact_result": "formal"},
        "decide_acceptance": {"acceptance": "accept", "clarification_needed": "no"},
        "acknowledge": ACKNOWLEDGE,
    },
}
"""Per landlord, the tasks that can be completed before the Code requires a letter to be sent (the
acknowledgement letter comes before the stage 1 response), with the values tests/scenarios/ use."""
ELEMENTS = sorted({element for tasks in COMPLETABLE.values() for element in tasks})


# --- the server ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """gunicorn as docs/operations.md runs it, serving the `workflow_app` this script imported."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": str(Path(workflow_app.__file__).parent.parent),
               "WORKFLOW_APP_DATABASE_URL": database_url, "WORKFLOW_APP_PROCESSES": str(PROCESSES),
               "WORKFLOW_APP_FORMS": str(FORMS), "WORKFLOW_APP_RUN_SCHEDULER": "0",
               "WORKFLOW_APP_SECRET_KEY": uuid.uuid4().hex * 2}
        self.log = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "workflow_app.web:create_app()", "--workers", str(WORKERS),
             "--threads", str(THREADS), "--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "5",
             *_gunicorn_options()],
            env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.close()
                raise RuntimeError(f"gunicorn exited:\n{log.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()


def _gunicorn_options() -> list[str]:
    """No control socket where gunicorn has one (from 24): its default path is one per user."""
    import gunicorn.config
    return ["--no-control-socket"] if any(s.name == "control_socket_disable" for s in gunicorn.config.KNOWN_SETTINGS) \
        else []


# --- the clients -----------------------------------------------------------------------------

class Api:
    """One keep-alive connection, as a client integrating with the API would hold."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, path: str, body: dict) -> tuple[int, dict, float]:
        """(status, body, seconds); status 0 when the connection failed."""
        started = time.perf_counter()
        try:
            self.connection.request("POST", path, body=json.dumps(body), headers=self.headers)
            response = self.connection.getresponse()
            status, payload = response.status, json.loads(response.read() or b"{}")
        except (OSError, http.client.HTTPException, ValueError):
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            return 0, {}, time.perf_counter() - started
        return status, payload, time.perf_counter() - started

    def close(self) -> None:
        self.connection.close()


@dataclass
class Tally:
    """What one phase's clients saw: a latency per accepted request, and the refusals by status."""

    latencies: list[float] = field(default_factory=list)
    refused: Counter = field(default_factory=Counter)
    started: float = 0.0
    ended: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, accepted: bool, status: int, seconds: float) -> None:
        with self.lock:
            if accepted:
                self.latencies.append(seconds)
                self.ended = time.perf_counter()
            else:
                self.refused[status] += 1

    def line(self, what: str, goal: float | None) -> str:
        seconds = max(self.ended - self.started, 1e-9)
        count = len(self.latencies)
        if count < 2:
            return f"  {what:<12} {count} accepted; refused {dict(self.refused)}"
        p50, p95 = (statistics.quantiles(self.latencies, n=100)[i] * 1000 for i in (49, 94))
        rate = count / seconds
        verdict = "" if goal is None else f"   goal >= {goal:.0f}/s: {'met' if rate >= goal else 'NOT met'}"
        refused = f"; refused {dict(self.refused)}" if self.refused else ""
        return (f"  {what:<12} {rate:7.1f}/s   p50 {p50:6.0f} ms   p95 {p95:6.0f} ms   "
                f"({count} in {seconds:.1f} s{refused}){verdict}")


def run_clients(clients: int, work) -> None:
    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def log_complaints(port: int, token: str, clients: int, seconds: float, tally: Tally) -> None:
    landlords = sorted(COMPLETABLE)
    received = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()

    def work(n: int) -> None:
        api = Api(port, token)
        i = n
        while time.perf_counter() < until:
            status, _, elapsed = api.post("/api/complaints", {
                "landlord": landlords[i % len(landlords)], "received_at": received, "channel": "phone",
                "category": "other", "summary": "Boiler not repaired", "resident": {"name": "Bench Resident"}})
            tally.add(status == 201, status, elapsed)
            i += 1
        api.close()

    tally.started = time.perf_counter()
    until = tally.started + seconds
    run_clients(clients, work)


class OpenTasks:
    """The completable open tasks, read from the database as earlier completions open new ones.

    Each task is handed out once; the next task of a complaint appears once its predecessor's
    completion has committed."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.handed_out: set[str] = set()
        self.ready: queue.SimpleQueue = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.last_read = 0.0

    def take(self, until: float) -> tuple[str, dict] | None:
        while time.perf_counter() < until:
            try:
                return self.ready.get_nowait()
            except queue.Empty:
                pass
            with self.lock:
                if self.ready.empty() and time.perf_counter() - self.last_read > 0.05:
                    self._read()
            time.sleep(0.01)
        return None

    def _read(self) -> None:
        self.last_read = time.perf_counter()
        with self.engine.connect() as connection:
            rows = connection.execute(select(Task.id, Task.landlord, Task.element_id).where(
                Task.status == "open", Task.element_id.in_(ELEMENTS))).all()
        for task_id, landlord, element_id in rows:
            values = COMPLETABLE.get(landlord, {}).get(element_id)
            if values is not None and task_id not in self.handed_out:
                self.handed_out.add(task_id)
                self.ready.put((task_id, values))


def complete_tasks(port: int, token: str, clients: int, seconds: float, tasks: OpenTasks, tally: Tally) -> None:
    def work(_n: int) -> None:
        api = Api(port, token)
        while (next_task := tasks.take(until)) is not None:
            task_id, values = next_task
            status, _, elapsed = api.post(f"/api/tasks/{task_id}/complete", {"data": values})
            tally.add(status == 200, status, elapsed)
        api.close()

    tally.started = time.perf_counter()
    until = tally.started + seconds
    run_clients(clients, work)


# --- one database ----------------------------------------------------------------------------

def prepare(url: str) -> str:
    """Deploy the landlords' processes and make the bench's user; returns its API token."""
    runtime = build_runtime(url, PROCESSES, FORMS)
    try:
        forms = read_forms(FORMS)
        with runtime.sessions.begin() as session:
            for landlord, path in diagram_files(PROCESSES):
                deploy(session, landlord, path.read_bytes(), forms, "bench")
            user = create_user(session, "bench", "Bench", ["complaints_officer", "caseworker"], ["*"])
            return create_token(session, user, "bench")
    finally:
        runtime.close()


def measure(name: str, url: str, args, folder: Path) -> None:
    token = prepare(url)
    server = Gunicorn(url, folder / f"gunicorn-{name}.log")
    engine = create_engine(url)
    try:
        warm = Tally()   # each worker parses the diagrams on its first requests: not measured
        log_complaints(server.port, token, args.clients, 3, warm)
        complete_tasks(server.port, token, args.clients, 3, OpenTasks(engine), Tally())
        created, completed = Tally(), Tally()
        log_complaints(server.port, token, args.clients, args.seconds, created)
        tasks = OpenTasks(engine)
        complete_tasks(server.port, token, args.clients, args.seconds, tasks, completed)
    finally:
        server.stop()
        engine.dispose()
    print(f"{name}:")
    print(created.line("creations", None))
    print(completed.line("completions", GOAL))
    if tasks.ready.empty() and completed.ended - completed.started < args.seconds * 0.95:
        print("  (every completable task was done before the time was up: give creations longer)")


def postgres_database(server_url: str):
    """A fresh database on the server at `server_url`, and a function that drops it."""
    name = f"bench_http_{os.getpid()}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(server_url).set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="length of each measured phase (default 20)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent keep-alive clients (default 32)")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server whose role may CREATE DATABASE")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    print(f"gunicorn {WORKERS} workers x {THREADS} threads on {os.cpu_count()} CPUs, {args.clients} clients, "
          f"{args.seconds:.0f} s a phase; workflow_app from {Path(workflow_app.__file__).parent}")
    with tempfile.TemporaryDirectory(prefix="http-throughput-") as folder:
        if not args.no_sqlite:
            measure("SQLite", f"sqlite:///{Path(folder) / 'bench.sqlite3'}", args, Path(folder))
        if args.postgres:
            url, drop = postgres_database(args.postgres)
            try:
                measure("PostgreSQL", url, args, Path(folder))
            finally:
                drop()


if __name__ == "__main__":
    main()
