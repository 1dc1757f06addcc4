"""The JSON API: token-authenticated, thin over the services, described at /api/openapi.json.

Each operation is declared once (`openapi.Api`): its path parameters, query and body are
checked against the models in `casework.schemas` before any service runs, and the same
declaration is the OpenAPI 3.1 document. Timestamps are ISO 8601 with offset. Errors are
JSON bodies, `{"error": ..., "errors": {field: [messages]}}`.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from workflow_app.casework.accounts import user_for_token
from workflow_app.casework.runtime import Runtime
from workflow_app.casework.schemas import (
    EVENT_NAME_PATTERN,
    REFERENCE_PATTERN,
    TASK_ID_PATTERN,
    Assignment,
    ComplaintRecord,
    Completed,
    Completion,
    EventPost,
    EventResult,
    HazardStart,
    HistoryEvent,
    ListedTask,
    Logged,
    NewComplaint,
    TaskFilter,
    TaskRecord,
)
from workflow_app.rules.errors import WorkflowAppError
from workflow_app.web.identity import read_user
from workflow_app.web.openapi import Api, Link, PathParameter

bp = Blueprint("api", __name__, url_prefix="/api")
api = Api(bp, "Complaint handling API", (
    "Log complaints, read their deadlines and history, send events from outside (an escalation request, a "
    "resident's reply) and work tasks, under the Housing Ombudsman's Complaint Handling Code. Every request "
    "carries an API token: `Authorization: Bearer <token>`."))

REFERENCE = PathParameter("reference", REFERENCE_PATTERN, "complaint")
TASK = PathParameter("task_id", TASK_ID_PATTERN, "task")
EVENT = PathParameter("name", EVENT_NAME_PATTERN, "event")
PUBLIC = {"api.openapi"}

THE_LOGGED = {"reference": "$response.body#/reference"}
FIRST_OPEN_TASK = {"task_id": "$response.body#/open_tasks/0/id"}


def runtime() -> Runtime:
    return current_app.extensions["workflow_app"]


@bp.before_request
def authenticate() -> Response | None:
    if request.endpoint in PUBLIC:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _error(401, "send an API token: Authorization: Bearer <token>")
    user = read_user(lambda session: user_for_token(session, token.strip()))
    if user is None:
        return _error(401, "the API token is unknown or revoked")
    g.user = user
    return None


@bp.errorhandler(WorkflowAppError)
def domain_error(error: WorkflowAppError):
    return jsonify(error.body()), error.status


@bp.errorhandler(400)
def bad_request(error):
    return _error(400, "the request could not be read")


def _error(status: int, message: str):
    return jsonify({"error": message}), status


@bp.get("/openapi.json")
def openapi():
    """The document, with the landlords deployed here as the choices for `landlord` (the app's index lists
    them too)."""
    return jsonify(api.document(request.host_url.rstrip("/"), choices={"landlord": sorted(runtime().landlords)}))


@api.operation("POST", "/complaints", body=NewComplaint, answers={201: Logged}, refusals=(409,),
               links={201: {"ReadIt": Link("complaint", THE_LOGGED), "ItsHistory": Link("history", THE_LOGGED)}})
def log_complaint(body: NewComplaint) -> tuple[dict[str, Any], int]:
    """Log a complaint and start its landlord's current process.

    Answers the new reference. The landlord must be one the token's user works for."""
    return {"reference": runtime().complaints.log_complaint(body, g.user)}, 201


@api.operation("GET", "/complaints/<reference>", parameters=(REFERENCE,), answers={200: ComplaintRecord},
               refusals=(404,), links={200: {"CompleteItsTask": Link("complete_task", FIRST_OPEN_TASK),
                                             "AssignItsTask": Link("assign_task", FIRST_OPEN_TASK)}})
def complaint(reference: str) -> dict[str, Any]:
    """The complaint: stage, status, deadlines and open tasks."""
    return runtime().complaints.describe(reference, g.user)


@api.operation("GET", "/complaints/<reference>/history", parameters=(REFERENCE,),
               answers={200: list[HistoryEvent]}, refusals=(404,))
def history(reference: str) -> list[dict[str, Any]]:
    """The complaint's audit events, oldest first."""
    return runtime().complaints.history(reference, g.user)


@api.operation("POST", "/complaints/<reference>/events/<name>", parameters=(REFERENCE, EVENT), body=EventPost,
               answers={200: EventResult, 202: EventResult}, refusals=(404, 409))
def send_event(reference: str, name: str, body: EventPost) -> tuple[dict[str, Any], int]:
    """Send an event from outside to the complaint's process.

    200 when the process took it; 202 when it is kept until the process can take it (an escalation request
    before the stage 1 response, say); 422 when the process has no event of that name."""
    result = runtime().complaints.send_event(reference, name, body.data, g.user)
    return result, 200 if result["delivered"] else 202


@api.operation("POST", "/complaints/<reference>/hazards", parameters=(REFERENCE,), body=HazardStart,
               answers={201: Logged}, refusals=(404, 409),
               links={201: {"ReadIt": Link("complaint", THE_LOGGED), "ItsHistory": Link("history", THE_LOGGED)}})
def start_hazard(reference: str, body: HazardStart) -> tuple[dict[str, Any], int]:
    """Start a hazard case (Awaab's Law) beside the complaint, with its own clocks.

    Answers the hazard case's reference, read like a complaint's. 409 when the complaint is closed."""
    hazard = runtime().hazards.start_from_complaint(reference, g.user, body.aware_at, body.aware_earlier_reason,
                                                    source="api")
    return {"reference": hazard}, 201


@api.operation("POST", "/hazards", body=NewComplaint, answers={201: Logged}, refusals=(404, 409),
               links={201: {"ReadIt": Link("complaint", THE_LOGGED), "ItsHistory": Link("history", THE_LOGGED)}})
def log_hazard(body: NewComplaint) -> tuple[dict[str, Any], int]:
    """Log a hazard reported on its own (a repair report, no complaint) and start its case (Awaab's Law)."""
    return {"reference": runtime().hazards.log_report(body, g.user)}, 201


@api.operation("GET", "/tasks", query=TaskFilter, answers={200: list[ListedTask]})
def tasks(query: TaskFilter) -> list[dict[str, Any]]:
    """Open tasks the token's user may see, soonest due first, 50 a page."""
    return runtime().tasks.list(g.user, assignee=query.assignee, role=query.role, landlord=query.landlord,
                                overdue=query.overdue, page=query.page)


@api.operation("POST", "/tasks/<task_id>/complete", parameters=(TASK,), body=Completion, answers={200: Completed},
               refusals=(403, 404, 409))
def complete_task(task_id: str, body: Completion) -> dict[str, Any]:
    """Complete a task with its form's values.

    422 names each refused field and changes nothing; 409 when the task is no longer open, or while a letter the
    Code requires is unsent (`letters` lists them: send them first, as in the browser); 403 when the Code's
    different-person rule at stage 2 forbids it."""
    return runtime().tasks.complete(task_id, body.data, g.user)


@api.operation("POST", "/tasks/<task_id>/assign", parameters=(TASK,), body=Assignment, answers={200: TaskRecord},
               refusals=(403, 404, 409))
def assign_task(task_id: str, body: Assignment) -> dict[str, Any]:
    """Claim a task (yourself), release it (null) or give it to someone else (managers)."""
    return runtime().tasks.assign(task_id, body.assignee, g.user)
