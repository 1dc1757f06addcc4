"""Each landlord's stage 1 and final response letters, read against the Housing Ombudsman's example response
letter (seeds/004, section 11) point by point, for a realistic complaint run through its diagram
(tests/scenarios/<landlord>_letters.json).

The complaint: damp and mould, received Mon 11 Jan 2027, a further issue joined on Thu 14 Jan, a stage 1
response on Fri 22 Jan with works and compensation outstanding, an escalation on Mon 1 Feb and the final
response with more works (at Brighter Places approved by the Customer Services Director first, 001 7.iv.a). The caseworkers' text is as people type it: lower-case starts, no full stops, a
stray ".," and a name ending in a full stop; the letters must still read as whole sentences.
"""
from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest

from workflow_app.casework import engine
from workflow_app.casework.letters import plain_text
from workflow_app.diagrams.definitions import cache as definition_cache
from workflow_app.tools.simulator import simulate

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "tests" / "scenarios"

OMBUDSMAN = ("Housing Ombudsman Service", "Telephone: 0300 111 3000", "Email: info@housing-ombudsman.org.uk",
             "Website: www.housing-ombudsman.org.uk", "Post: Housing Ombudsman Service, PO Box 1484, Unit D, Preston, PR2 0ET")

# What differs by landlord: the stage's name, how and by when to escalate and who reviews it, where to go after.
LANDLORDS = {
    "great_places": {
        "stage1": "Stage One",
        # 000 sets no time limit for asking for stage 2; the contact is the one landlord.toml gives.
        "escalate": ("You do not need to give reasons, and our policy sets no time limit for asking.",
                     "contact our Customer Feedback team through our website, www.greatplaces.org.uk."),
        "reviewer": "reviewed at Stage Two by Sam Patel, Head of Customer Experience, a senior leader who was not "
                    "involved at Stage One.",
        "investigator": "Alice Example, Complaints Officer",
        "final_reviewer": "Sam Patel, Head of Customer Experience",
        "referral": ("The Property Ombudsman", "The New Homes Ombudsman: Independent resolution of the complaints it deals with (https://www.nhos.org.uk/)",
                     "The Building Safety Regulator: Building safety risks", "The Energy Ombudsman: Heat network"),
    },
    "brighter_places": {
        "stage1": "stage 1",
        # 001 7.ii.i-j: 15 days from the outcome (Fri 22 Jan + 15 = Sat 6 Feb), or from the works being done.
        "escalate": ("escalate your complaint to stage 2 within 15 days of this letter, that is by 6 February 2027, "
                     "or, if you remain dissatisfied once the agreed works or actions are done, within 15 days of "
                     "their completion.",
                     "contact our Customer Feedback team by replying to this letter."),
        "reviewer": "reviewed at stage 2 by Sam Patel, Director of Property Services, with oversight from our "
                    "Customer Services Director.",
        "investigator": "Alice Example, Customer Feedback Officer",
        "final_reviewer": "Sam Patel, Director of Property Services",
        # 001 7.iv.g: the Housing Ombudsman Scheme, and the designated person route.
        "referral": ("The Housing Ombudsman Scheme also allows a designated person to consider the matter first:",
                     "A designated person (local MP or councillor): May consider the matter after stage 2, before it "
                     "is filed with the Housing Ombudsman"),
    },
    "harrogate": {
        "stage1": "the Resolution stage",
        # 004 5.2.3 and 10: a review on request with reasons; closed 14 working days after the outcome
        # (Fri 22 Jan: Thu 11 Feb).
        "escalate": ("you can ask for a review, telling us why you remain dissatisfied and what you are seeking.",
                     "contact us by email to info@hhal.org.uk, or through our website, www.hhal.org.uk. Please ask "
                     "within 14 working days of this letter, that is by 11 February 2027: if we do not hear from you "
                     "by then, we will close your complaint."),
        "reviewer": "The review will be carried out by Sam Patel, Operations Manager, who was not involved at the "
                    "Resolution stage.",
        "investigator": "Alice Example, Neighbourhood Officer",
        "final_reviewer": "Sam Patel, Operations Manager",
        "referral": ("First-tier Tribunal (Property Chamber): Homeowners, on referral by the Housing Ombudsman",),
    },
}


@pytest.fixture(autouse=True)
def fresh_definitions():
    definition_cache.clear()
    yield
    definition_cache.clear()


def letters_for(landlord: str, monkeypatch) -> dict[str, list[str]]:
    bodies: dict[str, list[str]] = {}
    original = engine.Casework._render_letter

    def render(self, complaint, instance, template):
        html = original(self, complaint, instance, template)
        bodies.setdefault(template, []).append(html)
        return html

    monkeypatch.setattr(engine.Casework, "_render_letter", render)
    spec = json.loads((SCENARIOS / f"{landlord}_letters.json").read_text(encoding="utf-8"))
    simulate(spec, ROOT / "processes", ROOT / "forms")
    return bodies


def text(html: str) -> str:
    """The letter as a resident reads it, on one line."""
    return " ".join(unescape(plain_text(html)).split())


def whole_sentences(letter: str) -> None:
    assert ".," not in letter and ",." not in letter and ". ." not in letter
    assert not re.search(r"[.!?] [a-z]", letter), re.search(r".{40}[.!?] [a-z].{20}", letter)
    assert "I have Reviewed" not in letter and "I have reviewed repair logs" not in letter


@pytest.mark.parametrize("landlord", sorted(LANDLORDS))
def test_the_stage_1_response_has_each_part_of_the_ombudsmans_example(landlord, monkeypatch):
    expected = LANDLORDS[landlord]
    [html] = letters_for(landlord, monkeypatch)["stage1_response"]
    letter = text(html)
    # the resident's address on its lines
    assert "Ms Tessa Tenant<br>Flat 4<br>Any Street<br>Anytown<br>AB1 2CD" in html
    assert "Date: 22 January 2027" in letter
    # the stage, and the date(s) the resident complained, with the issues (one joined since)
    assert f"I have investigated your complaint at {expected['stage1']} of our complaints process" in letter
    assert ("You complained to us on 11 January 2027, and on 14 January 2027 you raised further issues that we "
            "added to your complaint.") in letter
    assert "<li>The repairs line did not call you back after two reports.</li>" in html
    assert "<li>The bathroom extractor fan does not work.</li>" in html
    assert "<li>The bedroom redecorated.</li>" in html                              # the outcome sought
    # the steps taken to investigate
    assert ("How I investigated your complaint Visited the flat on 19 January with a damp surveyor, read the repair "
            "logs and listened to your two calls to the repairs line.") in letter
    # the findings, then the decision and that they are its reasons
    assert ("What I found The surveyor found a blocked air brick behind the bedroom wardrobe: the treatment in "
            "October removed the mould but not its cause. The repairs line logged both of your calls but did not "
            "pass them to the surveying team. Our decision For these reasons, your complaint is partly upheld.") in letter
    # apology and remedies, with the payment's date
    assert "I am sorry for the failings I have found" in letter
    assert "Providing a financial remedy: £150.00, paid by 5 February 2027" in letter
    assert "Taking action if there has been a delay" in letter
    # outstanding actions with their dates
    assert ("Clear the air brick, fit a new bathroom extractor fan, then treat and redecorate the bedroom; our repairs "
            "team will do the work. We will complete these actions by 19 February 2027. Until they are done we will "
            "update you every 5 working days.") in letter
    # what was learnt
    assert "What we have learnt Repeat reports of damp now go straight to a surveyor." in letter
    assert f"This now concludes {expected['stage1']} of our complaints process." in letter
    # how and by when to escalate, the contact to use, and who reviews it at stage 2 (name and position)
    for part in expected["escalate"]:
        assert part in letter
    assert expected["reviewer"] in letter
    # the Ombudsman at any point, with its contact details
    assert "you can contact the Housing Ombudsman Service at any point during the complaint process" in letter
    for part in OMBUDSMAN:
        assert part in letter
    assert "Thank you for the time you have taken in bringing your complaint to our attention." in letter
    assert f"Yours sincerely {expected['investigator']} " in letter
    whole_sentences(letter)


@pytest.mark.parametrize("landlord", sorted(LANDLORDS))
def test_the_final_response_has_each_part_of_the_ombudsmans_example(landlord, monkeypatch):
    expected = LANDLORDS[landlord]
    [html] = letters_for(landlord, monkeypatch)["final_response"]
    letter = text(html)
    assert "Ms Tessa Tenant<br>Flat 4<br>Any Street<br>Anytown<br>AB1 2CD" in html
    assert "writing to give you our final response" in letter
    assert ("You complained to us on 11 January 2027, and on 14 January 2027 you raised further issues that we "
            "added to your complaint.") in letter
    # the earlier response, who sent it and when, and when the resident escalated
    assert f"response on 22 January 2027 (from {expected['investigator']})." in letter
    assert "You asked us on 1 February 2027" in letter
    # the outstanding concerns and the outcomes now sought, each a sentence
    assert "<li>The £150 offered does not cover the ruined bedding.</li>" in html
    assert "<li>A dehumidifier until the wall is dry.</li>" in html and "<li>£400 for the bedding.</li>" in html
    # the steps taken: a sentence of its own, not spliced into "I have ..., and have made"
    assert "How I reviewed your complaint Reviewed repair logs and spoke to the area manager. What I found" in letter
    assert ("The mould came back because the wall was redecorated before it had dried out, against the surveyor's "
            "advice. Our decision For these reasons, your complaint is upheld.") in letter
    assert "I am sorry for the failings I have found" in letter
    assert "Providing a financial remedy: £400.00, paid by 5 March 2027" in letter
    assert "Changing policies, procedures or practices" in letter
    assert "£150.00" not in letter                       # stage 1's offer is not repeated as stage 2's
    assert ("A dehumidifier delivered on 23 February; the wall re-treated and redecorated once it is dry. We will "
            "complete these actions by 26 March 2027.") in letter
    assert "What we have learnt We now wait for the surveyor to confirm a wall is dry before redecorating." in letter
    assert "the final stage of our internal complaints process" in letter
    # how to escalate: the Ombudsman, with the contact details to use, and the landlord's other referral bodies
    assert "You are entitled to refer your complaint to the Housing Ombudsman Service. The contact details are:" in letter
    for part in OMBUDSMAN + expected["referral"]:
        assert part in letter
    assert "Thank you for the time you have taken in bringing your complaint to our attention." in letter
    # signed by the reviewer, named with their job title once (the form's trailing full stop dropped)
    assert f"Yours sincerely {expected['final_reviewer']} " in letter
    whole_sentences(letter)


@pytest.mark.parametrize("landlord", sorted(LANDLORDS))
def test_the_stage_2_acknowledgement_names_the_reviewer_once(landlord, monkeypatch):
    [html] = letters_for(landlord, monkeypatch)["stage2_acknowledgement"]
    letter = text(html)
    reviewer = LANDLORDS[landlord]["final_reviewer"]
    assert f"Your complaint will be reviewed by {reviewer}, who was not involved in the earlier response." in letter
    assert letter.count("Sam Patel") == 1
    whole_sentences(letter)


def test_every_letter_takes_the_ombudsmans_address_from_the_landlords_settings():
    """No template writes an address of its own (004's example letter has PO Box 152, Liverpool; the product uses
    the policy's PO Box 1484, Preston, from landlord.toml): each reads `landlord.ombudsman`."""
    templates = [*(ROOT / "processes").glob("*/letters/*.html"),
                 *(ROOT / "src" / "workflow_app" / "diagrams" / "shared_letters").glob("*.html")]
    assert len(templates) > 30
    for path in templates:
        source = path.read_text(encoding="utf-8")
        assert "PO Box" not in source and "Liverpool" not in source and "Preston" not in source, path
