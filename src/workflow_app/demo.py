"""Demo data for a first look: every landlord's process deployed, a few users, a few complaints.

Safe to run again: it only adds what is missing.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Iterator

from sqlalchemy import func, select

from . import clock
from .accounts import create_token, create_user
from .deployments import deploy_checked, diagram_files, read_forms
from .models import Complaint, User
from .runtime import Runtime

DEMO_PASSWORD = "demo"
DEMO_ACKNOWLEDGEMENT = ("Demo data: each landlord's policy is modelled as written, so the Code check's findings "
                        "on it are shown, not fixed")
DEMO_COMPLAINTS = (
    (1, "phone", "property_condition", "Damp and mould in the back bedroom, reported twice before"),
    (4, "email", "complaint_handling", "Nobody called back about the boiler repair as promised"),
    (9, "web", "anti_social_behaviour", "Noise from the flat above every night; no action taken"),
)


def load_demo(runtime: Runtime) -> Iterator[str]:
    forms = read_forms(runtime.forms_dir)
    deployed = []
    with runtime.sessions.begin() as session:
        for landlord, path in diagram_files(runtime.processes_dir):
            if landlord in runtime.landlords:
                result = deploy_checked(session, runtime.landlords[landlord], path.read_bytes(), forms, "demo",
                                        "demo data", DEMO_ACKNOWLEDGEMENT)
                deployed.append(landlord)
                yield f"{landlord}: {path.name} version {result.version.version}"
        admin = _user(session, "admin", "Administrator", ["admin", "manager", "analyst"], ["*"])
        yield f"API token for admin: {create_token(session, admin, 'demo')}"
        session.flush()
        session.expunge(admin)
    for landlord in deployed:
        with runtime.sessions.begin() as session:
            for role in ("caseworker", "complaints_officer", "stage2_reviewer", "manager"):
                _user(session, f"{landlord}.{role}", f"{role.replace('_', ' ').title()} ({landlord})",
                      [role], [landlord])
            existing = session.scalar(select(func.count(Complaint.id)).where(Complaint.landlord == landlord))
        if existing:
            continue
        for days_ago, channel, category, summary in DEMO_COMPLAINTS:
            received = clock.now() - timedelta(days=days_ago)
            reference = runtime.complaints.log_complaint({
                "landlord": landlord, "received_at": received.isoformat(), "channel": channel,
                "category": category, "summary": summary,
                "resident": {"name": "Demo Resident", "email": "resident@example.org"},
            }, admin)
            yield f"{landlord}: complaint {reference} logged"
    from .manager.demo_history import add_history   # a year of past complaints for the managers' pages
    yield from add_history(runtime, admin)
    yield f"users: admin and <landlord>.caseworker / .complaints_officer / .stage2_reviewer / .manager, password {DEMO_PASSWORD!r}"


def _user(session, username: str, display_name: str, roles: list[str], landlords: list[str]) -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    return user or create_user(session, username, display_name, roles, landlords, DEMO_PASSWORD)
