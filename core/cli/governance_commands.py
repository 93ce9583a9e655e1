"""Lifecycle and history commands: expire, history, scopes add and remove, users retire."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from ..engine import GrantInfo
from ..errors import BadInputError
from ..governance.history import access_at, who_had_access
from ..governance.lifecycle import Removal, expire, scope_removal, user_retirement
from .access_commands import as_option, parse_time, print_access, print_team, users_group
from .main import cli, service_of
from .output import echo_json, echo_table, json_option

reason_option = click.option("--reason", help="Why, for the audit log.")


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _grant_json(grant: GrantInfo) -> dict[str, object]:
    return grant.model_dump(mode="json")


def _removal_json(removal: Removal) -> dict[str, object]:
    return {
        "changed": removal.changed,
        "revision": removal.revision,
        "assignments": [_grant_json(g) for g in removal.grants],
        "restrictions": list(removal.restrictions),
        "scopes": list(removal.scopes),
    }


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


@cli.command("expire")
@json_option
@click.pass_context
def expire_command(ctx: click.Context, as_json: bool) -> None:
    """Remove the assignments whose expiry has passed (one audit event each)."""
    rc = service_of(ctx)
    removed = expire(rc)
    if as_json:
        echo_json({"expired": [_grant_json(g) for g in removed], "revision": rc.revision})
        return
    echo_table(
        ("user", "role", "scope", "expired at"),
        [(g.user, g.role, g.scope, _when(g.expires_at)) for g in removed],
        empty="nothing expired",
    )


@cli.command("history")
@click.option("--scope", metavar="SCOPE", help="The team of this scope at that time.")
@click.option("--user", metavar="USER", help="The access this user had at that time.")
@click.option("--at", "at", metavar="ISO8601", required=True, help="When (UTC if no zone).")
@json_option
@click.pass_context
def history_command(
    ctx: click.Context, scope: str | None, user: str | None, at: str, as_json: bool
) -> None:
    """Who had access to a scope, or what access a user had, at a past time (from the audit
    log)."""
    if (scope is None) == (user is None):
        raise BadInputError("give one of --scope or --user")
    when = parse_time(at, "--at")
    rc = service_of(ctx)
    if scope is not None:
        team = who_had_access(rc, scope, when)
        if as_json:
            echo_json(team.model_dump(mode="json"))
            return

        print_team(team, f"Team of {scope} at {_when(when)} UTC:", now=False)
        return
    assert user is not None
    entries = access_at(rc, user, when)
    if as_json:
        echo_json([e.model_dump(mode="json") for e in entries])
        return
    print_access(
        entries,
        empty=f"{user} held no role at {_when(when)} UTC",
        at=_when,
        expiry=lambda grant: _when(grant.expires_at),
    )


@cli.group("scopes")
def scopes_group() -> None:
    """The scopes rolecall knows."""


@scopes_group.command("add")
@click.argument("scope")
@click.option("--title", help="Its title, shown in listings.")
@as_option
@click.pass_context
def scopes_add(ctx: click.Context, scope: str, title: str | None, as_user: str | None) -> None:
    """Record SCOPE (a course, library or org key) so roles can be given on it in the console
    and the REST API, which take known scopes only. With --as it takes platform.add_scopes
    there."""
    rc = service_of(ctx)
    key = rc.registry.scopes.resolve(scope).key
    if rc.unknown_scope(key) is None:
        click.echo(f"{key} is known already")
        return
    revision = rc.add_scopes([(key, title)], as_user=as_user)
    click.echo(f"added {key} (revision {revision})")


@scopes_group.command("remove")
@click.argument("scope")
@reason_option
@as_option
@json_option
@click.pass_context
def scopes_remove(
    ctx: click.Context, scope: str, reason: str | None, as_user: str | None, as_json: bool
) -> None:
    """Remove SCOPE and everything below it: assignments, restrictions, known scopes."""
    removal = scope_removal(service_of(ctx), scope, reason=reason, as_user=as_user)
    if as_json:
        echo_json({"scope": scope, **_removal_json(removal)})
        return
    if not removal.changed:
        click.echo(f"nothing to remove on {scope}")
        return
    click.echo(
        f"removed {scope}: {_count(len(removal.grants), 'assignment')}, "
        f"{_count(len(removal.restrictions), 'restriction')}, "
        f"{_count(len(removal.scopes), 'scope')} forgotten (revision {removal.revision})"
    )


@users_group.command("retire")
@click.argument("username")
@click.option(
    "--erase",
    is_flag=True,
    help="Also erase the user's personal data: the username becomes a retired placeholder, "
    "the e-mail, name, password, tokens and sessions go (the audit chain still verifies).",
)
@click.option(
    "--retired-username",
    metavar="NAME",
    help="With --erase: the placeholder to use (the platform's retired__user_... name); "
    "default a random one.",
)
@reason_option
@as_option
@json_option
@click.pass_context
def users_retire(
    ctx: click.Context,
    username: str,
    erase: bool,
    retired_username: str | None,
    reason: str | None,
    as_user: str | None,
    as_json: bool,
) -> None:
    """Remove every role USERNAME holds and mark the user inactive (--erase: and erase them)."""
    removal = user_retirement(
        service_of(ctx),
        username,
        reason=reason,
        as_user=as_user,
        erase=erase,
        retired_username=retired_username,
    )
    if as_json:
        echo_json({"user": username, "deactivated": removal.deactivated, **_removal_json(removal)})
        return
    if not removal.changed:
        click.echo(f"no change: {username} is already inactive and holds no role")
        return
    erased = ", personal data erased" if erase else ""
    click.echo(
        f"retired {username}: {_count(len(removal.grants), 'role')} removed, marked inactive"
        f"{erased} (revision {removal.revision})"
    )
