"""Sign-in for the console and the API: ``create-admin``, ``passwd``, ``tokens``, ``secrets``."""

from __future__ import annotations

import sys

import click

from ..errors import BadInputError
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


@tokens.command("create")
@click.argument("username")
@click.option("--label", metavar="TEXT", help="What the token is for.")
@json_option
@click.pass_context
def tokens_create(ctx: click.Context, username: str, label: str | None, as_json: bool) -> None:
    """Create a token acting as USERNAME; the token is the last word printed."""
    info, token = service_of(ctx).accounts.create_token(username, label=label)
    if as_json:
        echo_json({"id": info.id, "user": username, "label": label, "token": token})
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
                    "created_at": t.created_at.isoformat(),
                    "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
                }
                for t in found
            ]
        )
        return
    echo_table(
        ["id", "user", "prefix", "label", "created", "state"],
        [
            (
                t.id,
                t.user,
                t.prefix + "...",
                t.label,
                t.created_at.strftime("%Y-%m-%d %H:%M"),
                "active" if t.active else "revoked",
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
    """Secrets the installation generated (the console's session key)."""


@secrets_group.command("rotate")
@click.argument("name", default="console-session-key")
@json_option
@click.pass_context
def secrets_rotate(ctx: click.Context, name: str, as_json: bool) -> None:
    """Replace secret NAME with a new random one; for the session key this signs everyone out
    of the console (web processes pick it up when restarted)."""
    revision = service_of(ctx).accounts.rotate_secret(name)
    if as_json:
        echo_json({"secret": name, "rotated": True, "revision": revision})
    else:
        click.echo(f"secret {name} rotated")
