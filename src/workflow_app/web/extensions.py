"""The web extensions, created once: sign-in sessions, CSRF protection, the sign-in rate limit.

Only singletons and their set-up live here; the factory calls `init_app`.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask_login import LoginManager, UserMixin
from flask_wtf import CSRFProtect
from sqlalchemy import func, select

from workflow_app.casework.models import SignInAttempt, User
from workflow_app.rules import clock
from workflow_app.web.identity import read_user

login_manager = LoginManager()
login_manager.login_view = "auth.sign_in"
login_manager.login_message = "Sign in to see that page."
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"

csrf = CSRFProtect()


class SignedIn(UserMixin):
    """The signed-in person for Flask-Login, holding their (detached) user record.

    The services take `record`; it is loaded afresh on every request, so a user who is
    disabled or loses a landlord is refused on their next click.
    """

    def __init__(self, record: User) -> None:
        self.record = record

    def get_id(self) -> str:
        return str(self.record.id)

    @property
    def username(self) -> str:
        return self.record.username

    @property
    def display_name(self) -> str:
        return self.record.display_name

    @property
    def roles(self) -> list[str]:
        return list(self.record.roles)

    @property
    def landlords(self) -> list[str]:
        return list(self.record.landlords)


@login_manager.user_loader
def _load_user(user_id: str) -> SignedIn | None:
    if not user_id.isdigit():
        return None
    record = read_user(lambda session: session.get(User, int(user_id)))
    if record is None or not record.active:
        return None
    return SignedIn(record)


class SignInLimit:
    """Failed sign-ins counted in the database, so every web process shares the count.

    More than `per_user` failures for one username, or `per_address` from one address,
    within `window` refuse further attempts until the window has passed.
    """

    def __init__(self, per_user: int = 5, per_address: int = 20, window: timedelta = timedelta(minutes=15)):
        self.per_user = per_user
        self.per_address = per_address
        self.window = window

    def init_app(self, app: Flask) -> None:
        self.per_user = app.config.get("SIGN_IN_LIMIT_PER_USER", self.per_user)
        self.per_address = app.config.get("SIGN_IN_LIMIT_PER_ADDRESS", self.per_address)
        app.extensions["sign_in_limit"] = self

    def blocked(self, session, username: str, address: str) -> bool:
        since = clock.now() - self.window
        failures = select(func.count(SignInAttempt.id)).where(SignInAttempt.at >= since,
                                                                SignInAttempt.succeeded.is_(False))
        by_user = session.scalar(failures.where(SignInAttempt.username == username)) or 0
        by_address = session.scalar(failures.where(SignInAttempt.address == address)) or 0
        return by_user >= self.per_user or by_address >= self.per_address

    @staticmethod
    def record(session, username: str, address: str, succeeded: bool) -> None:
        session.add(SignInAttempt(username=username[:120], address=address[:64], at=clock.now(),
                                  succeeded=succeeded))


sign_in_limit = SignInLimit()


def init_app(app: Flask) -> None:
    """Secure session cookies, CSRF on every form (the bearer-token API aside), sign-in."""
    secure = app.config.get("SECURE_COOKIES")
    if secure is None:
        secure = not (app.debug or app.testing)
    app.config.update(SESSION_COOKIE_SECURE=secure, REMEMBER_COOKIE_SECURE=secure,
                      SESSION_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", REMEMBER_COOKIE_SAMESITE="Lax")
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", timedelta(hours=9))
    app.config.setdefault("MAX_CONTENT_LENGTH", 20 * 1024 * 1024)
    login_manager.init_app(app)
    csrf.init_app(app)
    sign_in_limit.init_app(app)
