"""Deploying diagrams: each deploy of changed content is a new version; running
complaints stay on the version they started with."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit, clock
from .definitions import DiagramError, Problem, compile_definition, content_hash
from .errors import InvalidInput, NotFound
from .forms import Form, FormDefinitionError, load_forms
from .models import DefinitionVersion


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
           note: str | None = None) -> Deployed:
    """Check and store a diagram as the landlord's newest version (unless it is unchanged)."""
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
    )
    session.add(version)
    session.flush()
    audit.record(session, None, "definition_deployed", actor, landlord=landlord,
                 process_id=version.process_id, version=version.version, content_hash=digest)
    return Deployed(version, created=True)


def latest_version(session: Session, landlord: str, process_id: str | None = None) -> DefinitionVersion | None:
    query = select(DefinitionVersion).where(DefinitionVersion.landlord == landlord)
    if process_id is not None:
        query = query.where(DefinitionVersion.process_id == process_id)
    return session.scalars(query.order_by(DefinitionVersion.id.desc()).limit(1)).first()


def current_version(session: Session, landlord: str) -> DefinitionVersion:
    version = latest_version(session, landlord)
    if version is None:
        raise NotFound(f"no process is deployed for landlord {landlord!r}: run 'workflow-app deploy'")
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
