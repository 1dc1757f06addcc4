"""The JSON API end to end: tokens, status codes, bodies, and nothing changed on bad input."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import create_engine, event, text, update
from sqlalchemy.pool import NullPool

from tests.conftest import FORMS, PROCESSES, make_user
from tests.integration.test_caseworker import sign_in
from workflow_app.casework.accounts import create_token, revoke_token
from workflow_app.casework.models import ApiToken, User
from workflow_app.web import create_app

COMPLAINT = {
    "landlord": "testshire", "received_at": "2026-12-23T16:30:00+00:00", "channel": "phone",
    "category": "property_condition", "summary": "Roof still leaking",
    "resident": {"name": "A Resident", "email": "resident@example.org"},
}


@pytest.fixture
def client(deployed, database_url):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "PROCESSES_DIR": str(PROCESSES),
                      "FORMS_DIR": str(FORMS)})
    yield app.test_client()
    app.extensions["workflow_app"].close()


def token_for(runtime, username, roles, landlords=None) -> dict[str, str]:
    make_user(runtime, username, roles, landlords)
    with runtime.sessions.begin() as session:
        from sqlalchemy import select

        from workflow_app.casework.models import User
        user = session.scalars(select(User).where(User.username == username)).one()
        return {"Authorization": f"Bearer {create_token(session, user, 'test')}"}


@pytest.fixture
def staff(deployed):
    return token_for(deployed, "sally", ["caseworker", "complaints_officer", "stage2_reviewer"])


def test_requests_without_a_valid_token_are_refused(client):
    assert client.get("/api/tasks").status_code == 401
    response = client.get("/api/tasks", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401 and "unknown or revoked" in response.json["error"]


def test_a_revoked_token_stops_working(client, deployed):
    headers = token_for(deployed, "tom", ["caseworker"])
    assert client.get("/api/tasks", headers=headers).status_code == 200
    with deployed.sessions.begin() as session:
        revoke_token(session, session.query(ApiToken).one().id)
    assert client.get("/api/tasks", headers=headers).status_code == 401


def test_a_disabled_users_token_stops_working(client, deployed):
    headers = token_for(deployed, "una", ["caseworker"])
    assert client.get("/api/tasks", headers=headers).status_code == 200
    with deployed.sessions.begin() as session:
        session.execute(update(User).where(User.username == "una").values(active=False))
    response = client.get("/api/tasks", headers=headers)
    assert response.status_code == 401 and "unknown or revoked" in response.json["error"]


def test_the_token_and_its_user_are_read_in_one_statement(client, staff):
    """Every API request pays for this read: one SELECT, with no lazy load of the user after it."""
    statements = []

    def count(_connection, _cursor, statement, *_rest) -> None:
        statements.append(statement)

    engine = client.application.extensions["workflow_app"].engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get("/api/tasks", headers={"Authorization": "Bearer nonsense"}).status_code == 401
        refused = list(statements)
        assert client.get("/api/tasks", headers=staff).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(refused) == 1 and "api_tokens" in refused[0] and "users" in refused[0]
    assert len(statements) == 3   # the refused request's read, then this one's and the task list


def test_log_read_complete_and_history(client, staff, virtual_clock):
    created = client.post("/api/complaints", json=COMPLAINT, headers=staff)
    assert created.status_code == 201
    reference = created.json["reference"]

    body = client.get(f"/api/complaints/{reference}", headers=staff).json
    assert set(body) >= {"reference", "landlord", "stage", "status", "received_at", "deadlines", "open_tasks"}
    assert body["received_at"] == "2026-12-23T16:30:00+00:00"
    assert body["deadlines"][0] == {"key": "stage1_acknowledge", "stage": "1", "due_at": "2027-01-04T23:59:59+00:00",
                                    "met_at": None, "missed": False, "extended": False}
    [task] = body["open_tasks"]
    assert set(task) == {"id", "element_id", "name", "stage", "role", "assignee", "due_at"}

    listed = client.get("/api/tasks?role=caseworker&landlord=testshire&overdue=false", headers=staff).json
    assert [t["id"] for t in listed] == [task["id"]]

    virtual_clock.set(datetime.fromisoformat("2026-12-24T10:00:00+00:00"))
    done = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"complaint_definition": "Leak"}},
                       headers=staff)
    assert done.status_code == 200
    again = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"complaint_definition": "Leak"}},
                        headers=staff)
    assert again.status_code == 409

    history = client.get(f"/api/complaints/{reference}/history", headers=staff).json
    assert history[0]["type"] == "complaint_logged" and history[0]["at"].endswith("+00:00")
    assert "task_completed" in [e["type"] for e in history]


def test_bad_complaint_gets_422_naming_fields(client, staff):
    response = client.post("/api/complaints", json={**COMPLAINT, "landlord": "Atlantis!", "received_at": None,
                                                    "resident": {"name": ""}}, headers=staff)
    assert response.status_code == 422
    assert response.json["errors"] == {"landlord": ["is not in the expected form"], "received_at": [
        "must be an ISO 8601 date and time, e.g. 2026-12-23T16:30:00+00:00"], "resident.name": ["is required"]}
    response = client.post("/api/complaints", json={**COMPLAINT, "landlord": "atlantis"}, headers=staff)
    assert response.status_code == 422 and response.json["errors"] == {"landlord": ["unknown landlord 'atlantis'"]}
    assert client.get("/api/tasks", headers=staff).json == []


def test_malformed_json_is_refused(client, staff):
    response = client.post("/api/complaints", data="{not json", content_type="application/json", headers=staff)
    assert response.status_code in (400, 422)
    assert "error" in response.json


def test_bad_task_data_gets_422_and_nothing_changes(client, staff):
    reference = client.post("/api/complaints", json=COMPLAINT, headers=staff).json["reference"]
    task = client.get(f"/api/complaints/{reference}", headers=staff).json["open_tasks"][0]
    response = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"complaint_definition": 5}},
                           headers=staff)
    assert response.status_code == 422 and "complaint_definition" in response.json["errors"]
    assert client.get(f"/api/complaints/{reference}", headers=staff).json["open_tasks"] == [task]


def test_unknown_task_and_unknown_complaint_are_404(client, staff):
    assert client.post("/api/tasks/nope/complete", json={"data": {}}, headers=staff).status_code == 404
    assert client.get("/api/complaints/TH-2026-999999", headers=staff).status_code == 404


def test_events_are_delivered_kept_or_refused(client, staff):
    reference = client.post("/api/complaints", json=COMPLAINT, headers=staff).json["reference"]
    early = client.post(f"/api/complaints/{reference}/events/escalation_requested", json={"data": {}}, headers=staff)
    assert early.status_code == 202 and early.json["pending"] is True
    unknown = client.post(f"/api/complaints/{reference}/events/teleport", json={"data": {}}, headers=staff)
    assert unknown.status_code == 422 and "name" in unknown.json["errors"]


def test_another_landlords_token_sees_nothing(client, deployed, staff):
    reference = client.post("/api/complaints", json=COMPLAINT, headers=staff).json["reference"]
    outsider = token_for(deployed, "gary", ["caseworker"], ["great_places"])
    assert client.get(f"/api/complaints/{reference}", headers=outsider).status_code == 404
    assert client.get(f"/api/complaints/{reference}/history", headers=outsider).status_code == 404
    assert client.get("/api/tasks", headers=outsider).json == []
    task = client.get(f"/api/complaints/{reference}", headers=staff).json["open_tasks"][0]
    assert client.post(f"/api/tasks/{task['id']}/complete", json={"data": {}}, headers=outsider).status_code == 404


@pytest.mark.parametrize("query", [
    "landlord=testshire' OR '1'='1", "role=x'; DROP TABLE tasks; --", "assignee=%27%20OR%201=1--",
    "landlord=testshire%22%29%3B%20DELETE%20FROM%20complaints%3B--",
])
def test_sql_injection_in_filters_is_refused_and_breaks_nothing(client, staff, query):
    reference = client.post("/api/complaints", json=COMPLAINT, headers=staff).json["reference"]
    response = client.get(f"/api/tasks?{query}", headers=staff)
    assert response.status_code == 422 and response.json["errors"] == {query.partition("=")[0]: [
        "is not in the expected form"]}
    assert client.get(f"/api/complaints/{reference}", headers=staff).json["open_tasks"]
    assert len(client.get("/api/tasks", headers=staff).json) == 1


@pytest.mark.parametrize("query, field", [("overdue=maybe", "overdue"), ("page=-1", "page"), ("page=x", "page")])
def test_bad_filter_values_get_422(client, staff, query, field):
    response = client.get(f"/api/tasks?{query}", headers=staff)
    assert response.status_code == 422 and field in response.json["errors"]


def test_every_response_carries_the_security_headers(client, staff):
    for response in (client.get("/api/tasks", headers=staff), client.get("/no-such-page")):
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"


def test_the_next_task_waits_for_the_letter_the_code_requires_as_in_the_browser(client, staff, virtual_clock):
    """Code rule in the service: the API refuses (409) to go on while a required letter is unsent, naming it."""
    reference = client.post("/api/complaints", json=COMPLAINT, headers=staff).json["reference"]
    [acknowledge] = client.get(f"/api/complaints/{reference}", headers=staff).json["open_tasks"]
    assert client.post(f"/api/tasks/{acknowledge['id']}/complete", json={"data": {"complaint_definition": "Leak"}},
                       headers=staff).status_code == 200
    [respond] = client.get(f"/api/complaints/{reference}", headers=staff).json["open_tasks"]
    refused = client.post(f"/api/tasks/{respond['id']}/complete",
                          json={"data": {"decision": "respond", "outcome": "upheld"}}, headers=staff)
    assert refused.status_code == 409
    assert "Send the acknowledgement letter first" in refused.json["error"]
    assert [letter["template"] for letter in refused.json["letters"]] == ["acknowledgement"]
    assert client.get(f"/api/complaints/{reference}", headers=staff).json["open_tasks"] == [respond]


def end_every_connection(database_url: str) -> None:
    """What a database restart does to the app's pooled connections: the server ends each one."""
    admin = create_engine(database_url, poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    admin.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)   # a SQLite file has no server to end them
def test_requests_carry_on_after_the_database_ends_every_connection(client, staff, caseworker, database_url):
    """No ping before each checkout: the token's read, a request's first statement, is repeated once on a
    new connection, and the pool replaces the rest, so no request fails for the connections lost."""
    reference = client.post("/api/complaints", json=COMPLAINT, headers=staff).json["reference"]
    task = client.get(f"/api/complaints/{reference}", headers=staff).json["open_tasks"][0]
    engine = client.application.extensions["workflow_app"].engine
    held = [engine.connect() for _ in range(3)]   # several connections pooled, as a busy worker has
    for connection in held:
        connection.exec_driver_sql("SELECT 1")
        connection.close()

    end_every_connection(database_url)

    done = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"complaint_definition": "Leak"}},
                       headers=staff)
    assert done.status_code == 200
    assert client.get(f"/api/complaints/{reference}", headers=staff).status_code == 200

    browser = client.application.test_client()
    assert sign_in(browser, "carl").status_code == 302
    end_every_connection(database_url)
    assert browser.get("/inbox").status_code == 200   # the signed-in user is read the same way
