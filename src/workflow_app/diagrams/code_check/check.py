"""The check's entry points: a diagram (with its forms, landlord and letters), or a diagram file."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from workflow_app.diagrams.code_check.cache import cache, check_key
from workflow_app.diagrams.code_check.findings import ENGINE, ERROR, WARNING, Finding, read_for_check, sort_findings
from workflow_app.diagrams.code_check.letters import Letters
from workflow_app.diagrams.code_check.process_graph import ProcessGraph
from workflow_app.diagrams.code_check.refusals import exclusion_wording_findings
from workflow_app.diagrams.code_check.stages import names_findings, stages_findings
from workflow_app.diagrams.code_check.timers import sweep_instants
from workflow_app.diagrams.code_check.walk import MAX_STEPS, CodeCheck
from workflow_app.diagrams.expressions import RestrictedEnvironment
from workflow_app.diagrams.forms import Form
from workflow_app.diagrams.graph import DiagramError, read_graph, read_xml
from workflow_app.rules.calendar import calendar_for
from workflow_app.rules.hazards import is_hazard_process
from workflow_app.rules.regime import HOUSING_OMBUDSMAN


def check_code(xml: bytes | str, forms: Mapping[str, Form] | None = None, *, landlord: Any | None = None,
               letters_dir: Path | None = None, sweep_start: date | None = None,
               sweep_days: int = 400) -> list[Finding]:
    """Every finding on a diagram: the engine's problems (provision "engine") and the Code's.

    `landlord` is the landlord's settings (`landlords.Landlord`: its nation's bank holidays,
    the Ombudsman's details its letters must give, and the regime whose limits apply);
    `letters_dir` holds its letter templates. Without them the check uses England's bank
    holidays and the Housing Ombudsman's Code, and looks for the Ombudsman by name in letters.

    The findings are kept by the content they depend on (`cache`): checking the same diagram,
    forms, landlord settings and letters again returns them without walking the paths again.
    """
    forms = dict(forms or {})
    if is_hazard_diagram(xml):
        from workflow_app.diagrams.hazard_check import check_hazard
        return check_hazard(xml, forms, landlord=landlord, sweep_start=sweep_start, sweep_days=sweep_days)
    instants = sweep_instants(sweep_start, sweep_days)
    key = check_key(xml, forms, landlord, letters_dir, instants)
    return cache.get(key, lambda: run_check(xml, forms, landlord=landlord, letters_dir=letters_dir,
                                            instants=instants))


def is_hazard_diagram(xml: bytes | str) -> bool:
    """A landlord's hazard process (Awaab's Law) is held to the regulations, not to the Code."""
    try:
        return is_hazard_process(read_graph(read_xml(xml)).main_process)
    except DiagramError:
        return False


def run_check(xml: bytes | str, forms: Mapping[str, Form], *, landlord: Any | None, letters_dir: Path | None,
              instants: list[datetime]) -> list[Finding]:
    """The check itself, every time: `check_code` without the cache."""
    forms = dict(forms or {})
    reading = read_for_check(xml, forms)
    diagram, elements, findings = reading.diagram, reading.elements, list(reading.engine_findings)
    if diagram is None:
        return findings
    regime = getattr(landlord, "regime", None) or HOUSING_OMBUDSMAN
    findings += names_findings(diagram, elements, forms, regime)
    graph = ProcessGraph(diagram, elements, forms, regime.limits)
    if graph.main_process is None or not graph.starts.get(graph.main_process):
        findings.append(Finding(ENGINE, ERROR, None, "the diagram needs exactly one executable process "
                                                     "with a start event"))
        return sort_findings(findings)
    findings += stages_findings(elements, regime) + exclusion_wording_findings(graph, regime)
    calendar = calendar_for(getattr(landlord, "nation", "ENG"))
    check = CodeCheck(graph, Letters(letters_dir, landlord), calendar,
                      RestrictedEnvironment(calendar.expression_functions()),
                      instants, getattr(landlord, "slug", "landlord"), regime)
    check.run()
    if check.cut_short:
        check.add(ENGINE, WARNING, None, f"the diagram has too many paths to follow them all (more than "
                                         f"{MAX_STEPS:,} steps); the Code check read only part of it")
    return sort_findings(findings + check.findings)


def check_file(path: Path, forms: Mapping[str, Form] | None = None, *, sweep_start: date | None = None,
               sweep_days: int = 400) -> list[Finding]:
    """Check a diagram file, with its landlord's settings and letters when it sits in a landlord's folder."""
    from workflow_app.rules.landlords import SettingsError, load_landlord
    landlord, findings = None, []
    folder = path.parent
    if (folder / "landlord.toml").is_file():
        try:
            landlord = load_landlord(folder)
        except SettingsError as error:
            findings.append(Finding(ENGINE, ERROR, None, str(error)))
    letters = folder / "letters"
    return sort_findings(findings + check_code(
        path.read_bytes(), forms, landlord=landlord, letters_dir=letters if letters.is_dir() else None,
        sweep_start=sweep_start, sweep_days=sweep_days))
