"""The annual self-assessment against the Complaint Handling Code (2024), in the Code's own form.

The form is the Ombudsman's (seed 003): for each provision, its requirement, whether the
landlord complies (yes/no), the evidence and any commentary. The product pre-fills the
provisions it can evidence from the landlord's deployed diagram (its stages, timers,
forms, letters and the separation of stage 1 and stage 2), from the Code check's findings
on that diagram, and from the year's figures; the complaints officer completes the rest
and may change any answer. Saved answers are kept per landlord and reporting year.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from workflow_app.casework.complaints import transaction
from workflow_app.casework.models import (
    Complaint,
    DefinitionVersion,
    LessonLearnt,
    SelfAssessmentAnswer,
    SupportNeeds,
    User,
)
from workflow_app.rules import clock
from workflow_app.rules.errors import InvalidInput, NotFound
from workflow_app.rules.landlords import Landlord
from workflow_app.rules.vocabulary import DeadlineKey

SECTIONS = {
    "1": "Definition of a complaint",
    "2": "Exclusions",
    "3": "Accessibility and awareness",
    "4": "Complaint handling staff",
    "5": "The complaint handling process",
    "6": "Complaint stages",
    "7": "Putting things right",
    "8": "Self-assessment, reporting and compliance",
    "9": "Scrutiny and oversight: continuous learning and improvement",
}

PROVISIONS: tuple[tuple[str, str], ...] = (
    ('1.2', 'A complaint must be defined as:\n‘an expression of dissatisfaction, however made, about the standard of service, actions or lack of action by the landlord, its own staff, or those acting on its behalf, affecting a resident or group of residents.’'),
    ('1.3', 'A resident does not have to use the word ‘complaint’ for it to be treated as such.\nWhenever a resident expresses dissatisfaction landlords must give them the choice to make complaint. A complaint that is submitted via a third party or representative must be handled in line with the landlord’s complaints policy.'),
    ('1.4', 'Landlords must recognise the difference between a service request and a complaint. This must be set out in their complaints policy.\nA service request is a request from a resident to the landlord requiring action to be taken to put something right. Service requests are not complaints, but must be recorded, monitored and reviewed regularly.'),
    ('1.5', 'A complaint must be raised when the resident expresses dissatisfaction with the response to their service request, even if the handling of the service request remains ongoing.\nLandlords must not stop their efforts to address the service request if the resident complains.'),
    ('1.6', 'An expression of dissatisfaction with services made through a survey is not defined as a complaint, though wherever possible, the person completing the survey should be made aware of how they can pursue a complaint if they wish to.\nWhere landlords ask for wider feedback about their services, they also must provide details of how residents can complain.'),
    ('2.1', 'Landlords must accept a complaint unless there is a valid reason not to do so.\nIf landlords decide not to accept a complaint they must be able to evidence their reasoning. Each complaint must be considered on its own merits'),
    ('2.2', 'A complaints policy must set out the circumstances in which a matter will not be considered as a complaint or escalated, and these circumstances must be fair and reasonable to residents. Acceptable exclusions include:\n• The issue giving rise to the complaint occurred over twelve months ago.\n• Legal proceedings have started. This is defined as details of the claim, such as the Claim Form and Particulars of Claim, having been filed at court.\n• Matters that have previously been considered under the complaints policy.'),
    ('2.3', 'Landlords must accept complaints referred to them within 12 months of the issue occurring or the resident becoming aware of the issue, unless they are excluded on other grounds.\nLandlords must consider whether to apply discretion to accept complaints made outside this time limit where there are good reasons to do so.'),
    ('2.4', 'If a landlord decides not to accept a complaint, an explanation must be provided to the resident setting out the reasons why the matter is not suitable for the complaints process and the right to take that decision to the Ombudsman.\nIf the Ombudsman does not agree that the exclusion has been fairly applied, the Ombudsman may tell the landlord to take on the complaint.'),
    ('2.5', 'Landlords must not take a blanket approach to excluding complaints; they must consider the individual circumstances of each complaint.'),
    ('3.1', 'Landlords must make it easy for residents to complain by providing different channels through which they can make a complaint.\nLandlords must consider their duties under the Equality Act 2010 and anticipate the needs and reasonable adjustments of residents who may need to access the complaints process.'),
    ('3.2', 'Residents must be able to raise their complaints in any way and with any member of staff.\nAll staff must be aware of the complaints process and be able to pass details of the complaint to the appropriate person within the landlord.'),
    ('3.3', 'High volumes of complaints must not be seen as a negative, as they can be indicative of a well-publicised and accessible complaints process.\nLow complaint volumes are potentially a sign that residents are unable to complain.'),
    ('3.4', 'Landlords must make their complaint policy available in a clear and accessible format for all residents.\nThis will detail the two stage process, what will happen at each stage, and the timeframes for responding. The policy must also be published on the landlord’s website.'),
    ('3.5', 'The policy must explain how the landlord will publicise details of the complaints policy, including information about the Ombudsman and this Code.'),
    ('3.6', 'Landlords must give residents the opportunity to have a representative deal with their complaint on their behalf, and to be represented or accompanied at any meeting with the landlord.'),
    ('3.7', 'Landlords must provide residents with information on their right to access the Ombudsman service and how the individual can engage with the Ombudsman about their complaint.'),
    ('4.1', 'Landlords must have a person or team assigned to take responsibility for complaint handling, including liaison with the Ombudsman and ensuring complaints are reported to the governing body (or equivalent).\nThis Code will refer to that person or team as the ‘complaints officer’. This role may be in addition to other duties.'),
    ('4.2', 'The complaints officer must have access to staff at all levels to facilitate the prompt resolution of complaints.\nThey must also have the authority and autonomy to act to resolve disputes promptly and fairly.'),
    ('4.3', 'Landlords are expected to prioritise complaint handling and a culture of learning from complaints.\nAll relevant staff must be suitably trained in the importance of complaint handling. It is important that complaints are seen as a core service and must be resourced to handle complaints effectively.'),
    ('5.1', 'Landlords must have a single policy in place for dealing with complaints covered by this Code. Residents must not be treated differently if they complain.'),
    ('5.2', 'The early and local resolution of issues between landlords and residents is key to effective complaint handling.\nIt is not appropriate to have extra named stages (such as ‘stage 0’ or ‘informal complaint’) as this causes unnecessary confusion.'),
    ('5.3', 'A process with more than two stages is not acceptable under any circumstances as this will make the complaint process unduly long and delay access to the Ombudsman.'),
    ('5.4', 'Where a landlord’s complaint response is handled by a third party (e.g. a contractor or independent adjudicator) at any stage, it must form part of the two stage complaints process set out in this Code.'),
    ('5.5', 'Landlords are responsible for ensuring that any third parties handle complaints in line with the Code.'),
    ('5.6', 'When a complaint is logged at Stage 1 or escalated to Stage 2, landlords must set out their understanding of the complaint and the outcomes the resident is seeking.\nThe Code will refer to this as “the complaint definition”. If any aspect of the complaint is unclear, the resident must be asked for clarification.'),
    ('5.7', 'When a complaint is acknowledged at either stage, landlords must be clear which aspects of the complaint they are, and are not, responsible for and clarify any areas where this is not clear.'),
    ('5.8', 'At each stage of the complaints process, complaint handlers must:\na. deal with complaints on their merits, act independently, and have an open mind;\nb. give the resident a fair chance to set out their position;\nc. take measures to address any actual or perceived conflict of interest; and\nd. consider all relevant information and evidence carefully.'),
    ('5.9', 'Where a response to a complaint will fall outside the timescales set out in this Code, the landlord must agree with the resident suitable intervals for keeping them informed about their complaint.'),
    ('5.10', 'Landlords must make reasonable adjustments for residents where appropriate under the Equality Act 2010.\nLandlords must keep a record of any reasonable adjustments agreed, as well as a record of any disabilities a resident has disclosed. Any agreed reasonable adjustments must be kept under active review.'),
    ('5.11', 'Landlords must not refuse to escalate a complaint through all stages of the complaints procedure unless it has valid reasons to do so.\nLandlords must clearly set out these reasons, and they must comply with the provisions set out in section 2 of this Code.'),
    ('5.12', 'A full record must be kept of the complaint, and the outcomes at each stage.\nThis must include the original complaint and the date received, all correspondence with the resident, correspondence with other parties, and any relevant supporting documentation such as reports or surveys.'),
    ('5.13', 'Landlords must have processes in place to ensure a complaint can be remedied at any stage of its complaints process.\nLandlords must ensure appropriate remedies can be provided at any stage of the complaints process without the need for escalation.'),
    ('5.14', 'Landlords must have policies and procedures in place for managing unacceptable behaviour from residents and/or their representatives.\nLandlords must be able to evidence reasons for putting any restrictions in place and must keep restrictions under regular review.'),
    ('5.15', 'Any restrictions placed on contact due to unacceptable behaviour must be proportionate and demonstrate regard for the provisions of the Equality Act 2010.'),
    ('6.1', 'Landlords must have processes in place to consider which complaints can be responded to as early as possible, and which require further investigation.\nLandlords must consider factors such as the complexity of the complaint and whether the resident is vulnerable or at risk. Most stage 1 complaints can be resolved promptly, and an explanation, apology or resolution provided to the resident.'),
    ('6.2', 'Complaints must be acknowledged, defined and logged at stage 1 of the complaints procedure within five working days of the complaint being received.'),
    ('6.3', 'Landlords must issue a full response to stage 1 complaints within 10 working days of the complaint being acknowledged.'),
    ('6.4', 'Landlords must decide whether an extension to this timescale is needed when considering the complexity of the complaint and then inform the resident of the expected timescale for response.\nAny extension must be no more than 10 working days without good reason, and the reason(s) must be clearly explained to the resident.'),
    ('6.5', 'When an organisation informs a resident about an extension to these timescales, they must be provided with the contact details of the Ombudsman.'),
    ('6.6', 'A complaint response must be provided to the resident when the answer to the complaint is known, not when the outstanding actions required to address the issue are completed. Outstanding actions must still be tracked and actioned promptly with appropriate updates provided to the resident.'),
    ('6.7', 'Landlords must address all points raised in the complaint definition and provide clear reasons for any decisions, referencing the relevant policy, law and good practice where appropriate.'),
    ('6.8', 'Where residents raise additional complaints during the investigation, these must be incorporated into the stage 1 response if they are related and the stage 1 response has not been issued.\nWhere the stage 1 response has been issued, the new issues are unrelated to the issues already being investigated or it would unreasonably delay the response, the new issues must be logged as a new complaint.'),
    ('6.9', 'Landlords must confirm the following in writing to the resident at the completion of stage 1 in clear, plain language:\na. the complaint stage;\nb. the complaint definition;\nc. the decision on the complaint;\nd. the reasons for any decisions made;\ne. the details of any remedy offered to put things right;\nf. details of any outstanding actions; and\ng. details of how to escalate the matter to stage 2 if the resident is not satisfied with the response.'),
    ('6.10', 'If all or part of the complaint is not resolved to the resident’s satisfaction at stage 1, it must be progressed to stage 2 of the landlord’s procedure. Stage 2 is the landlord’s final response.'),
    ('6.11', 'Requests for stage 2 must be acknowledged, defined and logged at stage 2 of the complaints procedure within five working days of the escalation request being received.'),
    ('6.12', 'Residents must not be required to explain their reasons for requesting a stage 2 consideration. Landlords are expected to make reasonable efforts to understand why a resident remains unhappy as part of its stage 2 response.'),
    ('6.13', 'The person considering the complaint at stage 2 must not be the same person that considered the complaint at stage 1.'),
    ('6.14', 'Landlords must issue a final response to the stage 2 within 20 working days of the complaint being acknowledged.'),
    ('6.15', 'Landlords must decide whether an extension to this timescale is needed when considering the complexity of the complaint and then inform the resident of the expected timescale for response.\nAny extension must be no more than 20 working days without good reason, and the reason(s) must be clearly explained to the resident.'),
    ('6.16', 'When an organisation informs a resident about an extension to these timescales, they must be provided with the contact details of the Ombudsman.'),
    ('6.17', 'A complaint response must be provided to the resident when the answer to the complaint is known, not when the outstanding actions required to address the issue are completed. Outstanding actions must still be tracked and actioned promptly with appropriate updates provided to the resident.'),
    ('6.18', 'Landlords must address all points raised in the complaint definition and provide clear reasons for any decisions, referencing the relevant policy, law and good practice where appropriate.'),
    ('6.19', 'Landlords must confirm the following in writing to the resident at the completion of stage 2 in clear, plain language:\na. the complaint stage;\nb. the complaint definition;\nc. the decision on the complaint;\nd. the reasons for any decisions made;\ne. the details of any remedy offered to put things right;\nf. details of any outstanding actions; and\ng. details of how to escalate the matter to the Ombudsman Service if the resident remains dissatisfied.'),
    ('6.20', 'Stage 2 is the landlord’s final response and must involve all suitable staff members needed to issue such a response.'),
    ('7.1', 'Where something has gone wrong a landlord must acknowledge this and set out the actions it has already taken, or intends to take, to put things right. These can include:\n• Apologising;\n• Acknowledging where things have gone wrong;\n• Providing an explanation, assistance or reasons;\n• Taking action if there has been delay;\n• Reconsidering or changing a decision;\n• Amending a record or adding a correction or addendum;\n• Providing a financial remedy;\n• Changing policies, procedures or practices.'),
    ('7.2', 'Any remedy offered must reflect the impact on the resident as a result of any fault identified.'),
    ('7.3', 'The remedy offer must clearly set out what will happen and by when, in agreement with the resident where appropriate. Any remedy proposed must be followed through to completion.'),
    ('7.4', 'Landlords must take account of the guidance issued by the Ombudsman when deciding on appropriate remedies.'),
    ('8.1', "Landlords must produce an annual complaints performance and service improvement report for scrutiny and challenge, which must include:\na. the annual self-assessment against this Code to ensure their complaint handling policy remains in line with its requirements;\nb. a qualitative and quantitative analysis of the landlord's complaint handling performance. This must also include a summary of the types of complaints the landlord has refused to accept;\nc. any findings of non-compliance with this Code by the Ombudsman;\nd. the service improvements made as a result of the learning gained from complaints;\ne. any annual report about the landlord's performance from the Ombudsman; and\nf. any other relevant reports or publications produced by the Ombudsman in relation to the work of the landlord."),
    ('8.2', 'The annual complaints performance and service improvement report must be reported to the landlord’s governing body (or equivalent) and published on the on the section of its website relating to complaints. The governing body’s response to the report must be published alongside this.'),
    ('8.3', 'Landlords must also carry out a self-assessment following a significant restructure, merger and/or change in procedures.'),
    ('8.4', 'Landlords may be asked to review and update the self-assessment following an Ombudsman investigation.'),
    ('8.5', 'If a landlord is unable to comply with the Code due to exceptional circumstances, such as a cyber incident, they must inform the Ombudsman, provide information to residents who may be affected, and publish this on their website\nLandlords must provide a timescale for returning to compliance with the Code.'),
    ('9.1', 'Landlords must look beyond the circumstances of the individual complaint and consider whether service improvements can be made as a result of any learning from the complaint.'),
    ('9.2', 'A positive complaint handling culture is integral to the effectiveness with which landlords resolve disputes. Landlords must use complaints as a source of intelligence to identify issues and introduce positive changes in service delivery.'),
    ('9.3', 'Accountability and transparency are also integral to a positive complaint handling culture. Landlords must report back on wider learning and improvements from complaints to stakeholders, such as residents’ panels, staff and relevant committees.'),
    ('9.4', 'Landlords must appoint a suitably senior lead person as accountable for their complaint handling. This person must assess any themes or trends to identify potential systemic issues, serious risks, or policies and procedures that require revision.'),
    ('9.5', 'In addition to this a member of the governing body (or equivalent) must be appointed to have lead responsibility for complaints to support a positive complaint handling culture. This person is referred to as the Member Responsible for Complaints (‘the MRC’).'),
    ('9.6', 'The MRC will be responsible for ensuring the governing body receives regular information on complaints that provides insight on the landlord’s complaint handling performance. This person must have access to suitable information and staff to perform this role and report on their findings.'),
    ('9.7', "As a minimum, the MRC and the governing body (or equivalent) must receive:\na. regular updates on the volume, categories and outcomes of complaints, alongside complaint handling performance;\nb. regular reviews of issues and trends arising from complaint handling;\nc. regular updates on the outcomes of the Ombudsman's investigations and progress made in complying with orders related to those investigations; and\nd. annual complaints performance and service improvement reports."),
    ('9.8', 'Landlords must have a standard objective in relation to complaint handling for all relevant employees or third parties that reflects the need to:\na. have a collaborative and co-operative approach towards resolving complaints, working with colleagues across teams and departments;\nb. take collective responsibility for any shortfalls identified through complaints, rather than blaming others; and\nc. act within the professional standards for engaging with complaints as set by any relevant professional body.'),
)
"""The 2024 Code's provisions and requirements, as the Ombudsman's self-assessment form quotes them."""

REQUIREMENTS = dict(PROVISIONS)
MAX_TEXT = 10_000


@dataclass
class Answer:
    """One row of the form: what is saved, else what the product suggests."""

    provision: str
    requirement: str
    comply: str | None = None
    evidence: str | None = None
    commentary: str | None = None
    automatic: bool = False                 # the product can evidence this provision
    suggested: Suggestion | None = None
    saved_by: str | None = None
    saved_at: datetime | None = None

    @property
    def section(self) -> str:
        return SECTIONS[self.provision.split(".")[0]]


@dataclass
class Suggestion:
    comply: str
    evidence: str
    findings: list[str] = field(default_factory=list)

    @property
    def commentary(self) -> str | None:
        if not self.findings:
            return None
        return "The Code check found:\n" + "\n".join(f"- {f}" for f in self.findings)


# --- what the product can evidence ------------------------------------------------------------

@dataclass
class Evidence:
    """What the deployed diagram, the Code check and the year's data say about one landlord."""

    landlord: Landlord
    version: DefinitionVersion | None
    elements: Mapping[str, Any]
    forms: Mapping[str, Any]
    findings: list[Any]
    figures: Mapping[str, Any]
    counts: Mapping[str, int]

    def errors(self, provision: str) -> list[str]:
        return [f"{_finding_text(f)}" for f in self.findings
                if finding_field(f, "provision") == provision and finding_field(f, "severity") == "error"]

    def warnings(self, provision: str) -> list[str]:
        return [f"(warning) {_finding_text(f)}" for f in self.findings
                if finding_field(f, "provision") == provision and finding_field(f, "severity") == "warning"]

    def tasks(self, stage: str | None = None) -> list[Any]:
        return [e for e in self.elements.values() if e.tag == "userTask" and (stage is None or e.stage == stage)]

    def timers(self, key: str) -> list[Any]:
        return [e for e in self.elements.values() if e.deadline_key == key]

    def form_fields(self, form_id: str | None) -> set[str]:
        source = self.forms.get(form_id) if form_id else None
        found: set[str] = set()

        def walk(components):
            for c in components or []:
                if isinstance(c, Mapping):
                    if c.get("key"):
                        found.add(c["key"])
                    walk(c.get("components"))
        walk(source.get("components") if isinstance(source, Mapping) else None)
        return found

    def letters(self) -> set[str]:
        return {e.properties.get("letter") for e in self.elements.values() if e.properties.get("letter")}


def finding_field(finding: Any, key: str) -> Any:
    """A field of a Code check finding, kept with a version (a dict) or fresh from the check (an object)."""
    return finding.get(key) if isinstance(finding, Mapping) else getattr(finding, key, None)


def _finding_text(finding: Any) -> str:
    element = finding_field(finding, "element_id")
    return f"{finding_field(finding, 'message')}" + (f" (element {element})" if element else "")


def _names(elements: Iterable[Any]) -> str:
    return "; ".join(f"'{e.name}'" for e in elements) or "none"


def suggestions(evidence: Evidence) -> dict[str, Suggestion]:
    """The provisions the product can evidence, each with its evidence and the Code check's findings."""
    ev, out = evidence, {}
    version = f"{ev.version.process_id} version {ev.version.version}" if ev.version else "no deployed diagram"
    figures = ev.figures

    def add(provision: str, text: str, needs: bool = True) -> None:
        errors, warnings = ev.errors(provision), ev.warnings(provision)
        comply = "no" if errors or not needs else "yes"
        out[provision] = Suggestion(comply, f"{text} (from the deployed diagram, {version})", errors + warnings)

    if ev.version is None:
        return {}
    refusal_letters = [e for e in ev.elements.values() if e.properties.get("letter") in ("refusal",)]
    add("2.4", f"A refusal is sent in writing from the letter template 'refusal' at {_names(refusal_letters)}; "
               f"{ev.counts.get('refused', 0)} complaints were not accepted this year.", bool(refusal_letters))
    add("5.2", "The diagram's stages are checked by the Code check for extra named stages "
               "(such as 'stage 0' or 'informal complaint').")
    stages = sorted({e.stage for e in ev.tasks() if e.stage})
    add("5.3", f"Every task and deadline belongs to stage 1 or stage 2, or to before acceptance or after the "
               f"final response (stages used: {', '.join(stages)}); stage 1 tasks: {_names(ev.tasks('1'))}; "
               f"stage 2 tasks: {_names(ev.tasks('2'))}.", set(stages) <= {"pre", "1", "2", "post"}
        and "1" in stages and "2" in stages)
    definition_forms = [e for e in ev.tasks() if {"complaint_definition", "stage2_definition"}
                        & ev.form_fields(e.form_ref)]
    add("5.6", f"The complaint definition (our understanding and the outcomes sought) is a required part of "
               f"{_names(definition_forms)}.", bool(definition_forms))
    add("5.10", f"Reasonable adjustments and disclosed disabilities are recorded on the complaint with a review "
                f"date; {ev.counts.get('support_needs', 0)} complaints had them recorded this year.")
    add("5.11", "Refusals to escalate are checked by the Code check.")
    add("5.12", f"Every change to a complaint is an append-only audit event written with it, alongside its "
                f"letters, notes, attachments and form answers, and the full record can be exported from the "
                f"case page; {ev.counts.get('received', 0)} complaints received this year have such a record.")
    remedy_forms = [e for e in ev.tasks() if "remedies" in ev.form_fields(e.form_ref)]
    add("5.13", f"Remedies can be offered at {_names(remedy_forms)}.",
        {e.stage for e in remedy_forms} >= {"1", "2"})
    ack1, response1 = DeadlineKey.STAGE1_ACKNOWLEDGE, DeadlineKey.STAGE1_RESPONSE
    ack2, response2 = DeadlineKey.STAGE2_ACKNOWLEDGE, DeadlineKey.STAGE2_RESPONSE
    ack = figures.get("acknowledgements", {}).get("stage1", {})
    add("6.2", f"Timer {_names(ev.timers(ack1))} (deadline {ack1}); this year "
               f"{ack.get('on_time', 0)} of {ack.get('acknowledged', 0)} acknowledgements were on time.",
        bool(ev.timers(ack1)))
    ch02 = figures.get("ch02", {})
    one, two = ch02.get("stage1", {}), ch02.get("stage2", {})
    add("6.3", f"Timer {_names(ev.timers(response1))} (deadline {response1}); CH02: "
               f"{one.get('within', 0)} of {one.get('responded', 0)} stage 1 responses this year were within "
               f"the Code's timescales.", bool(ev.timers(response1)))
    add("6.4", f"Extensions move the stage 1 response deadline and are explained in a letter; "
               f"{one.get('extended', 0)} stage 1 responses this year were extended.")
    add("6.5", "The extension letter is checked by the Code check for the Ombudsman's contact details.")
    add("6.9", "The stage 1 completion letter is checked by the Code check for the content 6.9 requires.")
    add("6.11", f"Timer {_names(ev.timers(ack2))} (deadline {ack2}).",
        bool(ev.timers(ack2)))
    add("6.12", "The stage 2 forms are checked by the Code check for a demand for the resident's reasons.")
    separated = [e for e in ev.tasks("2") if e.separate_from]
    add("6.13", f"{_names(separated)} cannot be assigned to or completed by whoever did "
                + ", ".join(sorted({s for e in separated for s in e.separate_from}))
                + " on the same complaint (the product refuses it).", bool(separated))
    add("6.14", f"Timer {_names(ev.timers(response2))} (deadline {response2}); CH02: "
                f"{two.get('within', 0)} of {two.get('responded', 0)} stage 2 responses this year were within "
                f"the Code's timescales.", bool(ev.timers(response2)))
    add("6.15", f"Extensions move the stage 2 response deadline and are explained in a letter; "
                f"{two.get('extended', 0)} stage 2 responses this year were extended.")
    add("6.16", "The stage 2 extension letter is checked by the Code check for the Ombudsman's contact details.")
    add("6.19", "The stage 2 completion letter is checked by the Code check for the content 6.19 requires.")
    add("7.1", f"The response forms offer the Code's remedies (apology, acknowledgement, explanation, action on "
               f"delay, reconsidered decision, amended record, financial remedy, changed policy) at "
               f"{_names(remedy_forms)}.", bool(remedy_forms))
    add("8.1", "The annual complaints performance and service improvement report is produced by the product "
               "from the year's figures, the refusals, the lessons-learnt log and this self-assessment.")
    add("9.1", f"Lessons learnt are recorded on closed complaints and kept in the lessons-learnt log with an "
               f"owner, a due date and a status; {ev.counts.get('lessons', 0)} entries were recorded this year.")
    return out


# --- reading and saving the form --------------------------------------------------------------

def answers(session: Session, landlord: str, year: int, suggested: Mapping[str, Suggestion]) -> list[Answer]:
    """Every provision in order: the saved answer where there is one, else the product's suggestion."""
    saved = {a.provision: a for a in session.scalars(select(SelfAssessmentAnswer).where(
        SelfAssessmentAnswer.landlord == landlord, SelfAssessmentAnswer.year == year))}
    rows = []
    for provision, requirement in PROVISIONS:
        suggestion = suggested.get(provision)
        answer = Answer(provision, requirement, automatic=suggestion is not None, suggested=suggestion)
        stored = saved.get(provision)
        if stored is not None:
            answer.comply, answer.evidence, answer.commentary = stored.comply, stored.evidence, stored.commentary
            answer.saved_by, answer.saved_at = stored.updated_by, stored.updated_at
        elif suggestion is not None:
            answer.comply, answer.evidence, answer.commentary = \
                suggestion.comply, suggestion.evidence, suggestion.commentary
        rows.append(answer)
    return rows


class SelfAssessmentService:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def save(self, landlord: str, year: int, form: Mapping[str, str], user: User) -> int:
        """Save every provision the form sends (`comply-<p>`, `evidence-<p>`, `commentary-<p>`); one transaction."""
        if not user.may_see(landlord):
            raise NotFound(f"no landlord {landlord}")
        errors: dict[str, str] = {}
        changes: dict[str, tuple[str | None, str | None, str | None]] = {}
        for provision in REQUIREMENTS:
            if f"comply-{provision}" not in form and f"evidence-{provision}" not in form:
                continue
            comply = form.get(f"comply-{provision}") or None
            if comply not in (None, "yes", "no"):
                errors[f"comply-{provision}"] = "Choose yes or no"
            texts = []
            for name in ("evidence", "commentary"):
                text = (form.get(f"{name}-{provision}") or "").strip()
                if len(text) > MAX_TEXT:
                    errors[f"{name}-{provision}"] = f"must be at most {MAX_TEXT} characters"
                texts.append(text or None)
            changes[provision] = (comply, *texts)
        if errors:
            raise InvalidInput(errors)
        now = clock.now()
        with transaction(self.sessions) as session:
            saved = {a.provision: a for a in session.scalars(select(SelfAssessmentAnswer).where(
                SelfAssessmentAnswer.landlord == landlord, SelfAssessmentAnswer.year == year))}
            for provision, (comply, evidence, commentary) in changes.items():
                row = saved.get(provision)
                if row is None:
                    row = SelfAssessmentAnswer(landlord=landlord, year=year, provision=provision)
                    session.add(row)
                elif (row.comply, row.evidence, row.commentary) == (comply, evidence, commentary):
                    continue
                row.comply, row.evidence, row.commentary = comply, evidence, commentary
                row.updated_by, row.updated_at = user.username, now
        return len(changes)


def as_csv(rows: Sequence[Answer]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Code provision", "Code requirement", "Comply: Yes/No", "Evidence", "Commentary / explanation"])
    for row in rows:
        writer.writerow([row.provision, row.requirement, (row.comply or "").capitalize(), _safe(row.evidence),
                         _safe(row.commentary)])
    return out.getvalue()


def _safe(text: str | None) -> str:
    from workflow_app.reporting.measures import csv_safe
    return csv_safe(text or "")


def year_counts(session: Session, landlord: str, first: datetime, end: datetime) -> dict[str, int]:
    """Small counts the evidence quotes: refusals, support needs, audit events, lessons."""
    def count(query) -> int:
        return session.scalar(query) or 0
    return {
        "refused": count(select(func.count()).select_from(Complaint).where(
            Complaint.landlord == landlord, Complaint.outcome == "refused",
            Complaint.closed_at >= first, Complaint.closed_at < end)),
        "support_needs": count(select(func.count(func.distinct(SupportNeeds.complaint_id)))
                               .join(Complaint, Complaint.id == SupportNeeds.complaint_id)
                               .where(Complaint.landlord == landlord, SupportNeeds.recorded_at >= first,
                                      SupportNeeds.recorded_at < end)),
        "received": count(select(func.count()).select_from(Complaint).where(
            Complaint.landlord == landlord, Complaint.received_at >= first, Complaint.received_at < end)),
        "lessons": count(select(func.count()).select_from(LessonLearnt).where(
            LessonLearnt.landlord == landlord, LessonLearnt.recorded_at >= first, LessonLearnt.recorded_at < end)),
    }


# --- gathering the evidence -----------------------------------------------------------------------

def gather(session: Session, landlord: Landlord, first: datetime, end: datetime,
           figures: Mapping[str, Any]) -> Evidence:
    """The landlord's newest deployed diagram, the Code check's findings on it, and the year's counts."""
    from workflow_app.casework.deployments import latest_version
    from workflow_app.casework.engine import load_definition
    version = latest_version(session, landlord.slug)
    elements = load_definition(version).elements if version is not None else {}
    return Evidence(landlord, version, elements, (version.forms or {}) if version is not None else {},
                    code_findings(version, landlord) if version is not None else [], figures,
                    year_counts(session, landlord.slug, first, end))


def code_findings(version: DefinitionVersion, landlord: Landlord) -> list[Any]:
    """The Code check's findings on a version: kept with it at deploy, else worked out (the check keeps its
    answer by content, so an unchanged diagram is checked once)."""
    if version.code_findings is not None:   # checked when it was deployed (an empty list: nothing found)
        return [f for f in version.code_findings if finding_field(f, "provision") != "engine"]
    from workflow_app.diagrams.code_check import check_code
    from workflow_app.diagrams.forms import load_form
    forms = {form_id: load_form(source) for form_id, source in (version.forms or {}).items()}
    found = check_code(version.xml, forms, landlord=landlord, letters_dir=landlord.folder / "letters")
    return [f for f in found if f.provision != "engine"]
