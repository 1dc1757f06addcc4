"""Task completions and complaint creations per second over HTTP, against gunicorn as production runs it.

For each database (a fresh SQLite file; with --postgres URL also a fresh PostgreSQL database on
that server, dropped afterwards): deploy the three landlords' processes (processes/), make a
user with an API token, start gunicorn as docs/operations.md does (2 workers x 8 threads, the
in-process scheduler off), then drive it with concurrent clients, each opening a connection a
request as a proxy in front of gunicorn does (--keep-alive to keep one each):

1. creations: each client logs complaints (POST /api/complaints) for --seconds;
2. completions: each client completes the open tasks those complaints now have, for --seconds:
   the tasks a landlord's process lets be done before the Code requires a letter (first contact,
   the acceptance decision, the acknowledgement), with the values the scenarios use.

Only a 201 counts as a creation and only a 200 as a completion: a completion the app refuses
(409 for a letter unsent, a conflict, an error) is counted apart as refused. Each line gives the
rate, p50/p95 latency and the goal (>= 100 completions a second), then the CPU the gunicorn
workers used per accepted request (steadier than a rate on a machine shared with other work).

Run: python bench/http_throughput.py [--seconds 20] [--clients 32] [--keep-alive] [--postgres postgresql+psycopg://…/]
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
from sqlalchemy.pool import NullPool

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

    def workers(self) -> list[int]:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True,
                             check=False)
        return [int(pid) for pid in out.stdout.split()]

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


def cpu_seconds(pids: list[int]) -> list[float]:
    """User and system CPU each process has used so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = []
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            seconds.append(0.0)
            continue
        seconds.append((int(fields[11]) + int(fields[12])) / ticks)
    return seconds


# --- the clients -----------------------------------------------------------------------------

class Api:
    """One client's connection: kept alive between requests, or (as a proxy such as nginx does by default
    towards gunicorn) a new one for each request."""

    def __init__(self, port: int, token: str, keep_alive: bool) -> None:
        self.port, self.keep_alive = port, keep_alive
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        if not keep_alive:
            self.headers["Connection"] = "close"
        self.connection: http.client.HTTPConnection | None = None

    def post(self, path: str, body: dict) -> tuple[int, dict, float]:
        """(status, body, seconds); status 0 when the connection failed."""
        started = time.perf_counter()
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.connection.request("POST", path, body=json.dumps(body), headers=self.headers)
            response = self.connection.getresponse()
            body = response.read()
            status = response.status
            payload = json.loads(body) if response.getheader("Content-Type") == "application/json" else {}
        except (OSError, http.client.HTTPException, ValueError):
            self.close()
            return 0, {}, time.perf_counter() - started
        if not self.keep_alive:
            self.close()
        return status, payload, time.perf_counter() - started

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


@dataclass
class Tally:
    """What one phase's clients saw: a latency per accepted request, the refusals by status, and the CPU
    the gunicorn workers used meanwhile."""

    latencies: list[float] = field(default_factory=list)
    refused: Counter = field(default_factory=Counter)
    started: float = 0.0
    ended: float = 0.0
    worker_cpu: list[float] = field(default_factory=list)
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
        refused = f", refused {dict(self.refused)}" if self.refused else ""
        cpu = " + ".join(f"{c:.1f}" for c in self.worker_cpu)
        return (f"  {what:<12} {rate:6.1f}/s  p50 {p50:5.0f} ms  p95 {p95:5.0f} ms{verdict}\n"
                f"  {'':<12} {count} in {seconds:.1f} s{refused}; workers' CPU {cpu} s, "
                f"{sum(self.worker_cpu) / count * 1000:.1f} ms a request")


@dataclass
class Load:
    """Concurrent clients against one server."""

    server: Gunicorn
    token: str
    clients: int
    keep_alive: bool

    def run(self, seconds: float, request, tally: Tally) -> None:
        """Each client calls `request(api, n, until)` until it returns False or time is up."""
        workers = self.server.workers()
        before = cpu_seconds(workers)
        tally.started = time.perf_counter()
        until = tally.started + seconds

        def client(n: int) -> None:
            api = Api(self.server.port, self.token, self.keep_alive)
            while time.perf_counter() < until and request(api, n, until):
                n += self.clients
            api.close()

        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(self.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        tally.worker_cpu = [after - was for after, was in zip(cpu_seconds(workers), before, strict=True)]

    def log_complaints(self, seconds: float, tally: Tally) -> None:
        landlords = sorted(COMPLETABLE)
        received = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()

        def log(api: Api, n: int, _until: float) -> bool:
            status, _, elapsed = api.post("/api/complaints", {
                "landlord": landlords[n % len(landlords)], "received_at": received, "channel": "phone",
                "category": "other", "summary": "Boiler not repaired", "resident": {"name": "Bench Resident"}})
            tally.add(status == 201, status, elapsed)
            return True

        self.run(seconds, log, tally)

    def complete_tasks(self, seconds: float, tasks: OpenTasks, tally: Tally) -> None:
        def complete(api: Api, _n: int, until: float) -> bool:
            next_task = tasks.take(until)
            if next_task is None:
                return False
            task_id, values = next_task
            status, _, elapsed = api.post(f"/api/tasks/{task_id}/complete", {"data": values})
            tally.add(status == 200, status, elapsed)
            return True

        self.run(seconds, complete, tally)


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
        load = Load(server, token, args.clients, args.keep_alive)
        load.log_complaints(3, Tally())   # each worker parses the diagrams on its first requests: not measured
        load.complete_tasks(3, OpenTasks(engine), Tally())
        created, completed, tasks = Tally(), Tally(), OpenTasks(engine)
        load.log_complaints(args.seconds, created)
        load.complete_tasks(args.seconds, tasks, completed)
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
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
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
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--keep-alive", action="store_true",
                        help="each client keeps its connection (default: a new connection for each request, as "
                             "nginx opens them to gunicorn by default; a kept-alive connection stays with the "
                             "worker that accepted it, and one worker may take them all)")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server whose role may CREATE DATABASE")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    print(f"gunicorn {WORKERS} workers x {THREADS} threads on {os.cpu_count()} CPUs, {args.clients} clients "
          f"({'keep-alive' if args.keep_alive else 'a connection a request'}), {args.seconds:.0f} s "
          f"a phase; workflow_app from {Path(workflow_app.__file__).parent}")
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
