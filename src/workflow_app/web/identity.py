"""Who is asking: the user behind an API token or a signed-in browser session, read on every request.

The read is the request's first statement and a single SELECT, so it runs outside a transaction:
one round trip, no BEGIN or ROLLBACK. If the server had dropped the pooled connection (after a
database restart), the read is repeated once on a new connection, so the request does not fail for
it. Nothing is cached between requests: a revoked token or a disabled user is refused at once.
"""
from __future__ import annotations

from collections.abc import Callable

from flask import current_app
from sqlalchemy.orm import Session

from workflow_app.casework.db import read_retrying_dropped
from workflow_app.casework.models import User


def read_user(read: Callable[[Session], User | None]) -> User | None:
    """The user `read` finds, detached (the services take it), with the connection back in the pool for
    the transaction the request's service opens."""
    with current_app.extensions["workflow_app"].sessions() as session:
        return read_retrying_dropped(session, read, isolation_level="AUTOCOMMIT")
