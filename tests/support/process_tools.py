"""Work for the multi-process tests to run in separate OS processes.

    python -m tests.support.process_tools log COUNT AT    # log COUNT testshire complaints received at AT
"""
from __future__ import annotations

import os
import sys
from datetime import datetime

from sqlalchemy import select

from workflow_app.casework.models import User
from workflow_app.casework.runtime import build_runtime
from workflow_app.rules import clock


def log_complaints(count: int, at: str) -> None:
    runtime = build_runtime(os.environ["WORKFLOW_APP_DATABASE_URL"], create_tables=False)
    with runtime.sessions() as session:
        user = session.scalars(select(User).where(User.username == "loader")).one()
        session.expunge(user)
    fields = {"landlord": "testshire", "received_at": at, "channel": "email", "category": "other",
              "summary": "load", "resident": {"name": "Load Test"}}
    with clock.using(clock.VirtualClock(datetime.fromisoformat(at))):
        for _ in range(count):
            runtime.complaints.log_complaint(fields, user)
    runtime.close()


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "log":
        log_complaints(int(args[0]), args[1])
    else:
        sys.exit(f"unknown command {command}")
