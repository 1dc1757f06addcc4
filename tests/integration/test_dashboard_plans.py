"""The dashboard's statements on SQLite read the indexes meant for them, whatever SQLite's statistics say.

SQLite's planner chooses by the statistics ANALYZE keeps, and at sector scale they misled it twice: an index
with no rows (no hazard case yet) has no statistics, so the dashboard looked up each running complaint to
leave the hazard cases out and read every open task to find theirs; and most deadlines' `met_at` is a distinct
time while the running ones' is NULL, which the statistics cannot say, so the running missed deadlines were
read through every unmet deadline by key. Here a database of that shape (many complaints closed with their
deadlines met, some running, a few deadlines missed, no hazard case) is analysed, and the plan of each
statement the dashboard runs is read."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, text

from tests.support.reporting_data import FORMS, PROCESSES
from workflow_app.casework.runtime import build_runtime
from workflow_app.reporting import measures as reporting

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
LANDLORDS = ("brighter_places", "great_places", "harrogate")
CLOSED, RUNNING, MISSED = 20_000, 2_000, 150


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    runtime = build_runtime(f"sqlite:///{tmp_path_factory.mktemp('plans') / 'plans.sqlite3'}", PROCESSES, FORMS)
    with runtime.engine.begin() as connection:
        complaints, deadlines = [], []
        for n in range(1, CLOSED + RUNNING + 1):
            running = n > CLOSED
            received = NOW - timedelta(days=400) + timedelta(minutes=17 * n)
            complaints.append({
                "id": n, "reference": f"PLAN-{n:06d}", "landlord": LANDLORDS[n % 3], "received_at": received,
                "channel": "phone", "category": "repairs", "summary": "-", "resident": "{}",
                "status": "open" if running else "closed", "stage": "1" if running else "post",
                "created_at": received, "created_by": "plans", "kind": "complaint"})
            for key, days in (("stage1_acknowledge", 5), ("stage1_response", 10)):
                missed = running and n <= CLOSED + MISSED and key == "stage1_acknowledge"
                deadlines.append({
                    "complaint_id": n, "key": key, "stage": "1", "element_id": key, "due_at": received + timedelta(
                        days=days), "original_due_at": received + timedelta(days=days),
                    "met_at": None if running else received + timedelta(days=days - 1, seconds=n),
                    "missed": missed, "extended": False, "status": "missed" if missed else "open" if running else "met",
                    "guards": "acknowledge" if missed else None, "landlord": LANDLORDS[n % 3]})
        connection.execute(text(
            "INSERT INTO complaints (id, reference, landlord, received_at, channel, category, summary, resident,"
            " status, stage, created_at, created_by, kind) VALUES (:id, :reference, :landlord, :received_at,"
            " :channel, :category, :summary, :resident, :status, :stage, :created_at, :created_by, :kind)"),
            complaints)
        connection.execute(text(
            "INSERT INTO deadlines (complaint_id, key, stage, element_id, due_at, original_due_at, met_at, missed,"
            " extended, status, guards, landlord) VALUES (:complaint_id, :key, :stage, :element_id, :due_at,"
            " :original_due_at, :met_at, :missed, :extended, :status, :guards, :landlord)"), deadlines)
        connection.exec_driver_sql("ANALYZE")
    yield runtime
    runtime.close()


def plans(runtime) -> tuple[dict, list[tuple[str, list[str]]]]:
    """The dashboard for all three landlords, and each statement it ran with SQLite's plan for it."""
    statements = []

    def note(_connection, _cursor, statement, parameters, _context, _many) -> None:
        statements.append((statement, parameters))

    event.listen(runtime.engine, "before_cursor_execute", note)
    try:
        with runtime.sessions() as session:
            board = reporting.dashboard(session, reporting.Scope(tuple(runtime.landlords[s] for s in LANDLORDS)),
                                        NOW)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", note)
    with runtime.engine.connect() as connection:
        return board, [(statement, [row[3] for row in connection.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {statement}", tuple(str(p) for p in parameters) if parameters else ())])
            for statement, parameters in statements]


def test_the_running_missed_deadlines_are_read_from_their_own_index(runtime):
    board, planned = plans(runtime)
    reading_missed = [plan for statement, plan in planned if "'missed'" in statement]
    assert reading_missed
    for plan in reading_missed:
        assert any("ix_deadlines_missed_unmet" in step for step in plan), plan
    acknowledge = {d["key"]: d for d in board["deadlines"]}["stage1_acknowledge"]
    assert acknowledge["open"] == RUNNING and acknowledge["overdue"] == RUNNING   # missed ones and open ones alike


def test_without_hazard_cases_no_complaint_is_looked_up_one_by_one(runtime):
    board, planned = plans(runtime)
    assert board["running"] == RUNNING and board["hazards"]["running"] == 0
    for statement, plan in planned:
        assert not any("CORRELATED" in step for step in plan), (statement, plan)
        assert "FROM tasks JOIN complaints" not in statement, statement
    [others] = [plan for statement, plan in planned if "complaints.kind !=" in statement]
    assert any("ix_complaints_other_kinds" in step for step in others), others
