"""Deploying diagrams: each deploy of changed content is a new version; running
complaints stay on the version they started with.

`deploy` stores a diagram that the engine can run. Analysts go through `preview` (the
engine's checks, the Complaint Handling Code check and what changes against the deployed
version) and `deploy_checked`, which refuses a diagram with Code errors unless the analyst
acknowledges them and says why; the findings and the reason are kept on the version.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import BindParameter, ScalarSelect, Select, bindparam, func, select
from sqlalchemy.orm import Session, defer

from workflow_app.casework import audit
from workflow_app.casework.models import Complaint, DefinitionVersion, WorkflowInstance
from workflow_app.diagrams.definitions import DiagramError, Problem, compile_definition, content_hash
from workflow_app.diagrams.forms import Form, FormDefinitionError, load_forms
from workflow_app.rules import clock
from workflow_app.rules.errors import InvalidInput, NotFound, WorkflowAppError
from workflow_app.rules.hazards import HAZARD_PROCESS_SUFFIX, is_hazard_process
from workflow_app.rules.statuses import ComplaintStatus


@dataclass(frozen=True)
class Deployed:
    version: DefinitionVersion
    created: bool


def read_forms(forms_dir: Path) -> dict[str, Form]:
    try:
        return load_forms(forms_dir) if forms_dir.is_dir() else {}
    except FormDefinitionError as error:
        raise DiagramError([Problem(None, f"form {error.form_id}: {error}")]) from None


def deploy(session: Session, landlord: str, xml: bytes | str, forms: Mapping[str, Form], actor: str,
           note: str | None = None, *, code_findings: list[dict[str, Any]] | None = None,
           acknowledgement: str | None = None) -> Deployed:
    """Check and store a diagram as the landlord's newest version (unless it is unchanged).

    `code_findings` are the Code check's findings to keep with the version, and
    `acknowledgement` the deployer's reason for deploying despite Code errors.
    """
    definition = compile_definition(xml, forms)
    used = {e.form_ref for e in definition.elements.values() if e.tag == "userTask" and e.form_ref}
    form_sources = {form_id: forms[form_id].source for form_id in sorted(used)}
    text = xml.decode("utf-8") if isinstance(xml, bytes) else xml
    digest = content_hash(text + json.dumps(form_sources, sort_keys=True))
    latest = latest_version(session, landlord, definition.process_id)
    if latest is not None and latest.content_hash == digest:
        return Deployed(latest, created=False)
    version = DefinitionVersion(
        landlord=landlord,
        process_id=definition.process_id,
        version=(latest.version + 1) if latest else 1,
        content_hash=digest,
        xml=text,
        forms=form_sources,
        deployed_by=actor,
        deployed_at=clock.now(),
        note=note,
        code_findings=list(code_findings) if code_findings is not None else None,
        acknowledgement=acknowledgement,
    )
    session.add(version)
    session.flush()
    errors = sum(1 for f in code_findings or [] if f.get("severity") == "error" and f.get("provision") != "engine")
    audit.record(session, None, "definition_deployed", actor, landlord=landlord,
                 process_id=version.process_id, version=version.version, content_hash=digest,
                 **({"note": note} if note else {}),
                 **({"code_errors": errors, "acknowledgement": acknowledgement} if code_findings is not None else {}))
    return Deployed(version, created=True)


# --- analysts: check, compare, deploy with acknowledgement --------------------------------------

class CodeErrorsNotAcknowledged(WorkflowAppError):
    """The diagram breaks the Complaint Handling Code and nobody has said why it should deploy."""

    status = 409

    def __init__(self, errors: list[Any]) -> None:
        self.errors = errors
        super().__init__(f"the diagram has {len(errors)} Complaint Handling Code error(s); deploying it needs "
                         "an acknowledgement with the reason")

    def body(self) -> dict:
        return {"error": str(self), "code_errors": [f.as_dict() for f in self.errors]}


@dataclass
class Preview:
    """What deploying a diagram would do: its findings, and what changes against the deployed version."""

    landlord: str
    findings: list[Any]
    current: DefinitionVersion | None = None
    diff: Any = None
    process_id: str | None = None
    unchanged: bool = False
    forms: dict[str, Any] = field(default_factory=dict)

    @property
    def engine_errors(self) -> list[Any]:
        return [f for f in self.findings if f.provision == "engine" and f.is_error]

    @property
    def code_errors(self) -> list[Any]:
        from workflow_app.diagrams.code_check import code_errors
        return code_errors(self.findings)

    @property
    def deployable(self) -> bool:
        return not self.engine_errors


def preview(session: Session, landlord: Any, xml: bytes | str, forms: Mapping[str, Form]) -> Preview:
    """Check a diagram for a landlord (engine and Code) and compare it with the deployed version."""
    from workflow_app.diagrams.code_check import check_code
    from workflow_app.diagrams.definitions import read_xml
    from workflow_app.diagrams.diff import diff_diagrams
    letters = Path(landlord.folder) / "letters"
    findings = check_code(xml, forms, landlord=landlord, letters_dir=letters if letters.is_dir() else None)
    result = Preview(landlord.slug, findings)
    if result.engine_errors:
        return result
    from workflow_app.diagrams.code_check import main_process
    result.process_id = main_process(read_xml(xml))
    result.current = latest_version(session, landlord.slug, result.process_id) \
        or (None if is_hazard_process(result.process_id) else latest_version(session, landlord.slug))
    used = _forms_used(xml)
    result.forms = {form_id: forms[form_id].source for form_id in sorted(used) if form_id in forms}
    if result.current is not None:
        result.diff = diff_diagrams(result.current.xml, xml, result.current.forms or {}, result.forms)
        text = xml.decode("utf-8") if isinstance(xml, bytes) else xml
        result.unchanged = result.current.content_hash == content_hash(
            text + json.dumps(result.forms, sort_keys=True))
    return result


def _forms_used(xml: bytes | str) -> set[str]:
    from workflow_app.diagrams.definitions import read_elements, read_xml
    return {e.form_ref for e in read_elements(read_xml(xml)).values() if e.tag == "userTask" and e.form_ref}


def deploy_checked(session: Session, landlord: Any, xml: bytes | str, forms: Mapping[str, Form], actor: str,
                   note: str | None = None, acknowledgement: str | None = None) -> Deployed:
    """Deploy after the engine's and the Code's checks: Code errors need an acknowledgement with a reason.

    The findings are stored on the version, with the acknowledgement when there were Code errors,
    so the self-assessment can show what was deployed knowingly short of the Code.
    """
    checked = preview(session, landlord, xml, forms)
    if checked.engine_errors:
        from workflow_app.diagrams.definitions import Problem as EngineProblem
        raise DiagramError([EngineProblem(f.element_id, f.message) for f in checked.engine_errors])
    reason = (acknowledgement or "").strip() or None
    if checked.code_errors and reason is None:
        raise CodeErrorsNotAcknowledged(checked.code_errors)
    return deploy(session, landlord.slug, xml, forms, actor, (note or "").strip() or None,
                  code_findings=[f.as_dict() for f in checked.findings],
                  acknowledgement=reason if checked.code_errors else None)


def versions(session: Session, landlord: str) -> list[dict[str, Any]]:
    """Every version of a landlord's processes, newest first: who deployed it, when, why, and how
    many complaints still run on it."""
    running = dict(session.execute(
        select(WorkflowInstance.definition_version_id, func.count(WorkflowInstance.id))
        .join(Complaint, Complaint.id == WorkflowInstance.complaint_id)
        .where(Complaint.landlord == landlord, Complaint.status != ComplaintStatus.CLOSED)
        .group_by(WorkflowInstance.definition_version_id)).all())
    rows = session.scalars(select(DefinitionVersion).where(DefinitionVersion.landlord == landlord)
                           .order_by(DefinitionVersion.id.desc()))
    latest_by_process: dict[str, int] = {}
    listed = []
    for version in rows:
        current = latest_by_process.setdefault(version.process_id, version.id) == version.id
        findings = version.code_findings or []
        listed.append({
            "id": version.id, "process_id": version.process_id, "version": version.version,
            "deployed_by": version.deployed_by, "deployed_at": version.deployed_at, "note": version.note,
            "acknowledgement": version.acknowledgement, "current": current,
            "checked": version.code_findings is not None,
            "code_errors": [f for f in findings if f.get("severity") == "error" and f.get("provision") != "engine"],
            "code_warnings": [f for f in findings if f.get("severity") == "warning"],
            "running": running.get(version.id, 0),
        })
    return listed


def acknowledged_code_errors(session: Session, landlord: str) -> list[DefinitionVersion]:
    """Versions deployed knowingly short of the Code (for the self-assessment), oldest first."""
    return list(session.scalars(select(DefinitionVersion).where(
        DefinitionVersion.landlord == landlord, DefinitionVersion.acknowledgement.is_not(None))
        .order_by(DefinitionVersion.id)))


def get_version(session: Session, landlord: str, version_id: int) -> DefinitionVersion:
    version = session.get(DefinitionVersion, version_id)
    if version is None or version.landlord != landlord:
        raise NotFound(f"no version {version_id} for landlord {landlord!r}")
    return version


def latest_version(session: Session, landlord: str, process_id: str | None = None) -> DefinitionVersion | None:
    """The newest version of one of a landlord's processes; without `process_id`, of its complaint process (any
    process but its hazard process)."""
    which = {"landlord": landlord} if process_id is None else {"landlord": landlord, "process_id": process_id}
    return session.scalars(_latest_query(process_id is not None), which).first()


_versions = DefinitionVersion.__table__
_COMPLAINT_PROCESS = _versions.c.process_id.not_like(f"%{HAZARD_PROCESS_SUFFIX}")
"""A landlord's complaint process: any of its processes but its hazard process."""


@cache
def _latest_query(by_process: bool) -> Select:
    """`latest_version`'s query for the landlord and process bound as `landlord` and `process_id`, built once."""
    query = select(DefinitionVersion).where(DefinitionVersion.landlord == bindparam("landlord"))
    query = query.where(DefinitionVersion.process_id == bindparam("process_id") if by_process else _COMPLAINT_PROCESS)
    return query.order_by(DefinitionVersion.id.desc()).limit(1)


def current_version(session: Session, landlord: str) -> DefinitionVersion:
    """The landlord's newest complaint process version, with its content (diagram and forms)."""
    version = latest_version(session, landlord)
    if version is None:
        raise NotFound(f"no process is deployed for landlord {landlord!r}: run 'workflow-app deploy'")
    return version


class VersionKey(NamedTuple):
    id: int
    version: int


def current_version_key(session: Session, landlord: str) -> VersionKey:
    """The id and number of the landlord's newest complaint process version, read without its content (diagram and
    forms, about 200 KB) or an object: logging a complaint needs no more (it finds the parsed definition by id and
    content hash, `Casework.definition`). Every complaint logged asks it, so its query is built once."""
    row = session.connection().execute(_CURRENT_KEY, {"landlord": landlord}).first()
    return version_key(landlord, *(row or (None, None)))


def version_key(landlord: str, version_id: int | None, number: int | None) -> VersionKey:
    """The key `current_version_key` reads, from its columns as another statement returned them
    (`current_version_columns`); NotFound when the landlord has none."""
    if version_id is None:
        raise NotFound(f"no process is deployed for landlord {landlord!r}: run 'workflow-app deploy'")
    return VersionKey(version_id, number)


def current_version_columns(landlord: BindParameter) -> tuple[ScalarSelect, ScalarSelect]:
    """The id and number of the newest complaint process version of the landlord bound as `landlord`, as two
    scalar subqueries: another statement returns them beside its own columns, and saves a read (logging a complaint
    draws its reference number in the statement that reads them)."""
    newest = _NEWEST.where(_versions.c.landlord == landlord)
    return (newest.with_only_columns(_versions.c.id).scalar_subquery(),
            newest.with_only_columns(_versions.c.version).scalar_subquery())


_NEWEST = select(_versions.c.id, _versions.c.version).where(_COMPLAINT_PROCESS) \
    .order_by(_versions.c.id.desc()).limit(1)
_CURRENT_KEY = _NEWEST.where(_versions.c.landlord == bindparam("landlord"))


def current_hazard_version(session: Session, landlord: str) -> DefinitionVersion:
    """The newest version of the landlord's hazard process (`processes/<landlord>/hazard.bpmn`), without its
    content (an action finds the parsed definition by id and content hash, as `current_version_key` says)."""
    query = select(DefinitionVersion).where(
        DefinitionVersion.landlord == landlord,
        DefinitionVersion.process_id.like(f"%{HAZARD_PROCESS_SUFFIX}")) \
        .options(defer(DefinitionVersion.xml), defer(DefinitionVersion.forms))
    version = session.scalars(query.order_by(DefinitionVersion.id.desc()).limit(1)).first()
    if version is None:
        raise NotFound(f"no hazard process is deployed for landlord {landlord!r}: deploy its hazard.bpmn")
    return version


def version_count(session: Session) -> int:
    return session.scalar(select(func.count(DefinitionVersion.id))) or 0


def diagram_files(path: Path) -> list[tuple[str, Path]]:
    """(landlord, file) for a processes folder, one landlord's folder, or one .bpmn file."""
    if path.is_file():
        return [(path.parent.name, path)]
    if (path / "landlord.toml").is_file():
        return [(path.name, f) for f in sorted(path.glob("*.bpmn"))]
    if path.is_dir():
        return [(f.parent.name, f) for f in sorted(path.glob("*/*.bpmn"))]
    raise InvalidInput({"path": f"{path} is not a diagram file or a processes folder"})
