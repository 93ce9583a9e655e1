"""``rolecall legacy import|export|mapping``: move between the legacy tables and rolecall.

Exit status of ``import``: 0 when every row was imported (or existed already), 1 when some rows
could not be mapped (they are listed; every other row is imported), 2 for bad input (an
unreadable source or settings file), never a traceback. ``export``: 0 when every grant was
written, 1 when some have no legacy equivalent (listed), 2 for bad input.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from rolecall.core import BadInputError
from rolecall.core.cli import echo_json, echo_table, json_option, loader_of, service_of

from .exporter import build_export, write_csv, write_database
from .importer import DEFAULT_BATCH, DEFAULT_SLICE, LISTS, stream_import
from .mapping import load_mapping
from .reader import hide_password, open_source
from .report import ImportReport

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


def _print_report(report: ImportReport, *, dry_run: bool) -> None:
    def some(name: str, headers: tuple[str, ...], rows: list[tuple[Any, ...]], what: str) -> None:
        if not report.counts[name]:
            return
        click.echo(f"{what}:")
        echo_table(headers, rows, empty="")
        if report.counts[name] > len(rows):
            click.echo(f"... and {report.counts[name] - len(rows)} more (--json lists them all)")

    first = report.first
    grants = ("table", "row", "user", "role", "scope")
    verb = "would be created" if dry_run else "created"
    some(
        "create",
        grants,
        [(g.table, g.row_id, g.user, g.role, g.scope) for g in first["create"]],
        f"grants {verb}",
    )
    if dry_run:
        some(
            "exists",
            grants,
            [(g.table, g.row_id, g.user, g.role, g.scope) for g in first["exists"]],
            "grants that exist already",
        )
        some("users", ("user", "email"), [(u, e) for u, e, _ in first["users"]], f"users {verb}")
    some(
        "ignored",
        ("table", "row", "reason"),
        [(p.table, p.row_id, p.reason) for p in first["ignored"]],
        "rows skipped on purpose",
    )
    some(
        "problems",
        ("table", "row", "problem", "reason"),
        [(p.table, p.row_id, p.kind, p.reason) for p in first["problems"]],
        "rows that cannot be imported",
    )
    some(
        "duplicates",
        ("table", "row", "user", "role", "scope", "kept"),
        [
            (d.table, d.row_id, d.user, d.role, d.scope, f"{d.kept_table} {d.kept_row_id}")
            for d in first["duplicates"]
        ],
        "duplicate rows (the same grant as the row kept)",
    )


class _Progress:
    """Progress on standard error: a bar on a terminal; elsewhere (a log, a pipe) one line per
    slice with the rows done of the total and the rate."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.started = time.monotonic()
        self.bar: Any = None
        if sys.stderr.isatty():
            self.bar = click.progressbar(length=max(total, 1), label=label, file=sys.stderr)
            self.bar.__enter__()

    def __call__(self, rows: int) -> None:
        self.done += rows
        if self.bar is not None:
            self.bar.update(rows)
            return
        elapsed = max(time.monotonic() - self.started, 1e-6)
        share = f" ({100 * self.done / self.total:.1f}%)" if self.total else ""
        click.echo(
            f"{self.label}: {self.done:,} of {self.total:,} rows{share}, "
            f"{self.done / elapsed:,.0f} rows/s",
            err=True,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


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
@click.option(
    "--slice-size",
    type=click.IntRange(min=1),
    default=DEFAULT_SLICE,
    show_default=True,
    help="Source rows read, mapped and written per slice (whole users; memory follows it).",
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
    slice_size: int,
    batch_id: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Import the legacy course access and forum roles (exit 1 if some rows cannot be mapped)."""
    if (source is None) == (folder is None):
        raise BadInputError("give --from URL or --from-csv DIR (one of them)")
    mapping = load_mapping(settings)
    # A loader: it keeps none of the grants it writes (nor those stored), so the import's
    # memory stays flat whatever the site's size (docs/migration.md).
    rc = loader_of(ctx)
    source_name = hide_password(source) if source is not None else str(folder)
    with (
        open_source(source, folder) as legacy,
        ImportReport(spool=as_json, shown=SHOWN) as report,
    ):
        progress = _Progress("dry run" if dry_run else "importing", legacy.total())
        try:
            result = stream_import(
                rc,
                legacy,
                mapping,
                report.add,
                staff_admins=staff_admins,
                dry_run=dry_run,
                slice_size=slice_size,
                batch_size=batch_size,
                batch_id=batch_id,
                actor=actor,
                progress=progress,
            )
        finally:
            progress.close()
        if result is not None and not (result.users_created or result.grants_created):
            result = None  # nothing written
        if as_json:
            lists: dict[str, Any] = dict.fromkeys(LISTS)
            report.write_json(
                lambda text: click.echo(text, nl=False),
                {
                    "source": source_name,
                    "dry_run": dry_run,
                    "summary": report.summary(),
                    **lists,
                    "batch_id": result.batch_id if result else None,
                    "revision": result.revision if result else rc.revision,
                },
            )
        else:
            _print_report(report, dry_run=dry_run)
            counts = ", ".join(
                f"{n} {what.replace('_', ' ')}" for what, n in report.summary().items()
            )
            if dry_run:
                verdict = "dry run: nothing written"
            elif result is not None:
                verdict = f"imported (revision {result.revision}, batch {result.batch_id})"
            else:
                verdict = "nothing to import"
            click.echo(f"{source_name}: {counts}; {verdict}")
        problems = report.counts["problems"]
    ctx.exit(1 if problems else 0)


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
