"""The managers' figures at scale: 1,000,000 closed and 100,000 open complaints.

Generates the rows the engine would have written (complaints, their deadlines, tasks and
the form answers in `task_completed` audit events) straight into a fresh database, on
SQLite and/or PostgreSQL, for the three landlords in `processes/` (their diagrams deployed
the ordinary way), then brings the read side up to date as the scheduler does after each
sweep (`reporting.refresh`: responses measured, form answers copied) and times, each after
a warm-up run, medians of `--repeat` runs:
- every section of the performance page for one landlord's reporting year, one by one,
  then all together, and the dashboard's figures for all landlords (for information);
- the pages themselves, server side through the Flask test client, signed in as an admin:
  the performance page for one landlord-year (goal: under 1 s) and for all landlords, and
  the dashboard and its JSON for all landlords (goal: under 300 ms).

Each median is printed beside its goal. It is not a timed test. Run:

    python bench/reporting_scale.py --sqlite /tmp/reporting.sqlite3 \
        --postgres postgresql+psycopg://postgres@127.0.0.1:55432/workflow_bench
    python bench/reporting_scale.py --sqlite /tmp/r.sqlite3 --closed 100000 --open 10000   # quicker

An existing database with the data already in it is reused (`--reuse`), so the timings can
be repeated without generating again (`bench/casework_scale.py` shares the generator and
its databases).
"""
from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from workflow_app.casework.deployments import deploy, diagram_files, read_forms  # noqa: E402
from workflow_app.casework.models import Complaint  # noqa: E402
from workflow_app.casework.runtime import build_runtime  # noqa: E402
from workflow_app.reporting import measures as reporting  # noqa: E402
from workflow_app.rules import clock  # noqa: E402

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FIRST = datetime(2020, 4, 1, 8, 0, tzinfo=UTC)
SHARE = {"great_places": 0.6, "brighter_places": 0.25, "harrogate": 0.15}
PREFIX = {"great_places": "GP", "brighter_places": "BP", "harrogate": "HHA"}
STAGE2_ENTRY = {"great_places": "stage2_acknowledge", "brighter_places": "stage2_acknowledge",
                "harrogate": "review_acknowledge"}
CATEGORIES = ("property_condition", "complaint_handling", "anti_social_behaviour", "health_and_safety",
              "estate_management", "charges", "staff_conduct", "tenancy_and_moving", "other")
CASEWORKERS = [f"caseworker{n:02d}" for n in range(40)]
REMEDIES = ("apology", "explanation", "financial_remedy", "action_on_delay")
BATCH = 20_000

COLUMNS = {
    "complaints": ("id", "reference", "landlord", "received_at", "channel", "category", "summary", "resident",
                   "status", "stage", "outcome", "closed_at", "created_at", "created_by"),
    "deadlines": ("id", "complaint_id", "key", "stage", "element_id", "guards", "due_at", "original_due_at",
                  "met_at", "missed", "extended", "status"),
    "tasks": ("id", "complaint_id", "landlord", "element_id", "name", "stage", "role", "assignee", "due_at",
              "status", "created_at", "completed_at", "completed_by"),
    "audit_events": ("id", "complaint_id", "landlord", "at", "actor", "type", "details"),
}


class Writer:
    """Buffers rows per table and writes them in batches: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.rows: dict[str, list[tuple]] = {t: [] for t in COLUMNS}
        self.counts: dict[str, int] = dict.fromkeys(COLUMNS, 0)
        self.connection = engine.raw_connection()
        if not self.postgres:
            self.connection.cursor().execute("PRAGMA synchronous=OFF")

    def add(self, table: str, row: tuple) -> None:
        self.rows[table].append(row)
        if len(self.rows[table]) >= BATCH:
            self.flush()  # every table, complaints first, so no row comes before its complaint

    def flush(self, table: str | None = None) -> None:
        for name in [table] if table else list(self.rows):
            rows = self.rows[name]
            if not rows:
                continue
            cursor = self.connection.cursor()
            columns = COLUMNS[name]
            if self.postgres:
                with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(tuple(self._pg(v) for v in row))
            else:
                marks = ", ".join("?" for _ in columns)
                cursor.executemany(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})",
                                   [tuple(self._sqlite(v) for v in row) for row in rows])
            cursor.close()
            self.connection.commit()
            self.counts[name] += len(rows)
            rows.clear()

    @staticmethod
    def _sqlite(value):
        if isinstance(value, datetime):
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return value

    @staticmethod
    def _pg(value):
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return value

    def close(self) -> None:
        self.flush()
        self.connection.close()


def generate(engine, closed: int, running: int, seed: int = 5) -> dict[str, int]:
    rng = random.Random(seed)
    writer = Writer(engine)
    with engine.connect() as connection:
        ids = {kind: connection.scalar(text(f"SELECT COALESCE(MAX(id), 0) FROM {table}"))
               for kind, table in (("complaint", "complaints"), ("deadline", "deadlines"), ("audit", "audit_events"))}
    sequence: dict[tuple[str, int], int] = {}
    span = (NOW - timedelta(days=60) - FIRST).total_seconds()
    landlords = list(SHARE)
    weights = [SHARE[landlord] for landlord in landlords]

    def next_id(kind: str) -> int:
        ids[kind] += 1
        return ids[kind]

    def deadline(cid, key, stage, element, guards, due, met, extended=False, missed=False, status="met"):
        writer.add("deadlines", (next_id("deadline"), cid, key, stage, element, guards, due,
                                 due - timedelta(days=14) if extended else due, met, missed, extended, status))

    def task(cid, landlord, element, stage, created, completed=None, by=None, assignee=None, due=None):
        writer.add("tasks", (str(uuid.UUID(int=rng.getrandbits(128))), cid, landlord, element,
                             element.replace("_", " ").capitalize(), stage, "caseworker", assignee, due,
                             "completed" if completed else "open", created, completed, by))

    def form(cid, landlord, at, element, stage, data):
        writer.add("audit_events", (next_id("audit"), cid, landlord, at, "bench", "task_completed",
                                    {"task_id": "-", "element_id": element, "name": element, "stage": stage,
                                     "data": data}))

    for n in range(closed + running):
        is_open = n >= closed
        landlord = rng.choices(landlords, weights)[0]
        if is_open:
            received = NOW - timedelta(seconds=rng.uniform(0, 50 * 86400))
        else:
            received = FIRST + timedelta(seconds=rng.uniform(0, span))
        year = received.year
        sequence[(landlord, year)] = sequence.get((landlord, year), 0) + 1
        cid = next_id("complaint")
        reference = f"{PREFIX[landlord]}-{year}-{sequence[(landlord, year)]:06d}"
        category = rng.choice(CATEGORIES)
        refused = rng.random() < 0.05
        escalated = not refused and rng.random() < 0.18
        decided = received + timedelta(hours=rng.uniform(1, 30))
        acked = decided + timedelta(days=rng.uniform(0.2, 8))
        ack_due = received + timedelta(days=7)
        extended = rng.random() < 0.12
        response_due = acked + timedelta(days=14 + (14 if extended else 0))
        responded = acked + timedelta(days=rng.uniform(2, 24 + (14 if extended else 0)))
        requested = responded + timedelta(days=rng.uniform(1, 20))
        acked2 = requested + timedelta(days=rng.uniform(0.5, 7))
        extended2 = rng.random() < 0.15
        response2_due = acked2 + timedelta(days=28 + (28 if extended2 else 0))
        responded2 = acked2 + timedelta(days=rng.uniform(5, 35 + (28 if extended2 else 0)))
        closed_at = (decided if refused else (responded2 if escalated else responded) + timedelta(days=29))
        worker = rng.choice(CASEWORKERS)
        if is_open:
            where = rng.choices(["pre", "ack", "response", "stage2"], [0.1, 0.25, 0.45, 0.2])[0]
            stage = {"pre": "pre", "ack": "1", "response": "1", "stage2": "2"}[where]
            writer.add("complaints", (cid, reference, landlord, received, "email", category, "bench",
                                      {"name": "Bench"}, "open", stage, None, None, received, "bench"))
            assignee = worker if rng.random() < 0.7 else None
            if where == "pre":
                task(cid, landlord, "decide_acceptance", "pre", received, assignee=assignee)
                continue
            task(cid, landlord, "decide_acceptance", "pre", received, decided, worker)
            overdue = rng.random() < 0.08
            if where == "ack":
                due = NOW - timedelta(days=1) if overdue else NOW + timedelta(days=rng.uniform(0, 7))
                deadline(cid, "stage1_acknowledge", "1", "acknowledge_due", "acknowledge", due, None,
                         missed=overdue, status="missed" if overdue else "open")
                task(cid, landlord, "acknowledge", "1", decided, assignee=assignee, due=None if overdue else due)
                continue
            deadline(cid, "stage1_acknowledge", "1", "acknowledge_due", "acknowledge", ack_due, acked)
            task(cid, landlord, "acknowledge", "1", decided, acked, worker)
            if where == "response":
                due = NOW - timedelta(days=2) if overdue else NOW + timedelta(days=rng.uniform(0, 20))
                deadline(cid, "stage1_response", "1", "stage1_response_due", "stage1_response", due, None,
                         extended=extended, missed=overdue, status="missed" if overdue else "open")
                task(cid, landlord, "stage1_response", "1", acked, assignee=assignee, due=None if overdue else due)
                continue
            deadline(cid, "stage1_response", "1", "stage1_response_due", "stage1_response", response_due,
                     responded, extended=extended)
            task(cid, landlord, "stage1_response", "1", acked, responded, worker)
            due = NOW - timedelta(days=3) if overdue else NOW + timedelta(days=rng.uniform(0, 30))
            deadline(cid, "stage2_response", "2", "stage2_response_due", "stage2_response", due, None,
                     extended=extended2, missed=overdue, status="missed" if overdue else "open")
            task(cid, landlord, STAGE2_ENTRY[landlord], "2", requested, acked2, "reviewer")
            task(cid, landlord, "stage2_response", "2", acked2, assignee=assignee, due=None if overdue else due)
            continue

        outcome = "refused" if refused else ("stage2_final" if escalated else "resolved_stage1")
        writer.add("complaints", (cid, reference, landlord, received, "email", category, "bench", {"name": "Bench"},
                                  "closed", "pre" if refused else "post", outcome, closed_at, received, "bench"))
        task(cid, landlord, "decide_acceptance", "pre", received, decided, worker)
        if refused:
            form(cid, landlord, decided, "decide_acceptance", "pre",
                 {"acceptance": "refuse", "exclusion_reasons": [rng.choice(["over_12_months", "legal_action",
                                                                            "previously_considered"])]})
            continue
        deadline(cid, "stage1_acknowledge", "1", "acknowledge_due", "acknowledge", ack_due, acked,
                 missed=acked > ack_due)
        task(cid, landlord, "acknowledge", "1", decided, acked, worker)
        deadline(cid, "stage1_response", "1", "stage1_response_due", "stage1_response", response_due, responded,
                 extended=extended, missed=responded > response_due)
        task(cid, landlord, "stage1_response", "1", acked, responded, worker)
        form(cid, landlord, responded, "stage1_response", "1",
             {"stage1_decision": "respond", "remedies": rng.sample(REMEDIES, rng.randint(0, 2)),
              "compensation": rng.choice([0, 0, 0, 25, 50, 100])})
        if escalated:
            deadline(cid, "stage2_acknowledge", "2", "stage2_acknowledge_due", STAGE2_ENTRY[landlord],
                     requested + timedelta(days=7), acked2, missed=acked2 > requested + timedelta(days=7))
            task(cid, landlord, STAGE2_ENTRY[landlord], "2", requested, acked2, "reviewer")
            deadline(cid, "stage2_response", "2", "stage2_response_due", "stage2_response", response2_due,
                     responded2, extended=extended2, missed=responded2 > response2_due)
            task(cid, landlord, "stage2_response", "2", acked2, responded2, "reviewer")
            form(cid, landlord, responded2, "stage2_response", "2",
                 {"stage2_decision": "respond", "remedies": ["apology"], "compensation": rng.choice([0, 100, 250])})
        survey = rng.choice(["completed", "completed", "no_reply"])
        form(cid, landlord, closed_at, "satisfaction_survey", "post",
             {"survey_status": survey,
              **({"satisfaction": rng.choice(["very_satisfied", "satisfied", "neutral", "dissatisfied"])}
                 if survey == "completed" else {})})
        task(cid, landlord, "satisfaction_survey", "post", closed_at - timedelta(days=1), closed_at, worker)
        if n % 100000 == 0 and n:
            print(f"  {n:,} complaints generated", flush=True)
    writer.close()
    return writer.counts


PAGE_GOAL, DASHBOARD_GOAL = 1.0, 0.3
"""Seconds: the performance page for one landlord-year, and the dashboard for all landlords (issue 13)."""
SECTIONS = ("ch01", "ch02", "acknowledgements", "response_times", "resolution", "refusals", "categories",
            "remedies", "satisfaction", "deadline_performance")
"""Every section `reporting.performance` computes for the page, timed one by one for information."""
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def timed(label: str, work, repeat: int, goal: float | None = None):
    """Run `work` once to warm up, then `repeat` times; print the median (and best) beside the goal."""
    result = work()   # warm up: caches, the calendar table, the parsed diagrams
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    verdict = "" if goal is None else f"  goal < {goal * 1000:,.0f} ms: {'met' if median < goal else 'NOT MET'}"
    print(f"{label:68s} median {median * 1000:8,.0f} ms (best {min(times) * 1000:,.0f}){verdict}", flush=True)
    return result


def signed_in_manager(url: str, runtime):
    """A Flask test client signed in as an admin who manages every landlord (created once)."""
    from workflow_app.casework.accounts import create_user
    from workflow_app.casework.models import User
    from workflow_app.web import create_app
    with runtime.sessions.begin() as session:
        if session.scalars(select(User).where(User.username == "bench_manager")).first() is None:
            create_user(session, "bench_manager", "Bench Manager", ["admin", "manager"], ["*"], "bench")
    app = create_app({"TESTING": True, "DATABASE_URL": url, "PROCESSES_DIR": str(ROOT / "processes"),
                      "FORMS_DIR": str(ROOT / "forms"), "RUN_SCHEDULER": False, "WTF_CSRF_ENABLED": True})
    client = app.test_client()
    token = TOKEN.search(client.get("/sign-in").get_data(as_text=True)).group(1)
    signed = client.post("/sign-in", data={"username": "bench_manager", "password": "bench", "csrf_token": token})
    assert signed.status_code == 302, signed.status_code
    return app, client


def get(client, path: str):
    def work():
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response
    return work


def run(url: str, closed: int, running: int, reuse: bool, repeat: int) -> None:
    print(f"\n=== {url.split('://')[0]}: {closed:,} closed + {running:,} open complaints")
    if url.startswith("postgresql") and not reuse:
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    if url.startswith("sqlite") and not reuse:
        Path(url.split("///", 1)[1]).unlink(missing_ok=True)
    runtime = build_runtime(url, ROOT / "processes", ROOT / "forms")
    with runtime.sessions() as session:
        present = session.scalar(select(func.count()).select_from(Complaint))
    if not present:
        forms = read_forms(ROOT / "forms")
        with runtime.sessions.begin() as session:
            for landlord, path in diagram_files(ROOT / "processes"):
                deploy(session, landlord, path.read_bytes(), forms, "bench")
        started = time.perf_counter()
        counts = generate(runtime.engine, closed, running)
        print(f"generated in {time.perf_counter() - started:.0f} s: "
              + ", ".join(f"{n:,} {t}" for t, n in counts.items()))
        started = time.perf_counter()
        with runtime.engine.connect() as connection:
            if runtime.engine.dialect.name == "postgresql":
                connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
            else:
                connection.execute(text("ANALYZE"))
                connection.commit()
        print(f"analysed in {time.perf_counter() - started:.0f} s")
    else:
        print(f"reusing {present:,} complaints")
    # The read side as the scheduler keeps it: responses measured and form answers copied, once.
    started = time.perf_counter()
    measured = reporting.refresh(runtime.sessions, runtime.landlords)
    print(f"reporting.refresh over all history (responses measured, form answers and complaints copied): "
          f"{measured:,} responses "
          f"in {time.perf_counter() - started:.1f} s")
    if runtime.engine.dialect.name == "postgresql":
        with runtime.engine.connect() as connection:   # as autovacuum would soon after: index-only scans
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    started = time.perf_counter()
    reporting.refresh(runtime.sessions, runtime.landlords)
    print(f"reporting.refresh with nothing new (after each sweep): {time.perf_counter() - started:.3f} s")
    one = reporting.Scope((runtime.landlords["great_places"],))
    every = reporting.Scope(tuple(runtime.landlords[s] for s in sorted(runtime.landlords)))
    year = reporting.Period.reporting_year(2025)

    print(f"\nthe performance page's sections, {year.label}, great_places (for information):")
    with runtime.sessions() as session:
        for section in SECTIONS:
            timed(f"  {section}", lambda section=section: getattr(reporting, section)(session, one, year), repeat)
    report = timed("  every figure (reporting.performance)",
                   lambda: _with_session(runtime, lambda s: reporting.performance(s, one, year)), repeat, PAGE_GOAL)
    print("    response times", {s: {k: v[k] for k in ("count", "mean", "p90")}
                                  for s, v in report["response_times"].items()},
          "resolved at stage 1", report["resolution"]["resolved_share"],
          "compensation", report["remedies"]["compensation_total"],
          "satisfied", report["satisfaction"]["satisfied_share"])
    board = timed("  dashboard figures, all landlords (reporting.dashboard)",
                  lambda: _with_session(runtime, lambda s: reporting.dashboard(s, every, NOW)), repeat, DASHBOARD_GOAL)
    print("    running", board["running"], "by stage", {s["stage"]: s["count"] for s in board["by_stage"]},
          "overdue", board["overdue"], "due within 2 working days", board["due_soon"],
          "extensions in force", board["extended"], "caseworkers", len(board["caseload"]))

    print("\nthe pages, server side through the Flask test client:")
    app, client = signed_in_manager(url, runtime)
    with clock.using(clock.VirtualClock(NOW)):
        timed(f"GET /manager/performance, great_places, {year.first.year}/{year.last.year % 100}",
              get(client, f"/manager/performance?landlord=great_places&year={year.first.year}"), repeat, PAGE_GOAL)
        timed("GET /manager/performance, all landlords",
              get(client, f"/manager/performance?landlord=all&year={year.first.year}"), repeat)
        timed("GET /manager/ (the dashboard), all landlords",
              get(client, "/manager/?landlord=all"), repeat, DASHBOARD_GOAL)
        timed("GET /manager/dashboard.json (its 30-second refresh), all landlords",
              get(client, "/manager/dashboard.json?landlord=all"), repeat, DASHBOARD_GOAL)
        timed("GET /manager/, great_places", get(client, "/manager/?landlord=great_places"), repeat)
    app.extensions["workflow_app"].close()
    runtime.close()


def _with_session(runtime, work):
    with runtime.sessions() as session:
        return work(session)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", help="a SQLite file to (re)create, e.g. /tmp/reporting.sqlite3")
    parser.add_argument("--postgres", help="a PostgreSQL URL whose public schema is dropped and recreated")
    parser.add_argument("--closed", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="keep the data already in the database")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each figure after a warm-up")
    args = parser.parse_args()
    if not args.sqlite and not args.postgres:
        parser.error("give --sqlite PATH and/or --postgres URL")
    if args.sqlite:
        run(f"sqlite:///{Path(args.sqlite).resolve()}", args.closed, args.open, args.reuse, args.repeat)
    if args.postgres:
        run(args.postgres, args.closed, args.open, args.reuse, args.repeat)


if __name__ == "__main__":
    main()
