"""Complaint handling for UK social landlords on BPMN diagrams run by SpiffWorkflow."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, g, jsonify, redirect, render_template, request, url_for

from workflow_app import settings as app_settings
from workflow_app.casework.db import database_url, default_instance_dir
from workflow_app.casework.runtime import Runtime, build_runtime
from workflow_app.casework.schemas import unstorable_text
from workflow_app.rules import clock


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """The app, configured from the environment (`workflow_app.settings`) and then `test_config`.

    Refuses to start without a real secret key (WORKFLOW_APP_SECRET_KEY, or SECRET_KEY in
    `test_config`) unless the app is debugging or testing."""
    settings = app_settings.load()
    app = Flask(__name__, instance_path=str(default_instance_dir()), instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key,
        DATABASE_URL=None,
        PROCESSES_DIR=None,
        FORMS_DIR=None,
        # Timers are fired by a `workflow-app scheduler` process, not by each web worker
        # (`workflow-app serve` asks for a scheduler inside itself).
        RUN_SCHEDULER=settings.run_scheduler,
        JSON_SORT_KEYS=False,
        # Secure cookies unless debugging or testing; WORKFLOW_APP_SECURE_COOKIES=0 for plain http.
        SECURE_COOKIES=settings.secure_cookies,
    )
    if test_config:
        app.config.from_mapping(test_config)
    require_secret(app)
    app.extensions["workflow_app_settings"] = settings
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    return app


def require_secret(app: Flask) -> None:
    """No real secret, no app: sessions and CSRF tokens signed with a known key can be forged."""
    if app_settings.usable_secret(app.config.get("SECRET_KEY")):
        return
    if app.debug or app.config.get("TESTING"):
        app.config["SECRET_KEY"] = "dev"   # debugging or tests on this machine only
        return
    raise app_settings.InsecureSettings(
        f"{app_settings.SECRET_KEY_VARIABLE} is not set (or is a placeholder): set it to a long random "
        "value, e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`, the same in every web "
        "process. For a look on this machine, `workflow-app serve` on 127.0.0.1 makes a throwaway one.")


def register_extensions(app: Flask) -> None:
    url = app.config["DATABASE_URL"] or database_url(Path(app.instance_path))
    runtime = build_runtime(url, _path(app.config["PROCESSES_DIR"]), _path(app.config["FORMS_DIR"]),
                            run_clock=app.config.get("CLOCK"))
    app.extensions["workflow_app"] = runtime
    from workflow_app.web import extensions, security
    extensions.init_app(app)
    security.init_app(app)
    use_runtime_clock(app, runtime)
    from workflow_app.casework.outbox import OutboxSender, SmtpSettings
    smtp = SmtpSettings.from_mapping({**app.config, **app.extensions["workflow_app_settings"].smtp_values()})
    app.extensions["workflow_app_smtp"] = smtp
    if app.config["RUN_SCHEDULER"] and not app.config.get("TESTING"):
        from workflow_app.casework.scheduler import start_background
        from workflow_app.reporting.projections import jobs_after_each_sweep
        # The letters' email goes out beside the timers, in a thread of its own (`casework.outbox`).
        sender = [OutboxSender(runtime.sessions, smtp, runtime.clock)] if smtp is not None else []
        app.extensions["workflow_app_scheduler"] = start_background(runtime.complaints, runtime.clock,
                                                                    after_sweep=jobs_after_each_sweep(runtime, smtp),
                                                                    companions=sender)


def use_runtime_clock(app: Flask, runtime: Runtime) -> None:
    """Each request reads the app's clock: the system clock, or a rehearsal's frozen one (never another
    run's: Try it and the simulator set their own clock for their own code only)."""
    if runtime.clock is clock.SYSTEM:
        return

    @app.before_request
    def enter_clock() -> None:
        g.clock_token = clock.enter(runtime.clock)

    @app.teardown_request
    def leave_clock(error: BaseException | None) -> None:
        token = g.pop("clock_token", None)
        if token is not None:
            clock.leave(token)


def register_blueprints(app: Flask) -> None:
    from workflow_app.web import api, auth, caseworker, manager
    from workflow_app.web.extensions import csrf
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # bearer tokens, not cookies: no cross-site request can carry one
    app.register_blueprint(auth.bp)
    app.register_blueprint(caseworker.bp)
    from workflow_app.web.analyst import bp as analyst_bp
    app.register_blueprint(analyst_bp)
    app.register_blueprint(manager.bp)

    @app.get("/")
    def index():
        if request.accept_mimetypes.best == "application/json":
            runtime = app.extensions["workflow_app"]
            return jsonify({"product": "workflow-app", "landlords": sorted(runtime.landlords),
                            "api": ["/api/complaints", "/api/tasks"], "openapi": "/api/openapi.json"})
        return redirect(url_for("caseworker.inbox"))


def register_errorhandlers(app: Flask) -> None:
    from flask_wtf.csrf import CSRFError

    @app.errorhandler(404)
    def not_found(error):
        if request.path.startswith("/api/"):
            return jsonify({"error": "not found"}), 404
        return render_template("error.html", status=404, title="Page not found",
                               message="There is no such page, or it is not one you may see."), 404

    @app.before_request
    def refuse_unstorable_text():
        """A form or query no database can store (a NUL, a lone surrogate) is refused before any view reads it;
        the API refuses the same by field (`web.openapi`)."""
        if request.path.startswith("/api/"):
            return None
        for name, value in (*request.args.items(multi=True), *request.form.items(multi=True)):
            if unstorable_text(name) or unstorable_text(value):
                return render_template("error.html", status=400, title="The form could not be saved",
                                       message="A field holds characters that cannot be stored (a NUL "
                                               "character or broken Unicode). Go back, retype it and try "
                                               "again."), 400
        return None

    @app.errorhandler(CSRFError)
    def csrf_refused(error):
        return render_template("error.html", status=400, title="The form has expired",
                               message="The form could not be checked (its security token was missing, "
                                       "expired or changed). Go back, reload the page and try again."), 400


def _path(value: Any) -> Path | None:
    return Path(value) if value else None
