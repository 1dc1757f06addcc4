"""Awaab's Law in Chromium: a damp and mould complaint logged by phone offers a hazard case; the caseworker
starts it, sees both clocks on both case pages, the household's vulnerabilities at triage, and the hazard's
task in the inbox with its clock."""
from __future__ import annotations

import re
from datetime import date, timedelta

from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.browser.test_caseworker_browser import log_complaint


def test_a_damp_and_mould_complaint_starts_a_hazard_case_with_both_clocks_in_view(page_for):
    olive = page_for("olive")
    complaint = log_complaint(olive, "Rose Damp", "Black mould spreading in the bedroom; my son has asthma")
    olive.goto(f"/complaints/{complaint}")
    olive.locator("#support summary").click()
    olive.get_by_label("Disclosed disabilities or vulnerabilities").fill("A child with asthma")
    olive.get_by_label("Review by").fill((date.today() + timedelta(days=90)).isoformat())
    olive.get_by_role("button", name="Record", exact=True).click()
    expect(olive.locator(".notice--success")).to_contain_text("vulnerabilities recorded")

    offer = olive.locator("#hazard-offer")
    expect(offer).to_contain_text("Awaab's Law may apply")
    offer.get_by_role("button", name="Start the hazard case").click()
    expect(olive.locator(".notice--success")).to_contain_text(f"started beside complaint {complaint}")
    heading = olive.get_by_role("heading", level=1)
    expect(heading).to_contain_text("Hazard case GPHZ-")
    hazard = heading.inner_text().split()[-1]
    assert re.fullmatch(r"GPHZ-\d{4}-\d{6}", hazard)

    # Both clocks on the hazard case's page: its own (24 hours to triage) and the complaint's.
    expect(olive.locator("#deadlines-title + table")).to_contain_text("Hazard triage (24 hours)")
    linked = olive.locator(".linked-case")
    expect(linked).to_contain_text(complaint)
    expect(linked).to_contain_text("Acknowledge (stage 1)")
    screenshot(olive, "hazard-case")

    # And on the complaint's page, the hazard case's clock beside the Code's.
    olive.goto(f"/complaints/{complaint}")
    expect(olive.locator("#deadlines-title + table")).to_contain_text("Acknowledge (stage 1)")
    expect(olive.locator(".linked-case")).to_contain_text(hazard)
    expect(olive.locator(".linked-case")).to_contain_text("Hazard triage (24 hours)")
    expect(olive.locator("#hazard-offer")).to_have_count(0)

    # The inbox: the hazard's triage task beside the complaint's, with its clock.
    olive.goto("/inbox?view=all")
    row = olive.locator("tr", has_text=hazard)
    expect(row).to_contain_text("Triage the hazard")
    expect(row).to_contain_text("Hazard (Awaab's Law)")
    expect(row.locator("td").first).not_to_be_empty()
    expect(olive.locator("tr", has_text=complaint).first).to_contain_text("Decide whether to accept")

    # Triage shows the household's vulnerabilities, which weigh on the emergency decision.
    row.get_by_role("link", name="Triage the hazard").click()
    expect(olive.locator("#vulnerabilities")).to_contain_text("A child with asthma")
    expect(olive.locator("#task-form .fjs-form")).to_be_visible()
    olive.locator("#task-form").get_by_label("Emergency hazard (24 hours)").check()
    olive.locator("#task-form").get_by_label("Damp and mould", exact=True).check()
    olive.locator("#task-form").get_by_label("Why (what we know of the hazard and the household)").fill(
        "Mould over the bed of a child with asthma")
    olive.get_by_role("button", name="Complete the task").click()
    expect(olive.locator(".notice--success")).to_contain_text("Task completed")
    expect(olive.locator("#deadlines-title + table")).to_contain_text("Emergency hazard made safe (24 hours)")
