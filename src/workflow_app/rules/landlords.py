"""Each landlord's settings, read from ``processes/<slug>/landlord.toml`` and checked at load.

The facts a letter, a reference number or a report needs about a landlord (its name,
reference prefix, bank-holiday nation, number of homes, where residents can take a
complaint next, the Housing Ombudsman's contact details) live in that file, not in code,
so that a landlord's complaints lead can correct them without a release.

How long closed complaints keep their personal data is the landlord's decision: until it
confirms a period in ``[retention]``, `DEFAULT_RETENTION_YEARS` applies (see there). Likewise
the number of homes CH01 divides by is the landlord's figure only once ``homes_source`` says
where it comes from; until then every page and export that shows CH01 says it is not confirmed.

The file is checked against a JSON Schema (Draft 2020-12) that refuses unknown keys, so
a mistyped key fails loudly instead of being ignored. Every problem becomes a
:class:`SettingsError` naming the file and the field in plain words, for example
``processes/harrogate/landlord.toml: ombudsman.phone: must be text (a quoted string)``.
"""
from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from workflow_app.rules.calendar import NATIONS
from workflow_app.rules.regime import DEFAULT as DEFAULT_REGIME
from workflow_app.rules.regime import HOUSING_OMBUDSMAN, Regime, known_regimes, regime_named

SETTINGS_FILE = "landlord.toml"
TIMEZONE = "Europe/London"
SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

DEFAULT_RETENTION_YEARS = 6
"""Years after a complaint closes before its personal data is anonymised, for a landlord that has
not confirmed its own period (`[retention]` in landlord.toml).

Why six: a resident's claim over what a complaint was about (disrepair, a tenancy's terms) can
be brought for six years, in contract and in tort (Limitation Act 1980, sections 2 and 5), and
the complaint's record is the landlord's evidence until then; a complaint to the Housing
Ombudsman is normally brought within 12 months of the landlord's final response (the Housing
Ombudsman Scheme), well inside it. The Code requires a full record of each complaint (Code
5.12) and sets no period for keeping it: that is for the landlord's own retention policy, which
the Ombudsman's record-keeping guidance (its Spotlight report on knowledge and information
management, 2023) asks every landlord to have. Scotland's
five-year prescription (Prescription and Limitation (Scotland) Act 1973, section 6) is shorter,
so six years is not too short there either. It is a default, not the landlord's decision: it is
applied until the landlord confirms a period (so that closed complaints are anonymised at all),
and the managers' pages say so until then."""

_TEXT = {"type": "string", "minLength": 1}
_EMAIL = {
    "type": "string",
    "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    "x-message": "must be an email address, e.g. info@example.org.uk",
}
_PHONE = {
    "type": "string",
    "pattern": r"^\+?[0-9][0-9 ()-]{5,}[0-9]$",
    "x-message": "must be a phone number of digits and spaces, e.g. 0300 111 3000",
}
_WEBSITE = {
    "type": "string",
    "pattern": r"^(https?://)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(/\S*)?$",
    "x-message": "must be a web address, e.g. www.example.org.uk",
}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Landlord settings (processes/<slug>/landlord.toml)",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "display_name", "reference_prefix", "nation", "homes",
        "contact", "referral_bodies", "ombudsman",
    ],
    "properties": {
        "display_name": _TEXT,
        "reference_prefix": {
            "type": "string",
            "pattern": r"^[A-Z]{2,5}$",
            "x-message": "must be 2 to 5 capital letters, e.g. GP",
        },
        "nation": {"enum": list(NATIONS)},
        "regime": {"enum": list(known_regimes()),
                   "x-message": f"must name a complaint-handling regime: {', '.join(known_regimes())}"},
        "homes": {"type": "integer", "minimum": 1},
        "homes_source": _TEXT,
        "timezone": {"const": TIMEZONE},
        "contact": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "address": _TEXT, "phone": _PHONE, "email": _EMAIL, "website": _WEBSITE,
            },
        },
        "referral_bodies": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "when"],
                "properties": {
                    "name": _TEXT, "when": _TEXT,
                    "website": _WEBSITE, "phone": _PHONE, "email": _EMAIL,
                },
            },
        },
        "ombudsman": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {
                "name": _TEXT, "address": _TEXT,
                "phone": _PHONE, "email": _EMAIL, "website": _WEBSITE,
            },
            "anyOf": [
                {"required": ["phone"]}, {"required": ["email"]}, {"required": ["website"]},
            ],
            "x-message": "needs at least one of phone, email or website "
                         "(the Code requires the Ombudsman's contact details on letters)",
        },
        "retention": {
            "type": "object",
            "additionalProperties": False,
            "required": ["anonymise_closed_after_years"],
            "properties": {
                "anonymise_closed_after_years": {"type": "integer", "minimum": 1},
                "confirmed_by": _TEXT,
                "confirmed_on": {"type": "date"},
            },
            "dependentRequired": {"confirmed_by": ["confirmed_on"], "confirmed_on": ["confirmed_by"]},
        },
    },
}

_TYPES = Draft202012Validator.TYPE_CHECKER.redefine(
    "date", lambda _checker, value: isinstance(value, date) and not isinstance(value, datetime))
_VALIDATOR = validators.extend(Draft202012Validator, type_checker=_TYPES)(SCHEMA)
"""The schema's checker, knowing one type JSON lacks: a TOML date (confirmed_on = 2027-03-31)."""

_TYPE_WORDS = {
    "object": "a table",
    "array": "a list of tables ([[...]])",
    "string": "text (a quoted string)",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "date": "a date without quotes, e.g. 2027-03-31",
}


class SettingsError(ValueError):
    """A landlord settings file is missing, unreadable or wrong.

    ``path`` is the file (or folder); ``field`` is the dotted path of the offending
    setting (``"ombudsman.phone"``, ``"referral_bodies[2].name"``, list positions
    counted from 0) or ``None`` when the problem is the file as a whole; ``line`` is set
    for TOML syntax errors. ``problems`` holds every ``(field, problem)`` found, the
    first of which is ``field``.
    """

    def __init__(
        self,
        path: Path,
        field: str | None,
        problem: str,
        *,
        line: int | None = None,
        more: Iterable[tuple[str | None, str]] = (),
    ) -> None:
        self.path = Path(path)
        self.field = field
        self.problem = problem
        self.line = line
        self.problems: tuple[tuple[str | None, str], ...] = ((field, problem), *more)
        shown = _display(self.path)
        super().__init__("\n".join(
            f"{shown}: {f}: {p}" if f else f"{shown}: {p}" for f, p in self.problems
        ))


@dataclass(frozen=True)
class ReferralBody:
    """Somewhere a resident can take a complaint the landlord could not resolve."""

    name: str
    covers: str
    website: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Retention:
    """How many years after closing a landlord's complaints are anonymised, whether that is the
    default, and whether the landlord has confirmed it (who, a role at the landlord, and when)."""

    years: int
    default: bool = False
    """No period in landlord.toml: `DEFAULT_RETENTION_YEARS` applies."""
    confirmed_by: str | None = None
    confirmed_on: date | None = None

    @property
    def confirmed(self) -> bool:
        return self.confirmed_on is not None


DEFAULT_RETENTION = Retention(DEFAULT_RETENTION_YEARS, default=True)


@dataclass(frozen=True)
class Landlord:
    """One landlord's checked settings; ``slug`` is its folder name under ``processes/``."""

    slug: str
    display_name: str
    reference_prefix: str
    nation: str
    homes: int
    contact: Mapping[str, str] = field(hash=False)
    referral_bodies: tuple[ReferralBody, ...]
    ombudsman: Mapping[str, str] = field(hash=False)
    folder: Path
    regime: Regime = field(default=HOUSING_OMBUDSMAN, hash=False)
    """The complaint-handling rules it works under (`regime` in landlord.toml; the Housing
    Ombudsman's Code by default)."""
    retention: Retention = DEFAULT_RETENTION
    """When its closed complaints are anonymised (`[retention]` in landlord.toml; the default until set)."""
    homes_source: str | None = None
    """Where `homes` comes from (`homes_source` in landlord.toml, e.g. the landlord's return to the
    regulator at a date); None while `homes` is a stand-in."""

    @property
    def homes_confirmed(self) -> bool:
        """Whether `homes` is the landlord's own figure, fit to publish CH01 with (its source is given)."""
        return self.homes_source is not None


def load_landlord(folder: Path) -> Landlord:
    """Read and check ``folder/landlord.toml``; the folder's name is the landlord's slug."""
    folder = Path(folder)
    path = folder / SETTINGS_FILE
    if not SLUG_PATTERN.match(folder.name):
        raise SettingsError(
            path, "slug",
            f"the folder name {folder.name!r} must be lower-case letters, digits and "
            "underscores, starting with a letter",
        )
    data = _read_toml(path)
    errors = sorted(_VALIDATOR.iter_errors(data), key=lambda e: _sort_key(e.absolute_path))
    if errors:
        problems = [problem for e in errors for problem in _problems(e)]
        raise SettingsError(path, problems[0][0], problems[0][1], more=problems[1:])

    bodies = tuple(
        ReferralBody(
            name=b["name"], covers=b["when"],
            website=b.get("website"), phone=b.get("phone"), email=b.get("email"),
        )
        for b in data["referral_bodies"]
    )
    seen: dict[str, int] = {}
    for i, body in enumerate(bodies):
        if body.name in seen:
            raise SettingsError(
                path, f"referral_bodies[{i}].name",
                f"{body.name!r} is already listed at referral_bodies[{seen[body.name]}]",
            )
        seen[body.name] = i

    return Landlord(
        slug=folder.name,
        display_name=data["display_name"],
        reference_prefix=data["reference_prefix"],
        nation=data["nation"],
        homes=data["homes"],
        homes_source=data.get("homes_source"),
        contact=MappingProxyType(dict(data["contact"])),
        referral_bodies=bodies,
        ombudsman=MappingProxyType(dict(data["ombudsman"])),
        folder=folder,
        regime=regime_named(data.get("regime", DEFAULT_REGIME)),
        retention=_retention(data.get("retention")),
    )


def _retention(table: Mapping[str, Any] | None) -> Retention:
    if table is None:
        return DEFAULT_RETENTION
    return Retention(table["anonymise_closed_after_years"], confirmed_by=table.get("confirmed_by"),
                     confirmed_on=table.get("confirmed_on"))


def load_landlords(processes_dir: Path) -> dict[str, Landlord]:
    """Load every sub-folder of ``processes_dir`` that has a landlord.toml, keyed by slug.

    Two landlords may not share a reference prefix, or their references would collide.
    """
    processes_dir = Path(processes_dir)
    if not processes_dir.is_dir():
        raise SettingsError(processes_dir, None, "folder not found")
    landlords: dict[str, Landlord] = {}
    by_prefix: dict[str, Landlord] = {}
    for folder in sorted(p for p in processes_dir.iterdir() if p.is_dir()):
        if not (folder / SETTINGS_FILE).is_file():
            continue
        landlord = load_landlord(folder)
        other = by_prefix.get(landlord.reference_prefix)
        if other is not None:
            raise SettingsError(
                folder / SETTINGS_FILE, "reference_prefix",
                f"{landlord.reference_prefix!r} is already used by "
                f"{_display(other.folder / SETTINGS_FILE)}; each landlord needs its own prefix",
            )
        by_prefix[landlord.reference_prefix] = landlord
        landlords[landlord.slug] = landlord
    return landlords


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(path, None, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(path, None, f"cannot be read: {exc}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's TOMLDecodeError has no lineno; the position is in the message.
        message = str(exc)
        where = re.search(r"\(at line (\d+), column (\d+)\)", message)
        if where is None:
            raise SettingsError(path, None, f"TOML syntax error: {message}") from exc
        line = int(where.group(1))
        reason = message[: where.start()].strip()
        lines = text.splitlines()
        source = f" in {lines[line - 1].strip()!r}" if 0 < line <= len(lines) else ""
        raise SettingsError(
            path, None,
            f"line {line}, column {where.group(2)}: TOML syntax error: {reason}{source}",
            line=line,
        ) from exc


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    """One ``(field, problem)`` per setting at fault: a table may lack or mistype several keys."""
    base: list[str | int] = list(error.absolute_path)
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        named = [k for k in missing if error.message.startswith(f"{k!r} ")]
        return [(_dotted([*base, (named or missing)[0]]), "is required")]
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        extras = sorted(k for k in error.instance if k not in known)
        return [(_dotted([*base, key]), _unknown_key(key, known)) for key in extras]
    if error.validator == "dependentRequired":
        return [(_dotted([*base, needed]), f"is required with {given}")
                for given, needs in error.validator_value.items() if given in error.instance
                for needed in needs if needed not in error.instance]
    return [(_dotted(base), _explain(error))]


def _explain(error: ValidationError) -> str:
    """Say what is wrong with one setting, in words a complaints lead can act on."""
    kind, expected, schema = error.validator, error.validator_value, error.schema
    custom = schema.get("x-message") if isinstance(schema, dict) else None
    if kind == "type":
        return f"must be {_TYPE_WORDS.get(expected, expected)}, not {_toml_kind(error.instance)}"
    if kind == "enum":
        return f"must be one of {', '.join(map(str, expected))}, not {error.instance!r}"
    if kind == "const":
        return f"must be {expected!r} (the only value supported), not {error.instance!r}"
    if kind == "minimum":
        return f"must be at least {expected}, not {error.instance!r}"
    if kind == "minLength":
        return "must not be empty"
    if kind == "minItems":
        return f"must list at least {expected}"
    if custom:
        return f"{custom}; got {error.instance!r}" if kind == "pattern" else custom
    return error.message


def _unknown_key(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else "allowed here: " + ", ".join(known)
    return f"unknown key; {hint}"


def _dotted(parts: Iterable[str | int]) -> str:
    """``["referral_bodies", 2, "name"]`` -> ``"referral_bodies[2].name"``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


def _toml_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, datetime):
        return "a date and time"
    if isinstance(value, date):
        return f"the date {value.isoformat()}"
    if isinstance(value, int):
        return f"the number {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _sort_key(path: Iterable[str | int]) -> list[tuple[int, str]]:
    return [(0, f"{p:08d}") if isinstance(p, int) else (1, p) for p in path]


def _display(path: Path) -> str:
    """The file as a person would name it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
