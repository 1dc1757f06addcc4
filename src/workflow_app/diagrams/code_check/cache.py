"""The Code check's findings kept by what they depend on, so an unchanged diagram is checked once.

Deploying, the analysts' "Check this draft" and the self-assessment all ask for the same
findings on the same diagram; the walk over its paths takes seconds. The key is a hash of
everything the findings depend on: the diagram's bytes, the forms (their JSON and what was
read from it), the landlord's settings (its nation, regime, Ombudsman details...), the
content of its letter templates and the receipt dates swept. The cache lives in the process
(so a new release of the check, which restarts it, starts empty), holds a bounded number of
results (least recently used dropped first) and may be used from several threads.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from threading import Lock
from typing import Any

from workflow_app.diagrams.code_check.findings import Finding


def _folder_digest(folder: Path | None) -> str:
    if folder is None or not folder.is_dir():
        return ""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def check_key(xml: bytes | str, forms: Mapping[str, Any], landlord: Any | None, letters_dir: Path | None,
              instants: Sequence[datetime]) -> str | None:
    """The hash a check's findings are kept under, or None when its inputs cannot be told apart
    reliably (a landlord that is not a settings record), so the check is not kept."""
    if landlord is not None and not dataclasses.is_dataclass(landlord):
        return None
    content = xml.encode("utf-8") if isinstance(xml, str) else bytes(xml)
    digest = hashlib.sha256()
    for part in (
        hashlib.sha256(content).hexdigest(),
        json.dumps([[key, getattr(form, "id", None), repr(getattr(form, "fields", form)),
                     getattr(form, "source", None)] for key, form in sorted(forms.items(), key=lambda item: item[0])],
                   sort_keys=True, default=str),
        repr(landlord),
        str(letters_dir), _folder_digest(letters_dir),
        instants[0].isoformat() if instants else "", instants[-1].isoformat() if instants else "", str(len(instants)),
    ):
        digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()


class CheckCache:
    """Findings by check key: a bounded, thread-safe LRU in this process."""

    def __init__(self, size: int = 128) -> None:
        self._size = size
        self._items: OrderedDict[str, tuple[Finding, ...]] = OrderedDict()
        self._lock = Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str | None, check: Callable[[], list[Finding]]) -> list[Finding]:
        if key is None:
            return check()
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return list(self._items[key])
            self.misses += 1
        findings = check()
        with self._lock:
            self._items[key] = tuple(findings)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return list(findings)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0


cache = CheckCache()
