"""Signing in and out of the browser workspaces."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from workflow_app.web.auth import views  # noqa: E402,F401  (registers the routes on bp)
