"""The JSON API: token-authenticated, thin over the services.

Timestamps are ISO 8601 with offset. Errors are JSON bodies naming the field.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from workflow_app.casework.accounts import user_for_token
from workflow_app.casework.runtime import Runtime
from workflow_app.rules.errors import InvalidInput, WorkflowAppError
from workflow_app.web.identity import read_user

bp = Blueprint("api", __name__, url_prefix="/api")


def runtime() -> Runtime:
    return current_app.extensions["workflow_app"]


@bp.before_request
def authenticate() -> Response | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
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
    return _error(400, "the request body must be JSON")


def _error(status: int, message: str):
    return jsonify({"error": message}), status


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None and request.content_length:
        raise InvalidInput({"body": "is not valid JSON"})
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise InvalidInput({"body": "must be a JSON object"})
    return body


@bp.post("/complaints")
def log_complaint():
    reference = runtime().complaints.log_complaint(_json_body(), g.user)
    return jsonify({"reference": reference}), 201


@bp.get("/complaints/<reference>")
def complaint(reference: str):
    return jsonify(runtime().complaints.describe(reference, g.user))


@bp.get("/complaints/<reference>/history")
def history(reference: str):
    return jsonify(runtime().complaints.history(reference, g.user))


@bp.post("/complaints/<reference>/events/<name>")
def send_event(reference: str, name: str):
    result = runtime().complaints.send_event(reference, name, _json_body().get("data"), g.user)
    return jsonify(result), 200 if result["delivered"] else 202


@bp.get("/tasks")
def tasks():
    overdue = request.args.get("overdue")
    if overdue not in (None, "", "true", "false"):
        raise InvalidInput({"overdue": "use true or false"})
    page = request.args.get("page", "1")
    if not page.isdigit():
        raise InvalidInput({"page": "must be a positive whole number"})
    return jsonify(runtime().tasks.list(
        g.user,
        assignee=request.args.get("assignee") or None,
        role=request.args.get("role") or None,
        landlord=request.args.get("landlord") or None,
        overdue=None if not overdue else overdue == "true",
        page=int(page),
    ))


@bp.post("/tasks/<task_id>/complete")
def complete_task(task_id: str):
    return jsonify(runtime().tasks.complete(task_id, _json_body().get("data", {}), g.user))


@bp.post("/tasks/<task_id>/assign")
def assign_task(task_id: str):
    body = _json_body()
    if "assignee" not in body:
        raise InvalidInput({"assignee": "is required (null releases the task)"})
    return jsonify(runtime().tasks.assign(task_id, body["assignee"], g.user))
