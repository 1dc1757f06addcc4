"""The landlord's letter templates, rendered with probe data to see what they say, and the letters
a path sends, held against what the Code requires of them (6.9, 6.19)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflow_app.diagrams.code_check.facts import EXPLORE_AT, Token
from workflow_app.diagrams.code_check.findings import ERROR
from workflow_app.diagrams.code_check.process_graph import Node
from workflow_app.diagrams.letter_templates import letter_environment


class _ProbeCase(dict):
    """Case data for rendering a letter template: every field exists and is remembered."""

    def __init__(self) -> None:
        super().__init__()
        self.accessed: set[str] = set()

    def __missing__(self, key: str) -> str:
        self.accessed.add(str(key))
        return f"[{key}]"

    def __contains__(self, key: object) -> bool:
        self.accessed.add(str(key))
        return True

    def get(self, key: str, default: Any = None) -> Any:
        return self[key]


class _ProbeComplaint:
    """A complaint for rendering a letter template before any complaint exists: the columns a letter
    reads, and None for any other (as a complaint row with that column empty)."""

    def __init__(self, **columns: Any) -> None:
        self.__dict__.update(columns)

    def __getattr__(self, name: str) -> None:
        if name.startswith("__"):
            raise AttributeError(name)
        return None


@dataclass
class LetterContent:
    """What a letter template says when rendered: its text and the case fields it uses."""

    template: str
    found: bool
    text: str = ""
    fields: frozenset[str] = frozenset()
    _mentioned: dict[tuple, bool] = field(default_factory=dict, compare=False, repr=False)

    def mentions(self, words: re.Pattern[str], fields: re.Pattern[str] | None = None) -> bool:
        """Whether the text says it, or a case field the letter uses is named for it (searched once
        per pattern: every path that closes a stage asks again)."""
        key = (words, fields)
        if key not in self._mentioned:
            self._mentioned[key] = bool(words.search(self.text)) or (
                fields is not None and any(fields.search(f) for f in self.fields))
        return self._mentioned[key]


class Letters:
    """The landlord's letter templates, each rendered once with probe data to see what it says."""

    def __init__(self, folder: Path | None, landlord: Any | None) -> None:
        self.folder = folder
        self.landlord = landlord
        self._seen: dict[str, LetterContent] = {}
        self._ombudsman: dict[str, bool] = {}
        self._environment: Any = None

    def content(self, template: str) -> LetterContent:
        if template not in self._seen:
            self._seen[template] = self._read(template)
        return self._seen[template]

    def _read(self, template: str) -> LetterContent:
        if self.folder is None or not (self.folder / f"{template}.html").is_file():
            return LetterContent(template, False)
        source = (self.folder / f"{template}.html").read_text(encoding="utf-8", errors="replace")
        case = _ProbeCase()
        complaint = _ProbeComplaint(reference="XX-2026-000001", landlord=getattr(self.landlord, "slug", "landlord"),
                              received_at=EXPLORE_AT, channel="email", category="other",
                              summary="[complaint summary]", resident={"name": "[resident]"},
                              stage="1", status="open")  # the letters read a complaint's columns
        if self._environment is None:     # one environment, so shared layouts are compiled once
            self._environment = letter_environment(self.folder)
        environment = self._environment
        try:
            html = environment.get_template(f"{template}.html").render(
                complaint=complaint, landlord=self.landlord, case=case)
            fields = set(case.accessed)
        except Exception:  # a template that cannot render on probe data is judged on its source
            html = source
            fields = set(re.findall(r"case(?:\.|\[['\"])(\w+)", source))
        if "complaint.summary" in source:
            fields.add("complaint_summary")
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
        return LetterContent(template, True, text, frozenset(fields))

    def has_ombudsman_details(self, template: str) -> bool:
        """Whether the letter gives the Ombudsman's contact details from the landlord's settings."""
        if template not in self._ombudsman:
            self._ombudsman[template] = self._gives_ombudsman_details(template)
        return self._ombudsman[template]

    def _gives_ombudsman_details(self, template: str) -> bool:
        content = self.content(template)
        if not content.found:
            return False
        ombudsman = getattr(self.landlord, "ombudsman", None) or {}
        details = [_normalise(ombudsman[k]) for k in ("phone", "email", "website") if ombudsman.get(k)]
        if details:
            flat = _normalise(content.text)
            return any(detail in flat for detail in details)
        return "ombudsman" in content.text.lower() and \
            bool(re.search(r"(\d{4} ?\d{3} ?\d{4}|www\.|@|https?://)", content.text))


def _normalise(text: str) -> str:
    return re.sub(r"[\s/]+", "", re.sub(r"^https?://", "", text.lower()))


COMPLETION_ITEMS: dict[str, tuple[str, re.Pattern[str], re.Pattern[str] | None]] = {
    "stage": ("the complaint stage", re.compile(r"\bstage\b", re.I), None),
    "definition": ("the complaint definition", re.compile(r"(your complaint (is|was) about|we understand|"
                                                          r"our understanding|you (told|asked|complained))", re.I),
                   re.compile(r"definition|understanding|complaint_summary", re.I)),
    "decision": ("the decision on the complaint", re.compile(r"\b(upheld|decision|outcome|decided)\b", re.I),
                 re.compile(r"decision|outcome|upheld", re.I)),
    "reasons": ("the reasons for the decision", re.compile(r"\b(reasons?|because)\b", re.I),
                re.compile(r"reason|explanation|finding", re.I)),
    "remedy": ("any remedy offered", re.compile(r"(remed|put (things|this|it|matters) right|compensation|"
                                                r"apolog|goodwill|redress)", re.I),
               re.compile(r"remed|compensat|redress|put_right|apolog|goodwill", re.I)),
    "actions": ("any outstanding actions", re.compile(r"(outstanding|\bactions?\b|what (we|will) (do|happen))", re.I),
                re.compile(r"outstanding|action", re.I)),
    "escalate": ("how to escalate to stage 2", re.compile(r"(escalat|stage (2|two)|next stage|review)", re.I),
                 re.compile(r"escalat", re.I)),
}
COMPLETION_WANTED = {"1": ("stage", "definition", "decision", "reasons", "remedy", "actions", "escalate"),
                     "2": ("stage", "definition", "decision", "reasons", "remedy", "actions", "ombudsman")}
OMBUDSMAN_SENT = frozenset({"<a letter with the Ombudsman's details>"})


class LetterRules:
    """Letters sent along a path, and the completion letters the Code requires."""

    def _letter(self, token: Token, node: Node) -> None:
        facts, template = token.facts, node.letter
        sent = OMBUDSMAN_SENT if self.letters.has_ombudsman_details(template) else frozenset({template})
        for deadline in facts.deadlines.values():
            if deadline.letters != OMBUDSMAN_SENT:
                deadline.letters = sent if sent == OMBUDSMAN_SENT else deadline.letters | sent
        facts.decision_letters |= {template}
        facts.pending = {s: (r, letters | {template}) for s, (r, letters) in facts.pending.items()}

    def _judge_completion(self, stage: str, responder: str, letters: frozenset[str]) -> None:
        """6.9 and 6.19: the letter closing a stage says everything the Code lists."""
        provision = self.regime.completion_provisions[stage]
        if not letters:
            self.add(provision, ERROR, responder,
                     f"no letter is sent when stage {stage} is completed after {self.name(responder)}: "
                     f"{self.regime.short_name} requires the outcome in writing", once=("completion-none", responder))
            return
        found = [t for t in sorted(letters) if self.letters.content(t).found]
        for template in sorted(letters - set(found)):
            self.add(provision, ERROR, responder,
                     f"the stage {stage} completion letter '{template}' is not in the landlord's letters folder",
                     once=("completion-missing", template))
        if not found:
            return
        best = min(found, key=lambda t: len(self._missing_items(t, stage)))
        missing = self._missing_items(best, stage)
        if missing:
            self.add(provision, ERROR, responder,
                     f"the stage {stage} completion letter '{best}' does not state {', '.join(missing)}",
                     once=("completion-content", best, stage))

    def _missing_items(self, template: str, stage: str) -> list[str]:
        content = self.letters.content(template)
        missing = []
        for item in COMPLETION_WANTED[stage]:
            if item == "ombudsman":
                if not self.letters.has_ombudsman_details(template):
                    missing.append("the Ombudsman's contact details and the right to refer the complaint")
                continue
            label, words, fields = COMPLETION_ITEMS[item]
            if not content.mentions(words, fields):
                missing.append(label)
        return missing
