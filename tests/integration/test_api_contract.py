"""The API against its own document: hostile input is refused with a 4xx naming the field, the
document is OpenAPI 3.1 served without a token, and a property-based fuzzer (schemathesis) finds
no 5xx and no response the document does not describe."""
from __future__ import annotations

import json
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import func, select

from tests.integration.test_api import COMPLAINT, client, staff, token_for  # noqa: F401  (fixtures)
from workflow_app.casework.models import AuditEvent, Complaint, PendingEvent

FUZZ_EXAMPLES = 40
"""Requests generated per operation and mode: enough to reach every field's edges on each run."""
DEEP_OBJECT = '{"a":' * 5000 + "1" + "}" * 5000
DEEP_ARRAYS = "[" * 3000 + "]" * 3000


def counts(deployed) -> tuple[int, int, int]:
    with deployed.sessions() as session:
        return tuple(session.scalar(select(func.count()).select_from(table))
                     for table in (Complaint, AuditEvent, PendingEvent))


def post(client, path, raw: str, headers):
    return client.post(path, data=raw.encode("utf-8", "surrogatepass"), content_type="application/json",
                       headers=headers)


def logged(client, staff) -> tuple[str, str]:
    reference = client.post("/api/complaints", json=COMPLAINT, headers=staff).json["reference"]
    task = client.get(f"/api/complaints/{reference}", headers=staff).json["open_tasks"][0]["id"]
    return reference, task


@pytest.mark.parametrize("body, field", [
    ({**COMPLAINT, "landlord": ["great_places"]}, "landlord"),
    ({**COMPLAINT, "landlord": {"slug": "testshire"}}, "landlord"),
    ({**COMPLAINT, "summary": "Roof\u0000 leaking"}, "summary"),
    ({**COMPLAINT, "resident": {"name": "A\u0000"}}, "resident.name"),
    ({**COMPLAINT, "summary": 12}, "summary"),
    ({**COMPLAINT, "received_at": 1766507400}, "received_at"),
    ({**COMPLAINT, "received_at": "0001-01-01T00:00:00+00:01"}, "received_at"),   # found by the fuzzer
    ({**COMPLAINT, "received_at": "1066-10-14T09:00:00+00:00"}, "received_at"),
    ({**COMPLAINT, "channel": ["phone"]}, "channel"),
    ({**COMPLAINT, "resident": ["A Resident"]}, "resident"),
    ({**COMPLAINT, "representative": "someone"}, "representative"),
    ({**COMPLAINT, "sneaky": True}, "sneaky"),
    ([COMPLAINT], "body"),
    ("a string", "body"),
    (None, "body"),
])
def test_hostile_complaints_get_422_naming_the_field_and_nothing_is_stored(client, staff, deployed, body, field):
    before = counts(deployed)
    response = client.post("/api/complaints", data=json.dumps(body), content_type="application/json",
                           headers=staff)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert field in response.json["errors"]
    assert counts(deployed) == before


@pytest.mark.parametrize("raw, field, words", [
    (DEEP_OBJECT, "body", "nests deeper"),
    (DEEP_ARRAYS, "body", "nests deeper"),
    (json.dumps({**COMPLAINT, "summary": "\ud800"}), "summary", "lone surrogate"),
    (json.dumps({**COMPLAINT, "summary": "ok", "resident": {"name": "A \udfff"}}), "resident.name", "lone surrogate"),
    (json.dumps({**COMPLAINT, "outcomes_sought": "x\u0000y"}), "outcomes_sought", "NUL"),
    (json.dumps({**COMPLAINT, "resident": {"name": "A", "\u0000": "x"}}), "resident", "NUL"),
    ('{"landlord": "testshire",', "body", "not valid JSON"),
    ('\xff\xfe{"a": 1}', "body", "not valid JSON"),
])
def test_bodies_no_database_can_store_are_refused_before_any_service_runs(client, staff, deployed, raw, field,
                                                                          words):
    before = counts(deployed)
    response = post(client, "/api/complaints", raw, staff)
    assert response.status_code == 422
    assert words in " ".join(response.json["errors"][field])
    assert counts(deployed) == before


def test_a_raw_surrogate_in_the_bytes_is_refused_too(client, staff, deployed):
    raw = json.dumps({**COMPLAINT, "summary": "\ud800"}, ensure_ascii=False)
    response = post(client, "/api/complaints", raw, staff)
    assert response.status_code == 422 and "summary" in response.json["errors"]


@pytest.mark.parametrize("data", [
    "[" * 3000 + "]" * 3000,
    '{"data": ' + "[" * 3000 + "]" * 3000 + "}",
    '{"data": {"note": "\\u0000"}}',
    '{"data": {"\\ud800": "key"}}',
    '{"data": {"nested": [{"deeper": ["\\udc00"]}]}}',
    '{"data": "not an object"}',
    '{"data": [1, 2]}',
])
def test_hostile_event_bodies_are_refused_and_nothing_is_kept(client, staff, deployed, data):
    reference, _ = logged(client, staff)
    before = counts(deployed)
    response = post(client, f"/api/complaints/{reference}/events/escalation_requested", data, staff)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert counts(deployed) == before


@pytest.mark.parametrize("data", [
    '{"data": {"complaint_definition": "\\u0000"}}',
    '{"data": {"complaint_definition": "\\ud800"}}',
    '{"data": ' + '{"a":' * 3000 + "1" + "}" * 3000 + "}",
    '{"data": {"complaint_definition": "yes"}, "extra": 1}',
])
def test_hostile_task_completions_are_refused_and_the_task_stays_open(client, staff, data):
    reference, task = logged(client, staff)
    response = post(client, f"/api/tasks/{task}/complete", data, staff)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert [t["id"] for t in client.get(f"/api/complaints/{reference}", headers=staff).json["open_tasks"]] == [task]


@pytest.mark.parametrize("path", [
    "/api/complaints/%00", "/api/complaints/TH-2026-000001%00", "/api/complaints/%ED%A0%80/history",
    "/api/tasks/%00/complete", "/api/complaints/TH-2026-000001/events/%00",
])
def test_hostile_path_parameters_find_nothing(client, staff, path):
    method = client.post if path.endswith(("complete", "events/%00")) else client.get
    response = method(path, json={}, headers=staff)
    assert response.status_code == 404 and "error" in response.json


@pytest.mark.parametrize("query, field", [
    ("assignee=%00", "assignee"), ("landlord=a%00b", "landlord"), ("role=%ED%A0%80", "role"),
    ("page=1&page=2", "page"), ("page=99999999999999999999", "page"), ("colour=blue", "colour"),
])
def test_hostile_query_strings_are_refused(client, staff, query, field):
    response = client.get(f"/api/tasks?{query}", headers=staff)
    assert response.status_code == 422 and field in response.json["errors"]


def test_assigning_to_someone_unhashable_is_refused(client, staff):
    _, task = logged(client, staff)
    response = client.post(f"/api/tasks/{task}/assign", json={"assignee": ["sally"]}, headers=staff)
    assert response.status_code == 422 and "assignee" in response.json["errors"]


def test_the_document_is_openapi_3_1_served_without_a_token(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {
        "/api/complaints", "/api/complaints/{reference}", "/api/complaints/{reference}/history",
        "/api/complaints/{reference}/events/{name}", "/api/tasks", "/api/tasks/{task_id}/complete",
        "/api/tasks/{task_id}/assign", "/api/complaints/{reference}/hazards", "/api/hazards"}
    new_complaint = document["components"]["schemas"]["NewComplaint"]
    assert new_complaint["additionalProperties"] is False
    assert set(new_complaint["required"]) == {"landlord", "received_at", "channel", "category", "summary", "resident"}
    assert document["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"


def test_the_document_and_the_checks_agree_on_what_a_complaint_is(client, staff):
    """The document's limits are the service's: a summary one character over the documented maximum is refused."""
    schema = client.get("/api/openapi.json").json["components"]["schemas"]["NewComplaint"]
    longest = schema["properties"]["summary"]["maxLength"]
    refused = client.post("/api/complaints", json={**COMPLAINT, "summary": "x" * (longest + 1)}, headers=staff)
    assert refused.status_code == 422 and "summary" in refused.json["errors"]
    accepted = client.post("/api/complaints", json={**COMPLAINT, "summary": "x" * longest}, headers=staff)
    assert accepted.status_code == 201


# --- the fuzzer -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_fuzzer_finds_no_server_error_and_no_undocumented_response(client, staff, mode):
    """schemathesis generates requests from the document (valid ones, and ones the document forbids) for every
    operation and checks each answer: no 5xx, a documented status, content type and body, refusals of invalid
    data, and no access without the token. Not checked: that every request the document allows is accepted. The
    services refuse with a documented 422 what a JSON Schema cannot state (a received time in the future, a
    landlord not deployed, the answers a task's own form requires)."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", client.application)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 9

    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=FUZZ_EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def answers_as_documented(case):
            case.call_and_validate(headers=staff, excluded_checks=[positive_data_acceptance])

        answers_as_documented()


def test_the_fuzzer_follows_the_documents_links(client, staff):
    """Stateful: walks from operation to operation as the document's links lead (a logged complaint to reading it,
    a complaint to its open task); every answer on the way is checked as above. Which links a walk takes is the
    fuzzer's choice, so what it must reach is only the start; the next test reaches real tasks for certain."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", client.application)
    followed = []

    class Walk(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"headers": staff}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            followed.append((case.operation.label, response.status_code))
            case.validate_response(response, excluded_checks=[positive_data_acceptance], headers=staff)

    Walk.run(settings=settings(max_examples=FUZZ_EXAMPLES, derandomize=True, deadline=None, database=None,
                               stateful_step_count=6, suppress_health_check=list(HealthCheck)))
    assert ("POST /api/complaints", 201) in followed


@pytest.mark.parametrize("action", ["complete", "assign"])
def test_the_fuzzer_works_a_real_task_with_generated_data(client, staff, action):
    """Bodies generated from the document sent to a real open task: every answer as documented, and the task
    done at most once. (Invalid requests are the stateless test's: this one swaps in a real task id, which would
    make a request generated to be invalid in its path valid.)"""
    reference, task = logged(client, staff)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", client.application)
    [operation] = [result.ok() for result in schema.get_all_operations()
                   if result.ok().label == f"POST /api/tasks/{{task_id}}/{action}"]
    answers = Counter()
    for mode in (GenerationMode.POSITIVE,):
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=FUZZ_EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def on_the_real_task(case):
            case.path_parameters = {"task_id": task}
            response = case.call(headers=staff)
            answers[response.status_code] += 1
            case.validate_response(response, excluded_checks=[positive_data_acceptance], headers=staff)

        on_the_real_task()
    assert set(answers) - {401} and set(answers) <= {200, 401, 403, 409, 422}   # 401: tried without the token
    completed = client.get(f"/api/complaints/{reference}/history", headers=staff).json
    assert sum(event["type"] == "task_completed" and event.get("task_id") == task for event in completed) <= 1
