"""The analysts' pages: thin over the services (code check, deployments, version moves, try it).

Every page needs the `analyst` (or `admin`) role and a landlord the user works for; another
landlord's pages are a 404, as if they did not exist.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from flask import Response, abort, current_app, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user, login_required
from markupsafe import escape

from workflow_app.casework.deployments import (
    CodeErrorsNotAcknowledged,
    deploy_checked,
    get_version,
    latest_version,
    preview,
    read_forms,
    versions,
)
from workflow_app.casework.incidents import AUDIT_TRAIL, count_open, open_incidents
from workflow_app.casework.runtime import Runtime
from workflow_app.casework.version_moves import VersionMoves
from workflow_app.diagrams.code_check import ENGINE, sort_findings
from workflow_app.diagrams.definitions import DiagramError
from workflow_app.rules.calendar import LONDON
from workflow_app.rules.errors import Conflict, NotFound, WorkflowAppError
from workflow_app.rules.landlords import Landlord
from workflow_app.rules.roles import may_analyse
from workflow_app.web.analyst import bp
from workflow_app.web.analyst.drafts import Drafts
from workflow_app.web.analyst.try_it import try_diagram


def runtime() -> Runtime:
    return current_app.extensions["workflow_app"]


def drafts() -> Drafts:
    """Uploaded drafts: ANALYST_DRAFTS_DIR, else drafts/ in the instance folder."""
    return Drafts(Path(current_app.config.get("ANALYST_DRAFTS_DIR") or Path(current_app.instance_path) / "drafts"))


def forms():
    try:
        return read_forms(runtime().forms_dir)
    except DiagramError as error:
        abort(Response(f"The forms folder cannot be read: {escape(str(error))}", status=500))


@bp.before_request
@login_required
def analysts_only() -> None:
    if not may_analyse(current_user.roles):
        abort(403)


@bp.app_context_processor
def analyst_links() -> dict:
    def sees_processes() -> bool:
        return current_user.is_authenticated and may_analyse(current_user.roles)
    return {"sees_processes": sees_processes}


def landlord_for(slug: str) -> Landlord:
    """The landlord, if the signed-in analyst works for it; otherwise the page does not exist."""
    landlord = runtime().landlords.get(slug)
    if landlord is None or not current_user.record.may_see(slug):
        abort(404)
    return landlord


def _visible_landlords() -> list[Landlord]:
    return [landlord for slug, landlord in sorted(runtime().landlords.items()) if current_user.record.may_see(slug)]


@bp.app_template_filter("london")
def london(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(LONDON).strftime("%a %d %b %Y %H:%M")


# --- landlords and versions -----------------------------------------------------------------------

@bp.get("/")
def index():
    rows = []
    with runtime().sessions() as session:
        for landlord in _visible_landlords():
            rows.append({"landlord": landlord, "current": latest_version(session, landlord.slug),
                         "incidents": count_open(session, landlord.slug)})
    return render_template("analyst/index.html", rows=rows)


# --- incidents ------------------------------------------------------------------------------------

@bp.get("/<landlord>/incidents")
def incidents(landlord: str):
    """Complaints whose diagram failed while running (a timer that could not be worked out), until fixed; beside
    them, complaints whose audit trail `workflow-app verify` found broken."""
    owner = landlord_for(landlord)
    with runtime().sessions() as session:
        listed = open_incidents(session, landlord)
    return render_template("analyst/incidents.html", landlord=owner,
                           incidents=[i for i in listed if i.kind != AUDIT_TRAIL],
                           broken_trails=[i for i in listed if i.kind == AUDIT_TRAIL])


@bp.post("/<landlord>/incidents/<reference>/retry")
def retry_incident(landlord: str, reference: str):
    landlord_for(landlord)
    try:
        result = runtime().complaints.retry(reference, current_user.record)
    except (NotFound, Conflict) as error:
        flash(str(error), "error")
    else:
        if result["failed_timers"]:
            flash(f"{reference}: the timer still cannot be worked out. Deploy a corrected version and move the "
                  "complaint to it.", "error")
        else:
            flash(f"{reference}: its timers work again; the incident is resolved.", "success")
    return redirect(url_for(".incidents", landlord=landlord))


@bp.get("/<landlord>/versions")
def version_list(landlord: str):
    owner = landlord_for(landlord)
    with runtime().sessions() as session:
        listed = versions(session, landlord)
    return render_template("analyst/versions.html", landlord=owner, versions=listed)


@bp.get("/<landlord>/versions/<int:version_id>/diagram.bpmn")
def download_version(landlord: str, version_id: int):
    landlord_for(landlord)
    with runtime().sessions() as session:
        try:
            version = get_version(session, landlord, version_id)
        except NotFound:
            abort(404)
        name = f"{landlord}-{version.process_id}-v{version.version}.bpmn"
        return _download(version.xml, name)


@bp.get("/<landlord>/versions/<int:version_id>/forms.json")
def download_forms(landlord: str, version_id: int):
    landlord_for(landlord)
    with runtime().sessions() as session:
        try:
            version = get_version(session, landlord, version_id)
        except NotFound:
            abort(404)
        body = json.dumps(version.forms or {}, indent=2, ensure_ascii=False)
        return _download(body, f"{landlord}-v{version.version}-forms.json", "application/json")


def _download(text: str, filename: str, mimetype: str = "application/xml") -> Response:
    response = Response(text, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- upload, check, compare, deploy ---------------------------------------------------------------

@bp.get("/<landlord>/upload")
def upload(landlord: str):
    return render_template("analyst/upload.html", landlord=landlord_for(landlord))


@bp.post("/<landlord>/check")
def check(landlord: str):
    """Keep an uploaded diagram (a file, or the XML the in-browser modeller sends) and show its check."""
    owner = landlord_for(landlord)
    file = request.files.get("diagram")
    if file is not None and file.filename:
        content, filename = file.read(), file.filename
    else:
        content, filename = (request.form.get("xml") or "").encode("utf-8"), "modeller.bpmn"
    if not content.strip():
        flash("Choose a .bpmn file to upload.", "error")
        return redirect(url_for(".upload", landlord=landlord))
    try:
        draft = drafts().save(owner.slug, content, filename, current_user.username)
    except ValueError as error:
        flash(str(error), "error")
        return redirect(url_for(".upload", landlord=landlord))
    return redirect(url_for(".draft", landlord=landlord, draft=draft.id))


@bp.get("/<landlord>/drafts/<draft>")
def draft(landlord: str, draft: str):
    owner = landlord_for(landlord)
    kept = drafts().get(landlord, draft) or abort(404)
    with runtime().sessions() as session:
        checked = preview(session, owner, kept.xml, forms())
        current = checked.current.version if checked.current else None
    return render_template("analyst/draft.html", landlord=owner, draft=kept, checked=checked,
                           findings=sort_findings(checked.findings), current=current, engine=ENGINE,
                           form=request.args)


@bp.get("/<landlord>/drafts/<draft>/diagram.bpmn")
def download_draft(landlord: str, draft: str):
    landlord_for(landlord)
    kept = drafts().get(landlord, draft) or abort(404)
    return _download(kept.xml, kept.filename if kept.filename.endswith(".bpmn") else f"{draft}.bpmn")


@bp.post("/<landlord>/drafts/<draft>/deploy")
def deploy(landlord: str, draft: str):
    owner = landlord_for(landlord)
    kept = drafts().get(landlord, draft) or abort(404)
    note = (request.form.get("note") or "").strip()
    acknowledged = request.form.get("acknowledge") == "yes"
    reason = (request.form.get("reason") or "").strip()
    if not note:
        flash("Say why this version is deployed: it is kept with the version.", "error")
        return redirect(url_for(".draft", landlord=landlord, draft=draft, reason=reason))
    try:
        with runtime().sessions.begin() as session:
            result = deploy_checked(session, owner, kept.xml, forms(), current_user.username, note,
                                    acknowledgement=reason if acknowledged else None)
            number, created = result.version.version, result.created
    except CodeErrorsNotAcknowledged as error:
        flash(f"{error}. Tick the acknowledgement and give the reason to deploy it anyway.", "error")
        return redirect(url_for(".draft", landlord=landlord, draft=draft, note=note, reason=reason))
    except DiagramError as error:
        flash(f"The diagram cannot run, so it was not deployed: {error}", "error")
        return redirect(url_for(".draft", landlord=landlord, draft=draft))
    if created:
        flash(f"Version {number} deployed. New complaints start on it; running complaints stay on their "
              "version until you move them.", "success")
    else:
        flash(f"Nothing changed: this is version {number}, already deployed.", "info")
    return redirect(url_for(".version_list", landlord=landlord))


# --- moving running complaints -------------------------------------------------------------------

@bp.get("/<landlord>/versions/<int:version_id>/move")
def move(landlord: str, version_id: int):
    owner = landlord_for(landlord)
    moves = VersionMoves(runtime())
    try:
        running = moves.running(landlord, version_id)
        with runtime().sessions() as session:
            target = get_version(session, landlord, version_id)
            number = target.version
    except NotFound:
        abort(404)
    return render_template("analyst/move.html", landlord=owner, version_id=version_id, number=number,
                           running=running, plans=None)


@bp.post("/<landlord>/versions/<int:version_id>/move/preview")
def move_preview(landlord: str, version_id: int):
    owner = landlord_for(landlord)
    references = request.form.getlist("reference")
    moves = VersionMoves(runtime())
    try:
        running = moves.running(landlord, version_id)
        with runtime().sessions() as session:
            number = get_version(session, landlord, version_id).version
        known = {r["reference"] for r in running}
        plans = moves.preview(landlord, [r for r in references if r in known], version_id)
    except NotFound:
        abort(404)
    if not plans:
        flash("Choose the complaints to move.", "error")
        return redirect(url_for(".move", landlord=landlord, version_id=version_id))
    return render_template("analyst/move.html", landlord=owner, version_id=version_id, number=number,
                           running=running, plans=plans)


@bp.post("/<landlord>/versions/<int:version_id>/move")
def move_run(landlord: str, version_id: int):
    """Move the chosen complaints one by one, sending each result to the page as it happens."""
    owner = landlord_for(landlord)
    moves = VersionMoves(runtime())
    try:
        known = {r["reference"] for r in moves.running(landlord, version_id)}
        with runtime().sessions() as session:
            number = get_version(session, landlord, version_id).version
    except NotFound:
        abort(404)
    references = [r for r in request.form.getlist("reference") if r in known]
    if not references:
        flash("Choose the complaints to move.", "error")
        return redirect(url_for(".move", landlord=landlord, version_id=version_id))
    actor = current_user.username
    template = current_app.jinja_env.get_template("analyst/move_progress.html")
    context = {"landlord": owner, "number": number, "total": len(references), "version_id": version_id}
    head, tail = template.render(**context, part="head"), template.render(**context, part="tail")
    app = current_app._get_current_object()

    def stream():
        yield head
        moved = 0
        for done, plan in enumerate(moves.move_many(landlord, references, version_id, actor), start=1):
            moved += plan.moved
            with app.app_context():
                yield template.render(**context, part="row", plan=plan, done=done)
        yield tail.replace("__MOVED__", str(moved))

    return Response(stream_with_context(stream()), mimetype="text/html")


# --- try it ------------------------------------------------------------------------------------

@bp.get("/<landlord>/try")
def try_it(landlord: str):
    owner = landlord_for(landlord)
    with runtime().sessions() as session:
        listed = versions(session, landlord)
    source = request.args.get("source", "")
    received = request.args.get("received", "")
    result = diagram = None
    error = None
    if source and received:
        try:
            at = datetime.fromisoformat(received)
            at = at.replace(tzinfo=LONDON) if at.tzinfo is None else at
        except ValueError:
            error = "Give the date and time the complaint was received."
        else:
            diagram = _source_xml(landlord, source, listed)
            if diagram is None:
                error = "Choose a deployed version or an uploaded draft."
            else:
                try:
                    result = try_diagram(owner, diagram, _forms_for(landlord, source), runtime().processes_dir, at,
                                         pace=request.args.get("pace", "prompt"),
                                         escalate=request.args.get("escalate", "yes") == "yes",
                                         extend=request.args.get("extend") == "yes")
                except (WorkflowAppError, DiagramError, ValueError) as failure:
                    error = f"The diagram could not be tried: {failure}"
    data = None
    if result is not None:
        data = {"xml": diagram, "marks": result.marks, "done": result.done}
    return render_template("analyst/try.html", landlord=owner, versions=listed, result=result, error=error,
                           args=request.args, data=data)


def _source_xml(landlord: str, source: str, listed: list[dict]) -> str | None:
    if source.startswith("version:"):
        version_id = source.split(":", 1)[1]
        if not version_id.isdigit() or int(version_id) not in {v["id"] for v in listed}:
            return None
        with runtime().sessions() as session:
            return get_version(session, landlord, int(version_id)).xml
    if source.startswith("draft:"):
        kept = drafts().get(landlord, source.split(":", 1)[1])
        return kept.xml if kept else None
    return None


def _forms_for(landlord: str, source: str):
    """A version is tried with the forms it was deployed with; a draft with today's forms."""
    if source.startswith("version:"):
        from workflow_app.diagrams.forms import load_form
        with runtime().sessions() as session:
            version = get_version(session, landlord, int(source.split(":", 1)[1]))
            return {form_id: load_form(body) for form_id, body in (version.forms or {}).items()}
    return forms()


# --- the in-browser modeller -----------------------------------------------------------------------

@bp.get("/<landlord>/modeller")
def modeller(landlord: str):
    owner = landlord_for(landlord)
    source = request.args.get("source", "")
    with runtime().sessions() as session:
        listed = versions(session, landlord)
        current = latest_version(session, landlord)
    xml = _source_xml(landlord, source, listed) if source else (current.xml if current else None)
    return render_template("analyst/modeller.html", landlord=owner, xml=xml or _BLANK.replace("LANDLORD", landlord),
                           source=source or (f"version:{current.id}" if current else "new"), versions=listed)


_BLANK = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_LANDLORD" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="LANDLORD_complaint" isExecutable="true">
    <bpmn:startEvent id="received" name="Complaint received" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram_LANDLORD"><bpmndi:BPMNPlane id="Plane_LANDLORD" bpmnElement="LANDLORD_complaint">
    <bpmndi:BPMNShape id="received_di" bpmnElement="received"><dc:Bounds x="160" y="100" width="36" height="36" /></bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>
"""  # noqa: E501  (the new diagram's BPMN XML, kept as the modeller reads it)


@bp.errorhandler(Conflict)
def conflict(error):
    flash(str(error), "error")
    return redirect(request.referrer or url_for(".index"))
