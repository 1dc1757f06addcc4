"""Camunda Forms: load the JSON a form editor saves, and check every submission on the server.

Each user task names a form (`camunda:formRef`) in the Camunda Forms JSON format that
Camunda Modeler's form editor saves and bpmn-io form-js renders. The browser's form-js
checks what a caseworker types, but the JSON API has no browser, and a browser can be
bypassed, so the server repeats the same checks before the engine sees any value.

A form is checked once, when it is deployed: anything in it that the server could not
enforce (an unknown component, dynamic options, a FEEL expression outside the subset
below, a regular expression Python cannot compile) refuses the whole form, naming the
field, rather than letting submissions through unchecked.

Decisions where form-js leaves room, so every caller knows what to expect:

- keys stay flat: a key with dots, or a group with a `path`, is refused; a key must start
  with a letter and hold only letters, digits and `_`, as it becomes a name in the case
  data that diagram expressions read;
- a field hidden by `conditional.hide` (its own or an enclosing group's) is not
  validated and any value submitted for it is dropped, as form-js clears hidden fields;
- a `readonly` or `disabled` field cannot be changed through a submission: its value is
  dropped, without an error, and it is not required;
- `defaultValue` is never filled in: a field missing from a submission stays missing;
- `validate.pattern` is searched for in the value, exactly as form-js does
  (`new RegExp(pattern).test(value)`); anchor it with `^...$` to demand a whole match;
- lengths (`minLength`/`maxLength`) count the value with surrounding spaces trimmed, as
  form-js does; a text of spaces only does not satisfy `required`; a required checkbox
  must be ticked and a required checklist or taglist must have a choice, as in form-js;
- a submitted null (or "" for a non-text field) is an empty answer: refused when the
  field is required, otherwise passed on as None so the caller can clear the value;
- every text is capped at MAX_TEXT_LENGTH characters and every list at MAX_LIST_LENGTH
  items, whatever the form says.

FEEL subset (expressions are strings starting with `=`; used by `conditional.hide`,
`readonly`, `disabled` and `validate.min/max/minLength/maxLength`): names and dotted
paths into the data (`a.b.c`); string ("..."), number, `true`, `false`, `null` and list
(`[a, b]`) literals; unary minus; `=`, `!=`, `<`, `<=`, `>`, `>=`; `x in [..]` (or a
name holding a list); `and`, `or`; `not(...)`; parentheses; `if c then a else b`.
Logic is FEEL's three-valued logic: a missing name is `null`, comparing unlike types with
`<` gives `null`, and a field is hidden only when its condition is exactly `true`.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "FORM_ERRORS_KEY",
    "MAX_LIST_LENGTH",
    "MAX_PATTERN_LENGTH",
    "MAX_TEXT_LENGTH",
    "FeelError",
    "FeelExpression",
    "Field",
    "Form",
    "FormDefinitionError",
    "load_form",
    "load_forms",
    "parse_feel",
    "validate_submission",
]

MAX_TEXT_LENGTH = 20_000
MAX_LIST_LENGTH = 500
MAX_PATTERN_LENGTH = 500
MAX_EXPRESSION_LENGTH = 2_000
MAX_GROUP_DEPTH = 16
MAX_SAFE_INTEGER = 2**53 - 1          # the largest integer a browser's number holds exactly
MAX_UNKNOWN_REPORTED = 20
FORM_ERRORS_KEY = "_form"              # errors about the submission as a whole; no key can clash

INPUT_TYPES = frozenset({
    "textfield", "textarea", "number", "checkbox", "checklist", "radio", "select",
    "taglist", "datetime",
})
DISPLAY_TYPES = frozenset({"text", "html", "spacer", "separator", "image"})
CONTAINER_TYPES = frozenset({"group"})

TEXT_TYPES = frozenset({"textfield", "textarea"})
CHOICE_TYPES = frozenset({"radio", "select"})
MULTI_CHOICE_TYPES = frozenset({"checklist", "taglist"})
OPTION_TYPES = CHOICE_TYPES | MULTI_CHOICE_TYPES

# Which `validate` settings form-js applies to which component type.
_VALIDATE_KEYS = {
    "textfield": {"required", "minLength", "maxLength", "pattern", "validationType"},
    "textarea": {"required", "minLength", "maxLength", "pattern", "validationType"},
    "number": {"required", "min", "max"},
}
_VALIDATE_DEFAULT = {"required"}

_KEY_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_LONDON = ZoneInfo("Europe/London")


class FormDefinitionError(ValueError):
    """A form the server cannot validate; it is refused when deployed.

    `form_id` is the form's id (None when it could not be read), `field` the key or id of
    the component at fault (None for the form as a whole) and `reason` says what is wrong.
    """

    def __init__(self, form_id: str | None, field: str | None, reason: str,
                 *, file: str | None = None) -> None:
        self.form_id = form_id
        self.field = field
        self.reason = reason
        self.file = file
        where = []
        if file:
            where.append(file)
        if form_id:
            where.append(f"form {form_id!r}")
        if field:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where) or 'form'}: {reason}")


# --------------------------------------------------------------------------- FEEL subset

class FeelError(ValueError):
    """An expression outside the FEEL subset the server understands."""


_KEYWORDS = frozenset({"and", "or", "not", "true", "false", "null", "in", "if", "then", "else"})
_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d+)?|\.\d+)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op><=|>=|!=|=|<|>|\(|\)|\[|\]|,|\.|-)
    )""",
    re.VERBOSE,
)
_STRING_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "'": "'"}
_MAX_DEPTH = 40


def _tokenize(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match:
            rest = text[pos:].lstrip()
            if not rest:
                break
            raise FeelError(f"unexpected character {rest[:1]!r}")
        pos = match.end()
        kind = match.lastgroup
        raw = match.group(kind)
        if kind == "number":
            tokens.append(("number", float(raw) if "." in raw else int(raw)))
        elif kind == "string":
            tokens.append(("string", _unescape(raw[1:-1])))
        elif kind == "name":
            tokens.append(("keyword" if raw in _KEYWORDS else "name", raw))
        else:
            tokens.append(("op", raw))
    tokens.append(("end", None))
    return tokens


def _unescape(body: str) -> str:
    out = []
    chars = iter(body)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        escaped = next(chars)
        if escaped not in _STRING_ESCAPES:
            raise FeelError(f"unsupported escape \\{escaped} in a string")
        out.append(_STRING_ESCAPES[escaped])
    return "".join(out)


class _Parser:
    """Recursive descent over the token list; builds a tree of tuples."""

    def __init__(self, tokens: list[tuple[str, Any]]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self) -> tuple[str, Any]:
        return self.tokens[self.pos]

    def take(self) -> tuple[str, Any]:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def accept(self, kind: str, value: Any) -> bool:
        if self.peek() == (kind, value):
            self.pos += 1
            return True
        return False

    def expect(self, kind: str, value: Any) -> None:
        if not self.accept(kind, value):
            raise FeelError(f"expected {value!r} but found {_describe(self.peek())}")

    def parse(self) -> tuple:
        tree = self.expression()
        if self.peek()[0] != "end":
            raise FeelError(f"unexpected {_describe(self.peek())}")
        return tree

    def expression(self) -> tuple:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise FeelError("expression is nested too deeply")
        try:
            if self.accept("keyword", "if"):
                condition = self.expression()
                self.expect("keyword", "then")
                then = self.expression()
                self.expect("keyword", "else")
                return ("if", condition, then, self.expression())
            return self.disjunction()
        finally:
            self.depth -= 1

    def disjunction(self) -> tuple:
        parts = [self.conjunction()]
        while self.accept("keyword", "or"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else ("or", tuple(parts))

    def conjunction(self) -> tuple:
        parts = [self.comparison()]
        while self.accept("keyword", "and"):
            parts.append(self.comparison())
        return parts[0] if len(parts) == 1 else ("and", tuple(parts))

    def comparison(self) -> tuple:
        left = self.unary()
        kind, value = self.peek()
        if kind == "op" and value in {"=", "!=", "<", "<=", ">", ">="}:
            self.take()
            return ("cmp", value, left, self.unary())
        if (kind, value) == ("keyword", "in"):
            self.take()
            return ("in", left, self.unary())
        return left

    def unary(self) -> tuple:
        if self.accept("op", "-"):
            return ("neg", self.unary())
        return self.primary()

    def primary(self) -> tuple:
        kind, value = self.take()
        if kind in {"number", "string"}:
            return ("lit", value)
        if kind == "keyword":
            if value in {"true", "false"}:
                return ("lit", value == "true")
            if value == "null":
                return ("lit", None)
            if value == "not":
                self.expect("op", "(")
                inner = self.expression()
                self.expect("op", ")")
                return ("not", inner)
            raise FeelError(f"unexpected {value!r}")
        if kind == "name":
            path = [value]
            while self.accept("op", "."):
                part_kind, part = self.take()
                if part_kind not in {"name", "keyword"}:
                    raise FeelError("expected a name after '.'")
                path.append(part)
            if self.peek() == ("op", "("):
                raise FeelError(f"function {'.'.join(path)}() is not supported; only not(...) is")
            if self.peek()[0] == "name":
                raise FeelError(f"unsupported syntax after {'.'.join(path)!r}: "
                                f"{_describe(self.peek())}")
            return ("name", tuple(path))
        if (kind, value) == ("op", "("):
            inner = self.expression()
            self.expect("op", ")")
            return inner
        if (kind, value) == ("op", "["):
            items = []
            if not self.accept("op", "]"):
                items.append(self.expression())
                while self.accept("op", ","):
                    items.append(self.expression())
                self.expect("op", "]")
            return ("list", tuple(items))
        raise FeelError(f"unexpected {_describe((kind, value))}")


def _describe(token: tuple[str, Any]) -> str:
    kind, value = token
    if kind == "end":
        return "end of expression"
    if kind == "string":
        return f"string {value!r}"
    return repr(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _feel_equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if _is_number(a) and _is_number(b):
        return a == b
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_feel_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_feel_equal(a[k], b[k]) for k in a)
    return False


def _feel_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _evaluate(node: tuple, scope: Mapping[str, Any]) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "name":
        value: Any = scope
        for part in node[1]:
            if not isinstance(value, Mapping) or part not in value:
                return None
            value = value[part]
        return value
    if kind == "list":
        return [_evaluate(item, scope) for item in node[1]]
    if kind == "neg":
        value = _evaluate(node[1], scope)
        return -value if _is_number(value) else None
    if kind == "not":
        value = _feel_bool(_evaluate(node[1], scope))
        return None if value is None else not value
    if kind == "and":
        results = [_feel_bool(_evaluate(part, scope)) for part in node[1]]
        if any(r is False for r in results):
            return False
        return True if all(r is True for r in results) else None
    if kind == "or":
        results = [_feel_bool(_evaluate(part, scope)) for part in node[1]]
        if any(r is True for r in results):
            return True
        return False if all(r is False for r in results) else None
    if kind == "if":
        branch = node[2] if _evaluate(node[1], scope) is True else node[3]
        return _evaluate(branch, scope)
    if kind == "in":
        needle, haystack = _evaluate(node[1], scope), _evaluate(node[2], scope)
        if not isinstance(haystack, (list, tuple)):
            return None
        return any(_feel_equal(needle, item) for item in haystack)
    if kind == "cmp":
        op, left, right = node[1], _evaluate(node[2], scope), _evaluate(node[3], scope)
        if op == "=":
            return _feel_equal(left, right)
        if op == "!=":
            return not _feel_equal(left, right)
        comparable = (_is_number(left) and _is_number(right)) or (
            isinstance(left, str) and isinstance(right, str))
        if not comparable:
            return None
        return {"<": left < right, "<=": left <= right,
                ">": left > right, ">=": left >= right}[op]
    raise AssertionError(f"unknown node {kind}")


@dataclass(frozen=True)
class FeelExpression:
    """A parsed expression from the FEEL subset; `source` is the text after the `=`."""

    source: str
    tree: tuple = dataclass_field(repr=False, compare=False)

    def evaluate(self, scope: Mapping[str, Any]) -> Any:
        """The value of the expression; a name missing from `scope` is null (None)."""
        return _evaluate(self.tree, scope)


def parse_feel(text: str) -> FeelExpression:
    """Parse a FEEL expression (with or without its leading `=`); FeelError if unsupported."""
    body = text[1:] if text.startswith("=") else text
    if len(body) > MAX_EXPRESSION_LENGTH:
        raise FeelError(f"expression longer than {MAX_EXPRESSION_LENGTH} characters")
    if not body.strip():
        raise FeelError("empty expression")
    return FeelExpression(body.strip(), _Parser(_tokenize(body)).parse())


# --------------------------------------------------------------------------- form model

Number = int | float
Bound = Number | FeelExpression | None
Flag = bool | FeelExpression


@dataclass(frozen=True)
class Field:
    """One input component of a form, with everything the server needs to check its value.

    `hide` holds the field's own `conditional.hide` and those of the groups around it: the
    field is hidden when any of them is true. `options` are the static `values[*].value`.
    """

    key: str
    type: str
    id: str | None = None
    label: str = ""
    required: bool = False
    hide: tuple[FeelExpression, ...] = ()
    readonly: Flag = False
    disabled: Flag = False
    options: tuple[Any, ...] = ()
    min: Bound = None
    max: Bound = None
    min_length: Bound = None
    max_length: Bound = None
    pattern: re.Pattern[str] | None = None
    validation_type: str | None = None
    decimal_digits: int | None = None
    increment: Decimal | None = None
    serialize_to_string: bool = False
    subtype: str | None = None
    time_format: str | None = None
    disallow_passed_dates: bool = False


@dataclass(frozen=True)
class Form:
    """A loaded form: its id, its input fields (groups flattened) and the JSON it came from."""

    id: str
    fields: tuple[Field, ...]
    source: dict = dataclass_field(repr=False, compare=False)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.fields)

    def field(self, key: str) -> Field:
        for candidate in self.fields:
            if candidate.key == key:
                return candidate
        raise KeyError(key)


# --------------------------------------------------------------------------- loading

def load_form(source: Mapping | str | Path) -> Form:
    """Parse a Camunda Forms document and check the server can validate all of it.

    `source` is the parsed JSON, its text (a str), or a Path to the file. Raises
    FormDefinitionError naming the field for anything the server could not enforce.
    """
    file = None
    if isinstance(source, Path):
        file = str(source)
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FormDefinitionError(None, None, f"cannot read the file: {exc}",
                                      file=file) from exc
        source = text
    if isinstance(source, str):
        try:
            source = json.loads(source)
        except json.JSONDecodeError as exc:
            hint = "" if file else " (a str is the form's JSON text; pass a Path for a file)"
            raise FormDefinitionError(None, None, f"not valid JSON: {exc}{hint}",
                                      file=file) from exc
    if not isinstance(source, Mapping):
        raise FormDefinitionError(None, None, "a form must be a JSON object", file=file)
    try:
        return _build_form(source)
    except FormDefinitionError as exc:
        if file and not exc.file:
            raise FormDefinitionError(exc.form_id, exc.field, exc.reason, file=file) from None
        raise


def load_forms(folder: Path) -> dict[str, Form]:
    """Load every `*.json` form in `folder` (not its subfolders), keyed by form id.

    Two files declaring the same form id are refused, naming both files.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FormDefinitionError(None, None, f"no such folder: {folder}")
    forms: dict[str, Form] = {}
    files: dict[str, Path] = {}
    for path in sorted(folder.glob("*.json")):
        form = load_form(path)
        if form.id in forms:
            raise FormDefinitionError(
                form.id, None,
                f"the form id is used by two files: {files[form.id].name} and {path.name}",
                file=str(path))
        forms[form.id] = form
        files[form.id] = path
    return forms


def _build_form(source: Mapping) -> Form:
    form_id = source.get("id")
    if not isinstance(form_id, str) or not form_id.strip():
        raise FormDefinitionError(None, None, "the form has no id")
    if source.get("type", "default") != "default":
        raise FormDefinitionError(form_id, None,
                                  f"unsupported form type {source.get('type')!r}")
    components = source.get("components")
    if not isinstance(components, list):
        raise FormDefinitionError(form_id, None, "the form has no list of components")
    fields: list[Field] = []
    _collect(form_id, components, (), fields, depth=0)
    seen: set[str] = set()
    for f in fields:
        if f.key in seen:
            raise FormDefinitionError(form_id, f.key, "two fields use the same key")
        seen.add(f.key)
    return Form(id=form_id, fields=tuple(fields), source=dict(source))


def _collect(form_id: str, components: list, hidden_by: tuple[FeelExpression, ...],
             out: list[Field], depth: int) -> None:
    if depth > MAX_GROUP_DEPTH:
        raise FormDefinitionError(form_id, None, "groups are nested too deeply")
    for index, component in enumerate(components):
        if not isinstance(component, Mapping):
            raise FormDefinitionError(form_id, f"component #{index + 1}",
                                      "a component must be a JSON object")
        ctype = component.get("type")
        name = _component_name(component, index)
        if ctype in DISPLAY_TYPES:
            continue
        if ctype in CONTAINER_TYPES:
            if component.get("path"):
                raise FormDefinitionError(
                    form_id, name, "a group with a data path is not supported (keys stay flat)")
            children = component.get("components", [])
            if not isinstance(children, list):
                raise FormDefinitionError(form_id, name, "a group's components must be a list")
            own = _hide_condition(form_id, name, component)
            _collect(form_id, children, hidden_by + own, out, depth + 1)
            continue
        if ctype not in INPUT_TYPES:
            raise FormDefinitionError(
                form_id, name, f"component type {ctype!r} is not supported by the server")
        out.append(_build_field(form_id, name, component, hidden_by))


def _component_name(component: Mapping, index: int) -> str:
    for attr in ("key", "id"):
        value = component.get(attr)
        if isinstance(value, str) and value:
            return value
    return f"component #{index + 1} ({component.get('type')!r})"


def _hide_condition(form_id: str, name: str, component: Mapping) -> tuple[FeelExpression, ...]:
    conditional = component.get("conditional")
    if conditional in (None, {}):
        return ()
    if not isinstance(conditional, Mapping):
        raise FormDefinitionError(form_id, name, "conditional must be an object")
    unknown = set(conditional) - {"hide"}
    if unknown:
        raise FormDefinitionError(
            form_id, name, f"conditional.{sorted(unknown)[0]} is not supported")
    hide = conditional.get("hide")
    if hide in (None, ""):
        return ()
    return (_expression(form_id, name, "conditional.hide", hide),)


def _expression(form_id: str, name: str, where: str, text: Any) -> FeelExpression:
    if not isinstance(text, str) or not text.startswith("="):
        raise FormDefinitionError(
            form_id, name, f"{where} must be a FEEL expression starting with '='")
    try:
        return parse_feel(text)
    except FeelError as exc:
        raise FormDefinitionError(
            form_id, name, f"{where} uses FEEL the server does not support: {exc}") from None


def _build_field(form_id: str, name: str, c: Mapping, hidden_by: tuple) -> Field:
    ctype = c["type"]
    key = c.get("key")
    if not isinstance(key, str) or not key:
        raise FormDefinitionError(form_id, name, "an input field needs a key")
    if "." in key:
        raise FormDefinitionError(form_id, key, "nested keys (with dots) are not supported")
    if not _KEY_RE.match(key):
        raise FormDefinitionError(
            form_id, key, "a key must start with a letter and hold only letters, digits and _")

    def refuse(reason: str) -> FormDefinitionError:
        return FormDefinitionError(form_id, key, reason)

    validate = c.get("validate") or {}
    if not isinstance(validate, Mapping):
        raise refuse("validate must be an object")
    allowed = _VALIDATE_KEYS.get(ctype, _VALIDATE_DEFAULT)
    for setting, value in validate.items():
        if value in (None, "") or (setting == "required" and value is False):
            continue
        if setting == "validationType" and value == "custom":
            continue
        if setting not in allowed:
            raise refuse(f"validate.{setting} is not supported on a {ctype}")

    required = validate.get("required", False)
    if not isinstance(required, bool):
        raise refuse("validate.required must be true or false")

    spec: dict[str, Any] = {
        "key": key, "type": ctype, "id": c.get("id") if isinstance(c.get("id"), str) else None,
        "label": c.get("label") if isinstance(c.get("label"), str) else "",
        "required": required,
        "hide": hidden_by + _hide_condition(form_id, key, c),
        "readonly": _flag(form_id, key, c, "readonly"),
        "disabled": _flag(form_id, key, c, "disabled"),
    }

    if ctype in TEXT_TYPES:
        spec["min_length"] = _bound(form_id, key, validate, "minLength", integer=True)
        spec["max_length"] = _bound(form_id, key, validate, "maxLength", integer=True)
        for setting in ("min_length", "max_length"):
            bound = spec[setting]
            if _is_number(bound) and bound > MAX_TEXT_LENGTH:
                raise refuse(f"validate.{'minLength' if setting == 'min_length' else 'maxLength'}"
                             f" is above the server's limit of {MAX_TEXT_LENGTH} characters")
        spec["pattern"] = _pattern(form_id, key, validate.get("pattern"))
        vtype = validate.get("validationType")
        if vtype not in (None, "", "custom", "email", "phone"):
            raise refuse(f"validate.validationType {vtype!r} is not supported")
        spec["validation_type"] = vtype if vtype in ("email", "phone") else None

    elif ctype == "number":
        spec["min"] = _bound(form_id, key, validate, "min")
        spec["max"] = _bound(form_id, key, validate, "max")
        digits = c.get("decimalDigits")
        if digits not in (None, ""):
            if not isinstance(digits, int) or isinstance(digits, bool) or digits < 0:
                raise refuse("decimalDigits must be a whole number, 0 or more")
            spec["decimal_digits"] = digits
        increment = c.get("increment")
        if increment not in (None, ""):
            step = _decimal(increment)
            if step is None or step <= 0:
                raise refuse("increment must be a number greater than 0")
            spec["increment"] = step
        serialize = c.get("serializeToString", False)
        if not isinstance(serialize, bool):
            raise refuse("serializeToString must be true or false")
        spec["serialize_to_string"] = serialize

    elif ctype in OPTION_TYPES:
        if c.get("valuesKey") or c.get("valuesExpression"):
            raise refuse("options from valuesKey or valuesExpression (dynamic options) are not "
                         "supported; list the options in the form")
        values = c.get("values")
        if not isinstance(values, list) or not values:
            raise refuse("a choice field needs a static list of options (values)")
        options = []
        for option in values:
            if not isinstance(option, Mapping) or "value" not in option:
                raise refuse("every option needs a value")
            value = option["value"]
            if value is None or isinstance(value, (list, dict)):
                raise refuse("an option's value must be text, a number or true/false")
            options.append(value)
        spec["options"] = tuple(options)

    elif ctype == "datetime":
        subtype = c.get("subtype") or "date"
        if subtype not in ("date", "time", "datetime"):
            raise refuse(f"datetime subtype {subtype!r} is not supported")
        spec["subtype"] = subtype
        time_format = c.get("timeSerializingFormat")
        if time_format not in (None, "", "utc_offset", "utc_normalized", "no_timezone"):
            raise refuse(f"timeSerializingFormat {time_format!r} is not supported")
        spec["time_format"] = time_format or None
        passed = c.get("disallowPassedDates", False)
        if not isinstance(passed, bool):
            raise refuse("disallowPassedDates must be true or false")
        spec["disallow_passed_dates"] = passed and subtype != "time"

    return Field(**spec)


def _flag(form_id: str, key: str, c: Mapping, attr: str) -> Flag:
    value = c.get(attr, False)
    if value in (None, ""):
        return False
    if isinstance(value, bool):
        return value
    return _expression(form_id, key, attr, value)


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
        return Decimal(value.strip())
    return None


def _bound(form_id: str, key: str, validate: Mapping, setting: str,
           integer: bool = False) -> Bound:
    value = validate.get(setting)
    if value in (None, ""):
        return None
    if isinstance(value, str) and value.startswith("="):
        return _expression(form_id, key, f"validate.{setting}", value)
    number = _decimal(value)
    if number is None or (integer and (number != number.to_integral_value() or number < 0)):
        kind = "a whole number, 0 or more" if integer else "a number"
        raise FormDefinitionError(form_id, key, f"validate.{setting} must be {kind}")
    return int(number) if number == number.to_integral_value() else float(number)


def _pattern(form_id: str, key: str, pattern: Any) -> re.Pattern[str] | None:
    if pattern in (None, ""):
        return None
    if not isinstance(pattern, str):
        raise FormDefinitionError(form_id, key, "validate.pattern must be text")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise FormDefinitionError(
            form_id, key, f"validate.pattern is longer than {MAX_PATTERN_LENGTH} characters")
    try:
        compiled = re.compile(pattern, re.ASCII)
    except re.error as exc:
        raise FormDefinitionError(
            form_id, key, f"validate.pattern is not a valid regular expression: {exc}") from None
    if _has_nested_repeat(pattern):
        raise FormDefinitionError(
            form_id, key, "validate.pattern repeats a group that itself repeats, which can make "
                          "checking a value take practically forever; simplify it")
    return compiled


def _has_nested_repeat(pattern: str) -> bool:
    """True for `(a+)+`-style patterns, the usual cause of catastrophic backtracking."""
    try:
        from re import _constants as sre_constants  # type: ignore[attr-defined]
        from re import _parser as sre_parse  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - layout of CPython's private modules changed
        return False
    repeats = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT}
    if hasattr(sre_constants, "POSSESSIVE_REPEAT"):
        repeats.add(sre_constants.POSSESSIVE_REPEAT)

    def walk(items: Iterable, inside_repeat: bool) -> bool:
        for op, arg in items:
            if op in repeats:
                _low, high, sub = arg
                if inside_repeat and high == sre_constants.MAXREPEAT:
                    return True
                if walk(sub, inside_repeat or high > 1):
                    return True
            elif op == sre_constants.SUBPATTERN:
                if walk(arg[-1], inside_repeat):
                    return True
            elif op == sre_constants.BRANCH:
                if any(walk(branch, inside_repeat) for branch in arg[1]):
                    return True
            elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
                if walk(arg[1], inside_repeat):
                    return True
            elif op == getattr(sre_constants, "ATOMIC_GROUP", object()) and walk(arg, inside_repeat):
                return True
        return False

    return walk(sre_parse.parse(pattern, re.ASCII), False)


# --------------------------------------------------------------------------- validation

_NUMBER_TEXT = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")
_EMAIL_RE = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")
_PHONE_RE = re.compile(r"(?:\+|00)[1-9][0-9]{6,19}")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DATE_RE = r"\d{4}-\d{2}-\d{2}"
_TIME_RE = r"(?:[01]\d|2[0-3]):[0-5]\d"
_ZONES = {
    "no_timezone": "",
    "utc_normalized": "Z",
    "utc_offset": r"[+-](?:[01]\d|2[0-3]):[0-5]\d",
    None: r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?",
}
_TIME_EXAMPLES = {
    "no_timezone": ("HH:MM", "14:30"),
    "utc_normalized": ("HH:MM in UTC, ending in Z", "14:30Z"),
    "utc_offset": ("HH:MM with a UTC offset", "14:30+01:00"),
    None: ("HH:MM", "14:30"),
}

REQUIRED = "This field is required"


class _Invalid(Exception):
    """A value of the wrong kind: one message, and no further checks on it."""


def validate_submission(form: Form, data: Mapping, context: Mapping | None = None,
                        *, today: date | None = None) -> tuple[dict, dict[str, list[str]]]:
    """Check a submission against its form, as form-js would before submitting it.

    Returns (cleaned values, errors by field key). When errors is not empty, cleaned is
    empty and the caller must change nothing. `context` is the case data the form's
    expressions may refer to; the submitted values are laid over it. `today` (default:
    today in London) is the reference for `disallowPassedDates`.
    """
    if not isinstance(data, Mapping):
        return {}, {FORM_ERRORS_KEY: ["Send the form's fields as a JSON object"]}
    errors: dict[str, list[str]] = {}
    fields = {f.key: f for f in form.fields}

    unknown = [k for k in data if k not in fields]
    for k in unknown[:MAX_UNKNOWN_REPORTED]:
        errors[str(k)] = ["unknown field"]
    if len(unknown) > MAX_UNKNOWN_REPORTED:
        errors[FORM_ERRORS_KEY] = [f"{len(unknown)} fields are not on this form"]

    scope = dict(context or {})
    scope.update({k: v for k, v in data.items() if k in fields})
    if today is None:
        today = datetime.now(_LONDON).date()

    cleaned: dict[str, Any] = {}
    for key, f in fields.items():
        if any(condition.evaluate(scope) is True for condition in f.hide):
            continue
        if _flag_on(f.readonly, scope) or _flag_on(f.disabled, scope):
            continue
        present = key in data
        value = data.get(key)
        messages: list[str] = []
        try:
            value = _check(f, value, scope, today, messages) if present else None
        except _Invalid as exc:
            messages = [str(exc)]
        else:
            if f.required and _is_empty(f, value):
                messages.insert(0, REQUIRED)
        if messages:
            errors[key] = messages
        elif present:
            cleaned[key] = value
    if errors:
        return {}, errors
    return cleaned, {}


def _flag_on(flag: Flag, scope: Mapping) -> bool:
    if isinstance(flag, FeelExpression):
        return flag.evaluate(scope) is True
    return flag


def _is_empty(f: Field, value: Any) -> bool:
    if value is None or value == [] or (f.type == "checkbox" and value is False):
        return True
    return isinstance(value, str) and not value.strip()


def _resolve(bound: Bound, scope: Mapping) -> Decimal | None:
    """A bound's value; one given by an expression that is not a number does not apply."""
    if isinstance(bound, FeelExpression):
        bound = bound.evaluate(scope)
    if isinstance(bound, float) and not math.isfinite(bound):
        return None
    return _decimal(bound) if _is_number(bound) else None


def _check(f: Field, value: Any, scope: Mapping, today: date, messages: list[str]) -> Any:
    """Type-check and clean one value, appending rule violations to `messages`."""
    if f.type in TEXT_TYPES:
        return _check_text(f, value, scope, messages)
    if value is None or value == "":
        return None
    if f.type == "number":
        return _check_number(f, value, scope, messages)
    if f.type == "checkbox":
        if not isinstance(value, bool):
            raise _Invalid("Enter true or false")
        return value
    if f.type in CHOICE_TYPES:
        if isinstance(value, (list, dict)) or not any(_same(value, o) for o in f.options):
            raise _Invalid(f"Choose one of: {_list_options(f.options)}")
        return value
    if f.type in MULTI_CHOICE_TYPES:
        return _check_multi(f, value)
    if f.type == "datetime":
        return _check_datetime(f, value, today)
    raise AssertionError(f"unhandled field type {f.type}")  # pragma: no cover


def _check_text(f: Field, value: Any, scope: Mapping, messages: list[str]) -> Any:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid("Enter text")
    if len(value) > MAX_TEXT_LENGTH:
        raise _Invalid(f"Enter no more than {MAX_TEXT_LENGTH:,} characters")
    if _CONTROL_RE.search(value):
        raise _Invalid("Remove the control characters from this text")
    if f.type == "textfield" and ("\n" in value or "\r" in value):
        raise _Invalid("Enter a single line of text")
    length = len(value.strip())
    if not length:
        return value  # empty: only `required` has anything to say about it
    low, high = _resolve(f.min_length, scope), _resolve(f.max_length, scope)
    if low is not None and length < low:
        messages.append(f"Enter at least {_show(low)} character{'s' if low != 1 else ''}")
    if high is not None and length > high:
        messages.append(f"Enter no more than {_show(high)} character{'s' if high != 1 else ''}")
    if f.pattern is not None and not f.pattern.search(value):
        messages.append("Enter a value in the expected format")
    if f.validation_type == "email" and not _EMAIL_RE.fullmatch(value):
        messages.append("Enter an email address, like name@example.com")
    if f.validation_type == "phone" and not _PHONE_RE.fullmatch(value):
        messages.append("Enter an international phone number with no spaces, like +441632960123")
    return value


def _check_number(f: Field, value: Any, scope: Mapping, messages: list[str]) -> Any:
    if isinstance(value, str) and f.serialize_to_string:
        text = value.strip()
        if len(text) > 100 or not _NUMBER_TEXT.fullmatch(text):
            raise _Invalid("Enter a number")
        number = Decimal(text)
        cleaned: Any = text
    elif _is_number(value) and not isinstance(value, Decimal):
        if isinstance(value, float) and not math.isfinite(value):
            raise _Invalid("Enter a number")
        if abs(value) > MAX_SAFE_INTEGER:
            raise _Invalid("Enter a smaller number")
        number = _decimal(value)
        cleaned = format(number, "f") if f.serialize_to_string else value
    else:
        raise _Invalid("Enter a number")

    decimals = -min(number.normalize().as_tuple().exponent, 0)
    if f.decimal_digits is not None and decimals > f.decimal_digits:
        if f.decimal_digits == 0:
            messages.append("Enter a whole number")
        else:
            places = "place" if f.decimal_digits == 1 else "places"
            messages.append(f"Enter a number with no more than {f.decimal_digits} decimal {places}")
    if f.increment is not None:
        try:
            off_step = number % f.increment != 0
        except InvalidOperation:
            off_step = True
        if off_step:
            messages.append(f"Enter a multiple of {_show(f.increment)}")
    low, high = _resolve(f.min, scope), _resolve(f.max, scope)
    if low is not None and number < low:
        messages.append(f"Enter a number no less than {_show(low)}")
    if high is not None and number > high:
        messages.append(f"Enter a number no greater than {_show(high)}")
    return cleaned


def _check_multi(f: Field, value: Any) -> list:
    if not isinstance(value, list):
        raise _Invalid(f"Choose any of: {_list_options(f.options)}")
    if len(value) > MAX_LIST_LENGTH:
        raise _Invalid(f"Choose no more than {MAX_LIST_LENGTH} options")
    chosen: list = []
    for item in value:
        if isinstance(item, (list, dict)) or not any(_same(item, o) for o in f.options):
            raise _Invalid(f"Choose only from: {_list_options(f.options)}")
        if any(_same(item, c) for c in chosen):
            raise _Invalid("Choose each option only once")
        chosen.append(item)
    return chosen


def _check_datetime(f: Field, value: Any, today: date) -> str:
    subtype = f.subtype or "date"
    zone = _ZONES[f.time_format]
    time_hint, time_example = _TIME_EXAMPLES[f.time_format]
    if subtype == "date":
        shape, hint = _DATE_RE, "Enter a date as YYYY-MM-DD, like 2024-05-31"
    elif subtype == "time":
        shape = _TIME_RE + zone
        hint = f"Enter a time as {time_hint}, like {time_example}"
    else:
        shape = _DATE_RE + "T" + _TIME_RE + r"(?::[0-5]\d(?:\.\d{1,6})?)?" + zone
        hint = (f"Enter a date and time as YYYY-MM-DDT{time_hint}, "
                f"like 2024-05-31T{time_example}")
    if not isinstance(value, str) or not re.fullmatch(shape, value):
        raise _Invalid(hint)
    if subtype != "time":
        try:
            day = date.fromisoformat(value[:10])
        except ValueError:
            raise _Invalid(f"{value[:10]} is not a real date") from None
        if f.disallow_passed_dates and day < today:
            raise _Invalid("Enter a date that is today or later")
    return value


def _same(a: Any, b: Any) -> bool:
    """Equality of option values that keeps true/false apart from 1/0 and "1" from 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if _is_number(a) and _is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def _list_options(options: tuple) -> str:
    return ", ".join(_show(o) for o in options)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        value = value.normalize()
        return f"{value:f}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
