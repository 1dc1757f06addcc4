"""Users and API tokens."""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from workflow_app.casework.models import ApiToken, User
from workflow_app.rules import clock
from workflow_app.rules.errors import Conflict, InvalidInput
from workflow_app.rules.roles import ROLES, unknown_roles

PASSWORD_METHOD = "scrypt"
"""werkzeug's hashing method for new passwords (the tests lower it: they do not test the hash's cost)."""


def create_user(session: Session, username: str, display_name: str, roles: list[str], landlords: list[str],
                password: str | None = None) -> User:
    unknown = unknown_roles(roles)
    if unknown:
        raise InvalidInput({"roles": f"unknown role(s) {', '.join(unknown)}; choose from {', '.join(ROLES)}"})
    if session.scalars(select(User).where(User.username == username)).first() is not None:
        raise Conflict(f"user {username} already exists")
    user = User(username=username, display_name=display_name, roles=list(roles), landlords=list(landlords),
                password_hash=generate_password_hash(password, method=PASSWORD_METHOD) if password else None,
                active=True, created_at=clock.now())
    session.add(user)
    session.flush()
    return user


def check_password(user: User, password: str) -> bool:
    return bool(user.active and user.password_hash and check_password_hash(user.password_hash, password))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, user: User, name: str) -> str:
    """Make an API token; only its hash is stored, so the token is shown once."""
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=_digest(token), created_at=clock.now()))
    return token


USER_FOR_TOKEN = select(User).join(ApiToken, ApiToken.user_id == User.id).where(
    ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None), User.active.is_(True))
"""Built once: every API request runs it."""


def user_for_token(session: Session, token: str) -> User | None:
    """The active user whose unrevoked token this is, in one query; None for any other token.

    Read afresh on every request, never cached: a revoked token or a disabled user is refused at once."""
    return session.scalars(USER_FOR_TOKEN, {"token_hash": _digest(token)}).first()


def revoke_token(session: Session, token_id: int) -> bool:
    """Revoke a token at once; False when there is no such active token."""
    record = session.get(ApiToken, token_id)
    if record is None or record.revoked_at is not None:
        return False
    record.revoked_at = clock.now()
    return True
