"""The `workflow-app` command: one subcommand per operational job."""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import click
from sqlalchemy import select

from workflow_app.casework.accounts import create_token, create_user
from workflow_app.casework.db import database_url, default_instance_dir
from workflow_app.casework.deployments import diagram_files, read_forms
from workflow_app.casework.models import User
from workflow_app.casework.runtime import Runtime, build_runtime, default_forms_dir, default_processes_dir
from workflow_app.casework.scheduler import LONGEST_SLEEP
from workflow_app.diagrams.definitions import DiagramError
from workflow_app.rules import clock
from workflow_app.rules.errors import WorkflowAppError
from workflow_app.rules.landlords import SettingsError, load_landlord
from workflow_app.rules.regime import HOUSING_OMBUDSMAN, Regime
from workflow_app.rules.roles import ROLES


def _runtime(ctx: click.Context) -> Runtime:
    if ctx.obj is None:
        try:
            ctx.obj = build_runtime(database_url(default_instance_dir()))
        except SettingsError as error:
            raise click.ClickException(str(error)) from None
        ctx.call_on_close(ctx.obj.close)
        ctx.with_resource(clock.using(ctx.obj.clock))
    return ctx.obj


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log what happens.")
def main(verbose: bool) -> None:
    """Complaint handling on BPMN: deploy landlords' processes, run the app and its scheduler."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command("init-db")
@click.pass_context
def init_db(ctx: click.Context) -> None:
    """Create the database tables (safe to run again)."""
    _runtime(ctx)
    click.echo("database ready")


@main.command("deploy")
@click.argument("path", type=click.Path(exists=True, path_type=Path), required=False)
@click.option("--by", "actor", default=lambda: os.environ.get("USER", "cli"), show_default="$USER")
@click.option("--note", help="Why this version is deployed.")
@click.option("--acknowledge-code-errors", "acknowledgement", metavar="REASON",
              help="Deploy even with Complaint Handling Code errors, recording this reason (shown in the "
                   "self-assessment).")
@click.pass_context
def deploy_command(ctx: click.Context, path: Path | None, actor: str, note: str | None,
                   acknowledgement: str | None) -> None:
    """Check and deploy the processes folder, one landlord's folder, or one diagram file.

    Nothing is deployed unless every file passes; a diagram with Code errors needs
    --acknowledge-code-errors.
    """
    from workflow_app.casework.deployments import CodeErrorsNotAcknowledged, deploy_checked
    runtime = _runtime(ctx)
    path = path or runtime.processes_dir
    try:
        forms = read_forms(runtime.forms_dir)
        with runtime.sessions.begin() as session:
            for landlord, file in diagram_files(path):
                if landlord not in runtime.landlords:
                    raise click.ClickException(f"{file}: no landlord settings for folder {landlord!r}")
                result = deploy_checked(session, runtime.landlords[landlord], file.read_bytes(), forms, actor,
                                        note, acknowledgement)
                state = "deployed" if result.created else "unchanged"
                click.echo(f"{landlord}: {result.version.process_id} version {result.version.version} {state}")
    except DiagramError as error:
        for problem in error.problems:
            click.echo(f"error: {problem}", err=True)
        raise click.ClickException("nothing was deployed") from None
    except CodeErrorsNotAcknowledged as error:
        for finding in error.errors:
            click.echo(f"code error {finding.provision}: {finding.element_id}: {finding.message}", err=True)
        raise click.ClickException("nothing was deployed: the Code errors above need "
                                   "--acknowledge-code-errors REASON") from None
    except WorkflowAppError as error:
        raise click.ClickException(str(error)) from None


@main.command("versions")
@click.argument("landlord")
@click.option("--download", "version_number", type=int, metavar="N", help="Write version N's diagram to stdout.")
@click.pass_context
def versions_command(ctx: click.Context, landlord: str, version_number: int | None) -> None:
    """List a landlord's deployed versions (who, when, why), or download one to edit in a modeller."""
    from workflow_app.casework.deployments import versions
    from workflow_app.casework.models import DefinitionVersion
    runtime = _runtime(ctx)
    if landlord not in runtime.landlords:
        raise click.ClickException(f"unknown landlord {landlord!r}")
    with runtime.sessions() as session:
        if version_number is not None:
            xml = session.scalar(select(DefinitionVersion.xml).where(
                DefinitionVersion.landlord == landlord, DefinitionVersion.version == version_number))
            if xml is None:
                raise click.ClickException(f"{landlord} has no version {version_number}")
            click.echo(xml, nl=False)
            return
        for row in versions(session, landlord):
            marks = ("current " if row["current"] else "") + (f"{len(row['code_errors'])} Code error(s) "
                                                              if row["code_errors"] else "")
            click.echo(f"{row['process_id']} v{row['version']}\t{row['deployed_at'].isoformat()}\t"
                       f"{row['deployed_by']}\t{row['running']} running\t{marks}{row['note'] or ''}"
                       + (f"\tacknowledged: {row['acknowledgement']}" if row["acknowledgement"] else ""))


@main.command("check")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--forms", "forms_dir", type=click.Path(path_type=Path), help="Forms folder (default: forms/).")
@click.option("--json", "as_json", is_flag=True, help="Print findings as JSON.")
def check(path: Path, forms_dir: Path | None, as_json: bool) -> None:
    """Check diagrams against the engine's rules and the Complaint Handling Code; exit 1 on an error.

    A diagram in a landlord's folder is checked with that landlord's settings and letters.
    """
    from workflow_app.diagrams.code_check import ENGINE, check_file
    from workflow_app.diagrams.code_check.check import is_hazard_diagram
    findings: list[dict] = []
    forms_dir = forms_dir or default_forms_dir()
    try:
        forms = read_forms(forms_dir)
    except DiagramError as error:
        forms = None
        findings += [{"provision": ENGINE, "severity": "error", "element_id": p.element_id,
                      "message": p.reason, "file": str(forms_dir)} for p in error.problems]
    files = [path] if path.is_file() else sorted(path.rglob("*.bpmn"))
    cites_as: dict[str, str] = {}
    for file in files:
        findings += [{**f.as_dict(), "file": str(file)} for f in check_file(file, forms)]
        cites_as[str(file)] = "Awaab's Law" if is_hazard_diagram(file.read_bytes()) else _regime_of(file).cites_as
    errors = sum(1 for f in findings if f["severity"] == "error")
    if as_json:
        click.echo(json.dumps(findings, indent=2))
    else:
        for f in findings:
            provision = "" if f["provision"] == ENGINE else f"{cites_as.get(f['file'], 'Code')} {f['provision']}: "
            click.echo(f"{f['file']}: {f['severity']}: {provision}{f['element_id'] or 'diagram'}: {f['message']}")
        click.echo(f"{len(files)} diagram(s) checked, {errors} error(s), {len(findings) - errors} warning(s)")
    sys.exit(1 if errors else 0)


def _regime_of(diagram: Path) -> Regime:
    """The regime of the landlord whose folder holds the diagram (the Housing Ombudsman's Code elsewhere)."""
    if (diagram.parent / "landlord.toml").is_file():
        try:
            return load_landlord(diagram.parent).regime
        except SettingsError:
            pass   # reported as an engine finding by check_file
    return HOUSING_OMBUDSMAN


@main.command("migrate")
@click.argument("landlord")
@click.argument("references", nargs=-1)
@click.option("--to", "to_version", type=int, help="The version number to move to (default: the newest).")
@click.option("--all", "all_running", is_flag=True, help="Every running complaint on an older version.")
@click.option("--preview", is_flag=True, help="Show what would change; move nothing.")
@click.option("--by", "actor", default=lambda: os.environ.get("USER", "cli"), show_default="$USER")
@click.pass_context
def migrate_command(ctx: click.Context, landlord: str, references: tuple[str, ...], to_version: int | None,
                    all_running: bool, preview: bool, actor: str) -> None:
    """Move running complaints to a newer version of LANDLORD's process, when it is safe.

    Name the complaints by reference, or give --all. Each move is audited on the complaint;
    one that is not safe (the new version lacks what it waits at) stays where it is. Exit 1
    when any could not move.
    """
    from workflow_app.casework.deployments import latest_version
    from workflow_app.casework.models import DefinitionVersion
    from workflow_app.casework.version_moves import VersionMoves
    runtime = _runtime(ctx)
    if landlord not in runtime.landlords:
        raise click.ClickException(f"unknown landlord {landlord!r}")
    with runtime.sessions() as session:
        newest = latest_version(session, landlord)
        if newest is None:
            raise click.ClickException(f"nothing is deployed for {landlord}")
        target = newest if to_version is None else session.scalars(select(DefinitionVersion).where(
            DefinitionVersion.landlord == landlord, DefinitionVersion.process_id == newest.process_id,
            DefinitionVersion.version == to_version)).first()
        if target is None:
            raise click.ClickException(f"{landlord} has no version {to_version} of {newest.process_id}")
    moves = VersionMoves(runtime)
    chosen = list(references)
    if all_running:
        chosen += [r["reference"] for r in moves.running(landlord, target.id)]
    if not chosen:
        raise click.ClickException("name the complaints to move, or give --all")
    try:
        if preview:
            plans = moves.preview(landlord, chosen, target.id)
            for plan in plans:
                click.echo(_plan_line(plan, "can move" if plan.safe else "cannot move"))
        else:
            plans = []
            for plan in moves.move_many(landlord, chosen, target.id, actor):
                plans.append(plan)
                click.echo(f"[{len(plans)}/{len(dict.fromkeys(chosen))}] "
                           + _plan_line(plan, "moved" if plan.moved else "not moved"))
    except WorkflowAppError as error:
        raise click.ClickException(str(error)) from None
    refused = [p for p in plans if not p.safe]
    click.echo(f"{len(plans) - len(refused)} of {len(plans)} complaint(s) "
               f"{'can move' if preview else 'moved'} to version {target.version}")
    sys.exit(1 if refused else 0)


def _plan_line(plan, state: str) -> str:
    line = f"{plan.reference}: {state} (version {plan.from_version} -> {plan.to_version})"
    if not plan.safe:
        return f"{line}: {'; '.join(plan.problems)}"
    changes = [f"{d.key} {_when(d.before)} -> {_when(d.after)}" for d in plan.deadlines]
    return f"{line}; deadlines: {', '.join(changes) if changes else 'unchanged'}"


def _when(value) -> str:
    return value.isoformat() if value is not None else "none"


@main.group("users")
def users() -> None:
    """Manage users."""


@users.command("create")
@click.argument("username")
@click.option("--name", "display_name", help="Display name (default: the username).")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES))
@click.option("--landlord", "landlords", multiple=True, required=True,
              help="Landlord slug this user works for ('*' for all); repeat for several.")
@click.option("--password", help="Password for signing in to the browser (prompted if omitted).")
@click.option("--no-password", is_flag=True, help="An API-only user.")
@click.pass_context
def users_create(ctx, username, display_name, roles, landlords, password, no_password) -> None:
    runtime = _runtime(ctx)
    unknown = [slug for slug in landlords if slug != "*" and slug not in runtime.landlords]
    if unknown:
        raise click.ClickException(f"unknown landlord(s): {', '.join(unknown)}")
    if not password and not no_password:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with runtime.sessions.begin() as session:
            create_user(session, username, display_name or username, list(roles), list(landlords), password)
    except WorkflowAppError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"user {username} created")


@main.group("tokens")
def tokens() -> None:
    """Manage API tokens."""


@tokens.command("create")
@click.argument("username")
@click.option("--name", default="api", show_default=True, help="What the token is for.")
@click.pass_context
def tokens_create(ctx, username: str, name: str) -> None:
    """Make an API token for a user and print it (it is shown only once)."""
    runtime = _runtime(ctx)
    with runtime.sessions.begin() as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise click.ClickException(f"no user {username}")
        click.echo(create_token(session, user, name))


@tokens.command("revoke")
@click.argument("token_id", type=int)
@click.pass_context
def tokens_revoke(ctx, token_id: int) -> None:
    """Revoke an API token by its id (see `tokens list`)."""
    from workflow_app.casework.accounts import revoke_token
    runtime = _runtime(ctx)
    with runtime.sessions.begin() as session:
        if not revoke_token(session, token_id):
            raise click.ClickException(f"no active token {token_id}")
    click.echo(f"token {token_id} revoked")


@tokens.command("list")
@click.pass_context
def tokens_list(ctx) -> None:
    """List API tokens: id, user, name, created, revoked."""
    from workflow_app.casework.models import ApiToken
    runtime = _runtime(ctx)
    with runtime.sessions() as session:
        for token in session.scalars(select(ApiToken).order_by(ApiToken.id)):
            revoked = token.revoked_at.isoformat() if token.revoked_at else "active"
            click.echo(f"{token.id}\t{token.user.username}\t{token.name}\t{token.created_at.isoformat()}\t{revoked}")


@main.command("backup")
@click.argument("target", type=click.Path(path_type=Path))
def backup_command(target: Path) -> None:
    """Copy a consistent snapshot of the SQLite database to TARGET (safe while the app runs)."""
    from workflow_app.tools.backups import BackupError, backup
    try:
        count = backup(database_url(default_instance_dir()), target)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"backed up {count} complaint(s) to {target}")


@main.command("restore")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_command(source: Path, yes: bool) -> None:
    """Replace the SQLite database with a backup (stop the app and scheduler first)."""
    from workflow_app.tools.backups import BackupError, restore
    if not yes:
        click.confirm("Replace the current database with this backup?", abort=True)
    try:
        count = restore(database_url(default_instance_dir()), source)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"restored {count} complaint(s) from {source}")


LOOPBACK = ("127.0.0.1", "localhost", "::1")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-scheduler", is_flag=True,
              help="Do not fire timers in this process (a `workflow-app scheduler` process does).")
@click.option("--dev-secret/--no-dev-secret", default=None,
              help="Without WORKFLOW_APP_SECRET_KEY, sign sessions with a throwaway secret for this run "
                   "[default: on for 127.0.0.1, localhost and ::1 only].")
def serve(host: str, port: int, no_scheduler: bool, dev_secret: bool | None) -> None:
    """Serve the app with its timer scheduler in the same process (development server; see docs for production)."""
    from workflow_app import settings
    from workflow_app.web import create_app
    config: dict[str, object] = {"RUN_SCHEDULER": not no_scheduler}
    if not settings.load().secret_is_usable():
        loopback = host in LOOPBACK
        if dev_secret and not loopback:
            raise click.ClickException(f"a throwaway secret is for this machine only (--host 127.0.0.1); "
                                       f"set {settings.SECRET_KEY_VARIABLE} to serve on {host}")
        if (dev_secret is None and loopback) or dev_secret:
            import secrets
            config["SECRET_KEY"] = secrets.token_hex(32)
            click.echo(f"{settings.SECRET_KEY_VARIABLE} is not set: signing sessions with a throwaway secret "
                       f"for this run on {host} (everyone is signed out when it stops).", err=True)
    try:
        app = create_app(config)
    except settings.InsecureSettings as error:
        raise click.ClickException(str(error)) from None
    app.run(host=host, port=port, use_reloader=False)


@main.command("scheduler")
@click.option("--interval", default=LONGEST_SLEEP, show_default=True, type=float,
              help="The longest it sleeps between sweeps, in seconds (it wakes when the next timer falls due).")
@click.option("--once", is_flag=True, help="Sweep once, send the email that is due, print what it did, and exit.")
@click.option("--until-idle", is_flag=True,
              help="Sweep and send email until nothing is due, print the totals, and exit.")
@click.pass_context
def scheduler_command(ctx: click.Context, interval: float, once: bool, until_idle: bool) -> None:
    """Run the timer scheduler as a process of its own (the web processes fire no timers by default), with the
    sender of the letters' email beside it."""
    from workflow_app.casework import outbox
    from workflow_app.casework.scheduler import due_instances, run_forever, sweep
    from workflow_app.reporting.projections import jobs_after_each_sweep
    runtime = _runtime(ctx)
    smtp = outbox.SmtpSettings.from_environment()
    after_sweep = jobs_after_each_sweep(runtime, smtp)
    if smtp is None and outbox.waiting(runtime.sessions):
        click.echo("email waits in the outbox, but WORKFLOW_APP_SMTP_HOST is not set here: it stays queued",
                   err=True)
    if once or until_idle:
        total = 0
        while True:
            total += sweep(runtime.complaints)
            if once or not due_instances(runtime.complaints, 1):
                break
        for job in after_sweep:
            job()
        if smtp is not None:
            sent = (outbox.send_due if once else outbox.drain)(runtime.sessions, smtp).sent
        click.echo(f"{total} complaint(s) moved" + (f", {sent} email(s) sent" if smtp is not None else ""))
        return
    sender = [outbox.OutboxSender(runtime.sessions, smtp, runtime.clock)] if smtp is not None else []
    run_forever(runtime.complaints, runtime.clock, interval, after_sweep=after_sweep, companions=sender)


@main.command("simulate")
@click.argument("scenario", type=click.File("r"))
def simulate_command(scenario) -> None:
    """Run SCENARIO.json on a virtual clock and print the timeline as JSON."""
    from workflow_app.tools.simulator import ScenarioError, simulate
    try:
        data = json.load(scenario)
    except json.JSONDecodeError as error:
        raise click.ClickException(f"{scenario.name} is not valid JSON: {error}") from None
    try:
        result = simulate(data, default_processes_dir(), default_forms_dir())
    except (ScenarioError, SettingsError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(json.dumps(result, indent=2))


@main.command("verify")
@click.pass_context
def verify(ctx: click.Context) -> None:
    """Check every complaint's record against its instance and audit trail, and each trail's hash chain; exit 1
    on a mismatch or a broken chain.

    A complaint whose chain is broken (an event edited, deleted or inserted out of order) is also recorded as an
    incident for the analysts, until verify finds its trail whole again.
    """
    from workflow_app.casework.audit import broken_chains
    from workflow_app.casework.complaints import transaction
    from workflow_app.casework.consistency import inconsistent_complaints
    from workflow_app.casework.incidents import record_broken_trails
    runtime = _runtime(ctx)
    found = 0
    broken: dict[int, list[str]] = {}
    with runtime.sessions() as session:
        for reference, problems in inconsistent_complaints(session, runtime.casework):
            found += 1
            for problem in problems:
                click.echo(f"{reference}: {problem}")
        for chain in broken_chains(session):
            broken[chain.complaint_id] = chain.problems
            for problem in chain.problems:
                click.echo(f"{chain.reference}: audit trail: {problem}")
    try:
        with transaction(runtime.sessions) as session:
            opened, resolved = record_broken_trails(session, broken)
    except WorkflowAppError as error:
        raise click.ClickException(f"the broken trails could not be recorded as incidents ({error})") from None
    click.echo(f"{found} inconsistent complaint(s)")
    click.echo(f"{len(broken)} broken audit trail(s)"
               + (f": {opened} new incident(s)" if opened else "")
               + (f"; {resolved} trail(s) whole again, their incidents resolved" if resolved else ""))
    sys.exit(1 if found or broken else 0)


@main.command("retention")
@click.option("--dry-run", is_flag=True, help="List what would be anonymised, count the sign-in attempts that would be "
              "forgotten, and change nothing.")
@click.option("--by", "actor", default="retention", show_default=True)
@click.pass_context
def retention_command(ctx: click.Context, dry_run: bool, actor: str) -> None:
    """Anonymise closed complaints past each landlord's retention period (landlord.toml [retention], or the
    default), and forget old sign-in attempts."""
    from workflow_app.casework.retention import SIGN_IN_ATTEMPTS_KEPT, apply_retention, forget_old_sign_in_attempts
    runtime = _runtime(ctx)
    for slug, landlord in sorted(runtime.landlords.items()):
        if not landlord.retention.confirmed:
            source = "the default" if landlord.retention.default else "set in landlord.toml"
            click.echo(f"{slug}: {landlord.retention.years} years after closing ({source}), "
                       "awaiting the landlord's confirmation")
    due = apply_retention(runtime.sessions, runtime.casework, actor, dry_run)
    verb = "would anonymise" if dry_run else "anonymised"
    for item in due:
        click.echo(f"{item.landlord}: {verb} {item.reference} (closed {item.closed_at.date().isoformat()})")
    click.echo(f"{len(due)} complaint(s) {verb}")
    forgotten = forget_old_sign_in_attempts(runtime.sessions, dry_run)
    click.echo(f"{forgotten} sign-in attempt(s) older than {SIGN_IN_ATTEMPTS_KEPT.days} days "
               f"{'would be forgotten' if dry_run else 'forgotten'}")


@main.command("demo")
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Deploy every landlord's process and add demo users and complaints (once)."""
    from workflow_app.tools.demo import load_demo
    for line in load_demo(_runtime(ctx)):
        click.echo(line)

if __name__ == "__main__":
    main()
