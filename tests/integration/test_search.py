"""Finding a complaint by what a call handler has (casework/search.py), on both databases."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select, text

from tests.conftest import make_user
from tests.integration.test_data_protection import closed_complaint
from workflow_app.casework import search
from workflow_app.casework.models import SearchEntry, SearchTerm

RECEIVED = "2026-12-23T16:30:00+00:00"


def log(runtime, user, resident, representative=None, landlord="testshire") -> str:
    return runtime.complaints.log_complaint({
        "landlord": landlord, "received_at": RECEIVED, "channel": "phone", "category": "property_condition",
        "summary": "Damp in the bedroom", "resident": resident, "representative": representative}, user)


def found(runtime, user, typed: str) -> list[str]:
    with runtime.sessions() as session:
        return [f.reference for f in search.find(session, user, typed).found]


@pytest.fixture
def people(deployed, officer):
    """Three residents, each logged once, with the details a call handler might have."""
    return {
        "smith": log(deployed, officer, {"name": "Bronwen Smith", "email": "B.Smith@Example.org",
                                         "phone": "07700 900123",
                                         "address": "12 Acacia Avenue\nLeeds LS1 1AB"}),
        "okafor": log(deployed, officer, {"name": "Chidi Okafor", "phone": "+44 113 496 0000",
                                          "address": "Flat 3, 40 Harewood Road, Harrogate HG1 2XY"},
                      representative={"name": "Margaret Whitlock", "relationship": "advocate",
                                      "email": "m.whitlock@advice.example", "phone": "0113 496 0999",
                                      "authority": "signed form"}),
        "zoe": log(deployed, officer, {"name": "Zoë O'Brien-Hughes", "address": "7 Mill Lane, York YO1 7HH"}),
    }


@pytest.mark.parametrize("typed, who", [
    ("Bronwen Smith", "smith"),
    ("smith", "smith"),
    ("Smyth", "smith"),                 # a letter changed
    ("Smtih", "smith"),                 # two letters swapped
    ("Smth", "smith"),                  # a letter left out
    ("bronwyn smith", "smith"),         # the first name misspelt
    ("Okafur", "okafor"),
    ("Chidi", "okafor"),
    ("Margret Whitlock", "okafor"),     # the representative, misspelt
    ("zoe obrien", "zoe"),              # accents and apostrophes folded
    ("Hughs", "zoe"),                   # half of a double-barrelled name, misspelt
    ("b.smith@example.ORG", "smith"),   # emails in any case
    ("m.whitlock@advice.example", "okafor"),
    ("07700900123", "smith"),           # phones however they are written
    ("07700 900 123", "smith"),
    ("0113 496 0000", "okafor"),        # stored as +44 113 496 0000
    ("+44 113 496 0999", "okafor"),     # the representative's, stored as 0113 …
    ("ls11ab", "smith"),                # postcodes with or without the space
    ("HG1 2XY", "okafor"),
    ("acacia avenue", "smith"),         # any part of an address
    ("Harewood Rd", None),              # an address is matched as typed: no abbreviations
    ("mill lane york", "zoe"),
    ("TH-2026-000002", "okafor"),       # the reference
    ("th-2026-000003", "zoe"),
    ("Jones", None),
    ("Smithers", None),
])
def test_a_complaint_is_found_by_what_the_caller_has(deployed, officer, people, typed, who):
    assert found(deployed, officer, typed) == ([people[who]] if who else [])


def test_a_reference_prefix_finds_every_complaint_it_begins(deployed, officer, people):
    assert sorted(found(deployed, officer, "TH-2026-00000")) == sorted(people.values())


def test_an_exact_name_comes_before_a_near_one(deployed, officer):
    smyth = log(deployed, officer, {"name": "Alan Smyth"})
    smith = log(deployed, officer, {"name": "Alan Smith"})
    assert found(deployed, officer, "alan smith") == [smith, smyth]
    assert found(deployed, officer, "alan smyth") == [smyth, smith]


def test_results_show_the_stage_status_and_next_deadline(deployed, officer, people):
    with deployed.sessions() as session:
        [result] = search.find(session, officer, "Bronwen Smith").found
    assert (result.reference, result.resident, result.stage, result.status, result.matched) == (
        people["smith"], "Bronwen Smith", "1", "open", "name")
    assert result.next_due_at == datetime.fromisoformat("2027-01-04T23:59:59+00:00")   # the acknowledgement's
    assert result.received_at == datetime.fromisoformat(RECEIVED)


def test_only_complaints_of_the_users_landlords_are_found(deployed, officer, people):
    elsewhere = make_user(deployed, "ellen", ["caseworker"], ["somewhere_else"])
    assert found(deployed, elsewhere, "Bronwen Smith") == []
    assert found(deployed, elsewhere, "07700900123") == []
    assert found(deployed, elsewhere, "TH-2026-000001") == []


def test_a_search_that_finds_many_shows_the_first_and_says_there_are_more(deployed, officer):
    for n in range(search.LIMIT + 1):
        log(deployed, officer, {"name": f"Pat Many{'x' * (n % 2)}"})
    with deployed.sessions() as session:
        results = search.find(session, officer, "Pat Many")
    assert len(results.found) == search.LIMIT and results.more


def test_an_anonymised_complaint_leaves_the_index(officer, caseworker, deployed, virtual_clock):
    from workflow_app.casework.retention import apply_retention
    old = closed_complaint(deployed, officer, caseworker, virtual_clock)   # Wilhelmina Quartermaine
    assert found(deployed, officer, "Wilhelmina Quartermaine") == [old]
    other = log(deployed, officer, {"name": "Wilhelmina Jones", "address": "1 Quartermaine Close, Leeds LS2 9JT"})

    virtual_clock.set(datetime.fromisoformat("2033-03-02T12:00:00+00:00"))
    apply_retention(deployed.sessions, deployed.casework, "tester", dry_run=False)

    assert found(deployed, officer, "Quartermaine") == [other]            # by its address, not the old name
    assert found(deployed, officer, "w.quartermaine@example.org") == []
    assert found(deployed, officer, "Wilhelmina Quartermaine") == []
    with deployed.sessions() as session:
        assert session.scalar(select(func.count()).where(SearchEntry.complaint_id == _id(session, old))) == 0
        terms = set(session.scalars(select(SearchTerm.term)))
    assert "wilhelmina" in terms and "quartermaine" not in terms      # a word goes with its last complaint
    if deployed.engine.dialect.name == "sqlite":
        with deployed.engine.connect() as connection:
            hits = connection.execute(text("SELECT count(*) FROM search_fts_terms WHERE search_fts_terms "
                                           "MATCH '\"quartermaine\"'")).scalar()
        assert hits == 0


def _id(session, reference):
    from workflow_app.casework.models import Complaint
    return session.scalar(select(Complaint.id).where(Complaint.reference == reference))


def test_nothing_typed_finds_nothing(deployed, officer, people):
    for typed in ("", "   ", "a", "%", "_", '"', "'"):
        assert found(deployed, officer, typed) == []


HOSTILE = [
    'smith"', '"smith', 'NEAR(smith okafor)', 'smith OR okafor', 'smith AND NOT okafor', '-smith', 'smi*', '*',
    '^smith', 'name: smith', '{name}: smith', 'smith\x00', "12 Acacia Avenue'); DROP TABLE complaints;--",
    "LS1 1AB*", "\\", "%smith%", "ü" * 300, "smith " * 200, "07700 900123 OR 1=1", "@", "..", "GP-%", "\t\n",
]


@pytest.mark.parametrize("typed", HOSTILE)
def test_what_a_search_box_can_be_sent_is_searched_for_or_found_wanting_never_an_error(
        deployed, officer, people, typed):
    """The database's text-search syntax, wildcards and SQL in the box are only ever text to look for: the
    search answers (whatever it finds) and every table is still there."""
    found(deployed, officer, typed)
    assert found(deployed, officer, "Smith") == [people["smith"]]


@pytest.mark.parametrize("a, b, distance", [
    ("smith", "smith", 0), ("smith", "smyth", 1), ("smtih", "smith", 1), ("smth", "smith", 1),
    ("smith", "smithers", 3), ("jon", "john", 1), ("abc", "xyz", 2),
])
def test_edit_distance_counts_a_swap_as_one_edit(a, b, distance):
    assert search.edit_distance(a, b, 1) == min(distance, 2)
