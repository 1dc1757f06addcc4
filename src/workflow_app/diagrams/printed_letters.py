"""Letters as they are posted: a sent letter set on A4 by the shared print stylesheet, as a PDF.

Letters are posted as well as emailed, so each one sent is kept on its complaint as a PDF
(`casework.letters` makes it in the transaction that sends the letter). The page comes from
`shared_letters/print.css` (or a landlord's own `letters/print.css`): A4, the recipient where a
window envelope shows it, the landlord's address block. Its sizes are relative to the letter's
print size: `STANDARD_PT`, or large print when the complaint's reasonable adjustments ask for it
(`print_size`: `LARGE_PRINT_PT`, or the size the adjustment records).

Printing reads nothing from outside: the fetcher refuses every URL but an inline `data:` one (no
network, no file on the server), and the fonts are the machine's own (Liberation Sans, else DejaVu
Sans: Debian's fonts-liberation and fonts-dejavu-core), so a letter prints the same each time.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from markupsafe import escape

from workflow_app.diagrams.letter_templates import SHARED_LETTERS

STANDARD_PT = 12
"""A letter's print size when no adjustment asks for another."""
LARGE_PRINT_PT = 16
"""Large print when the adjustment names no size (RNIB's clear print guidance: 16 to 18 point)."""
LARGEST_PT = 48
"""The largest size an adjustment may record; a larger number is taken for something else."""

_LARGE_PRINT = re.compile(r"\b(?:large|larger|big|bigger)[\s-]*(?:print|font|text|type)\b")
_SIZE = re.compile(r"\b(\d{1,2}(?:\.\d)?)\s*-?\s*(?:pt|point|points)\b")
_NOT = re.compile(r"\b(?:no|not|without|doesn['’]t|does not|don['’]t|do not)\b(?:\W+\w+){0,2}\W*$")


def print_size(*adjustments: str | None) -> int:
    """The print size a complaint's letters need, from its reasonable adjustments as recorded (free text):
    a size in points ("18 point", "20pt") larger than the standard, else `LARGE_PRINT_PT` when they ask for
    large print ("large print letters", "larger font"), else `STANDARD_PT`. Of several records, the largest.
    A request that is negated ("no large print") does not count."""
    size = STANDARD_PT
    for recorded in adjustments:
        text = (recorded or "").lower()
        for match in _LARGE_PRINT.finditer(text):
            if not _NOT.search(text[:match.start()]):
                size = max(size, LARGE_PRINT_PT)
        for match in _SIZE.finditer(text):
            points = round(float(match.group(1)))
            if STANDARD_PT < points <= LARGEST_PT and not _NOT.search(text[:match.start()]):
                size = max(size, points)
    return size


@dataclass(frozen=True)
class PrintedLetter:
    content: bytes
    pages: int
    size_pt: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def print_letter(body_html: str, *, title: str, reference: str, landlord: str, sent_at: datetime,
                 size_pt: int = STANDARD_PT, folder: Path | None = None) -> PrintedLetter:
    """The letter's (already cleaned) HTML as a PDF at `size_pt`, with the landlord's `folder` (its
    `letters/`) giving its own print.css if it has one."""
    from weasyprint import CSS, HTML  # imported when first printing: it loads Pango and fonts

    document = HTML(string=_document(body_html, title, landlord, sent_at), base_url=None,
                    url_fetcher=_fetcher()).render(stylesheets=[
                        CSS(string=_stylesheet(folder), url_fetcher=_fetcher()),
                        CSS(string=f":root {{ font-size: {size_pt}pt; }}\n"
                                   f"@page {{ @bottom-left {{ content: {_css_string(reference)}; "
                                   f"font-size: 0.75rem; color: #333; }} }}")])
    return PrintedLetter(document.write_pdf(), len(document.pages), size_pt)


def _document(body_html: str, title: str, landlord: str, sent_at: datetime) -> str:
    return (f'<!doctype html><html lang="en-GB"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="author" content="{escape(landlord)}">'
            f'<meta name="dcterms.created" content="{sent_at.isoformat(timespec="seconds")}">'
            f'</head><body><div class="letter">{body_html}</div></body></html>')


def _stylesheet(folder: Path | None) -> str:
    own = folder / "print.css" if folder is not None else None
    return (own if own is not None and own.is_file() else SHARED_LETTERS / "print.css").read_text("utf-8")


def _css_string(text: str) -> str:
    return '"' + re.sub(r'["\\\n]', lambda m: "\\" + format(ord(m.group()), "x") + " ", text) + '"'


def _fetcher():
    """WeasyPrint's fetcher, allowed only inline `data:` URLs: a letter never reaches the network or a file."""
    from weasyprint import URLFetcher
    return URLFetcher(allowed_protocols={"data"}, allow_redirects=False, timeout=1)
