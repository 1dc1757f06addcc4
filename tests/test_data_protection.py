"""Personal data stays in the database and the letters: logs carry references, not names."""
from __future__ import annotations

import logging

import pytest

from workflow_app.scheduler import sweep

from .test_complaints import at, log, open_task, respond_at_stage1


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
    try:
        deployed.tasks.complete(open_task(deployed, reference, "acknowledge2"), {"complaint_definition": ""}, reviewer)
    except Exception:
        pass  # a refused submission must not leak either

    assert caplog.records, "the scenario should have logged something (SQL at DEBUG at least)"
    for secret in ("Quartermaine", "w.quartermaine@example.org", "Larkspur"):
        assert secret not in caplog.text
