"""The managers' workspace: live dashboard, diagram heatmap, the Code's and the regulator's figures,
the annual report, the self-assessment, the per-complaint checklist and the lessons-learnt log."""
from flask import Blueprint

bp = Blueprint("manager", __name__, url_prefix="/manager")

from workflow_app.web.manager import views  # noqa: E402,F401  (registers the routes on bp)
