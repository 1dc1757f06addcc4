"""The managers' pages: thin over `reporting`, `self_assessment`, `lessons` and the checklist.

A GET only reads: the measured responses and the lessons log are brought up to date after
each timer sweep (`reporting.projections`), not by the page that shows them.

Every page answers only for the landlords the signed-in user may see; another landlord is a 404.
Managers and admins see everything here; complaints officers (who complete the self-assessment
and keep the lessons log) see the self-assessment, the lessons log and the checklist.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from workflow_app.casework.case_record import complaint_for
from workflow_app.casework.models import AnnualReportNote, User
from workflow_app.casework.runtime import Runtime
from workflow_app.reporting import lessons as lessons_log
from workflow_app.reporting import measures as reporting
from workflow_app.reporting import self_assessment
from workflow_app.reporting.checklist import ChecklistService
from workflow_app.reporting.checklist import checklist as complaint_checklist
from workflow_app.reporting.heatmap import flow_counts, read_graph
from workflow_app.reporting.measures import Period, Scope
from workflow_app.rules import clock
from workflow_app.rules.calendar import london_date
from workflow_app.rules.errors import Forbidden, InvalidInput, NotFound
from workflow_app.rules.landlords import Landlord
from workflow_app.rules.roles import may_keep_records, may_read_reports, may_report_across_landlords
from workflow_app.rules.statuses import LESSON_STATUS_NAMES
from workflow_app.rules.vocabulary import CATEGORIES, CATEGORY_NAMES, DEADLINE_NAMES, STAGE_NAMES
from workflow_app.web.manager import bp

OFFICER_PAGES = {"manager.self_assessment", "manager.self_assessment_csv", "manager.self_assessment_print",
                 "manager.lessons", "manager.lessons_csv", "manager.lesson", "manager.add_lesson",
                 "manager.checklist", "manager.find_checklist"}
REFRESH_SECONDS = 30


def runtime() -> Runtime:
    return current_app.extensions["workflow_app"]


def me() -> User:
    return current_user.record


@bp.before_request
@login_required
def allowed() -> None:
    roles = me().roles
    if may_read_reports(roles):
        return None
    if may_keep_records(roles) and request.endpoint in OFFICER_PAGES:
        return None
    abort(403)


@bp.errorhandler(403)
def forbidden(error):
    return render_template("error.html", status=403, title="You cannot see that page",
                           message="These pages are for managers and the complaints team."), 403


@bp.errorhandler(NotFound)
def not_found(error):
    return render_template("error.html", status=404, title="Page not found",
                           message="There is no such page, or it is not one you may see."), 404


@bp.errorhandler(Forbidden)
def refused(error: Forbidden):
    return render_template("error.html", status=403, title="You cannot do that", message=str(error)), 403


@bp.app_context_processor
def manager_links() -> dict:
    def sees_reports() -> bool:
        return current_user.is_authenticated and may_read_reports(current_user.roles)

    def keeps_records() -> bool:
        return current_user.is_authenticated and may_keep_records(current_user.roles)
    return {"sees_reports": sees_reports, "keeps_records": keeps_records}


@bp.app_template_filter("fromiso")
def from_iso(value: str | None):
    from datetime import datetime
    return datetime.fromisoformat(value) if value else None


# --- which landlords and which period ---------------------------------------------------------

def visible() -> dict[str, Landlord]:
    return {slug: landlord for slug, landlord in sorted(runtime().landlords.items(), key=lambda i: i[1].display_name)
            if me().may_see(slug)}


def chosen(allow_all: bool = True) -> tuple[Scope, str]:
    """The landlord (or, for someone who sees several, all of them) the page is about."""
    landlords = visible()
    if not landlords:
        abort(404)
    several = allow_all and len(landlords) > 1
    choice = request.values.get("landlord") or (
        "all" if several and may_report_across_landlords(me().roles) else next(iter(landlords)))
    if choice == "all" and several:
        return Scope(tuple(landlords.values())), "all"
    if choice not in landlords:
        raise NotFound(f"no landlord {choice}")
    return Scope((landlords[choice],)), choice


def chosen_period() -> tuple[Period, dict[str, Any]]:
    """A reporting year (`year`), or any dates (`from`, `to`); the current reporting year by default."""
    today = london_date(clock.now())
    args = request.values
    if args.get("from") or args.get("to"):
        try:
            period = Period(date.fromisoformat(args.get("from", "")), date.fromisoformat(args.get("to", "")))
            if (period.last - period.first).days > 3700:
                raise ValueError
            return period, {"from": period.first.isoformat(), "to": period.last.isoformat()}
        except ValueError:
            flash("Give the period as two dates, the first on or before the second (at most ten years).", "error")
    year = reporting.reporting_year_of(today)
    try:
        year = int(args.get("year", year))
        if not 2000 <= year <= 2099:
            raise ValueError
    except ValueError:
        year = reporting.reporting_year_of(today)
    return Period.reporting_year(year), {"year": year}


def years() -> list[int]:
    current = reporting.reporting_year_of(london_date(clock.now()))
    return list(range(current, current - 6, -1))


def page(template: str, **context: Any) -> str:
    """Every manager page shows, until each landlord the user sees has confirmed its retention period, which
    period is applied meanwhile (`rules.landlords.DEFAULT_RETENTION_YEARS`, or the one set but not confirmed)."""
    landlords = visible()
    awaiting = [landlord for landlord in landlords.values() if not landlord.retention.confirmed]
    return render_template(template, landlords=landlords, several=len(landlords) > 1, years=years(),
                           stage_names=STAGE_NAMES, deadline_names=DEADLINE_NAMES, retention_awaiting=awaiting,
                           **context)


# --- dashboard ---------------------------------------------------------------------------------------

@bp.get("/")
def dashboard():
    scope, choice = chosen()
    with runtime().sessions() as session:
        board = with_figure_links(reporting.dashboard(session, scope), choice)
    return page("manager/dashboard.html", board=board, scope=scope, choice=choice,
                source=url_for("manager.dashboard_json", landlord=choice),
                refresh=current_app.config.get("MANAGER_REFRESH_SECONDS", REFRESH_SECONDS))


@bp.get("/dashboard.json")
def dashboard_json():
    scope, choice = chosen()
    with runtime().sessions() as session:
        board = with_figure_links(reporting.dashboard(session, scope), choice)
    names = {slug: landlord.display_name for slug, landlord in runtime().landlords.items()}
    for row in board["by_landlord"]:
        row["name"] = names.get(row["landlord"], row["landlord"])
    for row in board["by_stage"]:
        row["name"] = STAGE_NAMES.get(row["stage"], row["stage"])
    for row in board["deadlines"]:
        row["name"] = DEADLINE_NAMES.get(row["key"], row["key"])
    return jsonify(board)


def with_figure_links(board: dict[str, Any], choice: str) -> dict[str, Any]:
    """Each figure that counts complaints links to the list of them (`figure`): `<field>_href` beside it."""
    def link(figure: str, landlord: str = choice, **narrower: str) -> str:
        return url_for("manager.figure", figure=figure, landlord=landlord, **narrower)

    board["overdue_href"], board["due_soon_href"] = link("overdue"), link("due_soon")
    for row in board["deadlines"]:
        row["overdue_href"], row["due_soon_href"] = link("overdue", key=row["key"]), link("due_soon", key=row["key"])
    for row in board["waiting"]:
        if row["element_id"]:
            row["name_href"] = row["count_href"] = link("waiting", row["landlord"], element=row["element_id"])
            row["overdue_href"] = link("waiting_overdue", row["landlord"], element=row["element_id"])
    return board


@bp.get("/dashboard/complaints")
def figure():
    """The complaints behind one of the dashboard's figures, each linked to its case page."""
    scope, choice = chosen()
    figure = request.args.get("figure", "overdue")
    if figure not in reporting.BEHIND_FIGURES:
        raise NotFound(f"no dashboard figure {figure}")
    key = request.args.get("key") or None
    element = request.args.get("element") or None
    with runtime().sessions() as session:
        rows = reporting.behind_figure(session, scope, figure, key=key, element=element)
        names = reporting.element_names(session, scope) if element else {}
    about = DEADLINE_NAMES.get(key, key) if key else None
    if element:
        about = next((name for (_, e), name in names.items() if e == element), element)
    return page("manager/figure.html", scope=scope, choice=choice, figure=figure,
                title=reporting.BEHIND_FIGURES[figure], about=about, rows=rows)


# --- performance --------------------------------------------------------------------------------------

def _report(scope: Scope, period: Period) -> tuple[dict[str, Any], list[reporting.Table]]:
    with runtime().sessions() as session:
        report = reporting.performance(session, scope, period)
        labels = reporting.labels_for(session, scope, CATEGORY_NAMES)
    return report, reporting.tables(report, labels)


@bp.get("/performance")
def performance():
    scope, choice = chosen()
    period, period_args = chosen_period()
    report, tables = _report(scope, period)
    return page("manager/performance.html", scope=scope, choice=choice, period=period, period_args=period_args,
                report=report, tables=tables)


@bp.get("/performance.json")
def performance_json():
    scope, _ = chosen()
    period, _ = chosen_period()
    report, _ = _report(scope, period)
    return jsonify(report)


@bp.get("/performance.csv")
def performance_csv():
    table_id = request.args.get("table", "")
    scope, choice = chosen()
    period, _ = chosen_period()
    _, tables = _report(scope, period)
    table = next((t for t in tables if t.id == table_id), None)
    if table is None:
        abort(404)
    name = f"{table_id}-{choice}-{period.first.isoformat()}-to-{period.last.isoformat()}.csv"
    return _csv(table.csv(), name)


def _csv(content: str, filename: str) -> Response:
    return Response("\ufeff" + content, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# --- heatmap ------------------------------------------------------------------------------------------

@bp.get("/heatmap")
def heatmap():
    scope, choice = chosen(allow_all=False)
    period, period_args = chosen_period()
    return page("manager/heatmap.html", scope=scope, choice=choice, period=period, period_args=period_args,
                source=url_for("manager.heatmap_json", landlord=choice, **period_args))


@bp.get("/heatmap.json")
def heatmap_json():
    from workflow_app.casework.deployments import latest_version
    scope, _ = chosen(allow_all=False)
    period, _ = chosen_period()
    with runtime().sessions() as session:
        version = latest_version(session, scope.slugs[0])
        if version is None:
            raise NotFound("no diagram is deployed for this landlord")
        graph = read_graph(version.xml)
        activity = reporting.diagram_activity(session, scope, period, graph.user_tasks)
        received = reporting.received_between(session, scope, period.starts_at, period.ends_at)
        xml = version.xml
        label = f"{version.process_id} version {version.version}"
    reached = dict(activity["reached"])
    for start in graph.starts:
        reached[start] = received
    for end, outcome in graph.outcomes.items():
        if outcome in activity["ends"]:
            reached[end] = reached.get(end, 0) + activity["ends"][outcome]
    flows, nodes = flow_counts(graph, reached)
    return jsonify({"xml": xml, "version": label, "period": period.label, "waiting": activity["waiting"],
                    "passed": nodes, "flows": flows, "missed": activity["missed"]})


# --- annual report ----------------------------------------------------------------------------------------

@bp.route("/annual-report", methods=["GET", "POST"])
def annual_report():
    scope, choice = chosen(allow_all=False)
    period, _period_args = chosen_period()
    landlord = scope.landlords[0]
    year = period.first.year if period.is_reporting_year else reporting.reporting_year_of(period.first)
    period = Period.reporting_year(year)
    if request.method == "POST":
        _save_notes(landlord.slug, year)
        flash("The report's notes were saved.", "success")
        return redirect(url_for("manager.annual_report", landlord=choice, year=year))
    report, tables = _report(scope, period)
    with runtime().sessions() as session:
        note = session.scalars(select(AnnualReportNote).where(AnnualReportNote.landlord == landlord.slug,
                                                              AnnualReportNote.year == year)).first()
        improvements = lessons_log.improvements(session, scope.slugs, period.first, period.last)
        lesson_summary = lessons_log.summary(session, scope.slugs, period.starts_at, period.ends_at)
        evidence = self_assessment.gather(session, landlord, period.starts_at, period.ends_at, report)
        rows = self_assessment.answers(session, landlord.slug, year, self_assessment.suggestions(evidence))
        acknowledged = _acknowledged_versions(session, landlord.slug)
        session.expunge_all()
    findings = [f for f in evidence.findings if self_assessment.finding_field(f, "severity") == "error"]
    return page("manager/annual_report.html", scope=scope, choice=choice, landlord=landlord, period=period,
                year=year, report=report, tables={t.id: t for t in tables}, note=note, improvements=improvements,
                lesson_summary=lesson_summary, answers=rows, findings=findings, evidence=evidence,
                acknowledged=acknowledged, themes=dict(zip(CATEGORIES, CATEGORIES, strict=True)),
                statuses=LESSON_STATUS_NAMES)


def _acknowledged_versions(session, landlord: str) -> list[Any]:
    """Diagram versions deployed knowingly short of the Code, when the deployments keep that."""
    from workflow_app.casework import deployments
    finder = getattr(deployments, "acknowledged_code_errors", None)
    try:
        return list(finder(session, landlord)) if finder else []
    except Exception:  # an older schema without the acknowledgement column
        session.rollback()
        return []


def _save_notes(landlord: str, year: int) -> None:
    form = request.form
    errors = {}
    values = {}
    for name in ("ombudsman_findings", "governing_body_response"):
        text = (form.get(name) or "").strip()
        if len(text) > 20_000:
            errors[name] = "at most 20,000 characters"
        values[name] = text or None
    try:
        values["response_date"] = date.fromisoformat(form["response_date"]) if form.get("response_date") else None
    except ValueError:
        errors["response_date"] = "Enter a date, e.g. 2027-06-30"
    if errors:
        raise InvalidInput(errors)
    from workflow_app.casework.complaints import transaction
    with transaction(runtime().sessions) as session:
        note = session.scalars(select(AnnualReportNote).where(AnnualReportNote.landlord == landlord,
                                                              AnnualReportNote.year == year)).first()
        if note is None:
            note = AnnualReportNote(landlord=landlord, year=year)
            session.add(note)
        for key, value in values.items():
            setattr(note, key, value)
        note.updated_by, note.updated_at = me().username, clock.now()


@bp.errorhandler(InvalidInput)
def invalid(error: InvalidInput):
    messages = "; ".join(f"{k.replace('_', ' ')}: {' '.join(v)}" for k, v in error.errors.items())
    flash(f"Nothing was saved. {messages}", "error")
    return redirect(request.full_path if request.method == "GET" else request.url)


# --- self-assessment -------------------------------------------------------------------------------------

def _assessment(landlord: Landlord, year: int) -> tuple[list[self_assessment.Answer], Any]:
    period = Period.reporting_year(year)
    with runtime().sessions() as session:
        scope = Scope((landlord,))
        figures = {"ch02": reporting.ch02(session, scope, period),
                   "acknowledgements": reporting.acknowledgements(session, scope, period)}
        evidence = self_assessment.gather(session, landlord, period.starts_at, period.ends_at, figures)
        rows = self_assessment.answers(session, landlord.slug, year, self_assessment.suggestions(evidence))
        session.expunge_all()
    return rows, evidence


def _year(period: Period) -> int:
    return period.first.year if period.is_reporting_year else reporting.reporting_year_of(period.first)


@bp.route("/self-assessment", methods=["GET", "POST"], endpoint="self_assessment")
def self_assessment_page():
    scope, choice = chosen(allow_all=False)
    period, _ = chosen_period()
    year = _year(period)
    landlord = scope.landlords[0]
    if request.method == "POST":
        try:
            saved = self_assessment.SelfAssessmentService(runtime().sessions).save(landlord.slug, year,
                                                                                  request.form, me())
        except InvalidInput as error:
            rows, evidence = _assessment(landlord, year)
            return page("manager/self_assessment.html", scope=scope, choice=choice, landlord=landlord, year=year,
                        answers=rows, evidence=evidence, errors=error.errors, form=request.form), 422
        flash(f"The self-assessment was saved ({saved} provisions).", "success")
        return redirect(url_for("manager.self_assessment", landlord=choice, year=year))
    rows, evidence = _assessment(landlord, year)
    return page("manager/self_assessment.html", scope=scope, choice=choice, landlord=landlord, year=year,
                answers=rows, evidence=evidence, errors={}, form=None)


@bp.get("/self-assessment.csv")
def self_assessment_csv():
    scope, choice = chosen(allow_all=False)
    period, _ = chosen_period()
    year = _year(period)
    rows, _ = _assessment(scope.landlords[0], year)
    return _csv(self_assessment.as_csv(rows), f"self-assessment-{choice}-{year}.csv")


@bp.get("/self-assessment/print")
def self_assessment_print():
    scope, choice = chosen(allow_all=False)
    period, _ = chosen_period()
    year = _year(period)
    rows, evidence = _assessment(scope.landlords[0], year)
    return page("manager/self_assessment_print.html", scope=scope, choice=choice, landlord=scope.landlords[0],
                year=year, answers=rows, evidence=evidence)


# --- per-complaint checklist -------------------------------------------------------------------------------

@bp.get("/checklist")
def find_checklist():
    reference = (request.args.get("reference") or "").strip().upper()
    if not reference:
        return page("manager/checklist_find.html")
    return redirect(url_for("manager.checklist", reference=reference))


@bp.route("/complaints/<reference>/checklist", methods=["GET", "POST"])
def checklist(reference: str):
    if request.method == "POST":
        try:
            ChecklistService(runtime().sessions).save(reference, request.form, me())
        except InvalidInput as error:
            flash("Nothing was saved: " + "; ".join(" ".join(v) for v in error.errors.values()), "error")
        else:
            flash("The checklist was saved.", "success")
        return redirect(url_for("manager.checklist", reference=reference))
    with runtime().sessions() as session:
        complaint = complaint_for(session, reference, me())
        landlord = runtime().landlords[complaint.landlord]
        items = complaint_checklist(session, complaint, landlord)
        session.expunge_all()
    sections: dict[str, list] = {}
    for item in items:
        sections.setdefault(item.question.section, []).append(item)
    return page("manager/checklist.html", complaint=complaint, landlord=landlord, sections=sections)


# --- lessons learnt ---------------------------------------------------------------------------------------

@bp.get("/lessons")
def lessons():
    scope, choice = chosen()
    which = lessons_log.LessonFilter.from_args(request.args)
    with runtime().sessions() as session:
        rows = lessons_log.entries(session, scope.slugs, which)
        session.expunge_all()
    return page("manager/lessons.html", scope=scope, choice=choice, rows=rows, which=which,
                statuses=LESSON_STATUS_NAMES, themes=CATEGORIES, errors={}, form={})


@bp.get("/lessons.csv")
def lessons_csv():
    import csv
    import io
    scope, choice = chosen()
    which = lessons_log.LessonFilter.from_args(request.args)
    with runtime().sessions() as session:
        rows = lessons_log.entries(session, scope.slugs, which, limit=100_000)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Landlord", "Complaint", "Recorded", "Theme", "What went wrong", "Improvement", "Owner",
                     "Due", "Status", "Systemic", "Completed"])
    for entry, reference in rows:
        writer.writerow([entry.landlord, reference or "", london_date(entry.recorded_at).isoformat(), entry.theme,
                         _safe(entry.what_went_wrong), _safe(entry.improvement), _safe(entry.owner),
                         entry.due_on.isoformat() if entry.due_on else "", LESSON_STATUS_NAMES[entry.status],
                         "yes" if entry.systemic else "no",
                         entry.completed_on.isoformat() if entry.completed_on else ""])
    return _csv(out.getvalue(), f"lessons-learnt-{choice}.csv")


def _safe(text: str | None) -> str:
    return reporting.csv_safe(text or "")


@bp.post("/lessons")
def add_lesson():
    scope, choice = chosen(allow_all=False)
    try:
        entry_id = lessons_log.LessonService(runtime().sessions).add(
            scope.slugs[0], request.form, me(), request.form.get("reference") or None)
    except InvalidInput as error:
        with runtime().sessions() as session:
            rows = lessons_log.entries(session, scope.slugs)
            session.expunge_all()
        return page("manager/lessons.html", scope=scope, choice=choice, rows=rows,
                    which=lessons_log.LessonFilter(), statuses=LESSON_STATUS_NAMES, themes=CATEGORIES,
                    errors=error.errors, form=request.form), 422
    flash("The entry was added to the lessons-learnt log.", "success")
    return redirect(url_for("manager.lesson", entry_id=entry_id))


@bp.route("/lessons/<int:entry_id>", methods=["GET", "POST"])
def lesson(entry_id: int):
    from workflow_app.casework.models import Complaint, LessonLearnt
    errors: dict[str, Any] = {}
    if request.method == "POST":
        try:
            lessons_log.LessonService(runtime().sessions).update(entry_id, request.form, me())
        except InvalidInput as error:
            errors = error.errors
        else:
            flash("The entry was saved.", "success")
            return redirect(url_for("manager.lesson", entry_id=entry_id))
    with runtime().sessions() as session:
        entry = session.get(LessonLearnt, entry_id)
        if entry is None or not me().may_see(entry.landlord):
            raise NotFound(f"no entry {entry_id}")
        reference = session.get(Complaint, entry.complaint_id).reference if entry.complaint_id else None
        session.expunge_all()
    return page("manager/lesson.html", entry=entry, reference=reference, statuses=LESSON_STATUS_NAMES,
                themes=CATEGORIES, errors=errors, form=request.form if errors else None), (422 if errors else 200)
