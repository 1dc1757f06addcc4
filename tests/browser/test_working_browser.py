"""Working a complaint in Chromium, as the caseworker and the manager would (issue 16, "Working a complaint").

A caseworker finds the logged outcomes already in the acknowledgement form, edits the letter as a
document, follows the "Next task" button, sees an extension's limit and its new due date before saving,
and records the resident's escalation as it arrived; a manager reassigns ticked tasks at once. No page
logs a console error (the letter editor runs under the Content-Security-Policy).
"""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.test_caseworker_browser import choose, complete, fill, log_complaint, open_task


def errors_in(console: list[str]) -> list[str]:
    """Console errors other than the answers of refused forms (a 422 is how the server says "correct this")."""
    return [line for line in console if line.startswith("error") and "status of 422" not in line]


def test_a_caseworker_works_a_complaint_from_its_acknowledgement_to_its_escalation(page_for):
    olive = page_for("olive")
    console: list[str] = []
    olive.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    reference = log_complaint(olive, "Ida Wells", "Leaking gutter over the front door")
    open_task(olive, reference, "Decide whether to accept the complaint")
    choose(olive, "A complaint")
    choose(olive, "Accept: made within twelve months of the issue")
    complete(olive)

    # The acknowledgement starts from what was given when the complaint was logged.
    open_task(olive, reference, "Acknowledge, log and define the complaint")
    expect(olive.locator("#task-form").get_by_label("Outcomes the resident seeks")) \
        .to_have_value("Treat the mould and fix the cause")
    fill(olive, "Our understanding of the complaint", "The gutter leaks onto the front step")
    fill(olive, "Aspects we are responsible for", "Gutters and drainage")
    fill(olive, "Who will investigate and respond", "Olive Officer")
    complete(olive)

    # The letter is edited as a document: bold from the toolbar, typed text, then sent.
    expect(olive.get_by_role("heading", level=1)).to_contain_text("letter")
    area = olive.locator("#letter-editor-area")
    expect(area).to_be_visible()
    expect(olive.locator("#body_html")).to_be_hidden()
    area.locator("p").last.click()
    olive.keyboard.press("End")
    olive.get_by_role("toolbar", name="Letter formatting").get_by_role("button", name="Bold").click()
    olive.keyboard.type(" We will call you on Monday.")
    expect(area.locator("strong", has_text="We will call you on Monday.")).to_be_visible()
    olive.get_by_role("button", name="Send the letter").click()
    expect(olive.locator(".notice--success")).to_contain_text("Letter stored as sent")
    sent = olive.locator("#letters")
    sent.get_by_role("link", name=re.compile("Acknowledgement", re.I)).first.click()
    expect(olive.locator(".letter strong", has_text="We will call you on Monday.")).to_be_visible()

    # The next task came to the caseworker: one button away on the case page.
    olive.goto(f"/complaints/{reference}")
    olive.locator("#next-task").get_by_role("link", name=re.compile("Next task")).click()
    expect(olive.get_by_role("heading", level=1)).to_have_text("Investigate and respond (stage 1)")

    # The extension's limit is stated, and its new due date shown before saving.
    expect(olive.locator("#extension-limit")).to_contain_text("up to 10 working days (Code 6.4)")
    expect(olive.locator("#task-form .fjs-form")).to_be_visible()
    choose(olive, "Extend the response date")
    fill(olive, "Extra working days", "5")
    expect(olive.locator("#extension-preview")).to_contain_text(re.compile(r"New .* date: \w{3} \d+ \w{3} \d{4}"))
    fill(olive, "Extra working days", "50")
    expect(olive.locator("#task-form .fjs-form-field-error")).to_contain_text(re.compile("10|most|maximum", re.I))
    # The caseworker types the reason while the new date is being worked out, and waits to read it before
    # saving: what they typed is kept, the reason is not called missing, and the task completes.
    fill(olive, "Extra working days", "5")
    reason = olive.locator("#task-form").get_by_label("Reason for the extension, as the customer will read it")
    reason.press_sequentially("We are waiting for a roofer's survey", delay=40)
    expect(olive.locator("#extension-preview")).to_contain_text(re.compile(r"New .* date: \w{3} \d+ \w{3} \d{4}"))
    expect(reason).to_have_value("We are waiting for a roofer's survey")
    expect(olive.locator("#task-form .fjs-form-field-error")).to_have_count(0)
    complete(olive)
    olive.get_by_role("button", name="Send the letter").click()
    expect(olive.locator(".notice--success")).to_contain_text("Letter stored as sent")

    olive.goto(f"/complaints/{reference}")
    assert olive.locator("#event-escalation_requested").count() == 0     # not offered before the response
    olive.locator("#next-task").get_by_role("link", name=re.compile("Next task")).click()
    choose(olive, "Respond now")
    from tests.browser.test_caseworker_browser import select
    select(olive, "Decision on the complaint", "Upheld")
    fill(olive, "Findings and the reasons for the decision", "The gutter bracket had failed")
    complete(olive)
    olive.get_by_role("button", name="Send the letter").click()
    expect(olive.locator(".notice--success")).to_contain_text("Letter stored as sent")

    # The escalation, as it arrived: unconfirmed it is refused beside the checkbox, then recorded.
    olive.goto(f"/complaints/{reference}")
    escalation = olive.locator("#event-escalation_requested")
    escalation.get_by_label("How it arrived").select_option("email")
    escalation.get_by_label("Date it arrived").fill("2020-01-01")       # before the complaint: refused
    escalation.get_by_role("button", name="Record: escalation requested").click()
    expect(olive.locator("#escalation_requested-confirmed-error")).to_contain_text("Confirm")
    escalation = olive.locator("#event-escalation_requested")
    expect(escalation.get_by_label("How it arrived")).to_have_value("email")
    escalation.get_by_label("I confirm the date, time and channel are as the request arrived").check()
    escalation.get_by_role("button", name="Record: escalation requested").click()
    expect(olive.locator("#escalation_requested-received_date-error")).to_contain_text("before the complaint")
    escalation = olive.locator("#event-escalation_requested")
    escalation.get_by_label("Date it arrived").fill(olive.evaluate("() => new Date().toISOString().slice(0, 10)"))
    escalation.get_by_label("I confirm the date, time and channel are as the request arrived").check()
    escalation.get_by_role("button", name="Record: escalation requested").click()
    expect(olive.locator(".notice--success")).to_contain_text(re.compile(r"recorded as received .* by email"))
    expect(olive.locator("#event-escalation_requested")).to_have_count(0)

    assert errors_in(console) == [], console


def test_a_manager_reassigns_ticked_tasks_at_once(page_for):
    olive = page_for("olive")
    references = [log_complaint(olive, f"Resident {n}", f"Broken window {n}") for n in ("One", "Two")]
    mona = page_for("mona")
    mona.goto("/inbox?view=all")
    for reference in references:
        mona.locator("tr", has_text=reference).get_by_role("checkbox").check()
    # rita is a stage 2 reviewer and caseworker: the acceptance decision is a complaints officer's, so none moves
    mona.get_by_label("Assign the ticked tasks to").select_option("rita")
    mona.get_by_role("button", name="Reassign ticked tasks").click()
    refusal = mona.locator(".notice--error")
    expect(refusal).to_contain_text("No task was reassigned.")
    for reference in references:
        expect(refusal).to_contain_text(f"Decide whether to accept the complaint on {reference}: rita does not have")
    for reference in references:
        mona.locator("tr", has_text=reference).get_by_role("checkbox").check()
    mona.get_by_label("Assign the ticked tasks to").select_option("olive")
    mona.get_by_role("button", name="Reassign ticked tasks").click()
    expect(mona.locator(".notice--success")).to_contain_text("2 tasks assigned to olive.")
    for reference in references:
        expect(mona.locator("tr", has_text=reference)).to_contain_text("olive")

    # olive hears of it in the app, and chooses a daily digest by email.
    olive.goto("/inbox")
    link = olive.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile("Notifications"))
    expect(link).to_contain_text("2 unread")
    link.click()
    for reference in references:
        expect(olive.locator(".notifications")).to_contain_text(
            f"Decide whether to accept the complaint on {reference} is assigned to you by mona.")
    olive.get_by_label("Your work email address").fill("olive@greatplaces.example")
    olive.get_by_label("One email a day: a digest").check()
    olive.get_by_role("button", name="Save").click()
    expect(olive.locator(".notice--success")).to_contain_text("Your notification settings are saved.")
    expect(olive.get_by_label("One email a day: a digest")).to_be_checked()
    olive.get_by_role("button", name="Mark all as read").click()
    expect(link).not_to_contain_text("unread")
