"""The complaint-handling rules a landlord works under: a *regime*, named in its landlord.toml.

A regime is data (`regimes/<name>.toml`): the timescale of each Code deadline key with the
provision that sets it, what it counts from and its extension; the months within which a
complaint is accepted; the provisions on a complete response; the provision behind each of the
Code check's structural rules (`PROVISION_RULES`), a rule the regime does not name going
unchecked; the words that mark a letter the regime requires. The Code check, the reports and
the letter rule read the landlord's regime, so a landlord under another ombudsman's procedure
(the SPSO's, in Scotland) is a change of data.
"""
from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

from workflow_app.rules.vocabulary import ACKNOWLEDGE_KEYS, RESPONSE_KEYS

REGIMES = Path(__file__).parent / "regimes"
DEFAULT = "housing_ombudsman_2024"
PROVISION_RULES = (
    "acceptance_window",         # a complaint within the acceptance months is accepted
    "refusal_explained",         # a complaint not accepted: the reasons, and the ombudsman, in writing
    "no_extra_stage",            # no "stage 0" or "informal complaint" stage
    "no_third_stage",            # nothing after the stage 2 response that can change it
    "escalation_not_refused",    # escalation refused only for valid reasons, set out in writing
    "update_intervals",          # beyond the timescales by agreement: updates at intervals agreed with the resident
    "two_stages",                # a complaint not resolved at stage 1 can go to stage 2
    "no_reasons_to_escalate",    # the resident need not say why they escalate
    "stage2_by_someone_else",    # stage 2 is not considered by whoever considered stage 1
)
"""The Code check's structural rules, by name: a regime's `[provisions]` table names, for each
rule it has, the provision that sets it."""
"""The Housing Ombudsman's Code: every landlord in England, and the regime when a landlord names none."""


@dataclass(frozen=True)
class Limit:
    """A timescale for one deadline key, in working days from the regime's starting point."""

    provision: str
    working_days: int
    starts: str                           # what the regime counts from, in words
    stage: str
    extension_provision: str | None = None
    extension_days: int = 0
    ombudsman_provision: str | None = None


@dataclass(frozen=True)
class Regime:
    key: str
    name: str
    short_name: str
    cites_as: str                         # before a provision: "Code 6.2"
    limits: Mapping[str, Limit]
    acceptance_months: int
    completion_provisions: Mapping[str, str]
    required_letter_words: tuple[str, ...]
    provisions: Mapping[str, str]

    def provision(self, rule: str) -> str | None:
        """The provision that sets one of the check's structural rules (`PROVISION_RULES`), or
        None when the regime has no such rule, and the check does not apply it."""
        if rule not in PROVISION_RULES:
            raise KeyError(f"no structural rule {rule!r}; known: {', '.join(PROVISION_RULES)}")
        return self.provisions.get(rule)

    def response_timescale(self, stage: str) -> tuple[int, int]:
        """Working days to the stage's response, and the most an extension may add (0, 0 when none)."""
        limit = self.limits.get(RESPONSE_KEYS[stage])
        return (limit.working_days, limit.extension_days) if limit else (0, 0)

    @property
    def response_stages(self) -> tuple[str, ...]:
        return tuple(stage for stage, key in RESPONSE_KEYS.items() if key in self.limits)

    def acknowledgement(self, stage: str) -> Limit | None:
        return self.limits.get(ACKNOWLEDGE_KEYS[stage])

    def requires_letter(self, template: str) -> bool:
        """True when a letter drafted from this template is one the regime requires be sent."""
        name = template.lower()
        return any(word in name for word in self.required_letter_words)


@cache
def regime_named(key: str) -> Regime:
    path = REGIMES / f"{key}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in REGIMES.glob("*.toml")))
        raise ValueError(f"no complaint-handling regime {key!r}; known: {known}")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return Regime(
        key=key, name=data["name"], short_name=data["short_name"], cites_as=data["cites_as"],
        limits=MappingProxyType({k: Limit(**v) for k, v in data["limits"].items()}),
        acceptance_months=data["acceptance_months"],
        completion_provisions=MappingProxyType(dict(data["completion_provisions"])),
        required_letter_words=tuple(data["letters"]["required_words"]),
        provisions=MappingProxyType(_provisions(key, data.get("provisions", {}))),
    )


def _provisions(key: str, table: Mapping[str, str]) -> dict[str, str]:
    unknown = sorted(set(table) - set(PROVISION_RULES))
    if unknown:
        raise ValueError(f"regime {key!r} names provisions for unknown rules {', '.join(unknown)}; "
                         f"known: {', '.join(PROVISION_RULES)}")
    return {rule: str(table[rule]) for rule in PROVISION_RULES if rule in table}


def known_regimes() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in REGIMES.glob("*.toml")))


HOUSING_OMBUDSMAN = regime_named(DEFAULT)
