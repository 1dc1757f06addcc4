"""Letter templates as a landlord's folder gives them: Jinja in a sandbox, the landlord's `letters/`
first, then the product's shared layout, macros and default letter (`shared_letters/`).

The engine renders letters through it, and the Code check reads the same templates before a
diagram is deployed, so both see exactly what a resident would be sent.
"""
from __future__ import annotations

from pathlib import Path

from jinja2 import FileSystemLoader
from jinja2.sandbox import SandboxedEnvironment

SHARED_LETTERS = Path(__file__).parent / "shared_letters"
"""The product's letter layout, macros and default letter, for any landlord folder that has none of its own."""


def letter_environment(folder: Path | None) -> SandboxedEnvironment:
    """Letter templates from a landlord's `letters/` folder first, then the product's shared ones."""
    folders = [str(SHARED_LETTERS)] if folder is None else [str(folder), str(SHARED_LETTERS)]
    return SandboxedEnvironment(loader=FileSystemLoader(folders), autoescape=True)
