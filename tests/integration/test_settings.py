"""The app refuses to start without a real secret outside debugging and tests; `serve` on loopback makes one."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from flask import Flask

from tests.conftest import FORMS, PROCESSES
from workflow_app import settings
from workflow_app.web import create_app


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.delenv("WORKFLOW_APP_SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite3'}", "PROCESSES_DIR": str(PROCESSES),
            "FORMS_DIR": str(FORMS), "RUN_SCHEDULER": False}


def close(app: Flask) -> None:
    app.extensions["workflow_app"].close()


@pytest.mark.parametrize("secret", [None, "", "dev"])
def test_the_app_refuses_to_start_without_a_secret(config, monkeypatch, secret):
    if secret is not None:
        monkeypatch.setenv("WORKFLOW_APP_SECRET_KEY", secret)
    with pytest.raises(settings.InsecureSettings, match="WORKFLOW_APP_SECRET_KEY"):
        create_app(config)


def test_the_app_starts_with_a_secret_from_the_environment(config, monkeypatch):
    monkeypatch.setenv("WORKFLOW_APP_SECRET_KEY", "a-long-random-value")
    app = create_app(config)
    try:
        assert app.config["SECRET_KEY"] == "a-long-random-value"
        assert app.config["SESSION_COOKIE_SECURE"] is True
    finally:
        close(app)


@pytest.mark.parametrize("mode", [{"TESTING": True}, {"DEBUG": True}])
def test_debugging_and_tests_need_no_secret(config, mode):
    app = create_app({**config, **mode})
    close(app)


def test_the_settings_reach_the_app(config, monkeypatch):
    monkeypatch.setenv("WORKFLOW_APP_SECRET_KEY", "a-long-random-value")
    monkeypatch.setenv("WORKFLOW_APP_RUN_SCHEDULER", "0")
    monkeypatch.setenv("WORKFLOW_APP_SECURE_COOKIES", "0")
    monkeypatch.setenv("WORKFLOW_APP_SMTP_HOST", "mail.example")
    app = create_app({key: value for key, value in config.items() if key != "RUN_SCHEDULER"})
    try:
        assert app.config["RUN_SCHEDULER"] is False and app.config["SESSION_COOKIE_SECURE"] is False
        with app.app_context():
            from workflow_app.web.caseworker.views import letters
            assert letters().smtp is not None and letters().smtp.host == "mail.example"
    finally:
        close(app)


@pytest.fixture
def serve(config, monkeypatch, tmp_path):
    """`workflow-app serve`, stopped before it listens; returns (output, the app's secret)."""
    monkeypatch.setenv("WORKFLOW_APP_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("WORKFLOW_APP_PROCESSES", str(PROCESSES))
    monkeypatch.setenv("WORKFLOW_APP_FORMS", str(FORMS))
    served = {}

    def run(app, **kwargs):
        served["secret"] = app.config["SECRET_KEY"]
        close(app)

    monkeypatch.setattr(Flask, "run", run)
    from workflow_app.tools.cli import main

    def invoke(*args):
        result = CliRunner().invoke(main, ["serve", "--no-scheduler", *args])
        return result, served.get("secret")
    return invoke


def test_serve_on_loopback_uses_a_throwaway_secret_and_says_so(serve):
    result, secret = serve()
    assert result.exit_code == 0, result.output
    assert "WORKFLOW_APP_SECRET_KEY is not set: signing sessions with a throwaway secret" in result.output
    assert settings.usable_secret(secret) and len(secret) >= 32


def test_serve_elsewhere_or_without_the_dev_secret_refuses(serve):
    for args in (["--host", "0.0.0.0"], ["--no-dev-secret"], ["--host", "0.0.0.0", "--dev-secret"]):
        result, secret = serve(*args)
        assert result.exit_code != 0 and "WORKFLOW_APP_SECRET_KEY" in result.output and secret is None


def test_serve_uses_the_configured_secret(serve, monkeypatch):
    monkeypatch.setenv("WORKFLOW_APP_SECRET_KEY", "a-long-random-value")
    result, secret = serve("--host", "0.0.0.0")
    assert result.exit_code == 0 and secret == "a-long-random-value" and "throwaway" not in result.output
