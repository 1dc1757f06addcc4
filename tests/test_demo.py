"""The demo data the README's run command loads."""
from __future__ import annotations

from sqlalchemy import func, select

from workflow_app.demo import load_demo
from workflow_app.models import Complaint, User


def test_demo_deploys_logs_complaints_and_can_run_twice(runtime):
    first = list(load_demo(runtime))
    assert any("testshire: complaint TH-" in line for line in first)
    list(load_demo(runtime))
    with runtime.sessions() as session:
        assert session.scalar(select(func.count(Complaint.id))) == 3
        assert session.scalar(select(func.count(User.id))) == 5  # admin and four per landlord
