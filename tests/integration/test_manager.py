"""The managers' pages through the Flask test client, on the hand-built data set (tests/support/reporting_data.py):
who may see what, the dashboard and its JSON, the performance tables and CSV, the heatmap, the annual
report, the self-assessment form and export, the checklist and the lessons log; no inline script."""
from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from tests.support.reporting_data import END, FORMS, PROCESSES, copied_runtime
from workflow_app.casework.models import ChecklistAnswer, LessonLearnt
from workflow_app.diagrams.definitions import cache as definition_cache
from workflow_app.reporting.projections import bring_up_to_date
from workflow_app.rules import clock
from workflow_app.web import create_app

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def site(request, tmp_path_factory, templates):
    with copied_runtime(templates, request.param, tmp_path_factory.mktemp('manager')) as (runtime, url, references):
        bring_up_to_date(runtime.sessions, runtime.landlords)   # as the scheduler does after each sweep
        with runtime.sessions.begin() as session:
            from workflow_app.casework.accounts import create_user
            create_user(session, "carl", "Carl", ["caseworker"], ["great_places"], "pw")
            create_user(session, "otto", "Otto", ["complaints_officer"], ["harrogate"], "pw")
    app = create_app({"TESTING": True, "DATABASE_URL": url, "PROCESSES_DIR": str(PROCESSES),
                      "FORMS_DIR": str(FORMS), "RUN_SCHEDULER": False})
    with clock.using(clock.VirtualClock(END)):
        yield app, references
    app.extensions["workflow_app"].close()
    definition_cache.clear()


def signed_in(app, username: str):
    client = app.test_client()
    token = TOKEN.search(client.get("/sign-in").get_data(as_text=True)).group(1)
    assert client.post("/sign-in", data={"username": username, "password": "pw",
                                         "csrf_token": token}).status_code == 302
    return client


def csrf(client, path: str) -> str:
    return TOKEN.search(client.get(path).get_data(as_text=True)).group(1)


def no_inline_script_or_style(html: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert not re.search(r"\sstyle=", html), "inline style"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"


# --- who may see what --------------------------------------------------------------------------------

def test_only_managers_admins_and_for_some_pages_complaints_officers_get_in(site):
    app, _ = site
    caseworker = signed_in(app, "carl")
    assert caseworker.get("/manager/").status_code == 403
    assert caseworker.get("/manager/lessons").status_code == 403
    assert "Managers" not in caseworker.get("/inbox").get_data(as_text=True)
    officer = signed_in(app, "otto")
    assert officer.get("/manager/").status_code == 403
    assert officer.get("/manager/performance").status_code == 403
    assert officer.get("/manager/lessons").status_code == 200
    assert officer.get("/manager/self-assessment").status_code == 200
    assert "Lessons and self-assessment" in officer.get("/inbox").get_data(as_text=True)
    manager = signed_in(app, "mandy")                 # great_places only
    assert manager.get("/manager/").status_code == 200
    assert '>Managers</a>' in manager.get("/inbox").get_data(as_text=True)
    assert manager.get("/manager/?landlord=harrogate").status_code == 404
    assert manager.get("/manager/dashboard.json?landlord=all").status_code == 404   # only one landlord to see
    assert manager.get("/manager/performance.json?landlord=harrogate").status_code == 404
    assert manager.get("/manager/complaints/HHA-2027-000001/checklist").status_code == 404
    assert signed_in(app, "ada").get("/manager/dashboard.json?landlord=all").status_code == 200


def test_signed_out_visitors_are_sent_to_sign_in(site):
    app, _ = site
    response = app.test_client().get("/manager/dashboard.json")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


# --- dashboard -----------------------------------------------------------------------------------------

def test_the_dashboard_refreshes_from_its_own_json_endpoint(site):
    app, _ = site
    client = signed_in(app, "mandy")
    page = client.get("/manager/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "default-src 'self'" in page.headers["Content-Security-Policy"]
    no_inline_script_or_style(html)
    assert 'data-source="/manager/dashboard.json?landlord=great_places"' in html
    assert 'data-refresh="30"' in html and "build/dashboard.entry.js" in html
    assert re.search(r'data-field="running">5<', html) and re.search(r'data-field="overdue">1<', html)
    board = client.get("/manager/dashboard.json?landlord=great_places").get_json()
    assert (board["running"], board["overdue"], board["due_soon"], board["extended"]) == (5, 1, 1, 1)
    assert board["at"] == END.isoformat()
    assert {r["key"]: r["name"] for r in board["deadlines"]} == {
        "stage1_acknowledge": "Acknowledge (stage 1)", "stage1_response": "Respond (stage 1)"}
    assert [r["name"] for r in board["by_stage"]] == ["Before stage 1", "Stage 1", "After the final response"]


def test_an_admin_sees_every_landlord_together(site):
    app, _ = site
    board = signed_in(app, "ada").get("/manager/dashboard.json?landlord=all").get_json()
    assert [(r["landlord"], r["count"]) for r in board["by_landlord"]] == [
        ("brighter_places", 1), ("great_places", 5), ("harrogate", 0)]
    page = signed_in(app, "ada").get("/manager/").get_data(as_text=True)
    assert "Running complaints by landlord" in page and "Brighter Places" in page


# --- performance ------------------------------------------------------------------------------------------

def test_performance_tables_with_charts_and_a_csv_for_every_table(site):
    app, _ = site
    client = signed_in(app, "mandy")
    html = client.get("/manager/performance?landlord=great_places&year=2026").get_data(as_text=True)
    no_inline_script_or_style(html)
    assert "build/charts.entry.js" in html and 'data-chart="bar"' in html
    tables = re.findall(r'href="(/manager/performance\.csv\?table=([a-z_0-9]+)[^"]*)"', html)
    assert {t for _, t in tables} == {"ch01", "ch02", "acknowledgements", "response_times", "response_spread",
                                      "resolution", "refusals", "categories", "remedies", "compensation",
                                      "satisfaction", "deadlines", "hazard_steps"}
    for href, _ in tables:
        response = client.get(href.replace("&amp;", "&"))
        assert response.status_code == 200 and response.mimetype == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
    ch02 = client.get("/manager/performance.csv?table=ch02&landlord=great_places&year=2026")
    rows = list(csv.reader(io.StringIO(ch02.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[1] == ["Stage 1", "4", "3", "75.0", "1", "1", "1", "3"]
    assert rows[2] == ["Stage 2", "1", "1", "100.0", "0", "0", "0", "1"]
    assert client.get("/manager/performance.csv?table=nope&landlord=great_places").status_code == 404


def test_any_period_and_the_json_of_every_figure(site):
    app, _ = site
    client = signed_in(app, "mandy")
    january = client.get("/manager/performance.json?landlord=great_places&from=2027-01-01&to=2027-01-31").get_json()
    assert january["period"]["first"] == "2027-01-01" and january["ch01"]["stage1"] == 3
    html = client.get("/manager/performance?landlord=great_places&from=2027-01-31&to=2027-01-01").get_data(
        as_text=True)
    assert "Give the period as two dates" in html


# --- heatmap ----------------------------------------------------------------------------------------------

def test_the_heatmap_counts_waiting_passing_and_missed_on_the_deployed_diagram(site):
    app, _ = site
    client = signed_in(app, "mandy")
    html = client.get("/manager/heatmap?landlord=great_places&year=2026").get_data(as_text=True)
    no_inline_script_or_style(html)
    assert "build/heatmap.entry.js" in html and "/manager/heatmap.json?landlord=great_places&amp;year=2026" in html
    data = client.get("/manager/heatmap.json?landlord=great_places&year=2026").get_json()
    assert data["xml"].startswith("<?xml") and data["version"].startswith("great_places")
    assert data["waiting"] == {"acknowledge": 2, "decide_acceptance": 1, "stage1_response": 1,
                               "satisfaction_survey": 1, "lessons_learnt": 1}
    # Received in the year: A, B, C, D, E, J, K, L (I came on 1 April 2027).
    assert data["passed"]["received"] == 8 and data["passed"]["decide_acceptance"] == 8
    assert data["passed"]["stage2_acknowledge"] == 1
    # A and C closed at stage 1, where Great Places' process still waits for a later stage 2 request.
    assert data["passed"]["closed_at_stage1"] == 2
    # Due in the year: A, B, C, D (refused in time), E (acknowledged late), J, K (not at all).
    assert data["missed"]["acknowledge_due"] == {"due": 7, "missed": 2}
    starts = [flow for flow, count in data["flows"].items() if count == 8]
    assert starts, "the flows out of the start event carry every complaint received"
    assert client.get("/manager/heatmap.json?landlord=all").status_code == 404


# --- annual report ----------------------------------------------------------------------------------------

def test_the_annual_report_has_the_figures_refusals_improvements_and_room_for_the_response(site):
    app, _ = site
    client = signed_in(app, "mandy")
    path = "/manager/annual-report?landlord=great_places&year=2026"
    html = client.get(path).get_data(as_text=True)
    no_inline_script_or_style(html)
    assert "Annual complaints performance and service improvement report 2026/27" in html
    assert "We received <strong>7</strong> stage 1 complaints and <strong>1</strong> stage 2 complaints" in html
    assert "Submitted twelve months or more after the issue occurred" in html     # a type of complaint refused
    assert "Surveyor after one failed repair visit." in html                          # an improvement
    assert 'class="response-space"' in html and "data-print" in html
    response = client.post(path, data={"csrf_token": csrf(client, path), "ombudsman_findings": "One finding of "
                                       "maladministration (case 202412345).", "governing_body_response":
                                       "The Board accepts the report.", "response_date": "2027-06-30"})
    assert response.status_code == 302
    html = client.get(path).get_data(as_text=True)
    assert "The Board accepts the report." in html and "Wed 30 Jun 2027" in html
    assert "maladministration (case 202412345)" in html and 'class="response-space"' not in html
    assert client.post(path, data={"governing_body_response": "forged"}).status_code == 400   # no CSRF token


# --- self-assessment ---------------------------------------------------------------------------------------

def test_the_self_assessment_is_prefilled_saved_and_exported(site):
    app, _ = site
    client = signed_in(app, "otto")                 # Harrogate's complaints officer
    path = "/manager/self-assessment?landlord=harrogate&year=2026"
    html = client.get(path).get_data(as_text=True)
    no_inline_script_or_style(html)
    assert html.count('<fieldset class="provision') == 72
    # 5.2: Harrogate's informal stage, found by the Code check; 6.13: a different person at stage 2.
    assert re.search(r'id="p-5\.2".*?value="no" checked', html, re.S)
    assert re.search(r'id="p-6\.13".*?value="yes" checked', html, re.S)
    assert "informal complaint" in html
    form = {"csrf_token": csrf(client, path), "comply-1.2": "yes",
            "evidence-1.2": "Policy section 2 quotes the Code's definition.", "commentary-1.2": "",
            "comply-5.2": "no", "evidence-5.2": "The informal stage is being removed.", "commentary-5.2": "By July."}
    assert client.post(path, data=form).status_code == 302
    html = client.get(path).get_data(as_text=True)
    assert "Policy section 2 quotes the Code&#39;s definition." in html and "saved by otto" in html
    exported = client.get("/manager/self-assessment.csv?landlord=harrogate&year=2026")
    rows = {r[0]: r for r in csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff")))}
    assert rows["Code provision"] == ["Code provision", "Code requirement", "Comply: Yes/No", "Evidence",
                                      "Commentary / explanation"]
    assert rows["1.2"][2:4] == ["Yes", "Policy section 2 quotes the Code's definition."]
    assert rows["5.2"][2:5] == ["No", "The informal stage is being removed.", "By July."]
    assert rows["6.13"][2] == "Yes" and "cannot be assigned to or completed by" in rows["6.13"][3]
    assert rows["3.1"][2:4] == ["", ""]                                        # left for the officer
    printable = client.get("/manager/self-assessment/print?landlord=harrogate&year=2026").get_data(as_text=True)
    assert "Policy section 2 quotes the Code&#39;s definition." in printable and "<table" in printable
    assert client.post(path, data={**form, "comply-1.2": "maybe"}).status_code == 422


# --- checklist -----------------------------------------------------------------------------------------------

def test_the_checklist_answers_from_the_record_and_keeps_the_ticks(site):
    app, references = site
    client = signed_in(app, "otto")
    path = f"/manager/complaints/{references['H']}/checklist"
    html = client.get(path).get_data(as_text=True)
    no_inline_script_or_style(html)

    def answer(question: str) -> str:
        row = re.search(rf'id="q-{question}">.*?</tr>', html, re.S).group(0)
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))

    assert "Yes From the record Acknowledged 1 working day after the start" in answer("ack_time")
    assert f"quotes {references['H']}" in answer("ack_reference")
    assert "Yes From the record Investigator: Olive, complaints officer" in answer("ack_who")
    assert "Yes From the record The acknowledgement letter encloses the flowchart" in answer("ack_flowchart")
    assert "The complaint progressed to review" in answer("res_resolved")
    assert "An apology was not among the remedies" in answer("res_apology")
    assert 'name="answer-res_visit"' in answer("res_visit") or 'name="answer-res_visit"' in html
    response = client.post(path, data={"csrf_token": csrf(client, path), "answer-res_visit": "yes",
                                       "comment-res_visit": "Visited on 6 January.", "answer-ack_time": "no"})
    assert response.status_code == 302
    html = client.get(path).get_data(as_text=True)
    assert re.search(r'id="a-res_visit-yes" name="answer-res_visit" value="yes" checked', html)
    assert "Visited on 6 January." in html
    runtime = app.extensions["workflow_app"]
    with runtime.sessions() as session:
        saved = {a.item: (a.answer, a.comment) for a in session.scalars(select(ChecklistAnswer))}
    assert saved == {"res_visit": ("yes", "Visited on 6 January.")}   # the record answers ack_time itself
    assert client.get("/manager/checklist?reference=" + references["H"].lower()).headers["Location"] \
        .endswith(f"/manager/complaints/{references['H']}/checklist")


# --- lessons learnt -------------------------------------------------------------------------------------------

def test_lessons_come_from_closed_complaints_and_can_be_owned_filtered_and_exported(site):
    app, references = site
    client = signed_in(app, "mandy")
    html = client.get("/manager/lessons?landlord=great_places").get_data(as_text=True)
    no_inline_script_or_style(html)
    assert html.count("Repeat leaks need a surveyor sooner.") == 2 and "Escalations waited for a report." in html
    systemic = client.get("/manager/lessons?landlord=great_places&systemic=1").get_data(as_text=True)
    assert "Escalations waited for a report." in systemic and "Repeat leaks" not in systemic
    runtime = app.extensions["workflow_app"]
    with runtime.sessions() as session:
        entry = session.scalars(select(LessonLearnt).where(LessonLearnt.systemic.is_(True))).one()
    path = f"/manager/lessons/{entry.id}"
    form = {"csrf_token": csrf(client, path), "what_went_wrong": entry.what_went_wrong,
            "improvement": "Escalations go to the reviewer the same day.", "theme": "complaint_handling",
            "owner": "Head of Customer Experience", "due_on": "2027-05-31", "status": "done", "systemic": "1"}
    assert client.post(path, data=form).status_code == 302
    with runtime.sessions() as session:
        saved = session.get(LessonLearnt, entry.id)
        assert (saved.owner, saved.status, str(saved.due_on), str(saved.completed_on), saved.updated_by) == (
            "Head of Customer Experience", "done", "2027-05-31", "2027-04-02", "mandy")
    assert client.post(path, data={**form, "due_on": "next week"}).status_code == 422
    done = client.get("/manager/lessons?landlord=great_places&status=done&owner=customer").get_data(as_text=True)
    assert "Escalations go to the reviewer the same day." in done and "Repeat leaks" not in done
    exported = client.get("/manager/lessons.csv?landlord=great_places&status=done").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(exported.lstrip("\ufeff"))))
    assert rows[1][:3] == ["great_places", references["B"], "2027-03-01"] and rows[1][6:9] == [
        "Head of Customer Experience", "2027-05-31", "Done"]
    path = "/manager/lessons?landlord=great_places"
    response = client.post("/manager/lessons", data={
        "csrf_token": csrf(client, path), "landlord": "great_places", "what_went_wrong": "Letters went second class.",
        "theme": "complaint_handling", "reference": references["C"].lower(), "status": "open"})
    assert response.status_code == 302
    assert "Letters went second class." in client.get(response.headers["Location"]).get_data(as_text=True)
    refused = client.post("/manager/lessons", data={"csrf_token": csrf(client, path), "landlord": "great_places",
                                                    "what_went_wrong": "", "theme": "other"})
    assert refused.status_code == 422
    other = signed_in(app, "otto")
    assert other.get(path.replace("?landlord=great_places", f"/{entry.id}")).status_code == 404


def test_reading_a_managers_page_writes_nothing(site):
    """Nothing writes on a GET: the figures and the lessons log are brought up to date by the scheduler."""
    from sqlalchemy import event, select

    from workflow_app.casework.models import LessonLearnt

    app, references = site
    client = signed_in(app, "ada")
    engine = app.extensions["workflow_app"].engine
    with app.extensions["workflow_app"].sessions() as session:
        lesson = session.scalars(select(LessonLearnt.id).order_by(LessonLearnt.id).limit(1)).first()
    pages = ["/manager/?landlord=great_places", "/manager/?landlord=all", "/manager/dashboard.json?landlord=all",
             "/manager/performance?landlord=great_places&year=2026", "/manager/performance.json?landlord=all&year=2026",
             "/manager/performance.csv?table=ch02&landlord=great_places&year=2026",
             "/manager/heatmap?landlord=great_places&year=2026", "/manager/heatmap.json?landlord=great_places&year=2026",
             "/manager/annual-report?landlord=great_places&year=2026",
             "/manager/self-assessment?landlord=harrogate&year=2026",
             "/manager/self-assessment.csv?landlord=harrogate&year=2026",
             "/manager/self-assessment/print?landlord=harrogate&year=2026",
             f"/manager/checklist?reference={references['H']}", f"/manager/complaints/{references['H']}/checklist",
             "/manager/lessons?landlord=all", "/manager/lessons.csv?landlord=great_places", f"/manager/lessons/{lesson}"]
    written: list[tuple[str, str]] = []
    page = None

    def watch(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE", "REPLACE"):
            written.append((page, statement.split("\n")[0][:80]))

    event.listen(engine, "before_cursor_execute", watch)
    try:
        for page in pages:
            response = client.get(page)
            assert response.status_code in (200, 302), (page, response.status_code)
    finally:
        event.remove(engine, "before_cursor_execute", watch)
    assert written == []


# --- the retention period --------------------------------------------------------------------------------

def retention_notice(client, path: str = "/manager/") -> str | None:
    """The retention notice's text on a page, whitespace collapsed, or None when the page has none."""
    import lxml.html
    response = client.get(path)
    assert response.status_code == 200, path
    found = lxml.html.fromstring(response.get_data(as_text=True)).get_element_by_id("retention-notice", None)
    return " ".join(found.text_content().split()) if found is not None else None


def test_managers_see_which_retention_period_applies_until_the_landlord_confirms_it(site, tmp_path):
    import shutil
    app, _ = site
    manager = signed_in(app, "mandy")                       # great_places only
    for path in ("/manager/", "/manager/performance", "/manager/heatmap", "/manager/annual-report",
                 "/manager/self-assessment", "/manager/lessons", "/manager/checklist"):
        notice = retention_notice(manager, path)
        assert notice and ("Great Places Housing Group: closed complaints are anonymised 6 years after they close "
                           "(the default period, applied until the landlord confirms its own)") in notice, path
    assert "Harrogate" not in notice                       # only the landlords the manager sees
    assert "Harrogate Housing Association: closed complaints are anonymised 6 years" in retention_notice(
        signed_in(app, "ada"))

    processes = tmp_path / "processes"
    shutil.copytree(PROCESSES, processes)
    settings = processes / "great_places" / "landlord.toml"
    original = settings.read_text(encoding="utf-8")

    def manager_on(retention: str):
        settings.write_text(f"{original}\n[retention]\n{retention}\n", encoding="utf-8")
        changed = create_app({"TESTING": True, "DATABASE_URL": app.config["DATABASE_URL"],
                              "PROCESSES_DIR": str(processes), "FORMS_DIR": str(FORMS), "RUN_SCHEDULER": False})
        return changed, signed_in(changed, "mandy")

    proposed, client = manager_on("anonymise_closed_after_years = 7")
    assert ("Great Places Housing Group: closed complaints are anonymised 7 years after they close (the period in "
            "its settings, not yet confirmed by the landlord)") in retention_notice(client)
    proposed.extensions["workflow_app"].close()

    confirmed, client = manager_on('anonymise_closed_after_years = 7\nconfirmed_by = "Data Protection Officer"\n'
                                   "confirmed_on = 2027-03-01")
    for path in ("/manager/", "/manager/performance", "/manager/lessons"):
        assert retention_notice(client, path) is None, path
    assert "Harrogate" in retention_notice(signed_in(confirmed, "ada"))     # the others still await theirs
    assert "Great Places" not in retention_notice(signed_in(confirmed, "ada"))
    confirmed.extensions["workflow_app"].close()


# --- the number of homes CH01 divides by ---------------------------------------------------------------------

def ch01_warning(client, path: str) -> str | None:
    """The CH01 table's warning on a page, whitespace collapsed, or None when it has none."""
    import lxml.html
    response = client.get(path)
    assert response.status_code == 200, path
    found = lxml.html.fromstring(response.get_data(as_text=True)).get_element_by_id("ch01-warning", None)
    return " ".join(found.text_content().split()) if found is not None else None


def test_ch01_says_the_number_of_homes_is_not_confirmed_until_the_landlord_gives_its_source(site, tmp_path):
    import shutil
    app, _ = site
    client = signed_in(app, "mandy")                        # great_places only
    performance, annual = "/manager/performance?landlord=great_places&year=2026", \
        "/manager/annual-report?landlord=great_places&year=2026"
    for path in (performance, annual):
        assert ch01_warning(client, path).startswith(
            "Not confirmed. The number of homes is not confirmed: Great Places Housing Group has not yet given its "
            "real number, so 1,000 homes is a stand-in and the figures per 1,000 homes are not fit to publish."), path
    summary = " ".join(client.get(annual).get_data(as_text=True).split())
    assert ("the regulator's measure CH01. <strong>The number of homes is not confirmed</strong>: it is a stand-in "
            "until the landlord gives its real number") in summary
    rows = list(csv.reader(io.StringIO(client.get("/manager/performance.csv?table=ch01&landlord=great_places&year=2026")
                                       .get_data(as_text=True).lstrip("\ufeff"))))
    assert rows == [["Stage", "Complaints received", "Homes", "Per 1,000 homes", "Number of homes"],
                    ["Stage 1", "7", "1000", "7.0", "Not confirmed: a stand-in, not the landlord's number"],
                    ["Stage 2", "1", "1000", "1.0", "Not confirmed: a stand-in, not the landlord's number"]]
    figures = client.get("/manager/performance.json?landlord=great_places&year=2026").get_json()["ch01"]
    assert figures["homes_confirmed"] is False and figures["homes_not_confirmed"] == ["Great Places Housing Group"]

    processes = tmp_path / "processes"
    shutil.copytree(PROCESSES, processes)
    settings = processes / "great_places" / "landlord.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace(
        "homes = 1000\n", 'homes = 4200\nhomes_source = "Statistical Data Return 2026: homes owned at 31 March"\n'),
        encoding="utf-8")
    confirmed = create_app({"TESTING": True, "DATABASE_URL": app.config["DATABASE_URL"],
                            "PROCESSES_DIR": str(processes), "FORMS_DIR": str(FORMS), "RUN_SCHEDULER": False})
    client = signed_in(confirmed, "mandy")
    for path in (performance, annual):
        assert ch01_warning(client, path) is None, path
    assert "The number of homes is not confirmed" not in client.get(annual).get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(client.get("/manager/performance.csv?table=ch01&landlord=great_places&year=2026")
                                       .get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[1:] == [["Stage 1", "7", "4200", "1.67", "Confirmed"], ["Stage 2", "1", "4200", "0.24", "Confirmed"]]
    assert client.get("/manager/performance.json?landlord=great_places&year=2026").get_json()["ch01"][
        "homes_confirmed"] is True
    confirmed.extensions["workflow_app"].close()
