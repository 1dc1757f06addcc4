"""The lessons-learnt log: entries come from closed complaints' lessons and stage 2 learning, once each;
managers own, date, filter and close them; the annual report lists the improvements."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from tests.support.reporting_data import END, copied_runtime, people
from workflow_app.casework.models import LessonLearnt, User
from workflow_app.reporting import lessons
from workflow_app.reporting.lessons import LessonFilter, LessonService
from workflow_app.rules import clock
from workflow_app.rules.errors import InvalidInput, NotFound

GP = ["great_places"]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def log(request, tmp_path_factory, templates):
    with copied_runtime(templates, request.param, tmp_path_factory.mktemp('lessons')) as (runtime, _, references), \
            clock.using(clock.VirtualClock(END)):
        yield runtime, references, people(runtime)


def collected(runtime) -> list[tuple[LessonLearnt, str | None]]:
    with runtime.sessions.begin() as session:
        lessons.collect(session, GP)
    with runtime.sessions() as session:
        rows = lessons.entries(session, GP)
        session.expunge_all()
        return rows


def test_each_lesson_recorded_on_a_complaint_becomes_one_entry(log):
    runtime, references, _ = log
    rows = collected(runtime)
    by_complaint = sorted((reference, entry.what_went_wrong, entry.theme, entry.systemic, entry.status)
                          for entry, reference in rows)
    assert by_complaint == [
        (references["A"], "Repeat leaks need a surveyor sooner.", "property_condition", False, "open"),
        (references["B"], "Escalations waited for a report.", "complaint_handling", True, "open"),
        (references["B"], "Send repeat leaks to a surveyor after the first failed visit.", "complaint_handling",
         False, "open"),
        (references["C"], "Repeat leaks need a surveyor sooner.", "property_condition", False, "open"),
    ]
    [a] = [e for e, r in rows if r == references["A"]]
    assert a.improvement == "Surveyor after one failed repair visit." and a.recorded_by == "olive"
    assert a.recorded_at == datetime(2027, 2, 10, 11, tzinfo=UTC)
    with runtime.sessions.begin() as session:
        assert lessons.collect(session, GP) == 0
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LessonLearnt)
                              .where(LessonLearnt.landlord == "great_places")) == 4


def test_one_landlords_newer_lessons_do_not_hide_anothers_older_ones(log):
    runtime, references, _ = log
    collected(runtime)                                       # Great Places' newest lesson: 1 March 2027
    with runtime.sessions.begin() as session:
        assert lessons.collect(session, ["harrogate"]) == 1   # Harrogate's from 13 January is still found
    with runtime.sessions() as session:
        [(entry, reference)] = lessons.entries(session, ["harrogate"])
        assert (reference, entry.what_went_wrong) == (
            references["H"], "Tell residents sooner when the actions are complete.")


def test_filters(log):
    runtime, _references, _ = log
    collected(runtime)

    def found(**args) -> list[str]:
        with runtime.sessions() as session:
            return sorted(e.what_went_wrong for e, _ in lessons.entries(session, GP, LessonFilter.from_args(args)))

    assert found(systemic="1") == ["Escalations waited for a report."]
    assert found(theme="complaint_handling") == ["Escalations waited for a report.",
                                                 "Send repeat leaks to a surveyor after the first failed visit."]
    assert found(q="SURVEYOR") == ["Repeat leaks need a surveyor sooner.", "Repeat leaks need a surveyor sooner.",
                                   "Send repeat leaks to a surveyor after the first failed visit."]
    assert found(q="100%_") == [] and found(status="bogus", theme="bogus") == found()
    assert found(status="done") == []


def test_owning_dating_and_closing_an_entry(log):
    runtime, _references, users = log
    service = LessonService(runtime.sessions)
    [(entry, _)] = [(e, r) for e, r in collected(runtime) if e.systemic]
    fields = {"what_went_wrong": entry.what_went_wrong, "improvement": "Reviewer picks escalations up same day.",
              "theme": "complaint_handling", "owner": "Head of Customer 100%_Experience", "due_on": "2027-03-31",
              "status": "in_progress", "systemic": "1"}
    service.update(entry.id, fields, users["mandy"])
    with runtime.sessions() as session:
        overdue = lessons.entries(session, GP, LessonFilter(overdue=True), today=date(2027, 4, 2))
        assert [e.id for e, _ in overdue] == [entry.id]
        assert [e.id for e, _ in lessons.entries(session, GP, LessonFilter(owner="100%_"))] == [entry.id]
    service.update(entry.id, {**fields, "status": "done"}, users["mandy"])
    with runtime.sessions() as session:
        saved = session.get(LessonLearnt, entry.id)
        assert (saved.status, saved.completed_on, saved.updated_by) == ("done", date(2027, 4, 2), "mandy")
        assert lessons.entries(session, GP, LessonFilter(overdue=True), today=date(2027, 4, 2)) == []
        improvements = lessons.improvements(session, GP, date(2027, 4, 1), date(2028, 3, 31))
        assert [e.id for e, _ in improvements] == [entry.id]
    service.update(entry.id, {**fields, "status": "open"}, users["mandy"])
    with runtime.sessions() as session:
        assert session.get(LessonLearnt, entry.id).completed_on is None
    with pytest.raises(InvalidInput) as refused:
        service.update(entry.id, {**fields, "due_on": "soon", "status": "finished", "what_went_wrong": " "},
                       users["mandy"])
    assert set(refused.value.errors) == {"due_on", "status", "what_went_wrong"}
    outsider = User(username="hal", roles=["manager"], landlords=["harrogate"], active=True)
    with pytest.raises(NotFound):
        service.update(entry.id, fields, outsider)


def test_adding_an_entry_by_hand(log):
    runtime, references, users = log
    service = LessonService(runtime.sessions)
    entry_id = service.add("great_places", {"what_went_wrong": "Letters went second class.", "theme": "other",
                                            "status": "done"}, users["mandy"], references["C"].lower())
    with runtime.sessions() as session:
        entry = session.get(LessonLearnt, entry_id)
        assert (entry.source_event_id, entry.recorded_by, entry.completed_on) == (None, "mandy", date(2027, 4, 2))
    with pytest.raises(InvalidInput) as refused:
        service.add("great_places", {"what_went_wrong": "x", "theme": "other"}, users["mandy"], references["H"])
    assert "reference" in refused.value.errors
    with pytest.raises(InvalidInput):
        service.add("great_places", {"what_went_wrong": "x"}, users["mandy"])          # no theme
    with pytest.raises(NotFound):
        service.add("harrogate", {"what_went_wrong": "x", "theme": "other"}, users["mandy"])


def test_summary_by_theme_and_status(log):
    runtime, _, _ = log
    collected(runtime)
    from workflow_app.reporting.measures import Period
    year = Period.reporting_year(2026)
    with runtime.sessions() as session:
        summary = lessons.summary(session, GP, year.starts_at, year.ends_at)
    themes = {row["theme"]: row["total"] for row in summary["by_theme"]}
    assert themes == {"complaint_handling": 2, "property_condition": 2} and summary["recorded"] == 4
