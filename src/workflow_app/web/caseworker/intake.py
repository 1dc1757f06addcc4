"""Reading the "log a complaint" form into what ComplaintService.log_complaint takes.

The form is in London time and in a caseworker's words; the service wants ISO instants and
nested person objects. Errors come back keyed by the form's own field names.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from workflow_app.rules import clock
from workflow_app.rules.calendar import LONDON

# The service's error keys -> this form's field names.
FIELD_NAMES = {
    "resident": "resident_name", "resident.name": "resident_name", "resident.email": "resident_email",
    "resident.phone": "resident_phone", "resident.address": "resident_address",
    "representative": "rep_name", "representative.name": "rep_name", "representative.email": "rep_email",
    "representative.phone": "rep_phone", "representative.relationship": "rep_relationship",
    "representative.authority": "rep_authority", "received_at": "received_date",
}
EARLIER_GRACE = timedelta(minutes=1)


@dataclass
class Intake:
    fields: dict[str, Any]
    vulnerabilities: str | None
    review_on: date | None
    errors: dict[str, list[str]] = field(default_factory=dict)


def london_now_parts() -> tuple[str, str, str]:
    now = clock.now().astimezone(LONDON)
    return now.date().isoformat(), now.strftime("%H:%M"), clock.now().isoformat()


def read(form: Mapping[str, str], landlord: str) -> Intake:
    errors: dict[str, list[str]] = {}
    text = lambda name: (form.get(name) or "").strip()  # noqa: E731
    received_at = None
    try:
        received = datetime.fromisoformat(f"{text('received_date')}T{text('received_time') or '00:00'}")
        received_at = received.replace(tzinfo=LONDON)
    except ValueError:
        errors["received_date"] = ["Enter the date and time the complaint was received"]
    try:
        opened_at = datetime.fromisoformat(text("opened_at"))
    except ValueError:
        opened_at = clock.now()
    reason = text("received_earlier_reason") or None
    if received_at is not None and received_at < opened_at.replace(second=0, microsecond=0) - EARLIER_GRACE \
            and not reason:
        errors["received_earlier_reason"] = [
            "Say why the complaint is logged with an earlier time than now (for example: "
            "a letter that arrived yesterday, a voicemail left out of hours)"]
    resident = {k: text(f"resident_{k}") for k in ("name", "email", "phone", "address") if text(f"resident_{k}")}
    representative = None
    if form.get("on_behalf"):
        representative = {k: text(f"rep_{k}") for k in ("name", "relationship", "email", "phone", "authority")
                          if text(f"rep_{k}")}
        if not representative.get("name"):
            errors["rep_name"] = ["Enter the representative's name"]
    review_on = None
    if text("review_on"):
        try:
            review_on = date.fromisoformat(text("review_on"))
        except ValueError:
            errors["review_on"] = ["Enter the review date as a date, like 2027-03-31"]
    fields = {
        "landlord": landlord, "received_at": received_at.isoformat() if received_at else None,
        "channel": text("channel") or None, "category": text("category") or None, "summary": text("summary"),
        "resident": resident, "representative": representative,
        "outcomes_sought": text("outcomes_sought") or None,
        "reasonable_adjustments": text("adjustments") or None, "received_earlier_reason": reason,
    }
    vulnerabilities = text("vulnerabilities") or None
    if (fields["reasonable_adjustments"] or vulnerabilities) and review_on is None and "review_on" not in errors:
        errors["review_on"] = ["Enter when to review the adjustments and vulnerabilities"]
    return Intake(fields, vulnerabilities, review_on, errors)


def form_errors(service_errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The service's errors under this form's field names."""
    errors: dict[str, list[str]] = {}
    for key, messages in service_errors.items():
        errors.setdefault(FIELD_NAMES.get(key, key), []).extend(_sentence(m) for m in messages)
    return errors


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] if message else message
