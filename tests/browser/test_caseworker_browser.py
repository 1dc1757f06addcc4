"""The issue's scenario in Chromium on Great Places' process, and the browser-side safeguards.

A caseworker logs a Great Places complaint by phone, accepts and acknowledges it, extends
stage 1 (the letter shows the Ombudsman's details) and responds; the resident escalates; a
different person does stage 2; the case page shows the whole record and the diagram marks.
Screenshots of the inbox, a task page and the case page go to docs/screenshots/.
"""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot


def log_complaint(page: Page, name: str = "Ada Lovelace", summary: str = "Damp and mould in the bedroom") -> str:
    page.get_by_role("link", name="Log a complaint").first.click()
    page.get_by_label("Phone", exact=True).check()
    page.get_by_label("Full name").fill(name)
    page.locator("#resident_email").fill(name.lower().replace(" ", ".") + "@example.org")
    page.get_by_label("Category").select_option("property_condition")
    page.get_by_label("What the complaint is about").fill(summary)
    page.get_by_label("What the resident wants to happen").fill("Treat the mould and fix the cause")
    page.get_by_role("button", name="Log the complaint").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Complaint GP-")
    return page.get_by_role("heading", level=1).inner_text().split()[-1]


def open_task(page: Page, reference: str, name: str) -> None:
    page.goto(f"/complaints/{reference}")
    page.locator("#now-title + ul").get_by_role("link", name=name).click()
    expect(page.locator("#task-form .fjs-form")).to_be_visible()


def complete(page: Page) -> None:
    page.get_by_role("button", name="Complete the task").click()


def send_letter(page: Page) -> str:
    expect(page.get_by_role("heading", level=1)).to_contain_text("letter")
    text = page.locator("#letter-preview").inner_text()
    page.get_by_role("button", name="Send the letter").click()
    expect(page.locator(".notice--success")).to_contain_text("Letter stored as sent")
    return text


def choose(page: Page, label: str) -> None:
    page.locator("#task-form").get_by_label(label, exact=True).check()


def select(page: Page, label: str, option: str) -> None:
    """form-js draws its own drop-down list: open it and pick the option."""
    field = page.locator("#task-form .fjs-form-field-select", has_text=label)
    field.locator(".fjs-input-group").click()
    field.locator(".fjs-dropdownlist-item", has_text=option).first.dispatch_event("mousedown")
    expect(field.locator(".fjs-select-display")).to_have_text(option)


def fill(page: Page, label: str, value: str) -> None:
    page.locator("#task-form").get_by_label(label).fill(value)


def test_a_great_places_complaint_from_phone_call_to_final_response(page_for):
    olive = page_for("olive")
    expect(olive.get_by_role("heading", name="You have no tasks")).to_be_visible()
    reference = log_complaint(olive)
    assert re.fullmatch(r"GP-\d{4}-\d{6}", reference)

    # The inbox: the team's unassigned task, claimed.
    olive.goto("/inbox?view=team")
    row = olive.locator("tr", has_text=reference)
    expect(row).to_contain_text("Decide whether to accept the complaint")
    expect(row).to_contain_text("5 working days left")      # the acknowledgement's clock, from receipt
    row.get_by_role("button", name="Claim").click()
    expect(olive.locator(".notice--success")).to_contain_text("Task claimed")
    log_complaint(olive, "Charles Babbage", "Rent statement wrong since April")
    log_complaint(olive, "Emmy Noether", "Neighbour noise every night, no action taken")
    olive.goto("/inbox?view=all")
    expect(olive.locator("tr", has_text=reference)).to_contain_text("olive")
    screenshot(olive, "inbox")

    # Accept, then acknowledge and define the complaint.
    olive.locator("tr", has_text=reference).get_by_role("link", name="Decide whether to accept").click()
    expect(olive.locator("#task-form .fjs-form")).to_be_visible()
    choose(olive, "A complaint")
    choose(olive, "Accept: made within twelve months of the issue")
    complete(olive)
    expect(olive.locator(".notice--success")).to_contain_text("Task completed")

    olive.goto("/inbox?view=team")
    expect(olive.locator("tr", has_text=reference)).to_contain_text(re.compile(r"working days? left|Due today"))
    open_task(olive, reference, "Acknowledge, log and define the complaint")
    fill(olive, "Our understanding of the complaint", "Mould in the back bedroom keeps returning after treatment")
    fill(olive, "Outcomes the resident seeks", "Find and fix the cause of the damp")
    fill(olive, "Aspects we are responsible for", "Repairs to the structure and ventilation")
    fill(olive, "Who will investigate and respond", "Olive Officer, Complaints Officer")
    screenshot(olive, "task")
    complete(olive)
    acknowledgement = send_letter(olive)
    assert reference in acknowledgement

    # Stage 1: extend (the letter names the Ombudsman), then respond.
    open_task(olive, reference, "Investigate and respond (stage 1)")
    choose(olive, "Extend the response date")
    fill(olive, "Extra working days", "5")
    fill(olive, "Reason for the extension, as the customer will read it", "We are waiting for a damp survey")
    complete(olive)
    extension = send_letter(olive)
    assert "Housing Ombudsman" in extension and "0300 111 3000" in extension
    assert "We are waiting for a damp survey" in extension

    open_task(olive, reference, "Investigate and respond (stage 1)")
    choose(olive, "Respond now")
    select(olive, "Decision on the complaint", "Partly upheld")
    fill(olive, "Findings and the reasons for the decision", "The extractor fan was undersized")
    olive.locator("#task-form").get_by_label("Apologising").check()
    complete(olive)
    send_letter(olive)

    # The resident escalates (by phone): recorded on the case page.
    olive.goto(f"/complaints/{reference}")
    escalation = olive.locator("#event-escalation_requested")
    escalation.get_by_label("How it arrived").select_option("phone")
    escalation.get_by_label("I confirm the date, time and channel are as the request arrived").check()
    escalation.get_by_role("button", name="Record: escalation requested").click()
    expect(olive.locator(".notice--success")).to_contain_text("Escalation requested: recorded as received")
    expect(olive.locator(".notice--success")).to_contain_text("by phone")

    # The stage 1 investigator cannot do stage 2: shown on the task page, and refused.
    open_task(olive, reference, "Acknowledge the escalation (stage 2)")
    expect(olive.locator("#separation")).to_contain_text("A different person must do this (Code 6.13)")
    expect(olive.get_by_role("button", name="Complete the task")).to_be_disabled()

    # A different person does stage 2.
    rita = page_for("rita")
    rita.goto("/inbox?view=team")
    rita.locator("tr", has_text=reference).get_by_role("link", name="Acknowledge the escalation").click()
    expect(rita.locator("#separation")).to_contain_text("Code 6.13")
    expect(rita.locator("#separation")).not_to_contain_text("You did the earlier stage")
    fill(rita, "Our understanding of the complaint at stage 2", "The resident says the fan did not fix the mould")
    fill(rita, "Outcomes the resident now seeks", "A full damp survey and redecoration")
    fill(rita, "Stage 2 reviewer", "Rita Reviewer, Head of Homes")
    complete(rita)
    send_letter(rita)

    open_task(rita, reference, "Review and give the final response (stage 2)")
    choose(rita, "Give the final response")
    fill(rita, "What the review did", "Read the file, spoke to the surveyor and the resident")
    select(rita, "Decision on the complaint", "Upheld")
    fill(rita, "Findings and conclusions for each part of the complaint", "The first repair did not treat the cause")
    rita.locator("#task-form").get_by_label("Providing a financial remedy").check()
    fill(rita, "Financial remedy offered (£)", "250")
    complete(rita)
    final = send_letter(rita)
    assert "Housing Ombudsman" in final

    # The case page: the whole record and the diagram marks.
    rita.goto(f"/complaints/{reference}")
    for text in ("The complaint as received", "Damp and mould in the bedroom", "Received, acknowledged and responded",
                 "Mould in the back bedroom keeps returning", "The extractor fan was undersized",
                 "We are waiting for a damp survey", "Extended", "olive", "rita", "letter sent"):
        expect(rita.locator("main")).to_contain_text(text)
    diagram = rita.locator("#case-diagram")
    expect(diagram).to_have_attribute("data-ready", "true")
    assert rita.locator("#case-diagram .djs-element.marker-done").count() >= 8
    assert rita.locator("#case-diagram .djs-element.marker-current").count() >= 1
    screenshot(rita, "case", full_page=False)
    screenshot(rita, "case-diagram", locator=rita.locator("#diagram"))

    with rita.expect_download() as download:
        rita.get_by_role("link", name="Export the record (zip)").click()
    assert download.value.suggested_filename == f"{reference}-record.zip"


def test_a_form_sent_with_missing_fields_keeps_what_was_typed(page_for):
    olive = page_for("olive")
    # The complaint form is checked on the server: the page comes back with the typed values.
    olive.get_by_role("link", name="Log a complaint").first.click()
    olive.get_by_label("Full name").fill("Grace Hopper")
    olive.get_by_label("What the resident wants to happen").fill("A working boiler")
    olive.get_by_role("button", name="Log the complaint").click()
    expect(olive.locator(".error-summary")).to_contain_text("There is a problem")
    expect(olive.locator("#summary-error")).to_be_visible()
    expect(olive.get_by_label("Full name")).to_have_value("Grace Hopper")
    expect(olive.get_by_label("What the resident wants to happen")).to_have_value("A working boiler")

    # A task form sent without a required answer: the server's errors appear beside the fields,
    # with everything typed still there.
    reference = log_complaint(olive, "Grace Hopper", "The boiler has failed twice")
    open_task(olive, reference, "Decide whether to accept the complaint")
    choose(olive, "A complaint")
    olive.evaluate("""() => {
        const post = document.getElementById('task-submit');
        post.querySelector("input[name='data']").value = JSON.stringify({complaint_kind: 'complaint'});
        post.dataset.disabled = 'true';
        HTMLFormElement.prototype.submit.call(post);
    }""")
    expect(olive.locator(".error-summary")).to_contain_text("This field is required")
    decision = olive.locator("#task-form .fjs-form-field-radio", has_text="Decision")
    expect(decision.locator(".fjs-form-field-error")).to_contain_text("required")
    expect(olive.locator("#task-form").get_by_label("A complaint", exact=True)).to_be_checked()


def test_another_landlords_user_gets_404_on_the_case(page_for):
    olive = page_for("olive")
    reference = log_complaint(olive, "Alan Turing", "Noise from the flat above")
    hal = page_for("hal")
    response = hal.goto(f"/complaints/{reference}")
    assert response.status == 404
    expect(hal.get_by_role("heading", level=1)).to_have_text("Page not found")


def test_a_tampered_csrf_token_is_refused(page_for):
    olive = page_for("olive")
    reference = log_complaint(olive, "Mary Somerville", "Fence not repaired")
    olive.goto(f"/complaints/{reference}")
    olive.get_by_label("Add a note").fill("Should not be saved")
    olive.evaluate("""() => {
        const token = document.querySelector("#notes input[name='csrf_token']");
        token.value = token.value.slice(0, -3) + (token.value.endsWith('xyz') ? 'abc' : 'xyz');
    }""")
    olive.get_by_role("button", name="Add the note").click()
    expect(olive.get_by_role("heading", level=1)).to_have_text("The form has expired")
    olive.goto(f"/complaints/{reference}")
    expect(olive.locator("#notes")).not_to_contain_text("Should not be saved")


def test_the_inbox_works_on_a_narrow_screen(page_for):
    olive = page_for("olive", width=390, height=844)
    log_complaint(olive, "Narrow Screen", "Gate broken")
    olive.goto("/inbox?view=all")
    row = olive.locator("tbody tr").first
    expect(row).to_be_visible()
    screenshot(olive, "inbox-narrow")
    wide = olive.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > 392).map(e => e.tagName + '.' + e.className).slice(0, 8)""")
    width = olive.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at 390px ({width}px wide): {wide}"
