"""The complaints `refresh` copies (`measures.copy_complaints`) and the deadlines' landlords it fills in: the
resolution, categories, acknowledgements and deadlines figures read from them are the figures worked out
directly from the complaints, their deadlines and their measured responses, on a varied set, before and
after complaints close, escalate and meet deadlines since the last refresh; nothing is counted twice."""
from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tests.support.reporting_data import copied_runtime
from workflow_app.casework.models import AuditEvent, Complaint, Deadline, ReportComplaint, ReportResponse
from workflow_app.reporting import measures as reporting
from workflow_app.reporting.measures import Period, Scope
from workflow_app.rules.vocabulary import DUTY_KEYS

LANDLORDS = ("great_places", "brighter_places", "harrogate")
PERIODS = (Period.reporting_year(2025), Period.reporting_year(2026), Period.reporting_year(2027),
           Period(date(2026, 1, 1), date(2026, 1, 31)))
FIRST = datetime(2025, 3, 1, tzinfo=UTC)
LATER = datetime(2027, 6, 1, 9, tzinfo=UTC)
CATEGORIES = ("property_condition", "complaint_handling", "charges")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def runtime(request, tmp_path, templates):
    with copied_runtime(templates, request.param, tmp_path) as (runtime, _, _):
        yield runtime


def event(session, complaint: Complaint, kind: str, at: datetime, **details: Any) -> None:
    session.add(AuditEvent(complaint_id=complaint.id, landlord=complaint.landlord, at=at, actor="test", type=kind,
                           details=details))


def deadline(session, complaint: Complaint, key: str, due: datetime, met: datetime | None = None,
             status: str | None = None, extended: bool = False) -> Deadline:
    """A deadline as the engine writes it (its landlord left empty), with its audit events."""
    row = Deadline(complaint_id=complaint.id, key=key, stage="2" if key.startswith("stage2") else "1",
                   element_id=key, guards=key, due_at=due, original_due_at=due, met_at=met,
                   missed=bool(met and met > due) or status == "missed", extended=extended,
                   status=status or ("met" if met else "open"))
    session.add(row)
    event(session, complaint, "deadline_set", due - timedelta(days=5), key=key)
    if met:
        event(session, complaint, "deadline_met", met, key=key)
    return row


def add_complaints(runtime, rng: random.Random, count: int, start: datetime, days: int) -> None:
    """Complaints at every point of their life: waiting, acknowledged late or on time, answered at stage 1
    (within or after an extension), escalated, closed by a refusal or after either stage, with the audit
    events the engine records."""
    with runtime.sessions.begin() as session:
        serial = session.scalar(select(func.count()).select_from(Complaint))
        for n in range(count):
            landlord = rng.choice(LANDLORDS)
            received = start + timedelta(days=rng.uniform(0, days))
            if rng.random() < 0.1:
                received = Period(received.date(), received.date()).starts_at   # exactly midnight in London
            complaint = Complaint(reference=f"P-{serial + n:06d}", landlord=landlord, received_at=received,
                                  channel="email", category=rng.choice(CATEGORIES), summary="-", resident={},
                                  status="open", stage="pre", created_at=received, created_by="test")
            session.add(complaint)
            session.flush()
            event(session, complaint, "complaint_logged", received)
            life = rng.choice(["waiting", "refused", "acknowledged", "answered", "answered", "escalated",
                               "escalated_answered"])
            at = received + timedelta(days=rng.uniform(0.5, 3))
            if life == "refused":
                close(session, complaint, "refused", at)
                continue
            if life == "waiting":
                deadline(session, complaint, "stage1_acknowledge", received + timedelta(days=5),
                         status=rng.choice(["open", "missed", "cancelled"]))
                continue
            complaint.stage = "1"
            ack_due = received + timedelta(days=5)
            deadline(session, complaint, "stage1_acknowledge", ack_due, met=ack_due + timedelta(days=rng.uniform(-4, 3)))
            response_due = received + timedelta(days=20)
            if life == "acknowledged":
                deadline(session, complaint, "stage1_response", response_due, status=rng.choice(["open", "missed"]),
                         extended=rng.random() < 0.3)
                continue
            answered = response_due + timedelta(days=rng.uniform(-10, 8))
            deadline(session, complaint, "stage1_response", response_due, met=answered, extended=rng.random() < 0.3)
            if life == "answered":
                if rng.random() < 0.7:
                    close(session, complaint, "resolved_stage1", answered + timedelta(days=rng.uniform(1, 40)))
                continue
            complaint.stage = "2"
            requested = answered + timedelta(days=rng.uniform(1, 20))
            deadline(session, complaint, "stage2_acknowledge", requested + timedelta(days=5),
                     met=requested + timedelta(days=rng.uniform(1, 8)) if rng.random() < 0.8 else None)
            if life == "escalated_answered":
                met = requested + timedelta(days=rng.uniform(10, 40))
                deadline(session, complaint, "stage2_response", requested + timedelta(days=25), met=met)
                if rng.random() < 0.8:
                    close(session, complaint, "stage2_final", met + timedelta(days=rng.uniform(0, 30)))
            elif rng.random() < 0.2:
                close(session, complaint, "review_refused", requested + timedelta(days=2))


def close(session, complaint: Complaint, outcome: str, at: datetime) -> None:
    complaint.status, complaint.outcome, complaint.closed_at = "closed", outcome, at
    event(session, complaint, "closed", at, outcome=outcome)


def directly(runtime, scope: Scope, period: Period) -> dict[str, Any]:
    """Resolution, categories, acknowledgements and deadlines worked out in Python from every complaint, deadline
    and measured response (the measured responses are what `refresh` measured; stage 1 answered is having one)."""
    with runtime.sessions() as session:
        complaints = [c for c in session.scalars(select(Complaint)) if c.landlord in scope.slugs]
        landlord_of = dict(session.execute(select(Complaint.id, Complaint.landlord)).all())
        deadlines = [d for d in session.scalars(select(Deadline)) if landlord_of[d.complaint_id] in scope.slugs]
        responses = session.execute(select(ReportResponse.complaint_id, ReportResponse.landlord,
                                           ReportResponse.stage, ReportResponse.responded_at)).all()
        escalated = set(session.scalars(select(Deadline.complaint_id).where(Deadline.key == "stage2_acknowledge")))
    within = lambda at: at is not None and period.starts_at <= at < period.ends_at  # noqa: E731
    answered = {cid for cid, _, stage, _ in responses if stage == "1"}
    closed = [c for c in complaints if c.status == "closed" and within(c.closed_at) and c.id in answered]
    at_stage1 = [c for c in closed if c.id not in escalated]
    answered_in = {cid for cid, landlord, stage, at in responses
                   if stage == "1" and landlord in scope.slugs and within(at)}
    resolution = {"closed_after_stage1": len(closed), "resolved_at_stage1": len(at_stage1),
                  "resolved_share": reporting._share(len(at_stage1), len(closed)),
                  "stage1_responses": len(answered_in), "escalated": len(answered_in & escalated),
                  "escalation_rate": reporting._share(len(answered_in & escalated), len(answered_in))}
    received = [c for c in complaints if within(c.received_at)]
    by_category = Counter(c.category for c in received)
    reached = lambda c: c.stage != "pre" or (c.status == "closed" and c.outcome not in ("refused", "withdrawn"))  # noqa: E731
    categories = [{"category": category, "received": n,
                   "stage1": sum(1 for c in received if c.category == category and reached(c)),
                   "stage2": sum(1 for c in received if c.category == category and c.id in escalated),
                   "refused": sum(1 for c in received if c.category == category and c.outcome == "refused")}
                  for category, n in sorted(by_category.items(), key=lambda i: (-i[1], i[0]))]
    acknowledgements = {}
    for stage in ("1", "2"):
        made = [d for d in deadlines if d.key == f"stage{stage}_acknowledge" and within(d.met_at)]
        on_time = sum(1 for d in made if d.met_at <= d.due_at)
        acknowledgements[f"stage{stage}"] = {"acknowledged": len(made), "on_time": on_time,
                                             "late": len(made) - on_time, "share": reporting._share(on_time, len(made))}
    due = [d for d in deadlines if d.key in DUTY_KEYS and within(d.due_at) and d.status != "cancelled"]
    performance = []
    for key in sorted({d.key for d in due}):
        rows = [d for d in due if d.key == key]
        on_time = sum(1 for d in rows if d.met_at is not None and d.met_at <= d.due_at)
        performance.append({"key": key, "due": len(rows), "on_time": on_time,
                            "late": sum(1 for d in rows if d.met_at is not None and d.met_at > d.due_at),
                            "outstanding": sum(1 for d in rows if d.met_at is None and d.status == "missed"),
                            "extended": sum(1 for d in rows if d.extended), "share": reporting._share(on_time, len(rows))})
    return {"resolution": resolution, "categories": categories, "acknowledgements": acknowledgements,
            "deadlines": performance}


def from_the_copy(runtime, scope: Scope, period: Period) -> dict[str, Any]:
    with runtime.sessions() as session:
        return {"resolution": reporting.resolution(session, scope, period),
                "categories": reporting.categories(session, scope, period),
                "acknowledgements": reporting.acknowledgements(session, scope, period),
                "deadlines": reporting.deadline_performance(session, scope, period)}


def assert_the_same_figures(runtime, only: tuple[str, ...] | None = None) -> None:
    scopes = [Scope((runtime.landlords[slug],)) for slug in LANDLORDS]
    scopes.append(Scope(tuple(runtime.landlords[slug] for slug in LANDLORDS)))
    for scope in scopes:
        for period in PERIODS:
            copy, direct = from_the_copy(runtime, scope, period), directly(runtime, scope, period)
            for name in only or tuple(direct):
                assert copy[name] == direct[name], (name, scope.slugs, period.label)


def copied(runtime) -> dict[int, tuple]:
    with runtime.sessions() as session:
        return {row[0]: tuple(row[1:]) for row in session.execute(
            select(ReportComplaint.complaint_id, ReportComplaint.status, ReportComplaint.closed_at,
                   ReportComplaint.escalated, ReportComplaint.stage1_answered))}


def assert_each_complaint_copied_once(runtime) -> None:
    with runtime.sessions() as session:
        complaints = session.scalar(select(func.count()).select_from(Complaint))
        unknown = session.scalar(select(func.count()).select_from(Deadline).where(Deadline.landlord.is_(None)))
        wrong = session.scalar(select(func.count()).select_from(Deadline).join(Complaint, Complaint.id == Deadline.complaint_id)
                               .where(Deadline.landlord != Complaint.landlord))
    assert len(copied(runtime)) == complaints and (unknown, wrong) == (0, 0)


def test_the_copied_complaints_give_the_figures_of_the_complaints_and_deadlines(runtime):
    add_complaints(runtime, random.Random(3), 300, FIRST, 700)
    assert_the_same_figures(runtime, ("acknowledgements", "deadlines"))   # before any copy: through the complaints
    reporting.refresh(runtime.sessions, runtime.landlords)
    assert_each_complaint_copied_once(runtime)
    assert_the_same_figures(runtime)


def test_changes_since_the_last_refresh_are_copied_by_the_next_and_nothing_twice(runtime):
    rng = random.Random(17)
    add_complaints(runtime, rng, 200, FIRST, 700)
    reporting.refresh(runtime.sessions, runtime.landlords)
    before = copied(runtime)
    with runtime.sessions.begin() as session:
        running = session.scalars(select(Complaint).where(Complaint.reference.like("P-%"), Complaint.status == "open")
                                  .order_by(Complaint.id)).all()
        waiting = [c for c in running if c.stage == "1"]
        close(session, waiting[0], "resolved_stage1", LATER)                          # closed
        to_stage2 = waiting[1]                                                         # escalated
        to_stage2.stage = "2"
        deadline(session, to_stage2, "stage2_acknowledge", LATER + timedelta(days=5), met=LATER)
        unmet = session.scalars(select(Deadline).where(Deadline.complaint_id == waiting[2].id,
                                                       Deadline.key == "stage1_response")).first()
        unmet.status, unmet.met_at = "met", LATER + timedelta(hours=1)                # a response made
        event(session, waiting[2], "deadline_met", unmet.met_at, key=unmet.key)
        changed = {waiting[0].id, to_stage2.id, waiting[2].id}
    add_complaints(runtime, rng, 40, LATER - timedelta(days=400), 390)                  # new, some dated earlier
    assert copied(runtime) == before                                                   # nothing until the refresh
    assert_the_same_figures(runtime, ("acknowledgements", "deadlines"))               # these count at once
    reporting.refresh(runtime.sessions, runtime.landlords)
    after = copied(runtime)
    assert {cid for cid in before if after[cid] != before[cid]} == changed
    assert after[to_stage2.id][2] is True and after[waiting[0].id][0] == "closed" and after[waiting[2].id][3] is True
    assert_each_complaint_copied_once(runtime)
    assert_the_same_figures(runtime)
    reporting.refresh(runtime.sessions, runtime.landlords)
    reporting.copy_complaints(runtime.sessions, LANDLORDS, everything=True)
    assert copied(runtime) == after
    assert_each_complaint_copied_once(runtime)
    assert_the_same_figures(runtime)


def test_a_change_that_committed_late_within_a_day_of_the_newest_is_copied(runtime):
    """A transaction holding a lower audit event id may commit after a refresh that read past it: the day
    before each landlord's newest event of the kinds that change a complaint is read again."""
    add_complaints(runtime, random.Random(23), 60, FIRST, 300)
    with runtime.sessions.begin() as session:
        complaint = session.scalars(select(Complaint).where(Complaint.reference.like("P-%"),
                                                            Complaint.status == "open")).first()
        close(session, complaint, "withdrawn", LATER)
        event(session, complaint, "note_added", LATER + timedelta(hours=3))
    reporting.refresh(runtime.sessions, runtime.landlords)
    with runtime.sessions.begin() as session:   # as if the closing had not committed when the refresh ran
        session.execute(update(ReportComplaint).where(ReportComplaint.complaint_id == complaint.id)
                        .values(status="open", closed_at=None))
    reporting.refresh(runtime.sessions, runtime.landlords)
    assert copied(runtime)[complaint.id][:2] == ("closed", LATER)
    assert_the_same_figures(runtime)
