"""Every reported figure on a hand-built set of complaints (tests/support/reporting_data.py) whose answers were
worked out by hand, on SQLite and PostgreSQL; and the SQL working-day count against the calendar."""
from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, literal, select
from sqlalchemy.orm import aliased

from tests.support.reporting_data import END, FORMS, PROCESSES, STORIES, build, copied_runtime, people
from workflow_app.casework.models import AuditEvent, ReportCalendarDay, ReportResponse, UTCDateTime
from workflow_app.casework.runner import ComplaintRun
from workflow_app.casework.runtime import build_runtime
from workflow_app.reporting import measures as reporting
from workflow_app.reporting.measures import Period, Scope
from workflow_app.rules import clock
from workflow_app.rules.calendar import calendar_for

YEAR = Period.reporting_year(2026)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def data(request, tmp_path_factory, templates):
    with copied_runtime(templates, request.param, tmp_path_factory.mktemp('reporting')) as (runtime, _, references):
        reporting.refresh(runtime.sessions, runtime.landlords)
        yield runtime, references


def scope(runtime, *slugs) -> Scope:
    return Scope(tuple(runtime.landlords[s] for s in slugs))


def figures(data, landlord: str, period: Period = YEAR) -> dict:
    runtime, _ = data
    with runtime.sessions() as session:
        return reporting.performance(session, scope(runtime, landlord), period)


# --- periods ------------------------------------------------------------------------------

def test_a_reporting_year_runs_from_1_april_to_31_march_in_london():
    year = Period.reporting_year(2026)
    assert (year.first, year.last) == (date(2026, 4, 1), date(2027, 3, 31))
    assert year.starts_at == datetime(2026, 3, 31, 23, 0, tzinfo=UTC)  # midnight BST
    assert year.ends_at == datetime(2027, 3, 31, 23, 0, tzinfo=UTC)
    assert year.label == "2026/27 (1 April 2026 to 31 March 2027)"
    assert reporting.reporting_year_of(date(2027, 3, 31)) == 2026
    assert reporting.reporting_year_of(date(2027, 4, 1)) == 2027
    with pytest.raises(ValueError):
        Period(date(2027, 1, 2), date(2027, 1, 1))


# --- the regulator's measures -----------------------------------------------------------------

def test_ch01_counts_stage_1_and_stage_2_complaints_per_1000_homes(data):
    # Great Places: A, B, C, E, J, K, L reached stage 1 (D was refused, I arrived on 1 April 2027);
    # B was escalated. Homes: 1,000 (the placeholder in landlord.toml).
    assert figures(data, "great_places")["ch01"] == {
        "homes": 1000, "stage1": 7, "stage2": 1, "stage1_per_1000": 7.0, "stage2_per_1000": 1.0,
        "homes_confirmed": False, "homes_not_confirmed": ["Great Places Housing Group"]}
    # Harrogate: H, and G resolved at first contact (the Code has no informal stage); H's review request.
    assert figures(data, "harrogate")["ch01"] == {
        "homes": 1000, "stage1": 2, "stage2": 1, "stage1_per_1000": 2.0, "stage2_per_1000": 1.0,
        "homes_confirmed": False, "homes_not_confirmed": ["Harrogate Housing Association"]}
    # The next year holds only I, still waiting for the decision to accept it.
    assert figures(data, "great_places", Period.reporting_year(2027))["ch01"]["stage1"] == 0


def test_ch01_across_landlords_adds_their_homes(data):
    runtime, _ = data
    with runtime.sessions() as session:
        every = reporting.ch01(session, scope(runtime, "great_places", "brighter_places", "harrogate"), YEAR)
    assert every == {"homes": 3000, "stage1": 10, "stage2": 2, "stage1_per_1000": 3.33, "stage2_per_1000": 0.67,
                     "homes_confirmed": False, "homes_not_confirmed": [
                         "Great Places Housing Group", "Brighter Places", "Harrogate Housing Association"]}


def test_ch01_says_the_homes_are_not_confirmed_until_every_landlord_gives_its_number_and_source(data):
    runtime, _ = data
    great, brighter = runtime.landlords["great_places"], runtime.landlords["brighter_places"]
    confirmed = dataclasses.replace(great, homes=4200, homes_source="Statistical Data Return 2026: homes at 31 March")
    with runtime.sessions() as session:
        stand_in = reporting.ch01(session, Scope((great,)), YEAR)
        own = reporting.ch01(session, Scope((confirmed,)), YEAR)
        mixed = reporting.ch01(session, Scope((confirmed, brighter)), YEAR)
    warning = reporting.homes_warning(stand_in)
    assert warning.startswith("The number of homes is not confirmed: Great Places Housing Group has not yet given "
                              "its real number, so 1,000 homes is a stand-in")
    assert reporting.tables({**figures(data, "great_places"), "ch01": stand_in})[0].warning == warning
    # 7 stage 1 and 1 stage 2 complaints over 4,200 homes: 1.67 and 0.24 per 1,000.
    assert own == {"homes": 4200, "stage1": 7, "stage2": 1, "stage1_per_1000": 1.67, "stage2_per_1000": 0.24,
                   "homes_confirmed": True, "homes_not_confirmed": []}
    assert reporting.homes_warning(own) is None
    table = reporting.tables({**figures(data, "great_places"), "ch01": own})[0]
    assert table.warning is None and table.csv().splitlines()[1] == "Stage 1,7,4200,1.67,Confirmed"
    assert mixed["homes_not_confirmed"] == ["Brighter Places"] and not mixed["homes_confirmed"]
    assert reporting.homes_warning(mixed).startswith("The number of homes is not confirmed: Brighter Places has")


def test_ch02_counts_an_extension_within_the_codes_limit_as_within_timescale(data):
    ch02 = figures(data, "great_places")["ch02"]
    # A: 5 working days after the acknowledgement. B: extended, 14 (within the Code's 10 + 10).
    # C: not extended, 13 (outside 10). E: 3. So 3 of 4; B is the one within after an extension.
    assert ch02["stage1"] == {
        "responded": 4, "within": 3, "share": 75.0, "extended": 1, "within_after_extension": 1, "outside": 1,
        "met_own_deadline": 3, "code_days": 10, "code_days_extended": 20}
    # B's final response: 18 working days after the stage 2 acknowledgement.
    assert ch02["stage2"] == {
        "responded": 1, "within": 1, "share": 100.0, "extended": 0, "within_after_extension": 0, "outside": 0,
        "met_own_deadline": 1, "code_days": 20, "code_days_extended": 40}


def test_ch02_does_not_count_an_extension_beyond_the_codes_limit(data):
    # F: Brighter Places extended by 20 (its "exceptional" extension); the response met the landlord's own
    # extended deadline, but came 28 working days after the acknowledgement, past the Code's 20.
    assert figures(data, "brighter_places")["ch02"]["stage1"] == {
        "responded": 1, "within": 0, "share": 0.0, "extended": 1, "within_after_extension": 0, "outside": 1,
        "met_own_deadline": 1, "code_days": 10, "code_days_extended": 20}


def test_each_response_is_measured_once_with_its_working_days(data):
    runtime, references = data
    by_reference = {v: k for k, v in references.items()}
    with runtime.sessions() as session:
        from workflow_app.casework.models import Complaint
        rows = session.execute(
            select(Complaint.reference, ReportResponse.stage, ReportResponse.days_from_acknowledgement,
                   ReportResponse.days_from_start, ReportResponse.extended, ReportResponse.within_code,
                   ReportResponse.met_own_deadline)
            .join(Complaint, Complaint.id == ReportResponse.complaint_id)).all()
    measured = sorted((by_reference[r], s, a, d, e, w, o) for r, s, a, d, e, w, o in rows)
    assert measured == [
        ("A", "1", 5, 6, False, True, True),
        ("B", "1", 14, 15, True, True, True),
        ("B", "2", 18, 19, False, True, True),
        ("C", "1", 13, 14, False, False, False),
        ("E", "1", 3, 10, False, True, True),
        ("F", "1", 28, 29, True, False, True),
        ("H", "1", 3, 4, False, True, True),
    ]
    assert reporting.refresh(runtime.sessions, runtime.landlords) == 0


def test_acknowledgements_on_time(data):
    # Stage 1: A, B, C, E, J acknowledged in the year and D refused in writing (which meets the duty to
    # acknowledge, Code 6.2); E late (due Mon 8 Feb, done Wed 10 Feb).
    assert figures(data, "great_places")["acknowledgements"] == {
        "stage1": {"acknowledged": 6, "on_time": 5, "late": 1, "share": 83.3},
        "stage2": {"acknowledged": 1, "on_time": 1, "late": 0, "share": 100.0}}


def test_mean_and_90th_percentile_working_days_to_respond(data):
    times = figures(data, "great_places")["response_times"]
    # From receipt: A 6, B 15, C 14, E 10: mean 11.25 -> 11.3; nearest rank ceil(0.9 * 4) = 4th -> 15.
    assert times["stage1"] == {"count": 4, "mean": 11.3, "p90": 15, "histogram": [
        {"working_days": 6, "count": 1}, {"working_days": 10, "count": 1},
        {"working_days": 14, "count": 1}, {"working_days": 15, "count": 1}]}
    # B: escalated Mon 1 Feb, final response Fri 26 Feb.
    assert times["stage2"] == {"count": 1, "mean": 19.0, "p90": 19,
                               "histogram": [{"working_days": 19, "count": 1}]}


def test_percentiles_by_nearest_rank():
    assert reporting.summarise([]) == {"count": 0, "mean": None, "p90": None, "histogram": []}
    summary = reporting.summarise([(d, 1) for d in range(1, 11)])
    assert (summary["mean"], summary["p90"]) == (5.5, 9)
    assert reporting.summarise([(3, 9), (30, 1)])["p90"] == 3
    assert reporting.summarise([(3, 8), (30, 2)])["p90"] == 30


def test_share_resolved_at_stage_1_and_escalation_rate(data):
    # Closed in the year after a stage 1 response: A, B, C; B went to stage 2. Responses: A, B, C, E; B escalated.
    assert figures(data, "great_places")["resolution"] == {
        "closed_after_stage1": 3, "resolved_at_stage1": 2, "resolved_share": 66.7,
        "stage1_responses": 4, "escalated": 1, "escalation_rate": 25.0}
    # Harrogate's H: its review was refused, but it did go to stage 2.
    assert figures(data, "harrogate")["resolution"] == {
        "closed_after_stage1": 1, "resolved_at_stage1": 0, "resolved_share": 0.0,
        "stage1_responses": 1, "escalated": 1, "escalation_rate": 100.0}


def test_refusals_by_reason(data):
    assert figures(data, "great_places")["refusals"] == [
        {"outcome": "refused", "field": "exclusion_reasons", "total": 1, "reasons": [
            {"reason": "over_12_months", "count": 1}, {"reason": "previously_considered", "count": 1}]},
        {"outcome": "review_refused", "field": "review_refusal_reasons", "total": 0, "reasons": []}]
    assert figures(data, "harrogate")["refusals"][1] == {
        "outcome": "review_refused", "field": "review_refusal_reasons", "total": 1,
        "reasons": [{"reason": "actions_completed", "count": 1}]}


def test_categories(data):
    assert figures(data, "great_places")["categories"] == [
        {"category": "property_condition", "received": 5, "stage1": 5, "stage2": 0, "refused": 0},
        {"category": "anti_social_behaviour", "received": 1, "stage1": 1, "stage2": 0, "refused": 0},
        {"category": "charges", "received": 1, "stage1": 0, "stage2": 0, "refused": 1},
        {"category": "complaint_handling", "received": 1, "stage1": 1, "stage2": 1, "refused": 0}]


def test_remedies_and_compensation_totals(data):
    remedies = figures(data, "great_places")["remedies"]
    # Stage 1: A apology (£0), B apology + explanation (£50), E apology + financial remedy (£100).
    # Stage 2: B apology + financial remedy (£250). B's extension decision offered nothing.
    assert remedies["stage1"]["compensation"] == 150.0 and remedies["stage1"]["with_compensation"] == 2
    assert remedies["stage2"]["compensation"] == 250.0 and remedies["stage2"]["with_compensation"] == 1
    assert remedies["compensation_total"] == 400.0
    counted = {r["remedy"]: r["count"] for r in remedies["stage1"]["remedies"] if r["count"]}
    assert counted == {"apology": 3, "explanation": 1, "financial_remedy": 1}
    assert {r["remedy"]: r["count"] for r in remedies["stage2"]["remedies"] if r["count"]} == {
        "apology": 1, "financial_remedy": 1}



def test_a_remedy_only_one_stage_offered_is_a_row_of_its_own_at_both_stages(templates, tmp_path):
    """A landlord's form may offer a remedy beyond the Code's list at one stage only: the table still pairs
    each stage's count of the same remedy, never two different remedies that happen to share a position."""
    with copied_runtime(templates, "sqlite", tmp_path) as (runtime, _, _):
        with runtime.sessions.begin() as session:
            session.add(AuditEvent(landlord="great_places", at=datetime(2026, 6, 1, 12, tzinfo=UTC), actor="t",
                                   type="task_completed",
                                   details={"stage": "2", "data": {"remedies": ["goodwill_gesture", "apology"]}}))
        reporting.refresh(runtime.sessions, runtime.landlords)   # as the scheduler does after each sweep
        with runtime.sessions() as session:
            report = reporting.remedies(session, scope(runtime, "great_places"), YEAR)
        stage1, stage2 = ({r["remedy"]: r["count"] for r in report[s]["remedies"]} for s in ("stage1", "stage2"))
        assert list(stage1) == list(stage2) and list(stage1)[-1] == "goodwill_gesture"
        assert stage1["goodwill_gesture"] == 0 and stage2["goodwill_gesture"] == 1 and stage2["apology"] == 2
        table = next(t for t in reporting.tables({**figures((runtime, None), "great_places"), "remedies": report})
                     if t.id == "remedies")
        assert table.rows[-1][1:] == [0, 1]

def test_satisfaction(data):
    satisfaction = figures(data, "great_places")["satisfaction"]
    assert {k: v for k, v in satisfaction.items() if k != "answers"} == {
        "surveys": 3, "completed": 2, "no_reply": 1, "declined": 0, "satisfied": 1, "satisfied_share": 50.0}
    assert {a["answer"]: a["count"] for a in satisfaction["answers"] if a["count"]} == {
        "very_satisfied": 1, "dissatisfied": 1}


def test_deadlines_that_fell_due(data):
    assert figures(data, "great_places")["deadlines"] == [
        # A, B, C, D (refused on time), E (late), J; K outstanding. L's and I's are not due yet.
        {"key": "stage1_acknowledge", "due": 7, "on_time": 5, "late": 1, "outstanding": 1, "extended": 0,
         "share": 71.4},
        {"key": "stage1_response", "due": 4, "on_time": 3, "late": 1, "outstanding": 0, "extended": 1,
         "share": 75.0},
        {"key": "stage2_acknowledge", "due": 1, "on_time": 1, "late": 0, "outstanding": 0, "extended": 0,
         "share": 100.0},
        {"key": "stage2_response", "due": 1, "on_time": 1, "late": 0, "outstanding": 0, "extended": 0,
         "share": 100.0}]


def test_a_shorter_period_counts_only_its_own_days(data):
    january = Period(date(2027, 1, 1), date(2027, 1, 31))
    got = figures(data, "great_places", january)
    assert got["ch01"]["stage1"] == 3                     # A, B, C (D refused)
    assert got["ch02"]["stage1"]["responded"] == 3        # A (12 Jan), B (27 Jan), C (29 Jan)
    rest = figures(data, "great_places", Period(date(2027, 2, 1), date(2027, 3, 31)))
    assert rest["ch02"]["stage1"]["responded"] == 1       # E (15 Feb)
    assert rest["ch01"]["stage1"] == 4                    # E, J, K, L


# --- the dashboard ----------------------------------------------------------------------------------

def test_dashboard_on_friday_2_april_2027(data):
    runtime, _ = data
    with runtime.sessions() as session:
        board = reporting.dashboard(session, scope(runtime, "great_places"), END)
    assert board["running"] == 5                               # E, J, K, L, I
    assert board["by_stage"] == [{"stage": "pre", "count": 1}, {"stage": "1", "count": 3},
                                 {"stage": "post", "count": 1}]
    assert {w["element_id"]: (w["count"], w["overdue"]) for w in board["waiting"]} == {
        "acknowledge": (2, 1), "decide_acceptance": (1, 0), "stage1_response": (1, 0),
        "satisfaction_survey": (1, 0), "lessons_learnt": (1, 0)}
    assert board["due_soon_until"] == "2027-04-06T22:59:59+00:00"   # two working days after Fri 2 April
    # K's acknowledgement was due Wed 31 March; L's is due Tue 6 April; I's (received Thu 1 April, waiting for
    # the decision to accept it) Thu 8 April; J's response is extended. Running now: the three acknowledgements
    # (K's fired, missed, and is still to do: overdue) and J's extended response.
    assert board["deadlines"] == [
        {"key": "stage1_acknowledge", "open": 3, "overdue": 1, "due_soon": 1, "extended": 0},
        {"key": "stage1_response", "open": 1, "overdue": 0, "due_soon": 0, "extended": 1}]
    assert (board["overdue"], board["due_soon"], board["extended"]) == (1, 1, 1)
    # olive extended J's response, so its next round of the response came to her (the next task at its stage)
    assert board["caseload"] == [
        {"assignee": "olive", "tasks": 2, "complaints": 2, "overdue": 1},
        {"assignee": None, "tasks": 4, "complaints": 3, "overdue": 0}]
    # This week (from Mon 29 March): L and I; this month (from 1 April): I. None a year before.
    assert board["received"] == [
        {"period": "This week", "this_year": 2, "last_year": 0, "change": 2},
        {"period": "This month", "this_year": 1, "last_year": 0, "change": 1}]


def test_dashboard_across_landlords(data):
    runtime, _ = data
    with runtime.sessions() as session:
        board = reporting.dashboard(session, scope(runtime, "great_places", "brighter_places", "harrogate"), END)
    # F (Brighter Places) waits for the escalation window after its response; Harrogate's are closed.
    assert board["by_landlord"] == [{"landlord": "great_places", "count": 5},
                                    {"landlord": "brighter_places", "count": 1},
                                    {"landlord": "harrogate", "count": 0}]
    assert board["running"] == 6
    # The same element id means a different task in each landlord's diagram: they are kept apart.
    assert all(w["name"].startswith(("Great Places Housing Group: ", "Brighter Places: ")) for w in board["waiting"])
    assert {(w["landlord"], w["element_id"]): w["count"] for w in board["waiting"]}[("great_places", "acknowledge")] == 2


def test_dashboard_shows_complaints_waiting_with_no_open_task(tmp_path):
    """E the day after its stage 1 response: no task open, the resident's escalation window running."""
    runtime = build_runtime(f"sqlite:///{tmp_path / 'e.sqlite3'}", PROCESSES, FORMS)
    try:
        the_day_after = datetime(2027, 2, 16, 12, tzinfo=UTC)
        build(runtime, [s for s in STORIES if s.name == "E"], until=the_day_after)
        with runtime.sessions() as session:
            board = reporting.dashboard(session, scope(runtime, "great_places"), the_day_after)
    finally:
        runtime.close()
    assert (board["running"], board["by_stage"]) == (1, [{"stage": "1", "count": 1}])
    assert board["waiting"] == [{"landlord": "great_places", "element_id": None, "count": 1, "overdue": 0,
                                 "name": reporting.NO_TASK}]
    assert board["deadlines"] == [{"key": "escalation_window", "open": 1, "overdue": 0, "due_soon": 0,
                                   "extended": 0}]


# --- working days in SQL --------------------------------------------------------------------------------

def test_sql_working_days_match_the_calendar_rule(data):
    """Instants either side of London midnight, in GMT and BST, over bank holidays and weekends."""
    runtime, _ = data
    rng = random.Random(7)
    base = datetime(2026, 12, 20, tzinfo=UTC)
    instants = [base + timedelta(hours=rng.randrange(0, 24 * 200), minutes=rng.choice([0, 30, 59]))
                for _ in range(60)]
    instants += [datetime(2027, 3, 27, 23, 30, tzinfo=UTC),   # Sat 23:30 GMT: still Saturday
                 datetime(2027, 3, 28, 23, 30, tzinfo=UTC),   # Sun 23:30 UTC = Mon 00:30 BST
                 datetime(2027, 3, 30, 22, 59, 59, tzinfo=UTC),
                 datetime(2027, 3, 30, 23, 0, tzinfo=UTC)]    # Wed 31 March in London
    start = datetime(2026, 12, 23, 16, 30, tzinfo=UTC)
    landlords = scope(runtime, "great_places")
    with runtime.sessions() as session:
        days = reporting._Days(session, landlords)
        a, b = aliased(ReportCalendarDay), aliased(ReportCalendarDay)
        for when in instants:
            first, second = literal(start, UTCDateTime()), literal(when, UTCDateTime())
            got = session.scalar(select(days.number(b, second) - days.number(a, first))
                                 .select_from(a).join(b, days.join(b, second, literal("great_places")))
                                 .where(days.join(a, first, literal("great_places"))))
            assert got == calendar_for("ENG").working_days_taken(start, when), when


def test_working_days_taken_is_the_rule_of_the_brief():
    received = datetime(2026, 12, 23, 16, 30, tzinfo=UTC)   # Wed 23 Dec 2026
    assert calendar_for("ENG").working_days_taken(received, datetime(2027, 1, 4, 23, 0, tzinfo=UTC)) == 5
    assert calendar_for("ENG").working_days_taken(received, datetime(2027, 1, 5, 9, 0, tzinfo=UTC)) == 6
    assert calendar_for("ENG").working_days_taken(received, received) == 0


def test_a_later_response_is_measured_on_the_next_refresh(data):
    runtime, references = data
    users = people(runtime)
    with ComplaintRun(runtime, END, send_letters_after=False) as run:
        from tests.support.reporting_data import _task, respond1
        run.advance_to(datetime(2027, 4, 6, 10, tzinfo=UTC))
        run.complete(references["J"], _task(runtime, references["J"], "stage1_response"), respond1(), users["olive"])
    assert reporting.refresh(runtime.sessions, runtime.landlords) == 1
    with runtime.sessions() as session:
        april = reporting.ch02(session, scope(runtime, "great_places"), Period(date(2027, 4, 1), date(2027, 4, 30)))
    # J: acknowledged Tue 16 March, extended, answered Tue 6 April: 12 working days (Easter skipped).
    assert april["stage1"]["responded"] == 1 and april["stage1"]["within_after_extension"] == 1


# --- tables and CSV ---------------------------------------------------------------------------------

def test_every_table_exports_as_csv_with_formulas_defused(data):
    runtime, _ = data
    with runtime.sessions() as session:
        report = reporting.performance(session, scope(runtime, "great_places"), YEAR)
        labels = reporting.labels_for(session, scope(runtime, "great_places"))
    tables = {t.id: t for t in reporting.tables(report, labels)}
    assert set(tables) == {"ch01", "ch02", "acknowledgements", "response_times", "response_spread", "resolution",
                           "refusals", "categories", "remedies", "compensation", "satisfaction", "deadlines",
                           "hazard_steps"}
    assert tables["ch01"].csv().splitlines() == [
        'Stage,Complaints received,Homes,"Per 1,000 homes",Number of homes',
        "Stage 1,7,1000,7.0,\"Not confirmed: a stand-in, not the landlord's number\"",
        "Stage 2,1,1000,1.0,\"Not confirmed: a stand-in, not the landlord's number\""]
    assert tables["refusals"].csv().splitlines()[1:] == [
        "Not accepted,Submitted twelve months or more after the issue occurred (discretion not used),1",
        "Not accepted,A matter previously considered under the Customer Feedback policy,1"]
    table = reporting.Table("x", "X", ["a"], [['=HYPERLINK("http://evil")'], ["+1"], [None], [-3]])
    assert table.csv().splitlines()[1:] == ["\"'=HYPERLINK(\"\"http://evil\"\")\"", "'+1", '""', "-3"]


def test_the_scheduler_brings_the_read_side_up_to_date_after_each_sweep(tmp_path):
    """The job the web process and `workflow-app scheduler` run after each sweep measures new responses."""
    from workflow_app.casework.scheduler import sweep_job
    from workflow_app.reporting.projections import after_each_sweep

    runtime = build_runtime(f"sqlite:///{tmp_path / 'a.sqlite3'}", PROCESSES, FORMS)
    try:
        build(runtime, [s for s in STORIES if s.name == "A"])
        sweep_job(runtime.complaints, clock.VirtualClock(END), [after_each_sweep(runtime)])()
        with runtime.sessions() as session:
            assert reporting.ch02(session, scope(runtime, "great_places"), YEAR)["stage1"]["responded"] == 1
            from workflow_app.casework.models import LessonLearnt
            assert session.scalar(select(func.count()).select_from(LessonLearnt)) == 1
    finally:
        runtime.close()
