"""The answers the reports count, copied once from each completed form (`measures.copy_answers`): the
remedies, compensation, refusal reasons and satisfaction figures read from the copy are the figures worked
out directly from the audit events, on a varied set of forms, before and after more forms arrive; a
refresh copies what arrived since the last one, including a form dated earlier, and nothing twice."""
from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.support.reporting_data import copied_runtime
from workflow_app.casework.models import AuditEvent, Complaint, ReportChoice, ReportForm
from workflow_app.reporting import measures as reporting
from workflow_app.reporting.measures import Period, Scope

LANDLORDS = ("great_places", "brighter_places", "harrogate")
PERIODS = (Period.reporting_year(2025), Period.reporting_year(2026), Period.reporting_year(2027),
           Period(date(2026, 1, 1), date(2026, 1, 31)))
FIRST = datetime(2025, 3, 1, tzinfo=UTC)
REASONS = {"exclusion_reasons": ["over_12_months", "legal_action", "previously_considered", "not_a_complaint"],
           "review_refusal_reasons": ["actions_completed", "no_new_information"]}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def runtime(request, tmp_path, templates):
    with copied_runtime(templates, request.param, tmp_path) as (runtime, _, _):
        yield runtime


def add_forms(runtime, rng: random.Random, complaints: int, start: datetime, days: int) -> None:
    """Complaints, some refused, and their completed forms with every kind of answer the reports read,
    at instants spread over `days` from `start` (some exactly at a London midnight)."""
    with runtime.sessions.begin() as session:
        serial = session.scalar(select(func.count()).select_from(Complaint))
        for n in range(complaints):
            landlord = rng.choice(LANDLORDS)
            received = start + timedelta(days=rng.uniform(0, days))
            outcome = rng.choice(["refused", "review_refused", "resolved_stage1", "stage2_final", None])
            closed_at = None if outcome is None else received + timedelta(days=rng.uniform(0, 60))
            complaint = Complaint(
                reference=f"T-{serial + n:06d}", landlord=landlord, received_at=received, channel="email",
                category="other", summary="-", resident={}, status="open" if outcome is None else "closed",
                stage="post", outcome=outcome, closed_at=closed_at, created_at=received, created_by="test")
            session.add(complaint)
            session.flush()
            for _ in range(rng.randint(0, 4)):
                at = received + timedelta(days=rng.uniform(0, 90))
                if rng.random() < 0.1:
                    at = Period(at.date(), at.date()).starts_at       # exactly midnight in London
                session.add(AuditEvent(complaint_id=complaint.id, landlord=landlord, at=at, actor="test",
                                       type=rng.choice(["task_completed"] * 5 + ["timer_fired"]),
                                       details={"stage": rng.choice(["pre", "1", "2", "post"]),
                                                "data": answers(rng, outcome)}))
        session.add(AuditEvent(complaint_id=None, landlord="great_places", at=start, actor="test",
                               type="task_completed", details={"stage": "1", "data": {"compensation": 10,
                                                                                      "remedies": ["apology"]}}))


def answers(rng: random.Random, outcome: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {"notes": "nothing the reports count"}
    if rng.random() < 0.5:
        data["remedies"] = [rng.choice([*reporting.REMEDIES, "goodwill_gesture"]) for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.5:
        data["compensation"] = rng.choice([0, 0, 25, 50, 12.5, 250])
    if rng.random() < 0.3:
        data["survey_status"] = rng.choice(["completed", "completed", "no_reply", "declined"])
        if data["survey_status"] == "completed" and rng.random() < 0.9:
            data["satisfaction"] = rng.choice(reporting.SATISFACTION_LEVELS)
    for field, reasons in REASONS.items():
        if rng.random() < (0.6 if outcome in reporting.REFUSAL_FIELDS else 0.1):
            data[field] = rng.sample(reasons, rng.randint(1, 2))
    return data


def from_the_audit_events(runtime, scope: Scope, period: Period) -> dict[str, Any]:
    """Remedies, satisfaction and refusals worked out in Python from every audit event, as the page used to."""
    with runtime.sessions() as session:
        forms = session.scalars(select(AuditEvent).where(AuditEvent.type == "task_completed")).all()
        complaints = session.scalars(select(Complaint).where(Complaint.landlord.in_(scope.slugs))).all()
    in_period = [e for e in forms if e.landlord in scope.slugs and period.starts_at <= e.at < period.ends_at]
    money: dict[str, list[float]] = {"1": [], "2": []}
    offered: dict[str, Counter] = {"1": Counter(), "2": Counter()}
    surveys: Counter = Counter()
    for event in in_period:
        stage, data = event.details["stage"], event.details["data"]
        if stage in money and data.get("compensation") is not None:
            money[stage].append(data["compensation"])
        if stage in offered:
            offered[stage].update(data.get("remedies", []))
        if data.get("survey_status") is not None:
            surveys[(data["survey_status"], data.get("satisfaction"))] += 1
    every = (*reporting.REMEDIES, *sorted((set(offered["1"]) | set(offered["2"])) - set(reporting.REMEDIES)))
    remedies = {f"stage{s}": {"compensation": round(float(sum(money[s])), 2),
                              "with_compensation": sum(1 for m in money[s] if m > 0),
                              "remedies": [{"remedy": r, "count": offered[s][r]} for r in every]} for s in ("1", "2")}
    remedies["compensation_total"] = round(remedies["stage1"]["compensation"] + remedies["stage2"]["compensation"], 2)
    refusals = []
    for outcome, field in reporting.REFUSAL_FIELDS.items():
        closed = [c.id for c in complaints
                  if c.outcome == outcome and c.closed_at and period.starts_at <= c.closed_at < period.ends_at]
        reasons = Counter(reason for cid in closed
                          for reason in {r for e in forms if e.complaint_id == cid
                                         for r in e.details["data"].get(field, [])})
        refusals.append({"outcome": outcome, "field": field, "total": len(closed),
                         "reasons": [{"reason": r, "count": n}
                                     for r, n in sorted(reasons.items(), key=lambda i: (-i[1], i[0]))]})
    by_status = Counter()
    for (status, _), n in surveys.items():
        by_status[status] += n
    by_answer = Counter({a: n for (s, a), n in surveys.items() if s == "completed" and a})
    satisfied = sum(by_answer[level] for level in reporting.SATISFIED)
    satisfaction = {"surveys": sum(by_status.values()), "completed": by_status["completed"],
                    "no_reply": by_status["no_reply"], "declined": by_status["declined"],
                    "answers": [{"answer": a, "count": by_answer[a]} for a in reporting.SATISFACTION_LEVELS],
                    "satisfied": satisfied,
                    "satisfied_share": reporting._share(satisfied, by_status["completed"])}
    return {"remedies": remedies, "refusals": refusals, "satisfaction": satisfaction}


def from_the_copy(runtime, scope: Scope, period: Period) -> dict[str, Any]:
    with runtime.sessions() as session:
        return {"remedies": reporting.remedies(session, scope, period),
                "refusals": reporting.refusals(session, scope, period),
                "satisfaction": reporting.satisfaction(session, scope, period)}


def assert_the_same_figures(runtime) -> None:
    scopes = [Scope((runtime.landlords[slug],)) for slug in LANDLORDS]
    scopes.append(Scope(tuple(runtime.landlords[slug] for slug in LANDLORDS)))
    for scope in scopes:
        for period in PERIODS:
            assert from_the_copy(runtime, scope, period) == from_the_audit_events(runtime, scope, period), \
                (scope.slugs, period.label)


def copied_rows(runtime) -> tuple[int, int]:
    with runtime.sessions() as session:
        return (session.scalar(select(func.count()).select_from(ReportForm)),
                session.scalar(select(func.count()).select_from(ReportChoice)))


def forms_with_answers(runtime) -> tuple[int, int]:
    """How many completed forms record an answer the reports count, and how many options they tick."""
    with runtime.sessions() as session:
        forms = session.scalars(select(AuditEvent.details).where(AuditEvent.type == "task_completed")).all()
    fields = reporting.CHOICE_FIELDS
    counted = [d["data"] for d in forms
               if any(d["data"].get(k) is not None for k in ("compensation", "survey_status"))
               or any(d["data"].get(k) for k in fields)]
    return len(counted), sum(len(data.get(k) or []) for data in counted for k in fields)


def test_the_copied_answers_give_the_figures_of_the_audit_events(runtime):
    rng = random.Random(13)
    add_forms(runtime, rng, 300, FIRST, 700)
    reporting.refresh(runtime.sessions, runtime.landlords)
    assert copied_rows(runtime) == forms_with_answers(runtime)
    assert_the_same_figures(runtime)


def test_forms_completed_after_a_refresh_are_copied_by_the_next_and_nothing_twice(runtime):
    rng = random.Random(29)
    add_forms(runtime, rng, 150, FIRST, 300)
    reporting.refresh(runtime.sessions, runtime.landlords)
    before = copied_rows(runtime)
    # More forms: later ones, and some dated before the newest copied (history loaded afterwards, or a
    # transaction that committed after a later one).
    add_forms(runtime, rng, 150, FIRST + timedelta(days=280), 300)
    add_forms(runtime, rng, 40, FIRST - timedelta(days=30), 60)
    assert copied_rows(runtime) == before                              # nothing copied until the refresh
    reporting.refresh(runtime.sessions, runtime.landlords)
    assert copied_rows(runtime) == forms_with_answers(runtime) != before
    assert_the_same_figures(runtime)
    assert reporting.copy_answers(runtime.sessions, LANDLORDS) == 0
    assert reporting.copy_answers(runtime.sessions, LANDLORDS, everything=True) == 0
    assert copied_rows(runtime) == forms_with_answers(runtime)
    assert_the_same_figures(runtime)


def test_a_form_that_committed_late_within_a_day_of_the_newest_copy_is_copied(runtime):
    """The id after the newest copied is not enough on PostgreSQL: a transaction holding a lower id may
    commit after the refresh; the day before each landlord's newest copied form is read again."""
    add_forms(runtime, random.Random(41), 60, FIRST, 100)
    with runtime.sessions.begin() as session:
        late = AuditEvent(complaint_id=None, landlord="harrogate", at=datetime(2027, 5, 3, 9, tzinfo=UTC), actor="test",
                          type="task_completed", details={"stage": "2", "data": {"compensation": 75}})
        session.add(late)
        session.flush()
        late_id, late_at = late.id, late.at
        session.add(AuditEvent(complaint_id=None, landlord="harrogate", at=late_at + timedelta(hours=2),
                               actor="test", type="task_completed",
                               details={"stage": "2", "data": {"survey_status": "declined"}}))
    reporting.refresh(runtime.sessions, runtime.landlords)
    with runtime.sessions.begin() as session:   # as if the first had not committed when the refresh ran
        session.execute(ReportForm.__table__.delete().where(ReportForm.event_id == late_id))
    reporting.refresh(runtime.sessions, runtime.landlords)
    assert copied_rows(runtime) == forms_with_answers(runtime)
    assert_the_same_figures(runtime)
