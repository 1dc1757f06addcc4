"""Personal data stays in the database and the letters: logs carry references, not names."""
from __future__ import annotations

import contextlib
import logging

import pytest

from tests.conftest import send_letters
from tests.integration.test_complaints import at, log, open_task, respond_at_stage1
from workflow_app.casework.scheduler import sweep


@pytest.fixture
def debug_logs(caplog):
    """Everything at DEBUG, SQL statements included, from before the database engine exists."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    return caplog


def test_a_full_scenario_logs_no_resident_name_or_email(debug_logs, officer, caseworker, reviewer, deployed,
                                                        virtual_clock):
    caplog = debug_logs
    reference = log(deployed, officer, resident={"name": "Wilhelmina Quartermaine",
                                                 "email": "w.quartermaine@example.org",
                                                 "address": "7 Larkspur Row"})
    respond_at_stage1(deployed, reference, caseworker, virtual_clock)
    virtual_clock.set(at("2027-01-20T09:00:00+00:00"))
    deployed.complaints.send_event(reference, "escalation_requested", {}, officer)
    virtual_clock.set(at("2027-03-30T00:00:00+00:00"))
    sweep(deployed.complaints)
    with contextlib.suppress(Exception):  # a refused submission must not leak either
        deployed.tasks.complete(open_task(deployed, reference, "acknowledge2"), {"complaint_definition": ""}, reviewer)

    assert caplog.records, "the scenario should have logged something (SQL at DEBUG at least)"
    for secret in ("Quartermaine", "w.quartermaine@example.org", "Larkspur"):
        assert secret not in caplog.text


def every_stored_text(runtime) -> str:
    """Every value in every table, as text: what a database dump would show."""
    from sqlalchemy import select

    from workflow_app.casework.models import Base
    parts = []
    with runtime.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                parts.extend(repr(value) for value in row)
    return "\n".join(parts)


def closed_complaint(deployed, officer, caseworker, virtual_clock) -> str:
    reference = log(deployed, officer, summary="Leak above Wilhelmina's bed",
                    resident={"name": "Wilhelmina Quartermaine", "email": "w.quartermaine@example.org"})
    virtual_clock.set(at("2026-12-24T10:00:00+00:00"))
    deployed.tasks.complete(open_task(deployed, reference, "acknowledge"),
                            {"complaint_definition": "Mrs Quartermaine's ceiling collapsed"}, caseworker)
    send_letters(deployed, reference, caseworker)
    virtual_clock.set(at("2027-01-07T10:00:00+00:00"))
    deployed.tasks.complete(open_task(deployed, reference, "respond1"),
                            {"decision": "respond", "outcome": "upheld"}, caseworker)
    virtual_clock.set(at("2027-03-01T00:00:00+00:00"))
    sweep(deployed.complaints)  # the escalation window closes: resolved at stage 1
    assert deployed.complaints.describe(reference, officer)["status"] == "closed"
    return reference


def test_retention_dry_run_changes_nothing_and_the_real_run_leaves_no_personal_data(
        officer, caseworker, deployed, virtual_clock):
    from workflow_app.casework.consistency import inconsistent_complaints
    from workflow_app.casework.retention import apply_retention

    old = closed_complaint(deployed, officer, caseworker, virtual_clock)
    still_open = log(deployed, officer, resident={"name": "Ophelia Openshaw"})

    virtual_clock.set(at("2033-02-27T12:00:00+00:00"))  # not yet six years after closing on 1 Mar 2027
    assert apply_retention(deployed.sessions, deployed.casework, "tester", dry_run=False) == []

    virtual_clock.set(at("2033-03-02T12:00:00+00:00"))
    before = every_stored_text(deployed)
    due = apply_retention(deployed.sessions, deployed.casework, "tester", dry_run=True)
    assert [d.reference for d in due] == [old]
    assert every_stored_text(deployed) == before

    apply_retention(deployed.sessions, deployed.casework, "tester", dry_run=False)

    stored = every_stored_text(deployed)
    for secret in ("Quartermaine", "w.quartermaine@example.org", "Wilhelmina", "ceiling collapsed"):
        assert secret not in stored
    assert "Ophelia Openshaw" in stored  # open complaints are never touched
    body = deployed.complaints.describe(old, officer)
    assert body["status"] == "closed" and [d["key"] for d in body["deadlines"]][:2] == [
        "stage1_acknowledge", "stage1_response"]
    with deployed.sessions() as session:
        assert list(inconsistent_complaints(session, deployed.casework)) == []
    assert apply_retention(deployed.sessions, deployed.casework, "tester", dry_run=False) == []
    assert [e["type"] for e in deployed.complaints.history(old, officer)][-1] == "anonymised"
    assert still_open


@pytest.mark.parametrize("retention, confirmed", [
    ("default", False),       # no [retention] in landlord.toml: applied before any confirmation
    ("confirmed", True),
])
def test_closed_complaints_are_anonymised_after_the_default_period_until_the_landlord_sets_its_own(
        officer, caseworker, deployed, virtual_clock, retention, confirmed):
    from dataclasses import replace
    from datetime import date

    from workflow_app.casework.retention import apply_retention
    from workflow_app.rules.landlords import DEFAULT_RETENTION, Retention

    landlords = deployed.casework.landlords
    landlords["testshire"] = replace(landlords["testshire"], retention=DEFAULT_RETENTION if retention == "default"
                                     else Retention(6, confirmed_by="Data Protection Officer",
                                                    confirmed_on=date(2026, 11, 30)))
    old = closed_complaint(deployed, officer, caseworker, virtual_clock)   # closed on 1 March 2027

    virtual_clock.set(at("2033-02-27T12:00:00+00:00"))
    assert apply_retention(deployed.sessions, deployed.casework, "tester", dry_run=False) == []
    virtual_clock.set(at("2033-03-02T12:00:00+00:00"))
    assert [d.reference for d in apply_retention(deployed.sessions, deployed.casework, "tester", False)] == [old]

    assert "Quartermaine" not in every_stored_text(deployed)
    anonymised = deployed.complaints.history(old, officer)[-1]
    assert anonymised["type"] == "anonymised"
    assert (anonymised["retention_years"], anonymised["retention_confirmed"]) == (6, confirmed)


def add_sign_in_attempts(runtime, *ages) -> None:
    """One failed attempt by "carl" from 203.0.113.7 for each age (a timedelta before now)."""
    from workflow_app.casework.models import SignInAttempt
    from workflow_app.rules import clock
    with runtime.sessions.begin() as session:
        session.add_all(SignInAttempt(username="carl", address="203.0.113.7", at=clock.now() - age, succeeded=False)
                        for age in ages)


def sign_in_attempt_ages(runtime) -> list:
    from sqlalchemy import select

    from workflow_app.casework.models import SignInAttempt
    from workflow_app.rules import clock
    with runtime.sessions() as session:
        return sorted(clock.now() - at for at in session.scalars(select(SignInAttempt.at)))


def test_sign_in_attempts_are_kept_30_days_then_forgotten(runtime, virtual_clock):
    from datetime import timedelta

    from workflow_app.casework.retention import SIGN_IN_ATTEMPTS_KEPT, forget_old_sign_in_attempts
    from workflow_app.web.extensions import SignInLimit

    kept = SIGN_IN_ATTEMPTS_KEPT
    assert kept == timedelta(days=30)
    assert kept > SignInLimit().window     # the sign-in limit still sees every attempt it counts
    day, second = timedelta(days=1), timedelta(seconds=1)
    add_sign_in_attempts(runtime, timedelta(minutes=5), 29 * day, 30 * day - second, 30 * day + second, 400 * day)

    assert forget_old_sign_in_attempts(runtime.sessions, dry_run=True) == 2
    assert len(sign_in_attempt_ages(runtime)) == 5
    assert forget_old_sign_in_attempts(runtime.sessions) == 2
    assert sign_in_attempt_ages(runtime) == [timedelta(minutes=5), 29 * day, 30 * day - second]
    assert forget_old_sign_in_attempts(runtime.sessions) == 0

    virtual_clock.advance(2 * second)                          # the next sweep forgets the next one
    assert forget_old_sign_in_attempts(runtime.sessions) == 1


def test_the_scheduler_forgets_old_sign_in_attempts_after_its_sweeps(runtime, virtual_clock):
    """The jobs the web process's scheduler and `workflow-app scheduler` run: nobody has to remember to."""
    import time
    from datetime import timedelta

    from workflow_app.casework.scheduler import Scheduler, sweep_job
    from workflow_app.reporting.projections import jobs_after_each_sweep

    add_sign_in_attempts(runtime, timedelta(days=31), timedelta(days=1))
    sweep_job(runtime.complaints, virtual_clock, jobs_after_each_sweep(runtime))()
    assert sign_in_attempt_ages(runtime) == [timedelta(days=1)]

    add_sign_in_attempts(runtime, timedelta(days=45))
    scheduler = Scheduler(runtime.complaints, virtual_clock, longest=0.05, after_sweep=jobs_after_each_sweep(runtime))
    scheduler.start()
    try:
        for _ in range(100):
            if len(sign_in_attempt_ages(runtime)) == 1:
                break
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert sign_in_attempt_ages(runtime) == [timedelta(days=1)]
