"""What comes in and what goes out: one set of models for the services, the API and its document.

A complaint logged through the API and one logged from the caseworkers' form are checked by
the same `NewComplaint`, with the same messages by field; the API's OpenAPI document
(`web/openapi.py`) is generated from these models, so what it promises is what is enforced.

Everything that arrives is storable on every database alike before any service uses it:
no text holds a NUL character (PostgreSQL cannot store one) or a lone UTF-16 surrogate
(which cannot be written out as UTF-8), and no JSON value nests deeper than `MAX_DEPTH`.
`read_json` parses a request body under those limits; `storable` checks a value that came
some other way (a form, a file).
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError

from workflow_app.rules.calendar import FIRST_YEAR, LAST_YEAR
from workflow_app.rules.errors import InvalidInput
from workflow_app.rules.vocabulary import CATEGORIES, CHANNELS

MAX_TEXT = 20_000
"""Characters in a free-text field of a complaint (the summary, the outcomes sought)."""
MAX_DETAIL = 2_000
"""Characters in a detail about a person (a name, an address)."""
MAX_DEPTH = 32
"""How deeply a JSON value may nest: forms and events need a few levels, never hundreds."""
MAX_EVENT_BYTES = 64 * 1024
"""An event's data, as JSON."""
MAX_BODY_BYTES = 1024 * 1024
"""A JSON request body."""

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class Unstorable(ValueError):
    """Text no database can store as it is, or JSON nested too deeply to be data; `where` is the dotted path
    to it ("" for the whole value)."""

    def __init__(self, problem: str, where: str) -> None:
        super().__init__(problem)
        self.where = where


def unstorable_text(text: str) -> str | None:
    """Why `text` cannot be stored, or None when it can."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "cannot contain a NUL character (\\u0000)"
    return "cannot contain a lone surrogate (\\ud800-\\udfff): send the text as valid Unicode"


def storable(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise Unstorable when any text in a JSON-like value (keys included) cannot be stored, or
    when it nests deeper than `max_depth`. Walks without recursion, so any depth is safe to ask about."""
    stack: list[tuple[Any, int, str]] = [(value, 0, "")]
    while stack:
        item, depth, where = stack.pop()
        if isinstance(item, str):
            problem = unstorable_text(item)
            if problem:
                raise Unstorable(f"text {problem}", where)
        elif isinstance(item, Mapping | list | tuple):
            if depth >= max_depth:
                raise Unstorable(f"nests deeper than {max_depth} levels", where.partition(".")[0])
            pairs = item.items() if isinstance(item, Mapping) else enumerate(item)
            for key, child in pairs:
                inside = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and unstorable_text(key):
                    raise Unstorable(f"a name {unstorable_text(key)}", where)
                stack.append((child, depth + 1, inside))


def read_json(raw: bytes | str, field: str = "body", max_bytes: int = MAX_BODY_BYTES) -> Any:
    """A request body as JSON, refusing what cannot be stored: raises InvalidInput naming the field
    (the dotted path inside the body, or `field` for the body as a whole)."""
    if len(raw) > max_bytes:
        raise InvalidInput({field: f"is larger than {max_bytes // 1024} KB"})
    try:
        value = json.loads(raw)
    except RecursionError:
        raise InvalidInput({field: f"nests deeper than {MAX_DEPTH} levels"}) from None
    except ValueError:   # JSONDecodeError and UnicodeDecodeError alike
        raise InvalidInput({field: "is not valid JSON"}) from None
    return checked(value, field)


def checked(value: Any, field: str, max_depth: int = MAX_DEPTH) -> Any:
    """`value` when it is storable, else InvalidInput naming where inside it (under `field` when `field` is
    not the body as a whole)."""
    try:
        storable(value, max_depth)
    except Unstorable as problem:
        where = problem.where if field == "body" else ".".join(filter(None, (field, problem.where)))
        raise InvalidInput({where or field: str(problem)}) from None
    return value


# --- the pieces ---------------------------------------------------------------------------

def _storable_text(text: str) -> str:
    problem = unstorable_text(text)
    if problem:
        raise ValueError(problem)
    return text


def _storable_json(value: Any) -> Any:
    try:
        storable(value)
    except Unstorable as problem:
        raise ValueError(str(problem)) from None
    return value


def _iso_instant(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date and time, e.g. 2026-12-23T16:30:00+00:00")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO 8601 date and time, e.g. 2026-12-23T16:30:00+00:00") from None
    if parsed.tzinfo is None:
        raise ValueError("needs a UTC offset, e.g. +00:00")
    try:
        year = parsed.astimezone(UTC).year
    except OverflowError:
        year = 0
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"must fall between {FIRST_YEAR} and {LAST_YEAR}, the years the working-day calendar knows")
    return parsed


def _email_address(value: str) -> str:
    """An email address in the form the standards allow (the email-validator package; no DNS lookup: a landlord
    records the address the resident gave, whether or not its domain answers today)."""
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise ValueError("must be an email address, like name@example.com") from None
    return value


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


STORABLE_TEXT_PATTERN = "^[^\\u0000\\ud800-\\udfff]*$"
"""The same rule as `unstorable_text`, as the API document states it (ECMAScript regex)."""

Text = Annotated[str, BeforeValidator(_stripped), AfterValidator(_storable_text),
                 Field(json_schema_extra={"pattern": STORABLE_TEXT_PATTERN})]
LongText = Annotated[Text, StringConstraints(max_length=MAX_TEXT)]
Detail = Annotated[Text, StringConstraints(max_length=MAX_DETAIL)]
EmailAddress = Annotated[Detail, AfterValidator(_email_address), Field(json_schema_extra={"format": "email"})]
Instant = Annotated[datetime, BeforeValidator(_iso_instant),
                    Field(json_schema_extra={"type": "string", "format": "date-time"})]
JsonObject = Annotated[dict[str, Any], AfterValidator(_storable_json)]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
"""An instant as the services write it out: ISO 8601 with its offset."""
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,64}$")]
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.@-]{1,80}$")]

REFERENCE_PATTERN = r"^[A-Z][A-Z0-9]{0,9}-[0-9]{4}-[0-9]{6}$"
TASK_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
EVENT_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Person(Model):
    """The resident, or someone acting for them."""

    name: Annotated[Detail, StringConstraints(min_length=1)]
    email: EmailAddress | None = None
    phone: Detail | None = None
    address: Detail | None = None
    relationship: Detail | None = None
    authority: Detail | None = Field(None, description="The representative's authority to act (Code 1.4).")


class NewComplaint(Model):
    """A complaint to log: from the API, or from the caseworkers' "log a complaint" form."""

    landlord: Slug = Field(description="The landlord's slug, e.g. great_places.")
    received_at: Instant = Field(description="When the complaint reached the landlord, with a UTC offset.")
    channel: Literal[CHANNELS]  # type: ignore[valid-type]
    category: Literal[CATEGORIES]  # type: ignore[valid-type]
    summary: Annotated[LongText, StringConstraints(min_length=1)]
    resident: Person
    representative: Annotated[Person | None, BeforeValidator(lambda value: value or None)] = None
    outcomes_sought: LongText | None = None
    reasonable_adjustments: LongText | None = None
    received_earlier_reason: LongText | None = Field(
        None, description="Why the complaint is logged with an earlier time than now.")


class HazardStart(Model):
    """A hazard case (Awaab's Law) to start beside a complaint; its clocks count from when the landlord became aware:
    the complaint's received time unless an earlier one is given, with how the landlord knew."""

    aware_at: Instant | None = Field(None, description="When the landlord became aware, if before the complaint "
                                                       "was received, with a UTC offset.")
    aware_earlier_reason: LongText | None = Field(None, description="How the landlord knew earlier.")


class EventPost(Model):
    """An event from outside for the complaint's process (an escalation request, say)."""

    data: JsonObject = Field(default_factory=dict)


class Completion(Model):
    """A task's form values; checked against the task's own form."""

    data: JsonObject = Field(default_factory=dict)


class Assignment(Model):
    assignee: Username | None = Field(description="Who takes the task; null releases it.")


class TaskFilter(Model):
    """The open-task list's filters (query parameters)."""

    assignee: Username | None = None
    role: Slug | None = None
    landlord: Slug | None = None
    overdue: bool | None = None
    page: int = Field(1, ge=1, le=100_000)


class Logged(Model):
    reference: str


class DeadlineRecord(Model):
    key: str
    stage: str
    due_at: Timestamp
    met_at: Timestamp | None
    missed: bool
    extended: bool
    met_by: str | None = None


class TaskRecord(Model):
    id: str
    element_id: str
    name: str
    stage: str | None
    role: str | None
    assignee: str | None
    due_at: Timestamp | None


class ListedTask(TaskRecord):
    reference: str
    landlord: str


class ComplaintRecord(Model):
    reference: str
    landlord: str
    stage: str
    status: str
    outcome: str | None
    received_at: Timestamp
    deadlines: list[DeadlineRecord]
    open_tasks: list[TaskRecord]


class HistoryEvent(BaseModel):
    """One audit event: when, what, who, and the event's own details beside them."""

    model_config = ConfigDict(extra="allow")
    at: Timestamp
    type: str
    actor: str


class EventResult(Model):
    reference: str
    event: str
    delivered: bool
    pending: bool


class Completed(Model):
    task: str
    status: Literal["completed"]
    reference: str
    next_task: str | None = None
    """The complaint's next task at the same stage, now assigned to whoever completed this one (none: it went
    to the team, or there is none)."""


class UnsentLetter(Model):
    id: int
    template: str


class Problem(Model):
    """What went wrong; `errors` names each field refused, with its messages."""

    error: str
    errors: dict[str, list[str]] | None = None
    letters: list[UnsentLetter] | None = None


# --- errors by field ------------------------------------------------------------------------

_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "unknown field",
    "string_type": "must be text",
    "bool_parsing": "use true or false",
    "bool_type": "use true or false",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "none_required": "must be null",
}


def field_errors(error: ValidationError) -> dict[str, list[str]]:
    """A pydantic error as messages by dotted field name, in plain words."""
    errors: dict[str, list[str]] = {}
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"] if not _is_variant(part)) or "body"
        errors.setdefault(where, [])
        message = _message(item)
        if message not in errors[where]:
            errors[where].append(message)
    return errors


def _is_variant(part: Any) -> bool:
    # pydantic names the branch of a union it tried ("str", "none", "function-after[...]")
    return isinstance(part, str) and ("[" in part or part in ("str", "none", "int", "bool", "dict"))


def _message(item: Mapping[str, Any]) -> str:
    kind, context = item["type"], item.get("ctx") or {}
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind == "literal_error":
        return f"choose one of: {context.get('expected', '').replace(chr(39), '')}"
    if kind == "string_too_long" or (kind == "too_long" and isinstance(item.get("input"), str)):
        return f"must be text of at most {context['max_length']} characters"
    if kind in ("string_too_short", "too_short"):
        return "is required"
    if kind == "string_pattern_mismatch":
        return "is not in the expected form"
    if kind in ("greater_than_equal", "less_than_equal"):
        return "must be a positive whole number" if kind == "greater_than_equal" else \
            f"must be at most {context['le']}"
    if kind == "value_error":
        return str(context.get("error") or item["msg"])
    return item["msg"][:1].lower() + item["msg"][1:]


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], value: Any) -> M:
    """`value` as `model`, or InvalidInput with the messages by field."""
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except ValidationError as error:
        raise InvalidInput(field_errors(error)) from None
