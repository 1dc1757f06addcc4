"""The self-assessment in the Code's own form: the provisions, the product's pre-filled answers from the
deployed diagram, the Code check and the year's figures, the officer's saved answers, and the CSV."""
from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from tests.support.reporting_data import copied_runtime, people
from workflow_app.casework.models import SelfAssessmentAnswer, User
from workflow_app.reporting import measures as reporting
from workflow_app.reporting import self_assessment
from workflow_app.reporting.measures import Period, Scope
from workflow_app.reporting.self_assessment import PROVISIONS, SelfAssessmentService
from workflow_app.rules.errors import InvalidInput, NotFound

YEAR = Period.reporting_year(2026)


def test_the_form_quotes_every_provision_of_the_2024_code_in_order():
    numbers = [p for p, _ in PROVISIONS]
    assert len(numbers) == 72 and numbers[0] == "1.2" and numbers[-1] == "9.8"
    assert numbers == sorted(numbers, key=lambda n: tuple(int(x) for x in n.split(".")))
    assert {n.split(".")[0] for n in numbers} == set(self_assessment.SECTIONS)
    requirement = dict(PROVISIONS)
    assert "within five working days of the complaint being received" in requirement["6.2"]
    assert "within 20 working days of the complaint being acknowledged" in requirement["6.14"]
    assert re.search(r"g\. details of how to escalate the matter to stage 2", requirement["6.9"])
    assert "summary of the types of complaints the landlord has refused to accept" in requirement["8.1"]
    assert "Providing a financial remedy" in requirement["7.1"]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def data(request, tmp_path_factory, templates):
    with copied_runtime(templates, request.param, tmp_path_factory.mktemp('assessment')) as (runtime, _, _):
        reporting.refresh(runtime.sessions, runtime.landlords)
        yield runtime, people(runtime)


def suggested(runtime, landlord: str) -> dict[str, self_assessment.Suggestion]:
    landlord = runtime.landlords[landlord]
    with runtime.sessions() as session:
        scope = Scope((landlord,))
        figures = {"ch02": reporting.ch02(session, scope, YEAR),
                   "acknowledgements": reporting.acknowledgements(session, scope, YEAR)}
        evidence = self_assessment.gather(session, landlord, YEAR.starts_at, YEAR.ends_at, figures)
        return self_assessment.suggestions(evidence)


def test_the_product_answers_what_the_diagram_and_the_data_evidence(data):
    runtime, _ = data
    great = suggested(runtime, "great_places")
    assert {"5.3", "6.2", "6.3", "6.13", "6.14", "5.12", "6.9", "9.1"} <= set(great)
    assert "1.2" not in great and "3.1" not in great                       # left for the complaints officer
    assert great["5.3"].comply == "yes" and "stage 2 tasks:" in great["5.3"].evidence
    assert great["6.13"].comply == "yes" and "cannot be assigned to or completed by" in great["6.13"].evidence
    assert "3 of 4 stage 1 responses this year were within the Code's timescales" in great["6.3"].evidence
    assert "5 of 6 acknowledgements were on time" in great["6.2"].evidence   # D's refusal met its acknowledgement
    assert "great_places_complaint version 1" in great["6.2"].evidence


def test_the_code_checks_findings_answer_no_with_the_findings(data):
    runtime, _ = data
    harrogate = suggested(runtime, "harrogate")
    assert harrogate["5.2"].comply == "no"
    assert "informal complaint" in harrogate["5.2"].commentary and "(element first_contact)" in harrogate["5.2"].commentary
    assert harrogate["6.12"].comply == "no" and "reasons" in harrogate["6.12"].commentary


def test_saved_answers_win_over_the_suggestions_and_are_exported(data):
    runtime, _users = data
    officer = User(username="otto", roles=["complaints_officer"], landlords=["harrogate"], active=True)
    service = SelfAssessmentService(runtime.sessions)
    form = {"comply-1.2": "yes", "evidence-1.2": "Policy, section 2.", "commentary-1.2": "",
            "comply-5.2": "no", "evidence-5.2": "=cmd|' /C calc'!A0", "commentary-5.2": "Removing it by July."}
    assert service.save("harrogate", 2026, form, officer) == 2
    assert service.save("harrogate", 2026, form, officer) == 2          # unchanged rows are left alone
    with runtime.sessions() as session:
        rows = session.scalars(select(SelfAssessmentAnswer).where(SelfAssessmentAnswer.landlord == "harrogate")).all()
        assert sorted((r.provision, r.comply, r.updated_by) for r in rows) == [("1.2", "yes", "otto"),
                                                                             ("5.2", "no", "otto")]
        answers = {a.provision: a for a in self_assessment.answers(session, "harrogate", 2026,
                                                                    suggested(runtime, "harrogate"))}
        assert self_assessment.answers(session, "harrogate", 2027, {})[0].comply is None   # another year
    assert (answers["1.2"].comply, answers["1.2"].evidence, answers["1.2"].saved_by) == ("yes", "Policy, section 2.",
                                                                                         "otto")
    assert answers["5.2"].automatic and answers["5.2"].suggested.comply == "no"
    assert answers["6.13"].comply == "yes" and answers["6.13"].saved_by is None    # the product's suggestion
    assert answers["3.1"].comply is None and not answers["3.1"].automatic
    exported = list(csv.reader(io.StringIO(self_assessment.as_csv(list(answers.values())))))
    assert exported[0] == ["Code provision", "Code requirement", "Comply: Yes/No", "Evidence",
                           "Commentary / explanation"]
    row = {r[0]: r for r in exported}["5.2"]
    assert row[2:] == ["No", "'=cmd|' /C calc'!A0", "Removing it by July."]


def test_bad_answers_and_other_landlords_are_refused(data):
    runtime, users = data
    service = SelfAssessmentService(runtime.sessions)
    with pytest.raises(InvalidInput) as refused:
        service.save("great_places", 2026, {"comply-1.2": "perhaps", "evidence-1.3": "x" * 10_001}, users["mandy"])
    assert set(refused.value.errors) == {"comply-1.2", "evidence-1.3"}
    with pytest.raises(NotFound):
        service.save("harrogate", 2026, {"comply-1.2": "yes"}, users["mandy"])
