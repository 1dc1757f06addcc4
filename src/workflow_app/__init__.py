"""Complaint handling for UK social landlords on BPMN diagrams run by SpiffWorkflow."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from flask import Flask, jsonify

from .db import database_url
from .runtime import build_runtime


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("WORKFLOW_APP_SECRET_KEY", "dev"),
        DATABASE_URL=None,
        PROCESSES_DIR=None,
        FORMS_DIR=None,
        # The timer sweep runs inside the web process unless a scheduler process does it.
        RUN_SCHEDULER=os.environ.get("WORKFLOW_APP_RUN_SCHEDULER", "1") != "0",
        JSON_SORT_KEYS=False,
    )
    if test_config:
        app.config.from_mapping(test_config)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    return app


def register_extensions(app: Flask) -> None:
    url = app.config["DATABASE_URL"] or database_url(Path(app.instance_path))
    runtime = build_runtime(url, _path(app.config["PROCESSES_DIR"]), _path(app.config["FORMS_DIR"]))
    app.extensions["workflow_app"] = runtime
    if app.config["RUN_SCHEDULER"] and not app.config.get("TESTING"):
        from .scheduler import start_background
        app.extensions["workflow_app_scheduler"] = start_background(runtime.complaints)


def register_blueprints(app: Flask) -> None:
    from . import api
    app.register_blueprint(api.bp)

    @app.get("/")
    def index():
        runtime = app.extensions["workflow_app"]
        return jsonify({"product": "workflow-app", "landlords": sorted(runtime.landlords),
                        "api": ["/api/complaints", "/api/tasks"]})


def register_errorhandlers(app: Flask) -> None:
    @app.errorhandler(404)
    def not_found(error):
        return jsonify({"error": "not found"}), 404


def _path(value: Any) -> Path | None:
    return Path(value) if value else None
