"""The caseworkers' pages: thin over the services, which own every transaction."""
from __future__ import annotations

import io
import re
from datetime import datetime

from flask import Response, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required

from workflow_app.casework import case_record, notifications, search
from workflow_app.casework import inbox as inbox_queries
from workflow_app.casework.case_record import CaseRecord
from workflow_app.casework.letters import LetterService, clean_html
from workflow_app.casework.models import User
from workflow_app.casework.runtime import Runtime
from workflow_app.casework.schemas import read_json
from workflow_app.casework.tasks import may_work
from workflow_app.rules.calendar import LONDON
from workflow_app.rules.errors import Conflict, Forbidden, InvalidInput, NotFound, WorkflowAppError
from workflow_app.rules.roles import may_supervise
from workflow_app.rules.vocabulary import (
    CATEGORIES,
    CATEGORY_NAMES,
    CHANNEL_NAMES,
    CHANNELS,
    DEADLINE_NAMES,
    STAGE_NAMES,
    STAGES,
)
from workflow_app.web.caseworker import bp, intake


def runtime() -> Runtime:
    return current_app.extensions["workflow_app"]


def me() -> User:
    return current_user.record


def letters() -> LetterService:
    service = current_app.extensions.get("workflow_app_letters")
    if service is None:
        service = LetterService(runtime().sessions, runtime().casework, current_app.extensions["workflow_app_smtp"])
        current_app.extensions["workflow_app_letters"] = service
    return service


def record() -> CaseRecord:
    return CaseRecord(runtime().sessions, runtime().casework)


@bp.before_request
@login_required
def signed_in() -> None:
    return None


@bp.app_template_filter("safe_letter")
def safe_letter(body: str | None, demote: bool = True):
    """A letter's HTML, cleaned to its safe formatting; inside a page its headings sit under the page's."""
    from markupsafe import Markup
    html = clean_html(body or "")
    if demote:
        html = re.sub(r"<(/?)h([1-4])>", lambda m: f"<{m.group(1)}h{int(m.group(2)) + 2}>", html)
    return Markup(html)


@bp.app_context_processor
def names() -> dict:
    return {"channel_names": CHANNEL_NAMES, "category_names": CATEGORY_NAMES,
            "stage_names": STAGE_NAMES, "london": _london, "london_date": _london_date}


def _london(value: datetime | None) -> str:
    from workflow_app.rules.calendar import LONDON
    return value.astimezone(LONDON).strftime("%a %-d %b %Y, %H:%M") if value else "—"


def _london_date(value) -> str:
    from workflow_app.rules.calendar import LONDON
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(LONDON).date()
    return value.strftime("%a %-d %b %Y")


@bp.app_context_processor
def notifications_count() -> dict:
    """The signed-in person's unread notifications, for the header (read only when a page shows it)."""
    def unread() -> int:
        with runtime().sessions() as session:
            return notifications.unread(session, me())
    return {"notifications_unread": unread}


@bp.errorhandler(NotFound)
def not_found(error: NotFound):
    return render_template("error.html", status=404, title="Page not found",
                           message="There is no such page, or it is not one you may see."), 404


@bp.errorhandler(Forbidden)
def forbidden(error: Forbidden):
    return render_template("error.html", status=403, title="You cannot do that", message=str(error)), 403


# --- inbox -------------------------------------------------------------------------------

@bp.get("/inbox")
def inbox():
    query = inbox_queries.InboxQuery.from_args(request.args)
    with runtime().sessions() as session:
        result = inbox_queries.inbox(session, me(), runtime().landlords, query)
        to_send = inbox_queries.letters_to_send(session, me(), query.view)
        session.expunge_all()
    landlords = {slug: landlord for slug, landlord in runtime().landlords.items() if me().may_see(slug)}
    supervising = may_supervise(me().roles)
    people = {}
    if supervising:
        with runtime().sessions() as session:
            for slug in {row.task.landlord for row in result.rows}:
                people[slug] = [(u.username, u.display_name)
                                for u in inbox_queries.colleagues(session, me(), slug)]
    return render_template("caseworker/inbox.html", inbox=result, q=query, views=inbox_queries.VIEWS,
                           sorts=inbox_queries.SORTS, due_filters=inbox_queries.DUE_FILTERS,
                           landlords=landlords, stages=STAGES, categories=CATEGORIES,
                           supervising=supervising, people=people, letters_to_send=to_send)


@bp.post("/tasks/<task_id>/assign")
def assign(task_id: str):
    action = request.form.get("action")
    assignee = {"claim": me().username, "release": None}.get(action, request.form.get("assignee") or None)
    back = _back(url_for("caseworker.inbox"))
    try:
        runtime().tasks.assign(task_id, assignee, me())
    except (InvalidInput, Conflict, Forbidden) as error:
        flash(_message(error), "error")
        return redirect(back)
    flash({"claim": "Task claimed: it is in your tasks.", "release": "Task released to the team."}
          .get(action, f"Task assigned to {assignee}."), "success")
    return redirect(back)


@bp.post("/tasks/assign")
def assign_many():
    """A manager reassigns the tasks ticked in the inbox to one person: all of them, or none and why."""
    chosen = request.form.getlist("task_ids")
    assignee = request.form.get("assignee") or ""
    back = _back(url_for("caseworker.inbox"))
    try:
        done = runtime().tasks.assign_many(chosen, assignee, me())
    except InvalidInput as error:
        flash("No task was reassigned. " + " ".join(f"{m.rstrip('.')}." for messages in error.errors.values()
                                                    for m in messages), "error")
        return redirect(back)
    flash(f"{len(done)} task{'s' if len(done) != 1 else ''} assigned to {assignee}.", "success")
    return redirect(back)


# --- notifications -----------------------------------------------------------------------

@bp.route("/notifications", methods=["GET", "POST"])
def notifications_page():
    """The person's notifications (tasks assigned to them, theirs due within a working day), and how they hear of
    them by email: each as it happens, or a daily digest."""
    errors: dict[str, list[str]] = {}
    form = request.form
    if request.method == "POST":
        if form.get("action") == "read":
            notifications.mark_read(runtime().sessions, me())
            flash("Notifications marked as read.", "success")
            return redirect(url_for("caseworker.notifications_page"))
        try:
            notifications.choose(runtime().sessions, me(), form.get("notify_by", ""), form.get("email"))
        except InvalidInput as error:
            errors = error.errors
        else:
            flash("Your notification settings are saved.", "success")
            return redirect(url_for("caseworker.notifications_page"))
    with runtime().sessions() as session:
        items = notifications.recent(session, me())
        session.expunge_all()
    chosen = form if errors else {"notify_by": me().notify_by or "each", "email": me().email or ""}
    return render_template("caseworker/notifications.html", items=items, errors=errors, chosen=chosen,
                           choices=notifications.NOTIFY_BY), 422 if errors else 200


# --- log a complaint ---------------------------------------------------------------------

@bp.route("/complaints/new", methods=["GET", "POST"])
def new_complaint():
    landlords = {slug: landlord for slug, landlord in runtime().landlords.items() if me().may_see(slug)}
    today, time_now, opened_at = intake.london_now_parts()
    form = request.form if request.method == "POST" else {
        "received_date": today, "received_time": time_now, "opened_at": opened_at,
        "landlord": next(iter(landlords), "")}
    errors: dict[str, list[str]] = {}
    related = []
    if request.method == "POST":
        landlord = form.get("landlord", "")
        if form.get("join"):
            return _join(form["join"], form)
        taken = intake.read(form, landlord)
        errors = intake.form_errors(runtime().complaints.problems(taken.fields, me()), taken.errors)
        if not errors and not form.get("confirmed"):
            with runtime().sessions() as session:
                related = case_record.open_from_same_resident(session, landlord, taken.fields["resident"], me())
                session.expunge_all()
        if not errors and not related:
            try:
                reference = runtime().complaints.log_complaint(taken.fields, me())
            except InvalidInput as error:
                errors = intake.form_errors(error.errors)
            else:
                _after_logging(reference, taken)
                flash(f"Complaint {reference} logged.", "success")
                return redirect(url_for("caseworker.case", reference=reference))
    status = 422 if errors else 200
    return render_template("caseworker/new_complaint.html", form=form, errors=errors, related=related,
                           landlords=landlords, channels=CHANNELS, categories=CATEGORIES,
                           labels=intake.LABELS, limits=intake.LIMITS), status


def _after_logging(reference: str, taken: intake.Intake) -> None:
    """Support needs and attachments, each in its own transaction after the complaint exists."""
    if taken.fields.get("reasonable_adjustments") or taken.vulnerabilities:
        record().record_support_needs(reference, taken.fields["reasonable_adjustments"], taken.vulnerabilities,
                                      taken.review_on, me())
    for upload in request.files.getlist("attachments"):
        if upload and upload.filename:
            try:
                record().add_attachment(reference, upload.filename, upload.read(), me())
            except InvalidInput as error:
                flash(f"{upload.filename}: {_message(error)}", "error")


def _join(reference: str, form) -> Response:
    """A related issue joins the resident's open complaint as a note rather than a new complaint."""
    channel = CHANNEL_NAMES.get(form.get("channel", ""), form.get("channel", ""))
    body = f"Related issue raised ({channel}, received {form.get('received_date')} {form.get('received_time')}): " \
           f"{form.get('summary', '').strip()}"
    if form.get("outcomes_sought", "").strip():
        body += f"\nOutcomes sought: {form['outcomes_sought'].strip()}"
    record().add_note(reference, body, me())
    flash(f"The issue was added to complaint {reference} as a note.", "success")
    return redirect(url_for("caseworker.case", reference=reference))


# --- find --------------------------------------------------------------------------------

@bp.route("/complaints", methods=["GET", "POST"])
def find():
    """One box for whatever the caller has: a name, an address, a postcode, a phone, an email or the reference.

    The search is posted, not put in the address: a name or a phone number in a URL would reach the server's
    access log, the browser's history and the Referer header."""
    typed = ((request.form.get("q") if request.method == "POST" else request.args.get("reference")) or "").strip()
    results, dues = None, {}
    if typed:
        with runtime().sessions() as session:
            results = search.find(session, me(), typed)
            session.expunge_all()
        if len(results.found) == 1 and results.found[0].reference == typed.upper():
            return redirect(url_for("caseworker.case", reference=results.found[0].reference))
        nations = {slug: landlord.nation for slug, landlord in runtime().landlords.items()}
        dues = {f.reference: case_record.due(f.next_due_at, nations.get(f.landlord, "ENG")) for f in results.found}
    return render_template("caseworker/find.html", typed=typed, results=results, dues=dues,
                           matched=search.MATCHED, limit=search.LIMIT)


# --- task page ---------------------------------------------------------------------------

@bp.route("/tasks/<task_id>", methods=["GET", "POST"])
def task(task_id: str):
    errors: dict[str, list[str]] = {}
    submitted = None
    status = 200
    if request.method == "POST":
        try:
            submitted = read_json(request.form.get("data") or "{}")
        except InvalidInput:
            submitted, errors = {}, {"_form": ["The form could not be read; try again."]}
        if not errors:
            try:
                result = runtime().tasks.complete(task_id, submitted, me())
            except InvalidInput as error:
                errors, status = error.errors, 422
            except (Forbidden, Conflict) as error:
                errors, status = {"_form": [str(error)]}, error.status
            else:
                flash("Task completed." + (" The complaint's next task is yours." if result.get("next_task")
                                           else ""), "success")
                return redirect(_after_task(result["reference"], result.get("next_task")))
        else:
            status = 400
    with runtime().sessions() as session:
        page = case_record.task_page(session, runtime().casework, task_id, me())
        unsent = letters().unsent_required(session, page["complaint"].id)
        session.expunge_all()
    return render_template("caseworker/task.html", **page, errors=errors, submitted=submitted,
                           unsent=unsent, may_work=may_work(me(), page["task"])), status


@bp.post("/tasks/<task_id>/preview")
def preview(task_id: str):
    """The deadlines the answers typed so far would move, and to when, for the task page to show before saving
    (JSON, as the form sends it; the answers stay out of the URL and the logs). Answers the task would refuse are
    a preview like any other, not a failed request: the refusals come back beside no deadlines."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return {"errors": {"_form": ["Send the form's answers as JSON"]}}, 400
    try:
        moved = runtime().tasks.preview(task_id, body.get("data") or {}, me())
    except InvalidInput as error:
        return {"errors": error.errors, "deadlines": []}
    except Conflict as error:
        return {"errors": {"_form": [str(error)]}, "deadlines": []}, 409
    return {"errors": {}, "deadlines": [
        {"key": d["key"], "name": DEADLINE_NAMES.get(d["key"], d["key"]), "due_at": d["due_at"].isoformat(),
         "due": _london_date(d["due_at"]), "was": _london_date(d["was"])} for d in moved]}


def _after_task(reference: str, next_task: str | None = None) -> str:
    """Straight to a letter the task issued, else back to the case (to its "Next task" button when the
    complaint's next task came to you)."""
    with runtime().sessions() as session:
        complaint = case_record.complaint_for(session, reference, me())
        unsent = letters().unsent_required(session, complaint.id)
    if unsent:
        return url_for("caseworker.letter", letter_id=unsent[0].id)
    return url_for("caseworker.case", reference=reference) + ("#next-task" if next_task else "")


# --- letters -----------------------------------------------------------------------------

@bp.route("/letters/<int:letter_id>", methods=["GET", "POST"])
def letter(letter_id: int):
    errors: dict[str, list[str]] = {}
    status = 200
    body = None
    if request.method == "POST":
        action = request.form.get("action")
        body = request.form.get("body_html")
        try:
            if action == "send":
                result = letters().send(letter_id, me(), body)
                flash("Letter stored as sent; it is being emailed to " + result["sent_to"] if result["emailed"]
                      else "Letter stored as sent: print it and post it to " + result["sent_to"][6:], "success")
                return redirect(url_for("caseworker.case", reference=result["reference"]) + "#letters")
            if action == "retry_email":
                letters().retry_email(letter_id, me())
                flash("The email will be tried again now.", "success")
                return redirect(url_for("caseworker.letter", letter_id=letter_id))
            if action == "set_aside":
                letters().set_aside(letter_id, request.form.get("reason", ""), me())
                flash("Letter marked as not needed.", "success")
                return redirect(url_for("caseworker.letter", letter_id=letter_id))
            letters().save_draft(letter_id, body or "", me())
            flash("Draft saved.", "success")
            return redirect(url_for("caseworker.letter", letter_id=letter_id))
        except InvalidInput as error:
            errors, status = error.errors, 422
        except Conflict as error:
            errors, status = {"_form": [str(error)]}, 409
    view = letters().view(letter_id, me())
    if body is not None:
        view["body"] = body
    return render_template("caseworker/letter.html", **view, errors=errors), status


@bp.get("/letters/<int:letter_id>/print")
def print_letter(letter_id: int):
    view = letters().view(letter_id, me())
    return render_template("caseworker/letter_print.html", **view)


@bp.get("/letters/<int:letter_id>/pdf")
def letter_pdf(letter_id: int):
    """The sent letter as it is posted (made when it was sent, kept on the complaint)."""
    name, content = letters().pdf(letter_id, me())
    return send_file(io.BytesIO(content), mimetype="application/pdf", as_attachment=True, download_name=name)


# --- case page ---------------------------------------------------------------------------

@bp.get("/complaints/<reference>")
def case(reference: str):
    with runtime().sessions() as session:
        page = case_record.case_page(session, runtime().casework, reference, me())
        session.expunge_all()
    return render_template("caseworker/case.html", **page, errors={}, **_now_in_london())


def _now_in_london() -> dict[str, str]:
    """Today's date and the time now in London, what a form recording something that just happened starts from."""
    today, time_now, _ = intake.london_now_parts()
    return {"london_today": today, "london_time": time_now}


@bp.get("/complaints/<reference>/diagram.json")
def diagram(reference: str):
    """The diagram and its marks for the case page's viewer (same origin, no inline script)."""
    with runtime().sessions() as session:
        complaint = case_record.complaint_for(session, reference, me())
        marks = case_record.diagram_marks(runtime().casework, complaint)
        xml = complaint.instance.definition_version.xml
    return {"xml": xml, **marks}


@bp.post("/complaints/<reference>/notes")
def add_note(reference: str):
    try:
        record().add_note(reference, request.form.get("note", ""), me())
        flash("Note added.", "success")
    except InvalidInput as error:
        flash(_message(error), "error")
    return redirect(url_for("caseworker.case", reference=reference) + "#notes")


@bp.post("/complaints/<reference>/attachments")
def add_attachment(reference: str):
    upload = request.files.get("attachment")
    try:
        if upload is None or not upload.filename:
            raise InvalidInput({"attachment": "Choose a file"})
        record().add_attachment(reference, upload.filename, upload.read(), me())
        flash("File attached.", "success")
    except InvalidInput as error:
        flash(_message(error), "error")
    return redirect(url_for("caseworker.case", reference=reference) + "#attachments")


@bp.get("/complaints/<reference>/attachments/<int:attachment_id>")
def attachment(reference: str, attachment_id: int):
    item = record().attachment(reference, attachment_id, me())
    return send_file(io.BytesIO(item.content), mimetype="application/octet-stream", as_attachment=True,
                     download_name=item.filename)


@bp.post("/complaints/<reference>/support")
def support(reference: str):
    from datetime import date
    try:
        review_on = date.fromisoformat(request.form["review_on"]) if request.form.get("review_on") else None
    except ValueError:
        review_on = None
    try:
        record().record_support_needs(reference, request.form.get("adjustments"),
                                      request.form.get("vulnerabilities"), review_on, me())
        flash("Adjustments and vulnerabilities recorded.", "success")
    except InvalidInput as error:
        flash(_message(error), "error")
    return redirect(url_for("caseworker.case", reference=reference) + "#support")


@bp.post("/complaints/<reference>/hazards")
def start_hazard(reference: str):
    """Possible hazard: start a hazard case (Awaab's Law) beside the complaint."""
    source = request.form.get("source", "complaint")
    source = source if re.fullmatch(r"complaint|task:[\w.-]{1,200}", source) else "complaint"
    aware_at = None
    if request.form.get("aware_at"):
        try:
            aware_at = datetime.fromisoformat(request.form["aware_at"]).replace(tzinfo=LONDON)
        except ValueError:
            flash("Aware earlier: give a date and time.", "error")
            return redirect(url_for("caseworker.case", reference=reference))
    try:
        hazard = runtime().hazards.start_from_complaint(reference, me(), aware_at,
                                                        request.form.get("aware_earlier_reason"), source)
    except (InvalidInput, Conflict, NotFound) as error:
        flash(_message(error), "error")
        return redirect(url_for("caseworker.case", reference=reference))
    flash(f"Hazard case {hazard} started beside complaint {reference}.", "success")
    return redirect(url_for("caseworker.case", reference=hazard))


@bp.post("/complaints/<reference>/events")
def send_event(reference: str):
    """Record an event as it happened (an escalation request: when and how it arrived), once confirmed; the
    case page offers only those the process can take now."""
    form = request.form
    name = form.get("name", "")
    errors: dict[str, list[str]] = {}
    received_at = None
    try:
        received_at = datetime.fromisoformat(f"{form.get('received_date', '')}T{form.get('received_time', '')}") \
            .replace(tzinfo=LONDON)
    except ValueError:
        errors["received_date"] = ["Enter the date and time the request arrived"]
    if form.get("channel") not in CHANNELS:
        errors["channel"] = ["Choose how the request arrived"]
    if not form.get("confirmed"):
        errors["confirmed"] = ["Confirm that the date, time and channel are as the request arrived"]
    if not errors:
        try:
            result = runtime().complaints.send_event(reference, name, {"channel": form["channel"]}, me(),
                                                     received_at=received_at)
        except InvalidInput as error:
            errors = {{"received_at": "received_date"}.get(key, key): [_sentence(m) for m in messages]
                      for key, messages in error.errors.items()}
        except Conflict as error:
            flash(_message(error), "error")
            return redirect(url_for("caseworker.case", reference=reference))
    if errors:
        with runtime().sessions() as session:
            page = case_record.case_page(session, runtime().casework, reference, me())
            session.expunge_all()
        return render_template("caseworker/case.html", **page, errors=errors, event_form=form,
                               **_now_in_london()), 422
    label = name.replace("_", " ").capitalize()
    flash(f"{label}: recorded as received {_london(received_at)} by {CHANNEL_NAMES[form['channel']].lower()}."
          + ("" if result["delivered"] else " The process cannot take it yet; it will when it reaches that point."),
          "success")
    return redirect(url_for("caseworker.case", reference=reference))


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


@bp.get("/complaints/<reference>/export.zip")
def export(reference: str):
    content = record().export(reference, me())
    return send_file(io.BytesIO(content), mimetype="application/zip", as_attachment=True,
                     download_name=f"{reference}-record.zip")


def _message(error: WorkflowAppError) -> str:
    if isinstance(error, InvalidInput):
        return " ".join(m for messages in error.errors.values() for m in messages)
    return str(error)


def _back(default: str) -> str:
    target = request.form.get("next", "")
    return target if target.startswith("/") and not target.startswith("//") else default
