"""What a caseworker types reaches a letter as whole sentences; an address keeps its lines; dates are London dates."""
from __future__ import annotations

from datetime import UTC, date, datetime
from html import unescape
from types import SimpleNamespace

from workflow_app.diagrams.letter_templates import (
    SHARED_LETTERS,
    days_after,
    letter_environment,
    lines,
    long_date,
    phrase,
    points,
    sentence,
    working_days_after,
)


def render(source: str, **context) -> str:
    return letter_environment(None).from_string(source).render(**context)


def test_the_steps_taken_read_as_a_sentence_not_spliced_into_one():
    # Before: "I have {{ steps }}, and have made" gave "I have Reviewed repair logs ... manager., and have made".
    assert sentence("Reviewed repair logs and spoke to the area manager.") == \
        "Reviewed repair logs and spoke to the area manager."
    assert sentence("  reviewed repair logs and spoke to the area manager  ") == \
        "Reviewed repair logs and spoke to the area manager."
    assert sentence("reviewed repair logs and spoke to the area manager.,") == \
        "Reviewed repair logs and spoke to the area manager."


def test_a_sentence_keeps_its_own_ending_and_its_words():
    assert sentence("Did the contractor call?") == "Did the contractor call?"
    assert unescape(sentence('The surveyor said "dry it first."')) == 'The surveyor said "dry it first."'
    assert sentence("we waited (as agreed)") == "We waited (as agreed)."
    assert unescape(sentence("photos were sent by Ms O'Neil;")) == "Photos were sent by Ms O'Neil."
    assert sentence("") == "" and sentence(None) == ""


def test_each_line_of_free_text_is_a_sentence_and_the_lines_are_kept():
    text = "the air brick was blocked\n\nthe repairs line did not pass on your calls;\r\nWe found:\n- a broken fan"
    assert sentence(text) == ("The air brick was blocked.<br>The repairs line did not pass on your calls.<br>"
                              "We found:<br>- A broken fan.")


def test_free_text_is_escaped():
    assert sentence("<script>alert(1)</script> & more") == "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more."
    assert render("{{ text|sentence }}", text="<b>bold</b>") == "&lt;b&gt;bold&lt;/b&gt;."


def test_points_are_one_a_line_without_the_bullets_typed():
    assert points("- the mould is back\n* the fan\n\n• £150 is not enough.") == [
        "The mould is back.", "The fan.", "£150 is not enough."]
    assert points("") == []


def test_a_name_and_job_title_sit_inside_a_sentence_once():
    # Before: "Sam Patel, Head of Customer Experience will review your complaint. Sam Patel, Head of Customer
    # Experience was not involved in the earlier response."
    template = ("<p>Your complaint will be reviewed by {{ case.stage2_reviewer_name|phrase }}, "
                "who was not involved in the earlier response.</p>")
    text = render(template, case={"stage2_reviewer_name": " Sam Patel, Head of Customer Experience. "})
    assert text == ("<p>Your complaint will be reviewed by Sam Patel, Head of Customer Experience, "
                    "who was not involved in the earlier response.</p>")
    assert text.count("Sam Patel") == 1
    assert phrase("Sam Patel,\nHead of\tCustomer Experience,") == "Sam Patel, Head of Customer Experience"


def test_an_address_keeps_its_lines_escaped():
    assert lines("Flat 4\r\nAny Street\n\n  Anytown \nAB1 2CD") == "Flat 4<br>Any Street<br>Anytown<br>AB1 2CD"
    assert lines("1 <Main> Street & Co\nTown") == "1 &lt;Main&gt; Street &amp; Co<br>Town"


def test_the_layout_writes_the_residents_address_on_its_lines():
    complaint = SimpleNamespace(reference="GP-2027-000001",
                                resident={"name": "Ms Tessa Tenant", "address": "Flat 4\nAny Street\nAnytown <AB1 2CD>"})
    landlord = SimpleNamespace(display_name="Great Places Housing Group", contact={"address": "1 Office Row\nManchester"})
    source = (SHARED_LETTERS / "_layout.html").read_text(encoding="utf-8")
    html = render(source, complaint=complaint, landlord=landlord)
    assert "Ms Tessa Tenant<br>Flat 4<br>Any Street<br>Anytown &lt;AB1 2CD&gt;</p>" in html
    assert "<strong>Great Places Housing Group</strong><br>1 Office Row<br>Manchester" in html


def test_dates_are_london_dates():
    assert long_date(datetime(2027, 6, 30, 23, 30, tzinfo=UTC)) == "1 July 2027"       # BST: already 1 July
    assert long_date("2027-06-30T23:30:00+00:00") == "1 July 2027"
    assert long_date("2027-03-01") == "1 March 2027" and long_date(date(2027, 3, 1)) == "1 March 2027"
    assert long_date("next week") == "next week" and long_date(None) == ""


def test_a_letter_counts_to_the_same_day_as_the_diagrams_timer():
    # Harrogate: 14 working days from Fri 22 Jan 2027 is Thu 11 Feb; Brighter Places: 15 days is Sat 6 Feb.
    assert working_days_after("2027-01-22T10:00:00+00:00", 14) == datetime(2027, 2, 11, 23, 59, 59, tzinfo=UTC)
    assert days_after("2027-01-22T10:00:00+00:00", 15) == datetime(2027, 2, 6, 23, 59, 59, tzinfo=UTC)
    assert working_days_after("[stage1_responded_at]", 14) is None     # the Code check's probe data
    assert render("{{ working_days_after(when, 14, 'ENG')|long_date }}", when="2027-01-22T10:00:00+00:00") == \
        "11 February 2027"
