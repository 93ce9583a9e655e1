"""Sign-in for the console and the API: ``create-admin``, ``passwd``, ``tokens``, ``secrets``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from ..errors import BadInputError
from ..storage.keys import PURPOSES, SESSION_KEY
from .access_commands import parse_time
from .main import cli, service_of
from .output import echo_json, echo_table, json_option

PLATFORM_ADMIN = "platform_admin"


def _read_password(username: str) -> str:
    """From the terminal (asked twice, not echoed), else the first line of standard input."""
    if sys.stdin is not None and sys.stdin.isatty():
        value: str = click.prompt(
            f"Password for {username}", hide_input=True, confirmation_prompt=True
        )
        return value
    line = sys.stdin.readline() if sys.stdin is not None else ""
    if not line:
        raise BadInputError("no password: type it, or pipe it on standard input")
    return line.rstrip("\r\n")


@cli.command("create-admin")
@click.argument("username")
@click.option("--email", metavar="E", help="The e-mail address, when the user is new.")
@json_option
@click.pass_context
def create_admin(ctx: click.Context, username: str, email: str | None, as_json: bool) -> None:
    """Make USERNAME a platform admin who can sign in to the console.

    The user is added if new and given the platform_admin role on the platform; the password
    is read from the terminal, or from standard input when that is not a terminal.
    """
    rc = service_of(ctx)
    password = _read_password(username)
    rc.add_user(username, email=email)
    rc.assign(username, PLATFORM_ADMIN, "platform")
    revision = rc.accounts.set_password(username, password)
    if as_json:
        echo_json({"user": username, "role": PLATFORM_ADMIN, "revision": revision})
    else:
        click.echo(f"{username} is a platform admin and can sign in to the console")


@cli.command("passwd")
@click.argument("username")
@json_option
@click.pass_context
def passwd(ctx: click.Context, username: str, as_json: bool) -> None:
    """Set or change USERNAME's console password (read like create-admin's)."""
    rc = service_of(ctx)
    rc.index.require_user(username)
    revision = rc.accounts.set_password(username, _read_password(username))
    if as_json:
        echo_json({"user": username, "revision": revision})
    else:
        click.echo(f"password of {username} set")


@cli.group("tokens")
def tokens() -> None:
    """Bearer tokens for the REST API (stored hashed; shown once)."""


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


@tokens.command("create")
@click.argument("username")
@click.option("--label", metavar="TEXT", help="What the token is for.")
@click.option("--expires", metavar="ISO8601", help="When the token stops working (UTC if no zone).")
@json_option
@click.pass_context
def tokens_create(
    ctx: click.Context, username: str, label: str | None, expires: str | None, as_json: bool
) -> None:
    """Create a token acting as USERNAME; the token is the last word printed."""
    expires_at = parse_time(expires, "--expires") if expires else None
    info, token = service_of(ctx).accounts.create_token(
        username, label=label, expires_at=expires_at
    )
    if as_json:
        echo_json(
            {
                "id": info.id,
                "user": username,
                "label": label,
                "expires_at": _iso(info.expires_at),
                "token": token,
            }
        )
    else:
        click.echo(f"token {info.id} for {username} (keep it secret; it is not shown again):")
        click.echo(token)


@tokens.command("list")
@click.option("--user", "username", metavar="U", help="Only this user's tokens.")
@json_option
@click.pass_context
def tokens_list(ctx: click.Context, username: str | None, as_json: bool) -> None:
    """List tokens (never the tokens themselves)."""
    found = service_of(ctx).accounts.tokens(username)
    if as_json:
        echo_json(
            [
                {
                    "id": t.id,
                    "user": t.user,
                    "prefix": t.prefix,
                    "label": t.label,
                    "created_by": t.created_by,
                    "created_at": _iso(t.created_at),
                    "revoked_at": _iso(t.revoked_at),
                    "expires_at": _iso(t.expires_at),
                    "state": t.state,
                }
                for t in found
            ]
        )
        return
    echo_table(
        ["id", "user", "prefix", "label", "created", "expires", "state"],
        [
            (
                t.id,
                t.user,
                t.prefix + "...",
                t.label,
                t.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
                t.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if t.expires_at else "-",
                t.state,
            )
            for t in found
        ],
        "no tokens",
    )


@tokens.command("revoke")
@click.argument("token_id", type=int)
@json_option
@click.pass_context
def tokens_revoke(ctx: click.Context, token_id: int, as_json: bool) -> None:
    """Revoke the token TOKEN_ID (see `rolecall tokens list`)."""
    revision = service_of(ctx).accounts.revoke_token(token_id)
    if as_json:
        echo_json({"id": token_id, "revoked": True, "revision": revision})
    else:
        click.echo(f"token {token_id} revoked")


@cli.group("secrets")
def secrets_group() -> None:
    """The keys that sign console sessions and the audit chain (kept outside the database)."""


@secrets_group.command("rotate")
@click.argument("name", type=click.Choice(PURPOSES), default=SESSION_KEY)
@json_option
@click.pass_context
def secrets_rotate(ctx: click.Context, name: str, as_json: bool) -> None:
    """Replace key NAME with a new random one. console-session-key: signs everyone out of the
    console (web processes use it once restarted). audit-key: events are signed with the new
    key from now on; the old keys stay in the key file and keep verifying older events."""
    rc = service_of(ctx)
    revision = rc.accounts.rotate_secret(name)
    key = rc.keys.current(name)
    if as_json:
        echo_json({"secret": name, "rotated": True, "key_id": key.id, "revision": revision})
    else:
        click.echo(f"secret {name} rotated: key {key.id} in {rc.keys.source}")


@secrets_group.command("show")
@json_option
@click.pass_context
def secrets_show(ctx: click.Context, as_json: bool) -> None:
    """Where the keys live and their ids (never the keys)."""
    rc = service_of(ctx)
    found = {name: [k.id for k in rc.keys.versions(name)] for name in PURPOSES}
    if as_json:
        echo_json(
            {
                "source": rc.keys.source,
                "keys": found,
                "audit_keyed_after": rc.keys.keyed_after,
            }
        )
        return
    click.echo(f"keys: {rc.keys.source}")
    for name, ids in found.items():
        current = rc.keys.current(name).id
        older = ", ".join(i for i in ids if i != current)
        click.echo(f"{name}: {current}" + (f" (older, still verifying: {older})" if older else ""))
