"""The process analysts' workspace: check a diagram against the Code, compare and deploy it,
list and download versions, move running complaints, try a diagram on a date, edit it in
the browser."""
from flask import Blueprint

bp = Blueprint("analyst", __name__, url_prefix="/analyst")

from workflow_app.web.analyst import views  # noqa: E402,F401  (registers the routes on bp)
