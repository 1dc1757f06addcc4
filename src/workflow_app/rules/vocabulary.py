"""The deadline vocabulary and the stages: one home for what a timer's key means.

Every timer in a diagram carries one of these keys (the brief's "Deadline keys"), so
that the engine, the Code check, the inbox and the reports agree on what a timer is.

A key is either a *duty* of the landlord (acknowledge, respond, hold the panel...):
when its timer fires the landlord has missed it. Or it is a *window* given to the
resident or to the case (time to clarify, to reply, to escalate; the time a closed
complaint waits before its closing letter): when its timer fires the window has simply
elapsed and nobody missed anything.
"""
from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """Where a task or deadline sits in the Code's two-stage process."""

    PRE = "pre"    # before a complaint is accepted
    ONE = "1"
    TWO = "2"
    POST = "post"  # after the final response
    HAZARD = "hazard"  # a hazard case beside a complaint (Awaab's Law): outside the Code's stages

    @property
    def order(self) -> int:
        return _STAGE_ORDER[self]


_STAGE_ORDER = {Stage.PRE: 0, Stage.ONE: 1, Stage.TWO: 2, Stage.POST: 3, Stage.HAZARD: 4}
STAGES: tuple[str, ...] = tuple(s.value for s in Stage)

STAGE_NAMES: dict[str, str] = {
    Stage.PRE.value: "Before stage 1", Stage.ONE.value: "Stage 1", Stage.TWO.value: "Stage 2",
    Stage.POST.value: "After the final response", Stage.HAZARD.value: "Hazard (Awaab's Law)",
}
"""What people read for each stage."""

class DeadlineKey(StrEnum):
    """A timer's deadline key. Members equal their strings, so a key read from a diagram or the
    database compares equal to its member."""

    # the landlord's duties (but for the closure follow-up)
    STAGE1_ACKNOWLEDGE = "stage1_acknowledge"
    STAGE1_RESPONSE = "stage1_response"
    STAGE2_ACKNOWLEDGE = "stage2_acknowledge"
    STAGE2_RESPONSE = "stage2_response"
    COLLEAGUE_RESPONSE = "colleague_response"
    PANEL_HEARING = "panel_hearing"
    PANEL_OUTCOME = "panel_outcome"
    CLOSURE_FOLLOWUP = "closure_followup"   # a window, below: the wait before the closing letter
    UPDATE_INTERVAL = "update_interval"
    RESTRICTION_REVIEW = "restriction_review"
    OMBUDSMAN_EVIDENCE = "ombudsman_evidence"
    # windows given to the resident or the case
    CLARIFICATION = "clarification"
    NO_CONTACT_CLOSURE = "no_contact_closure"
    ESCALATION_WINDOW = "escalation_window"
    # Awaab's Law: the landlord's duties on a hazard case (timescales in rules/hazard_laws/awaabs_law.toml)
    HAZARD_TRIAGE = "hazard_triage"
    HAZARD_EMERGENCY_MAKE_SAFE = "hazard_emergency_make_safe"
    HAZARD_EMERGENCY_ACCOMMODATION = "hazard_emergency_accommodation"
    HAZARD_INVESTIGATE = "hazard_investigate"
    HAZARD_WRITTEN_SUMMARY = "hazard_written_summary"
    HAZARD_SAFETY_WORK = "hazard_safety_work"
    HAZARD_SIGNIFICANT_ACCOMMODATION = "hazard_significant_accommodation"
    HAZARD_FURTHER_WORK_BEGIN = "hazard_further_work_begin"
    HAZARD_FURTHER_WORK_START = "hazard_further_work_start"


K = DeadlineKey

WINDOW_KEYS: frozenset[str] = frozenset({K.CLARIFICATION, K.NO_CONTACT_CLOSURE, K.ESCALATION_WINDOW,
                                         K.CLOSURE_FOLLOWUP})
"""Keys whose timer firing means the time has come, not that anyone missed it: the closing letter goes when
the closure follow-up elapses (it is sent when its timer fires, so it is never late)."""

DUTY_KEYS: frozenset[str] = frozenset(DeadlineKey) - WINDOW_KEYS

DEADLINE_KEYS: frozenset[str] = frozenset(DeadlineKey)

DEADLINE_NAMES: dict[str, str] = {
    K.STAGE1_ACKNOWLEDGE: "Acknowledge (stage 1)", K.STAGE1_RESPONSE: "Respond (stage 1)",
    K.STAGE2_ACKNOWLEDGE: "Acknowledge (stage 2)", K.STAGE2_RESPONSE: "Final response (stage 2)",
    K.CLARIFICATION: "Clarification window", K.NO_CONTACT_CLOSURE: "No contact closure",
    K.ESCALATION_WINDOW: "Escalation window", K.COLLEAGUE_RESPONSE: "Colleague complaint response",
    K.PANEL_HEARING: "Panel hearing", K.PANEL_OUTCOME: "Panel outcome", K.CLOSURE_FOLLOWUP: "Closure follow-up",
    K.UPDATE_INTERVAL: "Agreed update", K.RESTRICTION_REVIEW: "Restriction review",
    K.OMBUDSMAN_EVIDENCE: "Evidence to the Ombudsman",
    K.HAZARD_TRIAGE: "Hazard triage (24 hours)", K.HAZARD_EMERGENCY_MAKE_SAFE: "Emergency hazard made safe (24 hours)",
    K.HAZARD_EMERGENCY_ACCOMMODATION: "Alternative accommodation (emergency)",
    K.HAZARD_INVESTIGATE: "Hazard investigated", K.HAZARD_WRITTEN_SUMMARY: "Written summary to the tenant",
    K.HAZARD_SAFETY_WORK: "Safety work", K.HAZARD_SIGNIFICANT_ACCOMMODATION: "Alternative accommodation",
    K.HAZARD_FURTHER_WORK_BEGIN: "Further work begun", K.HAZARD_FURTHER_WORK_START: "Further work started",
}
"""What people read for each deadline key (the inbox, the case page, the reports)."""
assert DEADLINE_NAMES.keys() == DEADLINE_KEYS

ACKNOWLEDGE_KEYS: dict[str, DeadlineKey] = {Stage.ONE.value: K.STAGE1_ACKNOWLEDGE,
                                            Stage.TWO.value: K.STAGE2_ACKNOWLEDGE}
RESPONSE_KEYS: dict[str, DeadlineKey] = {Stage.ONE.value: K.STAGE1_RESPONSE, Stage.TWO.value: K.STAGE2_RESPONSE}
"""The Code's two duties at each of its stages, by stage."""
STAGE2_KEYS: tuple[DeadlineKey, ...] = (ACKNOWLEDGE_KEYS[Stage.TWO.value], RESPONSE_KEYS[Stage.TWO.value])


HAZARD_KEYS: frozenset[str] = frozenset(k for k in DeadlineKey if k.startswith("hazard_"))
"""Awaab's Law's clocks on a hazard case: duties, beside the Code's."""


def deadline_name(key: str) -> str:
    return DEADLINE_NAMES.get(key, key)


def stage_name(stage: str) -> str:
    return STAGE_NAMES.get(stage, stage)

# Keys that come round again: each time one is armed afresh it is a new deadline (the last
# update was sent, the next is due), never an extension of the previous one.
RECURRING_KEYS: frozenset[str] = frozenset({K.UPDATE_INTERVAL, K.RESTRICTION_REVIEW})


# What a user task works towards when nothing attached to it (or to a subprocess around it) keeps a
# deadline and its diagram names none (the task's `works_towards` property): its stage's Code duties.
# Before acknowledgement that is the acknowledgement, whatever the task (accepting, first contact,
# clarifying, registering); a stage 1 or 2 task otherwise works towards its stage's response.
STAGE_DUTIES: dict[str, tuple[str, ...]] = {
    Stage.PRE.value: (K.STAGE1_ACKNOWLEDGE,),
    Stage.ONE.value: (K.STAGE1_ACKNOWLEDGE, K.STAGE1_RESPONSE, K.COLLEAGUE_RESPONSE),
    Stage.TWO.value: (K.STAGE2_ACKNOWLEDGE, K.STAGE2_RESPONSE),
    Stage.POST.value: (),
    Stage.HAZARD.value: (),
}

WORKS_TOWARDS_NONE = "none"
"""`works_towards` = none: a task beside the complaint's clocks (a decision on behaviour) shows none."""


def is_duty(key: str) -> bool:
    """True when a timer with this key firing means the landlord missed a deadline."""
    return key in DUTY_KEYS


def is_recurring(key: str) -> bool:
    return key in RECURRING_KEYS


def stage_order(stage: str) -> int:
    return Stage(stage).order


CHANNEL_NAMES: dict[str, str] = {
    "phone": "Phone", "email": "Email", "letter": "Letter", "in_person": "In person",
    "web": "Web form", "social_media": "Social media", "petition": "Petition",
}
"""How a complaint reached the landlord, and what people read for each."""
CHANNELS: tuple[str, ...] = tuple(CHANNEL_NAMES)

CATEGORY_NAMES: dict[str, str] = {
    "property_condition": "Property condition (repairs, damp and mould)", "complaint_handling": "Complaint handling",
    "anti_social_behaviour": "Anti-social behaviour", "health_and_safety": "Health and safety / building safety",
    "estate_management": "Estate management", "charges": "Charges (rent, service charges)",
    "staff_conduct": "Staff conduct", "tenancy_and_moving": "Tenancy and moving", "other": "Other",
}
"""What a complaint is about (also the themes of the lessons-learnt log), and what people read for each."""
CATEGORIES: tuple[str, ...] = tuple(CATEGORY_NAMES)
