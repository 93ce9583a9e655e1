"""``rolecall bulk assign|revoke``: one role, many users, many scopes, a result per row."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

import click

from ..errors import BadInputError
from ..governance.bulk import BulkResult
from .access_commands import as_option, parse_time
from .main import cli, service_of
from .output import echo_json, echo_table, json_option

_F = TypeVar("_F", bound=Callable[..., Any])
COLUMNS = {"users": ("username", "user", "email", "e-mail"), "scopes": ("scope", "key")}


def read_list(text: str | None, path: Path | None, what: str) -> list[str]:
    """Values from ``--users a,b`` or a file: one per line, or a CSV file whose header names a
    ``username``/``email`` (users) or ``scope`` column. Blank lines and ``#`` comments are
    skipped."""
    if (text is None) == (path is None):
        raise BadInputError(f"give --{what} or --{what}-file (one of them)")
    if text is not None:
        return [v.strip() for v in text.split(",") if v.strip()]
    assert path is not None
    try:
        content = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cannot read {path}: {exc}") from None
    lines = [ln for ln in content.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return []
    header = [h.strip().lower() for h in next(csv.reader([lines[0]]))]
    column = next((header.index(c) for c in COLUMNS[what] if c in header), None)
    if column is None:
        return [ln.strip() for ln in lines]
    reader = csv.reader(io.StringIO("\n".join(lines[1:])))
    return [row[column].strip() for row in reader if len(row) > column and row[column].strip()]


def _print(result: BulkResult, as_json: bool) -> None:
    if as_json:
        echo_json(result.model_dump(mode="json"))
        return
    shown = [r for r in result.rows if r.status != "ok" or len(result.rows) <= 50]
    echo_table(
        ("user", "scope", "status", "message"),
        [(r.user, r.scope, r.status, r.message) for r in shown],
        empty="",
    )
    counts = ", ".join(f"{n} {status}" for status, n in sorted(result.counts().items()))
    if result.impact is not None:
        click.echo("\n".join(result.impact.summary()) or "nobody would gain or lose anything")
    if result.dry_run:
        verdict = "dry run: nothing written"
    elif result.applied:
        verdict = f"applied (revision {result.revision}, batch {result.batch_id})"
    elif result.failed:
        verdict = "nothing written: fix the failing rows, or use --partial to apply the others"
    else:
        verdict = "nothing to do"
    click.echo(f"{len(result.rows)} rows: {counts}; {verdict}")


def _run(
    ctx: click.Context,
    action: Literal["assign", "revoke"],
    *,
    role: str,
    users: str | None,
    users_file: Path | None,
    scopes: str | None,
    scopes_file: Path | None,
    dry_run: bool,
    partial: bool,
    as_user: str | None,
    reason: str | None,
    as_json: bool,
    expires: str | None = None,
) -> None:
    rc = service_of(ctx)
    user_list = read_list(users, users_file, "users")
    scope_list = read_list(scopes, scopes_file, "scopes")
    total = len(set(user_list)) * len(set(scope_list))
    show_bar = not as_json and total >= 1000
    with click.progressbar(
        length=total, label="checking rows", file=None if show_bar else io.StringIO()
    ) as bar:
        result = rc.bulk(
            action,
            role,
            user_list,
            scope_list,
            as_user=as_user,
            dry_run=dry_run,
            partial=partial,
            reason=reason,
            expires_at=parse_time(expires, "--expires") if expires else None,
            progress=bar.update,
        )
    _print(result, as_json)
    ctx.exit(1 if result.failed else 0)


def _options(command: _F) -> _F:
    for option in reversed(
        [
            click.option("--role", required=True, help="The role to assign or revoke."),
            click.option("--users", help="Usernames or e-mails, comma-separated."),
            click.option(
                "--users-file",
                type=click.Path(path_type=Path, dir_okay=False),
                help="A file of users: one per line, or CSV with a username column.",
            ),
            click.option("--scopes", help="Scope keys, comma-separated (org:ORG for org-wide)."),
            click.option(
                "--scopes-file",
                type=click.Path(path_type=Path, dir_okay=False),
                help="A file of scope keys: one per line, or CSV with a scope column.",
            ),
            click.option("--dry-run", is_flag=True, help="Validate and report; write nothing."),
            click.option("--partial", is_flag=True, help="Apply the valid rows even if some fail."),
            click.option("--reason", help="Why, for the audit log."),
            as_option,
            json_option,
        ]
    ):
        command = option(command)
    return command


@cli.group("bulk")
def bulk_group() -> None:
    """One role to or from many users on many scopes (exit 1 when a row fails)."""


@bulk_group.command("assign")
@click.option("--expires", metavar="ISO8601", help="When the grants end (UTC if no zone).")
@_options
@click.pass_context
def bulk_assign(ctx: click.Context, /, **options: Any) -> None:
    """Assign ROLE to every user on every scope."""
    _run(ctx, "assign", **options)


@bulk_group.command("revoke")
@_options
@click.pass_context
def bulk_revoke(ctx: click.Context, /, **options: Any) -> None:
    """Revoke ROLE from every user on every scope."""
    _run(ctx, "revoke", **options)
