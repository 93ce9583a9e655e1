"""``rolecall legacy import|export|mapping``: move between the legacy tables and rolecall.

Exit status of ``import``: 0 when every row was imported (or existed already), 1 when some rows
could not be mapped (they are listed; every other row is imported), 2 for bad input (an
unreadable source or settings file), never a traceback. ``export``: 0 when every grant was
written, 1 when some have no legacy equivalent (listed), 2 for bad input.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from rolecall.core import BadInputError
from rolecall.core.cli import echo_json, echo_table, json_option, service_of

from .exporter import build_export, write_csv, write_database
from .importer import DEFAULT_BATCH, ImportPlan, plan_import, run_import
from .mapping import load_mapping
from .reader import hide_password, read_csv, read_database

SHOWN = 50
"""How many rows of each list the human output shows (``--json`` has them all)."""

settings_option = click.option(
    "--settings",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A JSON file overriding the default role mapping (see docs/migration.md).",
)
staff_option = click.option(
    "--staff-admins",
    is_flag=True,
    help="auth_user.is_staff accounts are platform admins (import), and back (export).",
)


@click.group("legacy")
def legacy_group() -> None:
    """Import the legacy Open edX roles, and export back to them (docs/migration.md)."""


def _echo_some(headers: tuple[str, ...], rows: list[tuple[Any, ...]], what: str) -> None:
    if not rows:
        return
    click.echo(f"{what}:")
    echo_table(headers, rows[:SHOWN], empty="")
    if len(rows) > SHOWN:
        click.echo(f"... and {len(rows) - SHOWN} more (--json lists them all)")


def _print_plan(plan: ImportPlan, *, dry_run: bool) -> None:
    grants = ("table", "row", "user", "role", "scope")
    verb = "would be created" if dry_run else "created"
    _echo_some(
        grants,
        [(g.table, g.row_id, g.user, g.role, g.scope) for g in plan.create],
        f"grants {verb}",
    )
    if dry_run:
        _echo_some(
            grants,
            [(g.table, g.row_id, g.user, g.role, g.scope) for g in plan.exists],
            "grants that exist already",
        )
        _echo_some(("user", "email"), [(u, e) for u, e, _ in plan.users], f"users {verb}")
    _echo_some(
        ("table", "row", "reason"),
        [(p.table, p.row_id, p.reason) for p in plan.ignored],
        "rows skipped on purpose",
    )
    _echo_some(
        ("table", "row", "problem", "reason"),
        [(p.table, p.row_id, p.kind, p.reason) for p in plan.problems],
        "rows that cannot be imported",
    )
    _echo_some(
        ("table", "row", "user", "role", "scope", "kept"),
        [
            (d.table, d.row_id, d.user, d.role, d.scope, f"{d.kept_table} {d.kept_row_id}")
            for d in plan.duplicates
        ],
        "duplicate rows (the same grant as the row kept)",
    )


@legacy_group.command("import")
@click.option("--from", "source", metavar="URL", help="The edx-platform database URL to read.")
@click.option(
    "--from-csv",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    help="A folder of <table>.csv files exported from the legacy tables.",
)
@settings_option
@staff_option
@click.option("--dry-run", is_flag=True, help="Report what would happen; write nothing.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH,
    show_default=True,
    help="Rows written per transaction.",
)
@click.option("--batch-id", help="Audit batch id (give an interrupted run's id to resume it).")
@click.option("--actor", help="The name recorded as the actor in the audit log.")
@json_option
@click.pass_context
def import_command(
    ctx: click.Context,
    source: str | None,
    folder: Path | None,
    settings: Path | None,
    staff_admins: bool,
    dry_run: bool,
    batch_size: int,
    batch_id: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Import the legacy course access and forum roles (exit 1 if some rows cannot be mapped)."""
    if (source is None) == (folder is None):
        raise BadInputError("give --from URL or --from-csv DIR (one of them)")
    mapping = load_mapping(settings)
    data = read_database(source) if source is not None else read_csv(folder or Path())
    rc = service_of(ctx)
    plan = plan_import(rc, data, mapping, staff_admins=staff_admins)
    result = None
    if not dry_run and plan.work:
        with click.progressbar(length=plan.work, label="importing", file=sys.stderr) as bar:
            result = run_import(
                rc,
                plan,
                batch_size=batch_size,
                batch_id=batch_id,
                actor=actor,
                progress=bar.update,
            )
    source_name = hide_password(source) if source is not None else str(folder)
    if as_json:
        echo_json(
            {
                "source": source_name,
                "dry_run": dry_run,
                "summary": plan.summary(),
                "create": [asdict(g) for g in plan.create],
                "exists": [asdict(g) for g in plan.exists],
                "users": [{"username": u, "email": e, "display_name": d} for u, e, d in plan.users],
                "ignored": [asdict(p) for p in plan.ignored],
                "problems": [asdict(p) for p in plan.problems],
                "duplicates": [asdict(d) for d in plan.duplicates],
                "batch_id": result.batch_id if result else None,
                "revision": result.revision if result else rc.revision,
            }
        )
    else:
        _print_plan(plan, dry_run=dry_run)
        counts = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in plan.summary().items())
        if dry_run:
            verdict = "dry run: nothing written"
        elif result is not None:
            verdict = f"imported (revision {result.revision}, batch {result.batch_id})"
        else:
            verdict = "nothing to import"
        click.echo(f"{source_name}: {counts}; {verdict}")
    ctx.exit(1 if plan.problems else 0)


@legacy_group.command("export")
@click.option("--to", "target", metavar="URL", help="The legacy database to bring in line.")
@click.option(
    "--to-csv",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    help="A folder to write <table>.csv files into: new files only, never through a link.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="With --to-csv: replace the <table>.csv files of an earlier export (links are still "
    "refused).",
)
@settings_option
@staff_option
@click.option("--dry-run", is_flag=True, help="With --to: report the changes; write nothing.")
@json_option
@click.pass_context
def export_command(
    ctx: click.Context,
    target: str | None,
    folder: Path | None,
    replace: bool,
    settings: Path | None,
    staff_admins: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Write the grants back as legacy rows (exit 1 if some have no legacy equivalent)."""
    if (target is None) == (folder is None):
        raise BadInputError("give --to URL or --to-csv DIR (one of them)")
    mapping = load_mapping(settings)
    rc = service_of(ctx)
    export = build_export(rc, mapping, staff_admins=staff_admins)
    written: dict[str, int]
    if target is not None:
        changes = write_database(
            rc, export, target, mapping, staff_admins=staff_admins, dry_run=dry_run
        )
        written = changes.summary()
        where = hide_password(target)
    else:
        written = {} if dry_run else write_csv(export, folder or Path(), replace=replace)
        where = str(folder)
    unexported = [asdict(u) for u in export.unexported]
    if as_json:
        echo_json(
            {
                "target": where,
                "dry_run": dry_run,
                "written": written,
                "expired_skipped": export.expired,
                "unexported": unexported,
            }
        )
    else:
        _echo_some(
            ("user", "role", "scope", "reason"),
            [(u.user, u.role, u.scope, u.reason) for u in export.unexported],
            "grants with no legacy equivalent",
        )
        verb = "would change" if dry_run else "written"
        parts = ", ".join(f"{n} {what}" for what, n in written.items()) or "nothing"
        click.echo(f"{where}: {verb}: {parts}; {len(unexported)} grant(s) not exported")
    ctx.exit(1 if export.unexported else 0)


@legacy_group.command("mapping")
@settings_option
@json_option
def mapping_command(settings: Path | None, as_json: bool) -> None:
    """Show the legacy role mapping in force (defaults and the settings file's overrides)."""
    mapping = load_mapping(settings)
    course = [
        ("student_courseaccessrole", name, role or "(skipped)", ", ".join(levels))
        for name, (role, levels) in mapping.course_roles.items()
    ]
    forum = [
        ("django_comment_client_role", name, role or "(skipped)", "course")
        for name, role in mapping.forum_roles.items()
    ]
    if as_json:
        echo_json(
            [
                {"table": t, "legacy": n, "role": None if r == "(skipped)" else r, "levels": lv}
                for t, n, r, lv in course + forum
            ]
        )
        return
    echo_table(("table", "legacy role", "rolecall role", "levels"), course + forum, empty="")
