"""Sign-in with a username and password, rate-limited; sign-out."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from workflow_app.casework.accounts import check_password
from workflow_app.casework.models import User
from workflow_app.web.auth import bp
from workflow_app.web.extensions import SignedIn, sign_in_limit

REFUSED = "The username or password is not right, or the account is disabled."
BLOCKED = "Too many failed sign-ins. Wait 15 minutes and try again, or ask an administrator."


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    if current_user.is_authenticated:
        return redirect(url_for("caseworker.inbox"))
    error = None
    status = 200
    username = request.form.get("username", "").strip()
    if request.method == "POST":
        password = request.form.get("password", "")
        address = request.remote_addr or "unknown"
        with current_app.extensions["workflow_app"].sessions.begin() as db:
            if sign_in_limit.blocked(db, username, address):
                error, status = BLOCKED, 429
                record = None
            else:
                record = db.scalars(select(User).where(User.username == username)).first()
                ok = record is not None and check_password(record, password)
                sign_in_limit.record(db, username, address, ok)
                if ok:
                    db.flush()
                    db.expunge(record)
                else:
                    record, error, status = None, REFUSED, 401
        if record is not None:
            session.clear()  # a fresh session on sign-in: no fixation
            login_user(SignedIn(record))
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/sign_in.html", error=error, username=username), status


@bp.post("/sign-out")
def sign_out():
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.sign_in"))


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("caseworker.inbox")
