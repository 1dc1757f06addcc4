"""The managers' figures at scale: 1,000,000 closed and 100,000 open complaints.

Generates the rows the engine would have written (complaints, their deadlines, tasks and
the form answers in `task_completed` audit events) straight into a fresh database, on
SQLite and/or PostgreSQL, for the three landlords in `processes/` (their diagrams deployed
the ordinary way), then times, after a warm-up run:
- the dashboard for one landlord and across all three (what the admin sees);
- one reporting year's CH01 and CH02, for one landlord and across all three;
- the whole performance page (every figure) for one landlord, for information.

It prints each figure set and its time; the target is under 1 s for the dashboard and for
CH01 + CH02. It is not a timed test. Run:

    python bench/reporting_scale.py --sqlite /tmp/reporting.sqlite3 \
        --postgres postgresql+psycopg://postgres@127.0.0.1:55432/workflow_bench
    python bench/reporting_scale.py --sqlite /tmp/r.sqlite3 --closed 100000 --open 10000   # quicker

An existing database with the data already in it is reused (`--reuse`), so the timings can
be repeated without generating again.
"""
from __future__ import annotations

import argparse
import json
import random
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


def timed(label: str, work, repeat: int = 3):
    work()  # warm up: caches, the calendar table, the parsed diagrams
    times = []
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    best, median = min(times), statistics.median(times)
    print(f"{label}: median {median:.3f} s (best {best:.3f} s){'' if median < 1 else '  <-- over 1 s'}")
    return result


def run(url: str, closed: int, running: int, reuse: bool) -> None:
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
    started = time.perf_counter()
    measured = reporting.refresh(runtime.sessions, runtime.landlords)
    print(f"responses measured (reporting.refresh, once for all history): {measured:,} "
          f"in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    measured = reporting.refresh(runtime.sessions, runtime.landlords)
    print(f"refresh with nothing new (what every report pays): {time.perf_counter() - started:.3f} s")
    one = reporting.Scope((runtime.landlords["great_places"],))
    every = reporting.Scope(tuple(runtime.landlords[s] for s in sorted(runtime.landlords)))
    year = reporting.Period.reporting_year(2025)

    def dashboard(scope):
        with runtime.sessions() as session:
            return reporting.dashboard(session, scope, NOW)

    def regulator(scope):
        reporting.refresh(runtime.sessions, runtime.landlords)
        with runtime.sessions() as session:
            return {"ch01": reporting.ch01(session, scope, year), "ch02": reporting.ch02(session, scope, year)}

    def everything(scope):
        reporting.refresh(runtime.sessions, runtime.landlords)
        with runtime.sessions() as session:
            return reporting.performance(session, scope, year)

    for name, scope in (("great_places", one), ("all three landlords", every)):
        board = timed(f"dashboard, {name}", lambda scope=scope: dashboard(scope))
        print("  running", board["running"], "by stage", {s["stage"]: s["count"] for s in board["by_stage"]},
              "overdue", board["overdue"], "due within 2 working days", board["due_soon"],
              "extensions in force", board["extended"], "caseworkers", len(board["caseload"]),
              "received", [(r["period"], r["this_year"], r["last_year"]) for r in board["received"]])
        figures = timed(f"CH01 + CH02 {year.label}, {name}", lambda scope=scope: regulator(scope))
        print("  CH01", figures["ch01"])
        print("  CH02", {s: {k: v[k] for k in ("responded", "within", "share")} for s, v in figures["ch02"].items()})
    report = timed(f"every figure {year.label}, great_places", lambda: everything(one), repeat=1)
    print("  response times", {s: {k: v[k] for k in ("count", "mean", "p90")}
                                for s, v in report["response_times"].items()},
          "resolved at stage 1", report["resolution"]["resolved_share"],
          "compensation", report["remedies"]["compensation_total"],
          "satisfied", report["satisfaction"]["satisfied_share"])
    runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", help="a SQLite file to (re)create, e.g. /tmp/reporting.sqlite3")
    parser.add_argument("--postgres", help="a PostgreSQL URL whose public schema is dropped and recreated")
    parser.add_argument("--closed", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="keep the data already in the database")
    args = parser.parse_args()
    if not args.sqlite and not args.postgres:
        parser.error("give --sqlite PATH and/or --postgres URL")
    if args.sqlite:
        run(f"sqlite:///{args.sqlite}", args.closed, args.open, args.reuse)
    if args.postgres:
        run(args.postgres, args.closed, args.open, args.reuse)


if __name__ == "__main__":
    main()
