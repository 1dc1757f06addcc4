"""Finding a complaint from the header's search box, and the log form's error summary, in Chromium."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.test_caseworker_browser import log_complaint


def test_a_caller_is_found_by_a_misspelt_name_from_the_header_search_box(page_for):
    page = page_for("olive")
    reference = log_complaint(page, name="Bronwen Smith", summary="The boiler has failed twice")

    page.get_by_role("search", name="Find a complaint").get_by_role("searchbox").fill("bronwen smtih")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=2)).to_contain_text("1 complaint found for “bronwen smtih”")
    row = page.locator("table.search-results tbody tr").filter(has_text=reference)
    expect(row).to_contain_text("Bronwen Smith")
    expect(row).to_contain_text("Before stage 1")          # Great Places decides acceptance first
    expect(row).to_contain_text("Open")
    expect(row.locator(".tag")).to_contain_text(re.compile(r"working days? left|Due today"))

    page.get_by_label("Name, address, postcode, phone, email or reference").fill("bronwen.smith@EXAMPLE.org")
    page.get_by_role("button", name="Search", exact=True).click()
    row.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)


def test_the_log_form_shows_every_error_in_a_summary_that_takes_the_focus(page_for):
    page = page_for("olive")
    page.get_by_role("link", name="Log a complaint").first.click()
    panel = page.locator("#representative")
    expect(panel).to_be_hidden()                                  # opens only when ticked
    page.get_by_label("Someone is making the complaint for the resident").check()
    expect(panel).to_be_visible()
    expect(page.get_by_label("Someone is making the complaint for the resident")).to_have_attribute(
        "aria-expanded", "true")
    page.get_by_label("Representative's name").fill("Cllr Bell")
    page.locator("#resident_email").fill("not an address")
    page.get_by_role("button", name="Log the complaint").click()

    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_be_focused()
    for words in ("How the complaint was made: Choose how the complaint was made",
                  "Resident's full name: Enter the resident's full name",
                  "Resident's email: Enter an email address in the correct format, like name@example.com",
                  "Representative's authority: Record the representative's authority to act",
                  "Category: Choose the category of the complaint",
                  "What the complaint is about: Enter what the complaint is about"):
        expect(summary.get_by_role("link", name=words)).to_be_visible()
    expect(summary).not_to_contain_text("_")                      # no stored codes such as in_person
    expect(panel).to_be_visible()                                 # still ticked after the round trip
    expect(page.locator("#summary-error")).to_contain_text("Enter what the complaint is about")

    summary.get_by_role("link", name=re.compile("^What the complaint is about")).click()
    expect(page.locator("#summary")).to_be_focused()
    summary.get_by_role("link", name=re.compile("^How the complaint was made")).click()
    expect(page.locator("#channel input").first).to_be_focused()
