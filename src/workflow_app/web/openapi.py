"""The API's operations, checked and described from one declaration each.

`Api.operation` wraps a view: before the view runs, the path's parameters are matched
against their patterns (a reference that cannot exist is a 404), the query string and the
JSON body are parsed under `casework.schemas`' limits and validated by the operation's
models (422 with messages by field); what the view returns is validated by the answer's
model and sent as JSON. `Api.document` is the OpenAPI 3.1 document of the same operations,
with the same models' JSON schemas: what it promises is what is enforced.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from importlib import metadata
from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from workflow_app.casework.schemas import Problem, parse, read_json
from workflow_app.rules.errors import InvalidInput, NotFound

REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class PathParameter:
    name: str
    pattern: str
    description: str


@dataclass(frozen=True)
class Link:
    """Where an answer leads: the operation (its view's name) and its parameters taken from the answer, as
    OpenAPI runtime expressions ("$response.body#/reference")."""

    operation: str
    parameters: Mapping[str, str]


@dataclass
class Operation:
    method: str
    rule: str
    summary: str
    description: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    answers: Mapping[int, Any]
    refusals: tuple[int, ...]
    parameters: tuple[PathParameter, ...]
    links: Mapping[int, Mapping[str, Link]]
    name: str
    adapters: dict[int, TypeAdapter] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The rule in OpenAPI's spelling: /complaints/{reference}."""
        return self.rule.replace("<", "{").replace(">", "}")


class Api:
    def __init__(self, blueprint: Blueprint, title: str, description: str) -> None:
        self.blueprint = blueprint
        self.title = title
        self.description = description
        self.operations: list[Operation] = []

    def operation(self, method: str, rule: str, *, answers: Mapping[int, Any], body: type[BaseModel] | None = None,
                  query: type[BaseModel] | None = None, refusals: tuple[int, ...] = (),
                  parameters: tuple[PathParameter, ...] = (),
                  links: Mapping[int, Mapping[str, Link]] | None = None) -> Callable:
        """Register a view as an operation: `answers` maps each success status to its model (or a list of one);
        `refusals` are the error statuses it may answer besides 401 and 422; `links` say which operations an
        answer leads to (a logged complaint to reading it), for clients and for the stateful fuzzer."""
        def register(view: Callable) -> Callable:
            doc = (view.__doc__ or "").strip()
            summary, _, description = doc.partition("\n")
            operation = Operation(method, rule, summary.strip(), " ".join(description.split()), body, query,
                                  answers, refusals, parameters, links or {}, view.__name__,
                                  {status: TypeAdapter(model) for status, model in answers.items()})
            self.operations.append(operation)

            @functools.wraps(view)
            def checked(**path: str) -> tuple[Response, int]:
                for parameter in parameters:
                    if not _matches(parameter, path[parameter.name]):
                        raise NotFound(f"no {parameter.description} {path[parameter.name]!r}")
                arguments: dict[str, Any] = dict(path)
                if query is not None:
                    arguments["query"] = parse(query, _query_values())
                if body is not None:
                    raw = request.get_data(cache=False)
                    arguments["body"] = parse(body, read_json(raw) if raw.strip() else {})
                status, result = _status_and_result(view(**arguments), answers)
                answer = operation.adapters[status].validate_python(result)
                return jsonify(operation.adapters[status].dump_python(answer, mode="json",
                                                                     exclude_unset=True)), status

            self.blueprint.add_url_rule(rule, view_func=checked, methods=[method])
            return checked
        return register

    def document(self, server: str, choices: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
        """The OpenAPI 3.1 document of every operation; `choices` lists the values a field of that name
        takes in this deployment (the landlords deployed), for request bodies and query parameters alike."""
        models = {Problem: "serialization"}
        for operation in self.operations:
            for model in (operation.body, operation.query):
                if model is not None:
                    models[model] = "validation"
            for answer in operation.answers.values():
                models[_item(answer)] = "serialization"
        _, schemas = models_json_schema(list(models.items()), ref_template=REF)
        components = schemas.get("$defs", {})
        for name, values in (choices or {}).items():
            for model in models:
                if models[model] == "validation" and name in components[model.__name__].get("properties", {}):
                    components[model.__name__]["properties"][name]["enum"] = values
        paths: dict[str, dict[str, Any]] = {}
        for operation in self.operations:
            paths.setdefault(self.blueprint.url_prefix + operation.path, {})[operation.method.lower()] = \
                _described(operation, choices or {})
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": _version(), "description": self.description},
            "servers": [{"url": server}],
            "security": [{"bearerToken": []}],
            "paths": paths,
            "components": {
                "schemas": components,
                "securitySchemes": {"bearerToken": {
                    "type": "http", "scheme": "bearer",
                    "description": "An API token from `workflow-app token create` (see the README)."}},
            },
        }


def _matches(parameter: PathParameter, value: str) -> bool:
    return re.fullmatch(parameter.pattern, value) is not None


def _query_values() -> dict[str, str]:
    values: dict[str, str] = {}
    for name, items in request.args.lists():
        if len(items) > 1:
            raise InvalidInput({name: "give it once"})
        values[name] = items[0]
    return values


def _status_and_result(returned: Any, answers: Mapping[int, Any]) -> tuple[int, Any]:
    if isinstance(returned, tuple):
        result, status = returned
        return status, result
    return next(iter(answers)), returned


def _item(answer: Any) -> type[BaseModel]:
    arguments = getattr(answer, "__args__", None)
    return arguments[0] if arguments else answer


def _schema_of(answer: Any) -> dict[str, Any]:
    reference = {"$ref": REF.format(model=_item(answer).__name__)}
    return {"type": "array", "items": reference} if getattr(answer, "__args__", None) else reference


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _described(operation: Operation, choices: Mapping[str, list[str]]) -> dict[str, Any]:
    described: dict[str, Any] = {"summary": operation.summary, "operationId": operation.name}
    if operation.description:
        described["description"] = operation.description
    parameters = [{"name": p.name, "in": "path", "required": True, "description": p.description,
                   "schema": {"type": "string", "pattern": p.pattern}} for p in operation.parameters]
    if operation.query is not None:
        schema = operation.query.model_json_schema(ref_template=REF)
        for name, property_schema in schema["properties"].items():
            parameters.append({"name": name, "in": "query", "required": False,
                               "schema": _without_null(property_schema) | (
                                   {"enum": choices[name]} if name in choices else {})})
    if parameters:
        described["parameters"] = parameters
    if operation.body is not None:
        described["requestBody"] = {"required": True, "content": _json({"$ref": REF.format(
            model=operation.body.__name__)})}
    responses: dict[str, Any] = {}
    for status, answer in operation.answers.items():
        responses[str(status)] = {"description": HTTPStatus(status).phrase, "content": _json(_schema_of(answer))}
        if status in operation.links:
            responses[str(status)]["links"] = {
                name: {"operationId": link.operation, "parameters": dict(link.parameters)}
                for name, link in operation.links[status].items()}
    problem = _json({"$ref": REF.format(model=Problem.__name__)})
    for status in sorted({400, 401, 422, *operation.refusals}):
        responses[str(status)] = {"description": _REFUSALS.get(status, HTTPStatus(status).phrase), "content": problem}
    described["responses"] = responses
    return described


_REFUSALS = {
    400: "The request is not one the API can read.",
    401: "No API token, or one that is unknown or revoked.",
    403: "The token's user may not do this (their role, or a rule of the Code).",
    404: "Nothing by that name that this token's user may see.",
    409: "The complaint or task changed, or a rule of the Code asks for something first.",
    422: "The request was refused; `errors` names each field with its messages.",
}


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema: a value is either there or not, never null."""
    variants = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    kept = {k: v for k, v in schema.items() if k not in ("anyOf", "default", "title")}
    return {**variants[0], **kept} if len(variants) == 1 else kept


def _version() -> str:
    try:
        return metadata.version("workflow-app")
    except metadata.PackageNotFoundError:
        return "0"
