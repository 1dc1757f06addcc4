"""Errors a caller can act on, each with the HTTP status the API answers with.

Services raise these; the API turns them into JSON bodies and the CLI into messages
with a non-zero exit. Nothing is changed in the database when one is raised.
"""
from __future__ import annotations

from collections.abc import Mapping


class WorkflowAppError(Exception):
    status = 400

    def body(self) -> dict:
        return {"error": str(self)}


class InvalidInput(WorkflowAppError):
    """Bad data, with the messages by field."""

    status = 422

    def __init__(self, errors: Mapping[str, str | list[str]]) -> None:
        self.errors = {k: [v] if isinstance(v, str) else list(v) for k, v in errors.items()}
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in self.errors.items()))

    def body(self) -> dict:
        return {"error": "invalid input", "errors": self.errors}


class NotFound(WorkflowAppError):
    status = 404


class Forbidden(WorkflowAppError):
    status = 403


class Conflict(WorkflowAppError):
    """The thing changed under the caller: a task already done, a complaint already closed."""

    status = 409
