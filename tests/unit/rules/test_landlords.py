"""Landlord settings: the three real files load, and bad files fail naming file and field."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from workflow_app.rules.landlords import (
    DEFAULT_RETENTION_YEARS,
    Landlord,
    ReferralBody,
    Retention,
    SettingsError,
    load_landlord,
    load_landlords,
)

ROOT = Path(__file__).resolve().parents[3]

PROCESSES = ROOT / "processes"

VALID = """\
display_name = "Test Homes"
reference_prefix = "TH"
nation = "ENG"
homes = 2500
timezone = "Europe/London"

[contact]
email = "info@test-homes.org.uk"

[[referral_bodies]]
name = "Housing Ombudsman Service"
when = "After the final response"
website = "www.housing-ombudsman.org.uk"

[[referral_bodies]]
name = "The Energy Ombudsman"
when = "Heat networks"

[ombudsman]
name = "Housing Ombudsman Service"
address = "PO Box 1484, Unit D, Preston, PR2 0ET"
phone = "0300 111 3000"
email = "info@housing-ombudsman.org.uk"
website = "www.housing-ombudsman.org.uk"

[retention]
anonymise_closed_after_years = 6
"""


def write(processes: Path, slug: str, text: str) -> Path:
    folder = processes / slug
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "landlord.toml").write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def raises_for(folder: Path, field: str | None) -> SettingsError:
    with pytest.raises(SettingsError) as info:
        load_landlord(folder)
    error = info.value
    assert error.path == folder / "landlord.toml"
    assert f"{folder.name}/landlord.toml: " in str(error)
    assert error.field == field
    if field is not None:
        assert f": {field}: " in str(error)
    return error


# --- the real files ---------------------------------------------------------------

@pytest.fixture(scope="module")
def real() -> dict[str, Landlord]:
    return load_landlords(PROCESSES)


def test_the_three_landlords_load(real):
    assert {"great_places", "brighter_places", "harrogate"} <= set(real)
    assert real["great_places"].display_name == "Great Places Housing Group"
    assert real["brighter_places"].display_name == "Brighter Places"
    assert real["harrogate"].display_name == "Harrogate Housing Association"


def test_prefixes_nation_and_homes(real):
    assert real["great_places"].reference_prefix == "GP"
    assert real["brighter_places"].reference_prefix == "BP"
    assert real["harrogate"].reference_prefix == "HHA"
    for slug in ("great_places", "brighter_places", "harrogate"):
        landlord = real[slug]
        assert landlord.slug == slug
        assert landlord.nation == "ENG"
        assert isinstance(landlord.homes, int) and landlord.homes > 0
        assert landlord.folder == PROCESSES / slug
        # No seed states a retention period: the default applies, awaiting the landlord's confirmation.
        assert landlord.retention == Retention(DEFAULT_RETENTION_YEARS, default=True)
        assert not landlord.retention.confirmed
        # No seed states the number of homes: 1,000 is a stand-in, not confirmed, until a source is given.
        assert landlord.homes == 1000 and landlord.homes_source is None and not landlord.homes_confirmed


def test_the_number_of_homes_is_confirmed_by_giving_its_source(tmp_path):
    assert not load_landlord(write(tmp_path, "x", VALID)).homes_confirmed
    text = VALID.replace("homes = 2500\n", 'homes = 2500\nhomes_source = "Statistical Data Return 2026"\n')
    landlord = load_landlord(write(tmp_path, "y", text))
    assert landlord.homes_confirmed and landlord.homes_source == "Statistical Data Return 2026"
    error = raises_for(write(tmp_path, "z", VALID.replace("homes = 2500\n", 'homes = 2500\nhomes_source = ""\n')),
                       "homes_source")
    assert "must not be empty" in str(error)


def test_ombudsman_details_from_the_seeds(real):
    for landlord in real.values():
        ombudsman = landlord.ombudsman
        assert ombudsman["name"] == "Housing Ombudsman Service"
        assert ombudsman["phone"] == "0300 111 3000"
        assert ombudsman["email"] == "info@housing-ombudsman.org.uk"
        assert ombudsman["website"] == "www.housing-ombudsman.org.uk"
        assert ombudsman["address"] == "PO Box 1484, Unit D, Preston, PR2 0ET"


def test_referral_bodies_as_each_policy_lists_them(real):
    names = {slug: [b.name for b in landlord.referral_bodies] for slug, landlord in real.items()}
    assert names["great_places"] == [
        "Housing Ombudsman Service",
        "The Property Ombudsman",
        "The New Homes Ombudsman",
        "The Building Safety Regulator",
        "The Energy Ombudsman",
    ]
    assert names["brighter_places"] == [
        "Housing Ombudsman Service",
        "A designated person (local MP or councillor)",
    ]
    assert names["harrogate"][0] == "Housing Ombudsman Service"
    gp = {b.name: b for b in real["great_places"].referral_bodies}
    assert gp["The New Homes Ombudsman"].website == "https://www.nhos.org.uk/"
    assert "heat network" in gp["The Energy Ombudsman"].covers.lower()
    assert "building safety" in gp["The Building Safety Regulator"].covers.lower()


def test_landlord_contact_only_as_the_seeds_give_it(real):
    assert real["harrogate"].contact == {"email": "info@hhal.org.uk", "website": "www.hhal.org.uk"}
    assert dict(real["great_places"].contact) == {"website": "www.greatplaces.org.uk"}
    assert dict(real["brighter_places"].contact) == {}


def test_landlords_are_immutable(real):
    landlord = real["harrogate"]
    with pytest.raises(TypeError):
        landlord.ombudsman["phone"] = "999"  # type: ignore[index]
    assert hash(landlord) == hash(landlord)


# --- a good file written here -------------------------------------------------------

def test_a_complete_file_loads(tmp_path):
    landlord = load_landlord(write(tmp_path, "test_homes", VALID))
    assert landlord.slug == "test_homes"
    assert landlord.homes == 2500
    assert landlord.retention == Retention(6)        # set in the file, not yet confirmed
    assert not landlord.retention.confirmed and not landlord.retention.default
    assert landlord.referral_bodies[1] == ReferralBody(
        name="The Energy Ombudsman", covers="Heat networks", website=None, phone=None, email=None
    )


def test_optional_parts_may_be_left_out(tmp_path):
    text = VALID.replace('timezone = "Europe/London"\n', "")
    text = text.split("[retention]")[0]
    landlord = load_landlord(write(tmp_path, "test_homes", text))
    assert landlord.retention.years == DEFAULT_RETENTION_YEARS and landlord.retention.default


def test_folders_without_settings_are_skipped(tmp_path):
    write(tmp_path, "test_homes", VALID)
    (tmp_path / "not_a_landlord").mkdir()
    (tmp_path / "README.md").write_text("diagrams live here")
    assert list(load_landlords(tmp_path)) == ["test_homes"]


# --- bad files ----------------------------------------------------------------------

def test_missing_field(tmp_path):
    folder = write(tmp_path, "x", VALID.replace('display_name = "Test Homes"\n', ""))
    error = raises_for(folder, "display_name")
    assert "display_name: is required" in str(error)


def test_missing_nested_field(tmp_path):
    folder = write(tmp_path, "x", VALID.replace('name = "The Energy Ombudsman"\n', ""))
    error = raises_for(folder, "referral_bodies[1].name")
    assert "is required" in str(error)


def test_missing_ombudsman_table(tmp_path):
    folder = write(tmp_path, "x", VALID.split("[ombudsman]")[0])
    raises_for(folder, "ombudsman")


def test_ombudsman_needs_a_way_to_contact_it(tmp_path):
    text = VALID
    for line in ('phone = "0300 111 3000"\n', 'email = "info@housing-ombudsman.org.uk"\n',
                 'website = "www.housing-ombudsman.org.uk"\n'):
        text = text.split("[ombudsman]")[0] + "[ombudsman]" + text.split("[ombudsman]")[1].replace(line, "")
    error = raises_for(write(tmp_path, "x", text), "ombudsman")
    assert "at least one of phone, email or website" in str(error)


def test_wrong_type(tmp_path):
    folder = write(tmp_path, "x", VALID.replace("homes = 2500", 'homes = "2,500"'))
    error = raises_for(folder, "homes")
    assert "must be a whole number" in str(error)


def test_wrong_type_nested(tmp_path):
    folder = write(tmp_path, "x", VALID.replace('phone = "0300 111 3000"', "phone = 3001113000"))
    error = raises_for(folder, "ombudsman.phone")
    assert "must be text" in str(error)


def test_homes_must_be_positive(tmp_path):
    folder = write(tmp_path, "x", VALID.replace("homes = 2500", "homes = 0"))
    error = raises_for(folder, "homes")
    assert "at least 1" in str(error)


def test_unknown_key(tmp_path):
    folder = write(tmp_path, "x", VALID.replace("display_name =", "display_nmae ="))
    error = raises_for(folder, "display_nmae")
    assert "unknown key" in str(error)
    assert "did you mean 'display_name'" in str(error)
    # the missing display_name is reported too
    assert ("display_name", "is required") in error.problems


def test_unknown_key_in_a_table(tmp_path):
    folder = write(tmp_path, "x", VALID.replace('email = "info@test-homes.org.uk"',
                                                'fax = "01234 567890"'))
    error = raises_for(folder, "contact.fax")
    assert "unknown key" in str(error)


@pytest.mark.parametrize("prefix", ["gp", "G", "GREATP", "G1", "G-P", ""])
def test_bad_prefix(tmp_path, prefix):
    folder = write(tmp_path, "x", VALID.replace('"TH"', f'"{prefix}"'))
    error = raises_for(folder, "reference_prefix")
    assert "2 to 5 capital letters" in str(error)


@pytest.mark.parametrize("nation", ["GB", "eng", "UK", "WALES"])
def test_bad_nation(tmp_path, nation):
    folder = write(tmp_path, "x", VALID.replace('nation = "ENG"', f'nation = "{nation}"'))
    error = raises_for(folder, "nation")
    assert "must be one of ENG, WLS, SCT, NIR" in str(error)


def test_other_nations_are_allowed(tmp_path):
    for nation in ("WLS", "SCT", "NIR"):
        folder = write(tmp_path, "x", VALID.replace('nation = "ENG"', f'nation = "{nation}"'))
        assert load_landlord(folder).nation == nation


def test_timezone_other_than_london_is_refused(tmp_path):
    folder = write(tmp_path, "x", VALID.replace("Europe/London", "Europe/Dublin"))
    error = raises_for(folder, "timezone")
    assert "'Europe/London'" in str(error)


def test_bad_email(tmp_path):
    folder = write(tmp_path, "x", VALID.replace("info@test-homes.org.uk", "info at test homes"))
    error = raises_for(folder, "contact.email")
    assert "must be an email address" in str(error)


def test_retention_must_be_whole_years(tmp_path):
    folder = write(tmp_path, "x", VALID.replace("anonymise_closed_after_years = 6",
                                                "anonymise_closed_after_years = 6.5"))
    raises_for(folder, "retention.anonymise_closed_after_years")


def test_the_default_retention_is_six_years_after_closing():
    """The Limitation Act 1980's six years (rules/landlords.py says why); every landlord gets it until it sets its own."""
    assert DEFAULT_RETENTION_YEARS == 6


def test_a_landlord_confirms_its_retention_period_saying_who_and_when(tmp_path):
    from datetime import date
    confirmed = VALID.replace("anonymise_closed_after_years = 6",
                              'anonymise_closed_after_years = 7\nconfirmed_by = "Data Protection Officer"\n'
                              "confirmed_on = 2027-01-15")
    retention = load_landlord(write(tmp_path, "test_homes", confirmed)).retention
    assert retention == Retention(7, confirmed_by="Data Protection Officer", confirmed_on=date(2027, 1, 15))
    assert retention.confirmed and not retention.default


@pytest.mark.parametrize("lines, field, words", [
    ('confirmed_by = "Data Protection Officer"', "retention.confirmed_on", "is required with confirmed_by"),
    ("confirmed_on = 2027-01-15", "retention.confirmed_by", "is required with confirmed_on"),
    ('confirmed_by = "DPO"\nconfirmed_on = "2027-01-15"', "retention.confirmed_on",
     "must be a date without quotes, e.g. 2027-03-31, not the text '2027-01-15'"),
    ('confirmed_by = "DPO"\nconfirmed_on = 2027-01-15T09:00:00Z', "retention.confirmed_on",
     "not a date and time"),
    ('confirmed_by = ""\nconfirmed_on = 2027-01-15', "retention.confirmed_by", "must not be empty"),
    ("confirmed = true", "retention.confirmed", "unknown key"),
])
def test_a_confirmation_names_who_and_when(tmp_path, lines, field, words):
    folder = write(tmp_path, "x", VALID.replace("anonymise_closed_after_years = 6",
                                                f"anonymise_closed_after_years = 6\n{lines}"))
    assert words in str(raises_for(folder, field))


def test_a_confirmation_names_the_period_it_confirms(tmp_path):
    """Confirming without a period would silently follow any later change of the default."""
    folder = write(tmp_path, "x", VALID.replace("anonymise_closed_after_years = 6",
                                                'confirmed_by = "DPO"\nconfirmed_on = 2027-01-15'))
    raises_for(folder, "retention.anonymise_closed_after_years")


def test_toml_syntax_error_names_file_and_line(tmp_path):
    folder = write(tmp_path, "x", VALID.replace('nation = "ENG"', "nation = ENG"))
    error = raises_for(folder, None)
    assert error.line == 3
    assert "line 3" in str(error)
    assert "TOML syntax error" in str(error)
    assert "landlord.toml" in str(error)


def test_missing_file(tmp_path):
    (tmp_path / "x").mkdir()
    error = raises_for(tmp_path / "x", None)
    assert "file not found" in str(error)


def test_bad_folder_name(tmp_path):
    write(tmp_path, "Great-Places", VALID)
    with pytest.raises(SettingsError) as info:
        load_landlords(tmp_path)
    assert info.value.field == "slug"
    assert "Great-Places" in str(info.value)


def test_duplicate_referral_body(tmp_path):
    folder = write(tmp_path, "x", VALID.replace('"The Energy Ombudsman"', '"Housing Ombudsman Service"'))
    error = raises_for(folder, "referral_bodies[1].name")
    assert "already listed" in str(error)


def test_duplicate_prefix_across_two_folders(tmp_path):
    write(tmp_path, "alpha", VALID)
    second = write(tmp_path, "beta", VALID.replace("Test Homes", "Other Homes"))
    with pytest.raises(SettingsError) as info:
        load_landlords(tmp_path)
    error = info.value
    assert error.path == second / "landlord.toml"
    assert error.field == "reference_prefix"
    message = str(error)
    assert str(Path("beta") / "landlord.toml") in message
    assert str(Path("alpha") / "landlord.toml") in message
    assert "'TH' is already used" in message


def test_message_format(tmp_path, monkeypatch):
    folder = write(tmp_path, "x", VALID.replace('phone = "0300 111 3000"', "phone = 3001113000"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError) as info:
        load_landlord(folder)
    assert str(info.value).startswith("x/landlord.toml: ombudsman.phone: must be text")


def test_every_problem_is_reported(tmp_path):
    text = (VALID.replace('display_name = "Test Homes"\n', "")
                 .replace('nation = "ENG"\n', "")
                 .replace('[contact]\n', '[contact]\nfax = "1"\ntelex = "2"\n'))
    error = raises_for(write(tmp_path, "x", text), "display_name")
    fields = [f for f, _ in error.problems]
    assert fields == ["display_name", "nation", "contact.fax", "contact.telex"]
    assert len(str(error).splitlines()) == 4
