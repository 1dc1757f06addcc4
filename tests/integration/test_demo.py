"""The demo data the README's run command loads."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from workflow_app.casework.models import Complaint, User
from workflow_app.rules import clock
from workflow_app.tools.demo import load_demo


def test_demo_deploys_logs_complaints_and_can_run_twice(runtime):
    first = list(load_demo(runtime))
    assert any("testshire: complaint TH-" in line for line in first)
    list(load_demo(runtime))
    with runtime.sessions() as session:
        assert session.scalar(select(func.count(Complaint.id))) == 3
        assert session.scalar(select(func.count(User.id))) == 6  # admin and five per landlord


DEMO_NOW = datetime(2026, 12, 23, 16, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def landlords_demo(tmp_path_factory):
    """`make run`'s demo for the three landlords, built once on a fixed clock; yields the runtime, its database
    and what the demo printed."""
    from tests.support.reporting_data import FORMS, PROCESSES
    from workflow_app.casework.runtime import build_runtime
    from workflow_app.diagrams.definitions import cache as definition_cache

    definition_cache.clear()
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.sqlite3'}"
    runtime = build_runtime(url, PROCESSES, FORMS)
    with clock.using(clock.VirtualClock(DEMO_NOW)):
        printed = list(load_demo(runtime))
    yield runtime, url, printed
    runtime.close()
    definition_cache.clear()


def test_the_landlords_demo_has_a_history_a_team_at_work_and_owned_improvements(landlords_demo):
    """What `make run` shows: each landlord's past complaints, current ones, work assigned, lessons owned."""
    from workflow_app.casework.models import LessonLearnt, Task

    runtime, _, _ = landlords_demo
    with runtime.sessions() as session:
        for landlord in ("great_places", "brighter_places", "harrogate"):
            complaints = session.execute(select(Complaint.reference, Complaint.received_at)
                                         .where(Complaint.landlord == landlord)
                                         .order_by(Complaint.received_at)).all()
            assert len(complaints) == 35     # 30 past, one awaiting its stage 2 review, one its stage 1 response, 3 current
            assert complaints[0].received_at < DEMO_NOW - timedelta(days=365)
            numbers = [(r.split("-")[1], int(r.split("-")[2])) for r, _ in complaints]
            assert numbers == sorted(numbers), "references run in order of receipt"
            open_tasks = session.execute(select(Task.assignee).where(Task.landlord == landlord,
                                                                     Task.status == "open")).scalars().all()
            assigned = [a for a in open_tasks if a]
            assert assigned and all(a.startswith(f"{landlord}.") for a in assigned)
            assert len(assigned) >= len(open_tasks) / 2
            reviewing = session.scalars(select(Task.assignee).where(Task.landlord == landlord, Task.stage == "2",
                                                                    Task.status == "open")).all()
            assert reviewing and set(reviewing) == {f"{landlord}.stage2_reviewer"}, "stage 2 work for the reviewer"
            responding = session.execute(select(Task.assignee, Task.role).where(
                Task.landlord == landlord, Task.form_id.like("stage1_response%"), Task.status == "open")).all()
            assert [(a, r) for a, r in responding] == [(f"{landlord}.{r}", r) for _, r in responding] \
                and responding, "a stage 1 response for whoever the policy gives it (Great Places: its officer)"
            analyst = session.scalars(select(User).where(User.username == f"{landlord}.analyst")).one()
            assert analyst.roles == ["analyst"] and analyst.landlords == [landlord]
        lessons = session.execute(select(LessonLearnt.landlord, LessonLearnt.owner, LessonLearnt.due_on,
                                         LessonLearnt.status)).all()
        assert {row.landlord for row in lessons} == {"great_places", "brighter_places", "harrogate"}
        assert all(row.owner and row.due_on for row in lessons)
        assert {row.status for row in lessons} == {"open", "in_progress", "done"}
        count = session.scalar(select(func.count(Complaint.id)))
    with clock.using(clock.VirtualClock(DEMO_NOW)):
        list(load_demo(runtime))                                  # running it again adds nothing
    with runtime.sessions() as session:
        assert session.scalar(select(func.count(Complaint.id))) == count


def test_the_inbox_the_api_the_case_pages_and_the_dashboard_agree_on_what_is_overdue(landlords_demo):
    """One definition of overdue, read by every page, complaint by complaint, on the demo's data."""
    from workflow_app.casework.models import Deadline, Task
    from workflow_app.web import create_app

    runtime, url, printed = landlords_demo
    [token] = [line.rsplit(": ", 1)[1] for line in printed if line.startswith("API token for admin")]
    app = create_app({"TESTING": True, "DATABASE_URL": url, "PROCESSES_DIR": str(runtime.processes_dir),
                      "FORMS_DIR": str(runtime.forms_dir), "CLOCK": clock.VirtualClock(DEMO_NOW)})
    try:
        web = app.test_client()
        web.post("/sign-in", data={"username": "admin", "password": "demo", "csrf_token": _csrf(web)})
        with app.extensions["workflow_app"].sessions() as session:
            references = dict(session.execute(select(Complaint.id, Complaint.reference)
                                              .where(Complaint.status == "open")).all())
            tasks = session.execute(select(Task.id, Task.complaint_id, Task.element_id, Task.due_at)
                                    .where(Task.status == "open")).all()
            running_overdue = {references[d.complaint_id] for d in session.scalars(
                select(Deadline).where(Deadline.complaint_id.in_(references))) if d.overdue(DEMO_NOW)}
        inbox_overdue = _inbox_references(web, "due=overdue")
        api_overdue, page = set(), 1
        while listed := web.get(f"/api/tasks?overdue=true&page={page}",
                                headers={"Authorization": f"Bearer {token}"}).json:
            api_overdue |= {t["reference"] for t in listed}
            page += 1
        case_overdue = {reference for reference in references.values()
                        if "tag--overdue" in web.get(f"/complaints/{reference}").get_data(as_text=True)}
        board = web.get("/manager/dashboard.json?landlord=all").json
    finally:
        app.extensions["workflow_app"].close()
    overdue_tasks = [t for t in tasks if t.due_at is not None and t.due_at < DEMO_NOW]
    assert overdue_tasks, "the demo has overdue work to show"
    assert inbox_overdue == api_overdue == case_overdue == running_overdue
    assert {references[t.complaint_id] for t in overdue_tasks} == inbox_overdue
    assert sum(w["overdue"] for w in board["waiting"]) == len(overdue_tasks)
    assert board["overdue"] >= len(inbox_overdue)
    # The current complaints waiting for the decision to accept them show the acknowledgement's clock.
    current = [t for t in tasks if t.element_id in ("decide_acceptance", "first_contact")]
    assert current and all(t.due_at is not None for t in current)


def _csrf(web, path: str = "/sign-in") -> str:
    import re
    return re.search(r'name="csrf_token" value="([^"]+)"', web.get(path).get_data(as_text=True)).group(1)


def _inbox_references(web, query: str) -> set[str]:
    import re
    found, page = set(), 1
    while True:
        html = web.get(f"/inbox?view=all&{query}&page={page}").get_data(as_text=True)
        tasks = html.partition('<table class="tasks">')[2]      # the task list, not the letters to send
        found |= set(re.findall(r'href="/complaints/([A-Z]+-\d{4}-\d{6})"', tasks))
        if f"page={page + 1}" not in html:
            return found
        page += 1


def test_each_dashboard_figure_lists_exactly_the_rows_it_counts(landlords_demo):
    """The list behind a figure (the managers' "complaints behind the figure" page) holds as many rows as the
    figure says, for all landlords together and for each, for every deadline and every task waited at."""
    from workflow_app.reporting.measures import Scope, behind_figure, dashboard

    runtime, _, _ = landlords_demo
    every = tuple(runtime.landlords[slug] for slug in sorted(runtime.landlords))
    with runtime.sessions() as session:
        for scope in (Scope(every), *(Scope((landlord,)) for landlord in every)):
            board = dashboard(session, scope, DEMO_NOW)
            for figure in ("overdue", "due_soon"):
                rows = behind_figure(session, scope, figure, now=DEMO_NOW)
                assert len(rows) == board[figure], (scope.slugs, figure)
                for deadline in board["deadlines"]:
                    assert len(behind_figure(session, scope, figure, key=deadline["key"], now=DEMO_NOW)) \
                        == deadline[figure]
            assert (board["overdue"] and board["due_soon"]) or len(scope.slugs) == 1
            for place in (w for w in board["waiting"] if w["element_id"]):
                at = {"landlord": place["landlord"], "element": place["element_id"], "now": DEMO_NOW}
                waiting = behind_figure(session, scope, "waiting", **at)
                assert len(waiting) == place["count"] and {r["landlord"] for r in waiting} == {place["landlord"]}
                assert len(behind_figure(session, scope, "waiting_overdue", **at)) == place["overdue"]


def test_the_dashboards_deadlines_are_the_running_deadlines_of_running_complaints(landlords_demo):
    """Every deadline figure on the dashboard counts the running deadlines (open, or missed with the work not done)
    of running complaints, key by key, however the landlord is known: read from the deadline, or through its
    complaint for a deadline set before deadlines carried it. A closed complaint keeps no open deadline."""
    from sqlalchemy import and_, update

    from workflow_app.casework.models import Deadline
    from workflow_app.reporting.measures import Scope, dashboard
    from workflow_app.rules.statuses import ComplaintStatus, DeadlineStatus
    from workflow_app.rules.vocabulary import HAZARD_KEYS, is_duty

    runtime, _, _ = landlords_demo
    every = tuple(runtime.landlords[slug] for slug in sorted(runtime.landlords))
    with runtime.sessions() as session:
        assert not session.scalar(select(func.count(Deadline.id)).join(Complaint, Complaint.id == Deadline.complaint_id)
                                  .where(Deadline.status == DeadlineStatus.OPEN,
                                         Complaint.status == ComplaintStatus.CLOSED))
        running = session.execute(
            select(Deadline.key, Deadline.due_at, Deadline.extended, Deadline.status, Complaint.landlord)
            .join(Complaint, and_(Complaint.id == Deadline.complaint_id, Complaint.status == ComplaintStatus.OPEN))
            .where(Deadline.running_clause(), Deadline.key.not_in(HAZARD_KEYS))).all()
        assert {row.status for row in running} == {DeadlineStatus.OPEN, DeadlineStatus.MISSED}
        # Half the deadlines as if set before deadlines carried their landlord (until `refresh` copies it).
        session.execute(update(Deadline).where(Deadline.id % 2 == 0).values(landlord=None))
        for scope in (Scope(every), *(Scope((landlord,)) for landlord in every)):
            board = dashboard(session, scope, DEMO_NOW)
            soon = {row["key"]: row for row in board["deadlines"]}
            for key in {row.key for row in running if row.landlord in scope.slugs}:
                mine = [row for row in running if row.key == key and row.landlord in scope.slugs]
                assert soon[key]["open"] == len(mine), (scope.slugs, key)
                assert soon[key]["extended"] == sum(row.extended for row in mine), (scope.slugs, key)
                assert soon[key]["overdue"] == sum(is_duty(key) and row.due_at < DEMO_NOW for row in mine)
        session.rollback()


# What each page is asked with beyond its path: the choices that make it do its work (a landlord, all of them,
# a year, a diagram to try). A GET page missing here is still read, with no query.
QUERIES = {
    "manager.dashboard": ["", "?landlord=all", "?landlord=great_places"],
    "manager.dashboard_json": ["?landlord=all"],
    "manager.performance": ["?landlord=all", "?landlord=great_places&year=2026",
                            "?landlord=harrogate&from=2025-12-01&to=2026-12-22"],
    "manager.performance_json": ["?landlord=all&year=2026"],
    "manager.performance_csv": ["?table=ch02&landlord=great_places&year=2026"],
    "manager.heatmap": ["?landlord=great_places"],
    "manager.heatmap_json": ["?landlord=great_places&year=2026"],
    "manager.annual_report": ["?landlord=great_places&year=2026"],
    "manager.self_assessment": ["?landlord=harrogate&year=2026"],
    "manager.self_assessment_csv": ["?landlord=harrogate&year=2026"],
    "manager.self_assessment_print": ["?landlord=harrogate&year=2026"],
    "manager.find_checklist": ["", "?reference={reference}"],
    "manager.lessons": ["?landlord=all", "?landlord=great_places&status=open"],
    "manager.lessons_csv": ["?landlord=all"],
    "analyst.try_it": ["", "?source=version:{version_id}&received=2026-12-21T10:00&pace=last_day",
                       "?source=draft:{draft}&received=2026-12-21T10:00"],
    "analyst.modeller": ["", "?source=version:{version_id}", "?source=draft:{draft}"],
    "api.tasks": ["", "?overdue=true", "?landlord=great_places&page=2"],
}


def test_reading_any_manager_analyst_or_api_page_writes_nothing(landlords_demo, tmp_path):
    """No writes on a read, on the demo's data: every GET of the managers', the analysts' and the API's pages
    (each found in the app's URL map, so a new page is read here too) runs no INSERT, UPDATE or DELETE."""
    from sqlalchemy import event

    from workflow_app.casework.models import DefinitionVersion, LessonLearnt
    from workflow_app.web import create_app
    from workflow_app.web.analyst.drafts import Drafts

    runtime, url, printed = landlords_demo
    [token] = [line.rsplit(": ", 1)[1] for line in printed if line.startswith("API token for admin")]
    drafts = tmp_path / "drafts"
    app = create_app({"TESTING": True, "DATABASE_URL": url, "PROCESSES_DIR": str(runtime.processes_dir),
                      "FORMS_DIR": str(runtime.forms_dir), "CLOCK": clock.VirtualClock(DEMO_NOW),
                      "ANALYST_DRAFTS_DIR": str(drafts)})
    try:
        with app.extensions["workflow_app"].sessions() as session:
            values = {
                "landlord": "great_places",
                "version_id": session.scalar(select(func.max(DefinitionVersion.id))
                                             .where(DefinitionVersion.landlord == "great_places")),
                "entry_id": session.scalar(select(func.min(LessonLearnt.id))
                                           .where(LessonLearnt.landlord == "great_places")),
                "reference": session.scalar(select(func.min(Complaint.reference))
                                            .where(Complaint.landlord == "great_places",
                                                   Complaint.status == "closed")),
                "draft": Drafts(drafts).save("great_places", (runtime.processes_dir / "great_places" /
                                                              "complaint.bpmn").read_bytes(),
                                             "complaint.bpmn", "admin").id,
            }
        web = app.test_client()
        assert web.post("/sign-in", data={"username": "admin", "password": "demo",
                                          "csrf_token": _csrf(web)}).status_code == 302   # before counting
        adapter = app.url_map.bind("localhost")
        pages = [(rule.endpoint, adapter.build(rule.endpoint, {k: values[k] for k in rule.arguments}) + query)
                 for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule)
                 if rule.endpoint.split(".")[0] in ("manager", "analyst", "api") and "GET" in rule.methods
                 for query in QUERIES.get(rule.endpoint, [""])]
        pages = [(endpoint, path.format(**values)) for endpoint, path in pages]

        written: list[tuple[str, str]] = []
        reading = None

        def watch(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE", "REPLACE", "MERGE"):
                written.append((reading, statement.split("\n")[0][:80]))

        engine = app.extensions["workflow_app"].engine
        event.listen(engine, "before_cursor_execute", watch)
        try:
            for endpoint, reading in pages:
                headers = {"Authorization": f"Bearer {token}"} if endpoint.startswith("api.") else {}
                response = web.get(reading, headers=headers)
                assert response.status_code in (200, 302), (reading, response.status_code)
        finally:
            event.remove(engine, "before_cursor_execute", watch)
    finally:
        app.extensions["workflow_app"].close()

    read = {endpoint for endpoint, _ in pages}
    assert set(QUERIES) <= read and len(read) >= 30, "every GET page of the three blueprints is read"
    assert written == []
