"""Awaab's Law: the hazards in scope and each hazard step's timescale, read from data.

The Hazards in Social Housing (Prescribed Requirements) (England) Regulations 2025 (SI 2025/1042) put
clocks on hazards next to the Complaint Handling Code's. Which hazards are in scope, from when, and
every timescale live in `hazard_laws/awaabs_law.toml` with their sources: a change in the law is a
change of data. The hazard diagrams' timers, the hazard check and the reports all read this module.

Units: `hours` are clock hours, elapsed time from the instant (24 hours across the last Sunday of March
is 24 elapsed hours, so the London wall clock shows one hour more); `working_days` and `weeks` follow
the one working-day rule (`rules/calendar.py`).
"""
from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from workflow_app.rules.calendar import WorkingCalendar, calendar_for, hours_after

LAWS = Path(__file__).parent / "hazard_laws"
AWAABS_LAW = "awaabs_law"

HAZARD_PROCESS_SUFFIX = "_hazard"
"""A landlord's hazard process is the executable process whose id ends so (`great_places_hazard`, drawn in
`processes/<landlord>/hazard.bpmn`); every other process of the landlord is its complaint process."""

LEVELS: tuple[str, ...] = ("emergency", "significant", "none")
"""What triage decides: an emergency hazard, a significant one, or none the regulations cover."""
LEVEL_NAMES: dict[str, str] = {"emergency": "Emergency hazard", "significant": "Significant hazard",
                               "none": "No hazard under the regulations"}

UNITS: tuple[str, ...] = ("hours", "working_days", "weeks")
FROM_WORDS: dict[str, str] = {"received_at": "the landlord becoming aware",
                              "investigated_at": "the investigation concluding"}
"""What people read for the case dates the timescales count from."""

HAZARD_CATEGORY = "property_condition"
"""The complaint category that covers damp and mould (`vocabulary.CATEGORY_NAMES`): logging a complaint in
it offers to start a hazard case."""


def is_hazard_process(process_id: str | None) -> bool:
    return bool(process_id) and process_id.endswith(HAZARD_PROCESS_SUFFIX)


@dataclass(frozen=True)
class Hazard:
    key: str
    name: str
    levels: tuple[str, ...]
    effective: date | None        # None: announced, not yet in scope
    announced: str | None
    source: str

    def in_scope(self, on: date) -> bool:
        return self.effective is not None and self.effective <= on


@dataclass(frozen=True)
class Timescale:
    """One step's time limit: `within` `unit`s of the case date `counts_from`."""

    key: str
    level: str
    step: str
    within: int
    unit: str
    counts_from: str
    regulation: str
    source: str

    def due(self, start: datetime, calendar: WorkingCalendar) -> datetime:
        """The latest instant the step may be done by, counted from `start`."""
        if self.unit == "hours":
            return hours_after(start, self.within)
        if self.unit == "working_days":
            return calendar.working_days_after(start, self.within)
        return calendar.weeks_after(start, self.within)

    @property
    def in_words(self) -> str:
        unit = {"hours": "hours", "working_days": "working days", "weeks": "weeks"}[self.unit]
        start = FROM_WORDS.get(self.counts_from, self.counts_from.removesuffix("_at").replace("_", " "))
        return f"{self.within} {unit} of {start}"


@dataclass(frozen=True)
class HazardLaw:
    key: str
    title: str
    citation: str
    short_name: str
    text: str
    guidance: str
    in_force: date
    nation: str
    hazards: tuple[Hazard, ...]
    timescales: Mapping[str, Timescale]

    def in_scope(self, on: date) -> tuple[Hazard, ...]:
        """The hazards the regulations cover on a day."""
        return tuple(h for h in self.hazards if h.in_scope(on))

    def hazard(self, key: str) -> Hazard:
        return next(h for h in self.hazards if h.key == key)

    def due(self, key: str, case: Mapping[str, Any]) -> datetime:
        """When step `key` is due on a case, from the case date its timescale counts from."""
        timescale = self.timescales[key]
        return timescale.due(case[timescale.counts_from], calendar_for(self.nation))


@cache
def hazard_law(key: str = AWAABS_LAW) -> HazardLaw:
    """The regulations as the data file gives them, read once."""
    with (LAWS / f"{key}.toml").open("rb") as file:
        data = tomllib.load(file)
    regulations = data["regulations"]
    hazards = tuple(Hazard(key=h["key"], name=h["name"], levels=tuple(h["levels"]), effective=h.get("from"),
                           announced=h.get("announced"), source=h["source"]) for h in data["hazards"])
    timescales: dict[str, Timescale] = {}
    for step_key, step in data["steps"].items():
        if step["unit"] not in UNITS:
            raise ValueError(f"{key}: step {step_key} has unit {step['unit']!r}, not one of {', '.join(UNITS)}")
        timescales[step_key] = Timescale(key=step_key, level=step["level"], step=step["step"],
                                         within=int(step["within"]), unit=step["unit"], counts_from=step["from"],
                                         regulation=step["regulation"], source=step["source"])
    return HazardLaw(key=key, title=regulations["title"], citation=regulations["citation"],
                     short_name=regulations["short_name"], text=regulations["text"],
                     guidance=regulations["guidance"], in_force=regulations["in_force"],
                     nation=regulations["nation"], hazards=hazards, timescales=MappingProxyType(timescales))
