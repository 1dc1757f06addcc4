"""Letter templates as a landlord's folder gives them: Jinja in a sandbox, the landlord's `letters/`
first, then the product's shared layout, macros and default letter (`shared_letters/`).

The engine renders letters through it, and the Code check reads the same templates before a
diagram is deployed, so both see exactly what a resident would be sent.

What a caseworker types into a form reaches a letter through the filters here, in one place:
`sentence` for text that stands as sentences of its own (each line with a capital first and a full
stop last, the lines kept), `points` for a list of such text (one point a line), `phrase` for text
set inside one of the letter's sentences (a name and job title: no closing full stop to break the
sentence), and `lines` for an address. The dates a letter gives are London dates (`long_date`), and
the dates it counts to follow the working-day rule of `rules.calendar` (`working_days_after`,
`days_after`), so a letter says the same day as the diagram's timer.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from workflow_app.rules import clock
from workflow_app.rules.calendar import calendar_for, london_date

SHARED_LETTERS = Path(__file__).parent / "shared_letters"
"""The product's letter layout, macros and default letter, for any landlord folder that has none of its own."""

_CLOSERS = "\"')]’”»"
"""What may follow a sentence's last full stop: a closing quote or bracket."""
_ENDS = (".", "!", "?", "…")
_LOOSE_END = re.compile(r"[\s,;:.–—-]+$")
_BULLET = re.compile(r"^\s*[-*•–]\s+")


def sentence(text: Any) -> Markup:
    """Free text as whole sentences of the letter, line by line: each line trimmed, its first letter
    (after any bullet the caseworker typed) a capital, and a full stop at its end unless it already
    ends a sentence, or ends in a colon that introduces the next line; a trailing comma, semicolon or
    dash becomes the full stop. The lines are kept (escaped, with line breaks), blank ones dropped.
    Nothing else inside the text is changed."""
    kept = [line.strip() for line in _clean(text).split("\n") if line.strip()]
    return Markup("<br>").join(
        escape(_whole(line, introduces=line.endswith(":") and i < len(kept) - 1)) for i, line in enumerate(kept))


def points(text: Any) -> list[Markup]:
    """Free text as a list's points, one a line (a bullet the caseworker typed, "-", "*" or "•", dropped),
    each as whole sentences."""
    return [escape(_whole(_BULLET.sub("", line).strip()))
            for line in _clean(text).split("\n") if _BULLET.sub("", line).strip()]


def phrase(text: Any) -> str:
    """Free text set inside one of the letter's sentences (a name and job title, a date the caseworker
    typed): trimmed, on one line, without the full stop, comma or colon that would end the sentence
    early. Its letters are left as typed."""
    return _LOOSE_END.sub("", " ".join(_clean(text).split()))


def lines(text: Any) -> Markup:
    """Text whose lines matter (a postal address): each line escaped, trimmed, blank ones dropped, joined
    with line breaks."""
    kept = [line.strip() for line in _clean(text).split("\n") if line.strip()]
    return Markup("<br>").join(escape(line) for line in kept)


def long_date(value: Any) -> str:
    """A date as a letter writes it, "15 January 2027": the London date of an instant (a datetime or an
    ISO 8601 string with its offset), or a date as given. Text that is not a date is returned as it is."""
    if value is None or value == "":
        return ""
    try:
        day = london_date(value) if isinstance(value, (datetime, date, str)) else None
    except ValueError:
        day = None
    if day is None:
        return str(value)
    return f"{day.day} {day.strftime('%B %Y')}"


def working_days_after(when: Any, n: int, nation: str = "ENG") -> datetime | None:
    """The rule's "within n working days of `when`" for a letter (the landlord's nation), or None when
    `when` is not a date (a field not yet filled in)."""
    try:
        return calendar_for(nation).working_days_after(when, n)
    except (TypeError, ValueError):
        return None


def days_after(when: Any, n: int) -> datetime | None:
    """The rule's "within n days of `when`" for a letter, or None when `when` is not a date."""
    try:
        return calendar_for().days_after(when, n)
    except (TypeError, ValueError):
        return None


def today() -> date:
    """The London date a letter is drafted on (the run's own clock in a simulation)."""
    return london_date(clock.now())


def letter_environment(folder: Path | None) -> SandboxedEnvironment:
    """Letter templates from a landlord's `letters/` folder first, then the product's shared ones."""
    folders = [str(SHARED_LETTERS)] if folder is None else [str(folder), str(SHARED_LETTERS)]
    environment = SandboxedEnvironment(loader=FileSystemLoader(folders), autoescape=True)
    environment.filters.update(sentence=sentence, points=points, phrase=phrase, lines=lines, long_date=long_date)
    environment.globals.update(working_days_after=working_days_after, days_after=days_after, today=today)
    return environment


def _clean(text: Any) -> str:
    if text is None:
        return ""
    return str(text).replace("\r\n", "\n").replace("\r", "\n").strip()


def _whole(line: str, introduces: bool = False) -> str:
    """One line of free text as a whole sentence (see `sentence`)."""
    bullet = _BULLET.match(line)
    start = bullet.end() if bullet else 0
    if start < len(line) and line[start].islower():
        line = line[:start] + line[start].upper() + line[start + 1:]
    if introduces or line.rstrip(_CLOSERS).endswith(_ENDS):
        return line
    return _LOOSE_END.sub("", line) + "."
