"""Uploaded diagrams not yet deployed: kept as files under the instance folder, one per content.

A draft is named by its content's hash, so uploading the same diagram twice gives the same
draft, every web process sees it, and a name from a URL can only ever be 32 hex digits.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from workflow_app.diagrams.definitions import MAX_DIAGRAM_BYTES, content_hash
from workflow_app.rules import clock

DRAFT_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Draft:
    id: str
    landlord: str
    xml: str
    filename: str
    uploaded_by: str
    uploaded_at: datetime


class Drafts:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def save(self, landlord: str, content: bytes, filename: str, user: str) -> Draft:
        if len(content) > MAX_DIAGRAM_BYTES:
            raise ValueError(f"the file is larger than {MAX_DIAGRAM_BYTES // 1024 // 1024} MB")
        try:
            xml = content.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("the file is not UTF-8 text: upload the .bpmn file Camunda Modeler saves") from None
        draft_id = content_hash(content)[:32]
        folder = self.folder / landlord
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{draft_id}.bpmn").write_bytes(content)
        meta = {"filename": Path(filename or "diagram.bpmn").name[:200], "uploaded_by": user,
                "uploaded_at": clock.now().isoformat()}
        (folder / f"{draft_id}.json").write_text(json.dumps(meta))
        return Draft(draft_id, landlord, xml, meta["filename"], user, clock.now())

    def get(self, landlord: str, draft_id: str) -> Draft | None:
        if not DRAFT_ID.fullmatch(draft_id or ""):
            return None
        path = self.folder / landlord / f"{draft_id}.bpmn"
        if not path.is_file():
            return None
        try:
            meta = json.loads((self.folder / landlord / f"{draft_id}.json").read_text())
        except (OSError, ValueError):
            meta = {}
        return Draft(draft_id, landlord, path.read_text(encoding="utf-8"), meta.get("filename", "diagram.bpmn"),
                     meta.get("uploaded_by", ""),
                     datetime.fromisoformat(meta["uploaded_at"]) if meta.get("uploaded_at") else clock.now())
