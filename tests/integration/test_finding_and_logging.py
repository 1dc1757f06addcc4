"""Finding a complaint from the search box, logging one with every error at once, and the inbox's received dates,
through the Flask test client."""
from __future__ import annotations

import re
from datetime import datetime

from tests.integration.test_caseworker import COMPLAINT_FORM, app, log, post, sign_in, web  # noqa: F401
from workflow_app.casework.schemas import MAX_DETAIL, MAX_TEXT
from workflow_app.rules.vocabulary import CATEGORIES, CHANNELS


def errors_in_summary(page: str) -> list[tuple[str, str]]:
    summary = re.search(r'<div class="error-summary" role="alert".*?</div>', page, re.S)
    assert summary, "no error summary"
    return re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary.group())


# --- finding ------------------------------------------------------------------------------------

def find(client, typed: str):
    """A search from the header's box: posted, so what was typed is in no URL (nor the access log)."""
    return post(client, "/complaints", {"q": typed}, "/inbox")


def test_a_search_is_posted_so_what_was_typed_is_in_no_address(web):
    page = web.get("/inbox").get_data(as_text=True)
    header = re.search(r'<form method="(\w+)" action="/complaints" class="site-search"', page)
    assert header and header.group(1) == "post"
    assert web.get("/complaints?q=Bronwen").status_code == 200        # a query string is not read
    assert "found for" not in web.get("/complaints?q=Bronwen").get_data(as_text=True)


def test_the_search_box_finds_by_name_with_a_typo_and_shows_stage_status_and_deadline(web):
    reference = log(web, resident_name="Bronwen Smith", resident_phone="07700 900123",
                    resident_address="12 Acacia Avenue, Leeds LS1 1AB")
    page = find(web, "Bronwen Smtih").get_data(as_text=True)
    row = re.search(r"<tbody>.*?</tbody>", page, re.S).group()
    assert reference in row and "Bronwen Smith" in row
    assert "Stage 1" in row and "Open" in row
    assert "working days left" in row and "Mon 4 Jan 2027, 23:59" in row     # the acknowledgement is due
    assert ">name<" in row
    assert "1 complaint found for “Bronwen Smtih”" in page
    for typed in ("ls1 1ab", "07700900123", "acacia avenue"):
        assert reference in find(web, typed).get_data(as_text=True), typed


def test_a_whole_reference_opens_the_complaint(web):
    reference = log(web)
    for response in (find(web, reference.lower()), web.get(f"/complaints?reference={reference}")):
        assert response.status_code == 302 and response.headers["Location"].endswith(f"/complaints/{reference}")


def test_nothing_found_says_so_and_what_to_try(web):
    page = find(web, "Nobody Atall").get_data(as_text=True)
    assert "No complaint found for “Nobody Atall”" in page and "<tbody>" not in page


def test_the_search_box_is_in_the_header_of_every_workspace(app, web):
    from tests.conftest import make_user
    make_user(app.extensions["workflow_app"], "mona", ["manager"])
    manager = app.test_client()
    assert sign_in(manager, "mona").status_code == 302
    for client, path in ((web, "/inbox"), (web, "/complaints/new"), (manager, "/manager/")):
        page = client.get(path).get_data(as_text=True)
        assert 'role="search"' in page and 'name="q"' in page and 'id="site-search"' in page, path


# --- logging ------------------------------------------------------------------------------------

def test_every_error_at_once_beside_its_field_and_in_the_summary_in_words(web):
    response = post(web, "/complaints/new", {
        **COMPLAINT_FORM, "channel": "", "category": "", "summary": "", "resident_email": "ada@",
        "received_date": "", "vulnerabilities": "x" * (MAX_TEXT + 1),
        "on_behalf": "1", "rep_name": "Cllr Bell", "rep_email": "bell at council"}, "/complaints/new")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert errors_in_summary(page) == [
        ("channel", "How the complaint was made: Choose how the complaint was made"),
        ("received_date", "Date received: Enter the date and time the complaint was received"),
        ("resident_email", "Resident&#39;s email: Enter an email address in the correct format, like name@example.com"),
        ("rep_email", "Representative&#39;s email: Enter an email address in the correct format, like name@example.com"),
        ("rep_authority", "Representative&#39;s authority: Record the representative&#39;s authority to act"),
        ("category", "Category: Choose the category of the complaint"),
        ("summary", "What the complaint is about: Enter what the complaint is about"),
        ("vulnerabilities", f"Disabilities or vulnerabilities: Disabilities or vulnerabilities must be {MAX_TEXT:,} characters or fewer"),
        ("review_on", "Review date: Enter when to review the adjustments and vulnerabilities"),
    ]
    for field in ("channel", "received_date", "resident_email", "rep_email", "rep_authority", "category", "summary",
                  "vulnerabilities"):
        assert f'id="{field}-error"' in page, field
    summary = re.search(r'<div class="error-summary".*?</div>', page, re.S).group()
    assert 'tabindex="-1"' in summary and "data-focus" in summary
    for code in (*CHANNELS, *CATEGORIES):
        if "_" in code:
            assert code not in summary, code
    assert "choose one of" not in page


def test_an_email_address_is_checked_by_the_service_for_the_api_too(web, app):
    runtime = app.extensions["workflow_app"]
    from workflow_app.casework.models import User
    user = User(username="carl", roles=["caseworker"], landlords=["testshire"], active=True)
    fields = {"landlord": "testshire", "received_at": "2026-12-23T16:30:00+00:00", "channel": "email",
              "category": "other", "summary": "x", "resident": {"name": "A", "email": "not-an-address"}}
    assert runtime.complaints.problems(fields, user) == {
        "resident.email": ["must be an email address, like name@example.com"]}
    assert runtime.complaints.problems({**fields, "resident": {"name": "A", "email": "a.b@example.co.uk"}}, user) \
        == {}


def test_lengths_are_limited_and_shown_as_the_service_limits_them(web):
    page = web.get("/complaints/new").get_data(as_text=True)
    assert re.search(rf'id="resident_name"[^>]*maxlength="{MAX_DETAIL}"', page, re.S)
    assert re.search(rf'id="summary"[^>]*maxlength="{MAX_TEXT}"', page, re.S)
    assert f"Up to {MAX_DETAIL:,} characters." in page and f"Up to {MAX_TEXT:,} characters." in page
    response = post(web, "/complaints/new", {**COMPLAINT_FORM, "resident_name": "x" * (MAX_DETAIL + 1)},
                    "/complaints/new")
    assert response.status_code == 422
    assert f"Resident&#39;s full name must be {MAX_DETAIL:,} characters or fewer" in response.get_data(as_text=True)


def test_the_representative_panel_is_revealed_by_its_checkbox_and_received_defaults_to_now(web):
    page = web.get("/complaints/new").get_data(as_text=True)
    assert 'data-reveals="representative"' in page and 'id="representative"' in page
    assert "build/forms.entry.js" in page
    assert 'name="received_date" type="date" value="2026-12-23"' in page     # the virtual clock: 16:30 UTC
    assert 'name="received_time" type="time" value="16:30"' in page
    logged = log(web, rep_name="Ignored Person")          # not ticked: the panel's fields are not kept
    assert "Ignored Person" not in web.get(f"/complaints/{logged}").get_data(as_text=True)


# --- the inbox ----------------------------------------------------------------------------------

def test_the_inbox_shows_when_each_complaint_was_received_and_how_long_ago(web, virtual_clock):
    log(web, received_date="2026-12-21", received_time="09:15", received_earlier_reason="Letter")
    virtual_clock.set(datetime.fromisoformat("2026-12-24T10:00:00+00:00"))
    page = web.get("/inbox?view=all").get_data(as_text=True)
    row = re.search(r"<tbody>.*?</tbody>", page, re.S).group()
    assert 'data-label="Received">Mon 21 Dec 2026<br><span class="muted">3 days ago</span>' in row
