"""The caseworkers' workspace: inbox, logging complaints, tasks, letters and the case record."""
from flask import Blueprint

bp = Blueprint("caseworker", __name__)

from workflow_app.web.caseworker import views  # noqa: E402,F401  (registers the routes on bp)
