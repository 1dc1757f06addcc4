"""The settings module: each setting from its WORKFLOW_APP_ variable, with its default."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from workflow_app import settings
from workflow_app.rules import clock

ALL = ("SECRET_KEY", "RUN_SCHEDULER", "SECURE_COOKIES", "DATABASE_URL", "INSTANCE", "PROCESSES", "FORMS", "NOW",
       "SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_FROM", "SMTP_STARTTLS", "SMTP_SSL")


@pytest.fixture
def environment(monkeypatch):
    for name in ALL:
        monkeypatch.delenv(f"WORKFLOW_APP_{name}", raising=False)
    return lambda **values: [monkeypatch.setenv(f"WORKFLOW_APP_{k}", v) for k, v in values.items()]


def test_defaults(environment):
    loaded = settings.load()
    assert loaded.secret_key is None and not loaded.secret_is_usable()
    assert loaded.run_scheduler is False and loaded.secure_cookies is None   # web workers fire no timers
    assert loaded.database_url is None and loaded.now is None and loaded.smtp_host is None
    assert (loaded.instance, loaded.processes, loaded.forms) == (Path("instance"), Path("processes"), Path("forms"))
    assert loaded.smtp_values() == {}


def test_each_setting_is_read_from_its_prefixed_variable(environment):
    environment(SECRET_KEY="s3cret-s3cret", RUN_SCHEDULER="0", SECURE_COOKIES="0", DATABASE_URL="sqlite:///x.db",
                INSTANCE="/srv/inst", PROCESSES="/srv/processes", FORMS="/srv/forms", NOW="2027-01-04T09:00:00+00:00",
                SMTP_HOST="mail.example", SMTP_PORT="2525", SMTP_USERNAME="u", SMTP_PASSWORD="p",
                SMTP_FROM="complaints@example.org", SMTP_STARTTLS="1", SMTP_SSL="no")
    loaded = settings.load()
    assert loaded.secret_key == "s3cret-s3cret" and loaded.secret_is_usable()
    assert loaded.run_scheduler is False and loaded.secure_cookies is False
    assert loaded.database_url == "sqlite:///x.db" and loaded.now == "2027-01-04T09:00:00+00:00"
    assert (loaded.instance, loaded.processes, loaded.forms) == (Path("/srv/inst"), Path("/srv/processes"),
                                                                 Path("/srv/forms"))
    assert (loaded.smtp_host, loaded.smtp_port, loaded.smtp_username, loaded.smtp_password, loaded.smtp_from,
            loaded.smtp_starttls, loaded.smtp_ssl) == ("mail.example", 2525, "u", "p", "complaints@example.org",
                                                       True, False)


def test_the_settings_reach_the_modules_that_use_them(environment, tmp_path):
    from workflow_app.casework.db import database_url, default_instance_dir
    from workflow_app.casework.letters import SmtpSettings
    from workflow_app.casework.runtime import default_clock, default_forms_dir, default_processes_dir

    environment(INSTANCE=str(tmp_path / "inst"), PROCESSES=str(tmp_path / "p"), FORMS=str(tmp_path / "f"),
                NOW="2027-01-04T09:00:00+00:00", SMTP_HOST="mail.example", SMTP_SSL="1")
    assert default_instance_dir() == tmp_path / "inst"
    assert database_url(default_instance_dir()) == f"sqlite:///{tmp_path / 'inst' / 'workflow_app.sqlite3'}"
    assert (default_processes_dir(), default_forms_dir()) == (tmp_path / "p", tmp_path / "f")
    frozen = default_clock()
    assert isinstance(frozen, clock.VirtualClock) and frozen.now() == datetime(2027, 1, 4, 9, tzinfo=UTC)
    smtp = SmtpSettings.from_environment()
    assert smtp is not None and (smtp.host, smtp.port, smtp.ssl, smtp.starttls) == ("mail.example", 25, True, False)
    environment(DATABASE_URL="postgresql+psycopg://db/workflow")
    assert database_url(default_instance_dir()) == "postgresql+psycopg://db/workflow"


def test_flags_keep_their_meaning(environment):
    environment(RUN_SCHEDULER="no", SECURE_COOKIES="")
    loaded = settings.load()
    assert loaded.run_scheduler is True      # only "0" turns the in-process sweep off
    assert loaded.secure_cookies is None     # empty: decided by debugging or testing


@pytest.mark.parametrize("value", [None, "", "dev"])
def test_no_secret_or_a_placeholder_is_not_usable(value):
    assert not settings.usable_secret(value)
