"""Reading the "log a complaint" form into what ComplaintService.log_complaint takes.

The form is in London time and in a caseworker's words; the service wants ISO instants and
nested person objects. Errors come back keyed by the form's own field names, in words a
caseworker reads beside the field and in the error summary (never a stored code such as
"in_person"), every one at once: the form's own checks and the service's together.
The lengths the form allows are the service's (`casework/schemas.py`).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from workflow_app.casework.schemas import MAX_DETAIL, MAX_TEXT
from workflow_app.rules import clock
from workflow_app.rules.calendar import LONDON

# The service's error keys -> this form's field names.
FIELD_NAMES = {
    "resident": "resident_name", "resident.name": "resident_name", "resident.email": "resident_email",
    "resident.phone": "resident_phone", "resident.address": "resident_address",
    "representative": "rep_name", "representative.name": "rep_name", "representative.email": "rep_email",
    "representative.phone": "rep_phone", "representative.relationship": "rep_relationship",
    "representative.authority": "rep_authority", "representative.address": "rep_name",
    "received_at": "received_date", "reasonable_adjustments": "adjustments",
}
LABELS = {
    "landlord": "Landlord", "channel": "How the complaint was made", "received_date": "Date received",
    "received_time": "Time received", "received_earlier_reason": "Why it is logged only now",
    "resident_name": "Resident's full name", "resident_email": "Resident's email", "resident_phone": "Resident's phone",
    "resident_address": "Resident's address", "rep_name": "Representative's name",
    "rep_relationship": "Who the representative is", "rep_email": "Representative's email",
    "rep_phone": "Representative's phone", "rep_authority": "Representative's authority",
    "category": "Category", "summary": "What the complaint is about",
    "outcomes_sought": "What the resident wants to happen", "adjustments": "Reasonable adjustments",
    "vulnerabilities": "Disabilities or vulnerabilities", "review_on": "Review date",
}
"""Each field's name in errors, in the order the form asks for them (the error summary's order)."""
LIMITS = {
    **dict.fromkeys(("resident_name", "resident_email", "resident_phone", "resident_address", "rep_name",
                     "rep_relationship", "rep_email", "rep_phone", "rep_authority"), MAX_DETAIL),
    **dict.fromkeys(("received_earlier_reason", "summary", "outcomes_sought", "adjustments", "vulnerabilities"),
                    MAX_TEXT),
}
"""The most characters each text field takes: the service's limits, shown beside the field and set as its maxlength."""
CHOOSE = {"channel": "Choose how the complaint was made", "category": "Choose the category of the complaint",
          "landlord": "Choose the landlord"}
REQUIRED = {"summary": "Enter what the complaint is about", "resident_name": "Enter the resident's full name",
            "rep_name": "Enter the representative's name"}
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
    errors.update(too_long(form))
    if (fields["reasonable_adjustments"] or vulnerabilities) and review_on is None and "review_on" not in errors:
        errors["review_on"] = ["Enter when to review the adjustments and vulnerabilities"]
    return Intake(fields, vulnerabilities, review_on, errors)


def form_errors(service_errors: Mapping[str, list[str]],
                own: Mapping[str, list[str]] | None = None) -> dict[str, list[str]]:
    """The form's own errors and the service's under this form's field names, in words, in the form's order; where
    the form already found a field wrong, its own words stand."""
    errors: dict[str, list[str]] = {key: list(messages) for key, messages in (own or {}).items()}
    for key, messages in service_errors.items():
        name = FIELD_NAMES.get(key, key)
        if name in (own or {}):
            continue
        for message in (_words(name, m) for m in messages):
            if message not in errors.setdefault(name, []):
                errors[name].append(message)
    order = list(LABELS)
    return dict(sorted(errors.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))


def too_long(form: Mapping[str, str]) -> dict[str, list[str]]:
    """Fields the form reads itself (not through the service) that are longer than their limit."""
    return {name: [f"{LABELS[name]} must be {LIMITS[name]:,} characters or fewer"]
            for name in ("vulnerabilities",) if len((form.get(name) or "").strip()) > LIMITS[name]}


def _words(name: str, message: str) -> str:
    if name in CHOOSE:
        return CHOOSE[name]
    if message == "is required" and name in REQUIRED:
        return REQUIRED[name]
    if message.startswith("must be text of at most") and name in LIMITS:
        return f"{LABELS[name]} must be {LIMITS[name]:,} characters or fewer"
    if message.startswith("must be an email address"):
        return "Enter an email address in the correct format, like name@example.com"
    return _sentence(message)


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] if message else message
