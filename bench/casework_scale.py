"""The caseworkers' pages at scale: 100,000 open and 1,000,000 closed complaints.

Fills a database with `reporting_scale.generate` (the same rows the managers' bench
uses), adds a few real complaints through the services (so their case pages have
instances, letters and a history), signs in as a caseworker and times, server side
through the Flask test client, the inbox's three views and the case page. Target: a
median under 150 ms on SQLite and PostgreSQL. Not a timed test. Run:

    python bench/casework_scale.py --sqlite /tmp/casework.sqlite3 \
        --postgres postgresql+psycopg://postgres@127.0.0.1:55432/workflow_bench
    python bench/casework_scale.py --sqlite /tmp/c.sqlite3 --closed 100000 --open 10000   # quicker

`--reuse` keeps data already generated (by this bench or by reporting_scale.py).
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import reporting_scale  # noqa: E402  (the shared generator, beside this file)
from sqlalchemy import create_engine, func, select, text  # noqa: E402

from workflow_app.casework.accounts import create_user  # noqa: E402
from workflow_app.casework.deployments import deploy, diagram_files, read_forms  # noqa: E402
from workflow_app.casework.models import Complaint, ReferenceCounter, User  # noqa: E402
from workflow_app.rules import clock  # noqa: E402  (after the path is set)
from workflow_app.web import create_app  # noqa: E402

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
REAL_COMPLAINTS = 10


def prepare(url: str, closed: int, running: int, reuse: bool):
    if not reuse:
        if url.startswith("postgresql"):
            engine = create_engine(url)
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
            engine.dispose()
        else:
            Path(url.split("///", 1)[1]).unlink(missing_ok=True)
    app = create_app({"TESTING": True, "DATABASE_URL": url, "PROCESSES_DIR": str(ROOT / "processes"),
                      "FORMS_DIR": str(ROOT / "forms"), "RUN_SCHEDULER": False, "WTF_CSRF_ENABLED": True})
    runtime = app.extensions["workflow_app"]
    with runtime.sessions() as session:
        present = session.scalar(select(func.count()).select_from(Complaint))
    if not present:
        with runtime.sessions.begin() as session:
            for landlord, path in diagram_files(ROOT / "processes"):
                deploy(session, landlord, path.read_bytes(), read_forms(ROOT / "forms"), "bench")
        started = time.perf_counter()
        reporting_scale.generate(runtime.engine, closed, running)
        with runtime.engine.connect() as connection:
            if runtime.engine.dialect.name == "postgresql":
                connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
            else:
                connection.execute(text("ANALYZE"))
                connection.commit()
        print(f"generated and analysed in {time.perf_counter() - started:.0f} s")
    else:
        print(f"reusing {present:,} complaints")
    continue_references(runtime)
    if runtime.engine.dialect.name == "postgresql":
        carry_sequences_on(runtime)
    return app, runtime


def carry_sequences_on(runtime) -> None:
    """The generator copies rows with their ids; move PostgreSQL's id sequences past them."""
    with runtime.engine.begin() as connection:
        for table in ("complaints", "deadlines", "audit_events", "workflow_instances", "letters"):
            connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                    f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), 1))"))


def continue_references(runtime) -> None:
    """The generator writes references directly; carry each landlord's counter on past them."""
    year = clock.now().year
    with runtime.sessions.begin() as session:
        for slug, landlord in runtime.landlords.items():
            prefix = f"{landlord.reference_prefix}-{year}-"
            highest = session.scalar(select(func.max(Complaint.reference))
                                     .where(Complaint.reference.like(prefix + "%")))
            last = int(highest.rsplit("-", 1)[1]) if highest else 0
            session.merge(ReferenceCounter(landlord=slug, year=year, last=max(last, _counter(session, slug, year))))


def _counter(session, landlord: str, year: int) -> int:
    row = session.get(ReferenceCounter, (landlord, year))
    return row.last if row else 0


def real_complaints(runtime) -> list[str]:
    """A few complaints logged and worked through the services: full case pages."""
    with runtime.sessions.begin() as session:
        user = session.scalars(select(User).where(User.username == "caseworker07")).first()
        if user is None:
            user = create_user(session, "caseworker07", "Caseworker 07",
                               ["caseworker", "complaints_officer", "stage2_reviewer"], ["great_places"], "bench")
        session.expunge(user)
    with runtime.sessions() as session:
        mine = list(session.scalars(select(Complaint.reference).where(Complaint.created_by == "caseworker07")))
    received = (clock.now() - timedelta(days=3)).isoformat()
    while len(mine) < REAL_COMPLAINTS:
        mine.append(runtime.complaints.log_complaint({
            "landlord": "great_places", "received_at": received, "channel": "phone",
            "category": "property_condition", "summary": "Damp in the bedroom",
            "resident": {"name": "Bench Resident", "email": "bench@example.org"}}, user))
    return mine


def median_ms(client, path: str, repeat: int) -> float:
    client.get(path)  # warm up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(times) * 1000


def run(url: str, closed: int, running: int, reuse: bool, repeat: int) -> None:
    print(f"\n=== {url.split('://')[0]}: {closed:,} closed + {running:,} open complaints")
    app, runtime = prepare(url, closed, running, reuse)
    references = real_complaints(runtime)
    client = app.test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    signed = client.post("/sign-in", data={"username": "caseworker07", "password": "bench",
                                           "csrf_token": TOKEN.search(page).group(1)})
    assert signed.status_code == 302, signed.status_code
    with runtime.sessions() as session:
        open_tasks = session.scalar(text("SELECT count(*) FROM tasks WHERE status = 'open'"))
    print(f"open tasks in the database: {open_tasks:,}")
    for label, path in (("inbox, my tasks", "/inbox?view=mine"),
                        ("inbox, team's unassigned", "/inbox?view=team"),
                        ("inbox, everything I may see", "/inbox?view=all"),
                        ("inbox, everything, overdue first page 5", "/inbox?view=all&due=overdue&page=5")):
        figure = median_ms(client, path, repeat)
        print(f"{label:45s} median {figure:7.1f} ms{'  <-- over 150 ms' if figure > 150 else ''}")
    cases = [median_ms(client, f"/complaints/{reference}", repeat) for reference in references[:5]]
    figure = statistics.median(cases)
    print(f"{'case page (5 complaints)':45s} median {figure:7.1f} ms{'  <-- over 150 ms' if figure > 150 else ''}")
    runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", help="a SQLite file to (re)create")
    parser.add_argument("--postgres", help="a PostgreSQL URL whose public schema is dropped and recreated")
    parser.add_argument("--closed", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    if not (args.sqlite or args.postgres):
        parser.error("give --sqlite FILE and/or --postgres URL")
    with clock.using(clock.VirtualClock(reporting_scale.NOW)):
        if args.sqlite:
            run(f"sqlite:///{Path(args.sqlite).resolve()}", args.closed, args.open, args.reuse, args.repeat)
        if args.postgres:
            run(args.postgres, args.closed, args.open, args.reuse, args.repeat)


if __name__ == "__main__":
    main()
