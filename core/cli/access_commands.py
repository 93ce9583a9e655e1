"""Commands on the database: users, assignments, checks, explanations, "who", audit."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Literal, TextIO

import click

from ..engine import AccessEntry, Decision, GrantInfo, Team, TeamMember
from ..engine.index import ALL
from ..errors import BadInputError
from ..reads import dormant, restrictions
from ..service import Rolecall
from ..storage.audit import Head
from ..storage.database import database_url, head_revision, migrate_database
from .main import State, cli, service_of
from .output import echo_json, echo_table, json_option

OPERATOR = "(operator)"
dry_run_option = click.option(
    "--dry-run", is_flag=True, help="Show who would gain or lose what; change nothing."
)
as_option = click.option(
    "--as",
    "as_user",
    metavar="ACTOR",
    help="Act as this user, under the delegation rules (default: the operator, unrestricted).",
)


def parse_time(text: str, what: str) -> datetime:
    """ISO 8601 date or date-time; without a zone it is taken as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadInputError(
            f"{what} {text!r} is not an ISO 8601 date or time, e.g. 2027-01-31 or "
            "2027-01-31T17:00:00+01:00"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _expiry(grant: GrantInfo) -> str:
    if grant.expires_at is None:
        return "-"
    return f"{_when(grant.expires_at)}{' (expired)' if grant.expired else ''}"


# ------------------------------------------------------------------------------------ database


@cli.group("db")
def db_group() -> None:
    """The database schema."""


@db_group.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create the schema, or upgrade it to the newest migration."""
    changed, head = migrate_database(database_url(ctx.find_root().ensure_object(State).database))
    state = "upgraded to" if changed else "already at"
    click.echo(f"schema {state} revision {head} (newest: {head_revision()})")


# ------------------------------------------------------------------------------------ users


@cli.group("users")
def users_group() -> None:
    """The users rolecall knows."""


@users_group.command("add")
@click.argument("usernames", nargs=-1, required=True)
@click.option("--email", help="E-mail address (with a single USERNAME).")
@click.option("--name", "display_name", help="Display name (with a single USERNAME).")
@json_option
@click.pass_context
def users_add(
    ctx: click.Context,
    usernames: tuple[str, ...],
    email: str | None,
    display_name: str | None,
    as_json: bool,
) -> None:
    """Add users; existing ones are left unchanged."""
    if (email or display_name) and len(usernames) > 1:
        raise BadInputError("--email and --name go with a single username")
    rc = service_of(ctx)
    known = set(rc.index.users)
    revision = rc.add_users([(u, email, display_name) for u in usernames])
    added = [u for u in dict.fromkeys(usernames) if u not in known]
    if as_json:
        echo_json({"added": added, "revision": revision})
        return
    for user in usernames:
        click.echo(f"{'added' if user in added else 'exists'}: {user}")


@users_group.command("list")
@json_option
@click.pass_context
def users_list(ctx: click.Context, as_json: bool) -> None:
    """List the users."""
    users = service_of(ctx).users()
    if as_json:
        echo_json(
            [{"username": u, "email": e, "display_name": d, "active": a} for u, e, d, a in users]
        )
        return
    echo_table(
        ("username", "e-mail", "name", "active"),
        [(u, e or "-", d or "-", "yes" if a else "no") for u, e, d, a in users],
        empty="no users",
    )


# ------------------------------------------------------------------------------------ changes


def _what_if(
    rc: Rolecall,
    action: Literal["assign", "revoke"],
    user: str,
    role: str,
    scope: str,
    as_user: str | None,
    as_json: bool,
) -> None:
    """Print the what-if of one change; with ``--as``, also whether the rules would allow it."""
    impact = rc.what_if(action, [(user, role, scope)])
    refusal = None
    if as_user is not None:
        rc.index.require_user(as_user)
        definition = rc.role(role)
        delegation = rc.delegation()
        refusal = (
            delegation.may_assign(as_user, definition.id, scope)
            if action == "assign"
            else delegation.may_revoke(
                as_user,
                user,
                definition.id,
                scope,
                is_admin=definition.admin,
                revocable_by=definition.revocable_by,
            )
        )
    if as_json:
        echo_json(
            {
                "impact": impact.model_dump(mode="json"),
                "allowed": refusal is None,
                "refusal": str(refusal) if refusal else None,
            }
        )
        return
    lines = impact.summary()
    click.echo("\n".join(lines) if lines else "nobody would gain or lose anything")
    if refusal is not None:
        click.echo(f"but it would be refused: {refusal}")
    click.echo("dry run: nothing changed")


@cli.command("assign")
@click.argument("user")
@click.argument("role")
@click.argument("scope")
@click.option("--expires", metavar="ISO8601", help="When the grant ends (UTC if no zone).")
@click.option("--reason", help="Why, for the audit log.")
@dry_run_option
@as_option
@json_option
@click.pass_context
def assign_command(
    ctx: click.Context,
    user: str,
    role: str,
    scope: str,
    expires: str | None,
    reason: str | None,
    dry_run: bool,
    as_user: str | None,
    as_json: bool,
) -> None:
    """Grant ROLE to USER on SCOPE (exit 3 when the delegation rules refuse it)."""
    rc = service_of(ctx)
    expires_at = parse_time(expires, "--expires") if expires else None
    if dry_run:
        _what_if(rc, "assign", user, role, scope, as_user, as_json)
        return
    before = rc.revision
    revision = rc.assign(user, role, scope, reason=reason, expires_at=expires_at, as_user=as_user)
    changed = revision != before
    role_id = rc.role(role).id
    if as_json:
        echo_json(
            {
                "changed": changed,
                "revision": revision,
                "user": user,
                "role": role_id,
                "scope": scope,
            }
        )
        return
    if changed:
        click.echo(f"assigned {role_id} to {user} on {scope} (revision {revision})")
    else:
        click.echo(f"no change: {user} already holds {role_id} on {scope}")


@cli.command("revoke")
@click.argument("user")
@click.argument("role")
@click.argument("scope")
@click.option("--reason", help="Why, for the audit log.")
@dry_run_option
@as_option
@json_option
@click.pass_context
def revoke_command(
    ctx: click.Context,
    user: str,
    role: str,
    scope: str,
    reason: str | None,
    dry_run: bool,
    as_user: str | None,
    as_json: bool,
) -> None:
    """Remove ROLE from USER on SCOPE (exit 3 when the delegation rules refuse it)."""
    rc = service_of(ctx)
    if dry_run:
        _what_if(rc, "revoke", user, role, scope, as_user, as_json)
        return
    revision = rc.revoke(user, role, scope, reason=reason, as_user=as_user)
    if as_json:
        echo_json({"changed": True, "revision": revision})
        return
    click.echo(f"revoked {role} from {user} on {scope} (revision {revision})")


@cli.command("restrict")
@click.argument("scope")
@click.option(
    "--permission",
    "permissions",
    multiple=True,
    metavar="P",
    help="A permission to deny (repeatable; default: all).",
)
@click.option("--exempt", "exempt", multiple=True, metavar="ROLE", help="An exempt role.")
@click.option("--reason", help="Why, for the audit log and explanations.")
@as_option
@json_option
@click.pass_context
def restrict_command(
    ctx: click.Context,
    scope: str,
    permissions: tuple[str, ...],
    exempt: tuple[str, ...],
    reason: str | None,
    as_user: str | None,
    as_json: bool,
) -> None:
    """Deny permissions at SCOPE and below (deny beats allow), except to exempt roles."""
    rc = service_of(ctx)
    revision = rc.restrict(
        scope, permissions or (ALL,), exempt_roles=exempt, reason=reason, as_user=as_user
    )
    if as_json:
        echo_json({"revision": revision})
        return
    what = ", ".join(permissions) if permissions else "every permission"
    click.echo(f"restricted {scope}: {what} denied (revision {revision})")


@cli.command("restrictions")
@json_option
@click.pass_context
def restrictions_command(ctx: click.Context, as_json: bool) -> None:
    """List the restrictions in force."""
    found = restrictions(service_of(ctx))
    if as_json:
        echo_json([r.model_dump(mode="json") for r in found])
        return
    echo_table(
        ("scope", "denied", "exempt roles", "reason"),
        [
            (r.scope, ", ".join(r.permissions), ", ".join(r.exempt_roles) or "-", r.reason or "-")
            for r in found
        ],
        empty="no restrictions",
    )


@cli.command("unrestrict")
@click.argument("scope")
@as_option
@click.pass_context
def unrestrict_command(ctx: click.Context, scope: str, as_user: str | None) -> None:
    """Remove the restriction at SCOPE."""
    revision = service_of(ctx).unrestrict(scope, as_user=as_user)
    click.echo(f"restriction on {scope} removed (revision {revision})")


# ------------------------------------------------------------------------------------ questions


@cli.command("check")
@click.argument("user")
@click.argument("permission")
@click.argument("scope")
@json_option
@click.pass_context
def check_command(
    ctx: click.Context, user: str, permission: str, scope: str, as_json: bool
) -> None:
    """May USER do PERMISSION on SCOPE? Exit 0 when allowed, 1 when denied, 2 on bad input."""
    rc = service_of(ctx)
    allowed = rc.check(user, permission, scope)
    if as_json:
        echo_json(
            {
                "allowed": allowed,
                "user": user,
                "permission": permission,
                "scope": scope,
                "revision": rc.revision,
            }
        )
    else:
        click.echo("allowed" if allowed else "denied")
    ctx.exit(0 if allowed else 1)


def _print_decision(decision: Decision) -> None:
    click.echo(decision.summary)
    for c in decision.contributions:
        g = c.grant
        line = (
            f"  via {g.role} on {g.scope}, granted by {g.granted_by or OPERATOR} "
            f"on {_when(g.granted_at)}"
        )
        if g.expires_at:
            line += f", expires {_when(g.expires_at)}"
        click.echo(line)
        if len(c.path) > 1:
            click.echo(f"    implied: {' -> '.join(c.path)}")
    if decision.denied_by:
        r = decision.denied_by
        click.echo(
            f"  restriction on {r.scope}: denies {', '.join(r.permissions)}; exempt: "
            f"{', '.join(r.exempt_roles) or 'none'}" + (f"; reason: {r.reason}" if r.reason else "")
        )
    if decision.closest_misses:
        click.echo("  closest:")
        for miss in decision.closest_misses:
            click.echo(f"    - {miss}")


@cli.command("explain")
@click.argument("user")
@click.argument("permission")
@click.argument("scope")
@json_option
@click.pass_context
def explain_command(
    ctx: click.Context, user: str, permission: str, scope: str, as_json: bool
) -> None:
    """Why USER may or may not do PERMISSION on SCOPE."""
    decision = service_of(ctx).explain(user, permission, scope)
    if as_json:
        echo_json(decision.model_dump(mode="json"))
    else:
        _print_decision(decision)


def print_team(team: Team, title: str, *, now: bool) -> None:
    """A team as two tables: the scope's own members, then "Other users with access"."""

    def rows(members: tuple[TeamMember, ...]) -> list[tuple[str, ...]]:
        return [
            (g.user, g.role, g.granted_by or OPERATOR, _when(g.granted_at), _expiry(g), g.scope)
            for member in members
            for g in member.grants
        ]

    click.echo(title)
    echo_table(
        ("user", "role", "granted by", "since", "expires"),
        [row[:-1] for row in rows(team.members)],
        empty=f"  nobody {'is' if now else 'was'} assigned here",
    )
    click.echo("")
    click.echo("Other users with access:")
    echo_table(
        ("user", "role", "granted by", "since", "expires", "from"),
        rows(team.inherited),
        empty=f"  nobody {'has' if now else 'had'} access from above",
    )


def print_access(
    entries: Sequence[AccessEntry],
    empty: str,
    *,
    at: Callable[[datetime | None], str] = _when,
    expiry: Callable[[GrantInfo], str] = _expiry,
) -> None:
    """A user's roles, one row per role and scope: assigned there or inherited, and from where.
    ``at`` and ``expiry`` show the times (``rolecall history`` shows seconds)."""
    echo_table(
        ("scope", "role", "how", "granted by", "since", "expires"),
        [
            (
                e.scope,
                e.role,
                "assigned here" if e.local else f"from {e.via}",
                e.grant.granted_by or OPERATOR,
                at(e.grant.granted_at),
                expiry(e.grant),
            )
            for e in entries
        ],
        empty=empty,
    )


@cli.command("who")
@click.argument("scope")
@click.option("--permission", metavar="P", help="Only the users allowed this permission.")
@json_option
@click.pass_context
def who_command(ctx: click.Context, scope: str, permission: str | None, as_json: bool) -> None:
    """The team of SCOPE and the other users with access from above it."""
    rc = service_of(ctx)
    if permission is not None:
        users = rc.who_can(permission, scope)
        unlisted = rc.not_listed(scope, permission)
        if as_json:
            echo_json(
                {"scope": scope, "permission": permission, "users": users, "not_listed": unlisted}
            )
        else:
            nobody = "no listed user" if unlisted else "nobody"
            click.echo("\n".join(users) if users else f"{nobody} may {permission} on {scope}")
            for note in unlisted:
                click.echo(f"Not listed: {note}")
        return
    team = rc.who(scope)
    if as_json:
        echo_json(team.model_dump(mode="json"))
        return

    print_team(team, f"Team of {scope}:", now=True)
    for note in team.not_listed:
        click.echo(f"Not listed: {note}")


@cli.command("access")
@click.argument("user")
@json_option
@click.pass_context
def access_command(ctx: click.Context, user: str, as_json: bool) -> None:
    """Every role USER holds on every scope, local or inherited and from where."""
    rc = service_of(ctx)
    entries = rc.access(user)
    waiting = dormant(rc, user=user)
    if as_json:
        echo_json([e.model_dump(mode="json") for e in entries])
        return
    print_access(entries, empty=f"{user} holds no role")
    for derived in rc.registry.derived_roles.values():
        click.echo(
            f"Not listed: {derived.role} wherever {derived.source} names {user} "
            f"({derived.description}): rolecall cannot list where that is"
        )
    if waiting:
        click.echo("\nDormant (kept, granting nothing until their plugin returns):")
        for row in waiting:
            click.echo(f"  {row.describe()}")


@cli.command("where")
@click.argument("user")
@click.argument("permission")
@click.option("--type", "scope_type", metavar="TYPE", help="Only scopes of this type.")
@json_option
@click.pass_context
def where_command(
    ctx: click.Context, user: str, permission: str, scope_type: str | None, as_json: bool
) -> None:
    """The known scopes where USER may do PERMISSION."""
    scopes = service_of(ctx).scopes_where(user, permission, scope_type)
    if as_json:
        echo_json(scopes)
    else:
        click.echo("\n".join(scopes) if scopes else f"{user} may {permission} nowhere")


# ------------------------------------------------------------------------------------ audit


@cli.group("audit", invoke_without_command=True)
@click.option("--user", help="Only events about this user.")
@click.option("--scope", help="Only events on this scope.")
@click.option("--since", metavar="ISO8601", help="Only events at or after this time.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many events.")
@json_option
@click.pass_context
def audit_group(
    ctx: click.Context,
    user: str | None,
    scope: str | None,
    since: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """The audit log (newest last); `rolecall audit verify` checks its hash chain."""
    if ctx.invoked_subcommand is not None:
        return
    events = service_of(ctx).audit(
        user=user,
        scope=scope,
        since=parse_time(since, "--since") if since else None,
        limit=limit,
    )
    if as_json:
        echo_json([e.model_dump(mode="json") for e in events])
        return
    echo_table(
        ("id", "at", "action", "actor", "user", "role", "scope"),
        [
            (
                e.id,
                _when(e.at),
                e.action,
                e.actor or OPERATOR,
                e.user or "-",
                e.role or "-",
                e.scope or "-",
            )
            for e in events
        ],
        empty="no audit events",
    )


@audit_group.command("verify")
@click.option(
    "--expect-head",
    "expect_file",
    type=click.File("r"),
    metavar="FILE",
    help="A head recorded earlier (the output of audit verify --json, or its head; - for "
    "standard input): the chain must still hold it.",
)
@json_option
@click.pass_context
def audit_verify(ctx: click.Context, expect_file: TextIO | None, as_json: bool) -> None:
    """Recompute the hash chain: exit 0 when intact, 1 naming the first bad event.

    With --json it prints the chain's head too (events, the newest one's id, revision and
    hash, and the state row's signature): kept outside the database, a log of heads shows
    whether the chain was later emptied, cut short or rewritten (--expect-head)."""
    expect = None
    if expect_file is not None:
        try:
            expect = Head.from_json(json.load(expect_file))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--expect-head") from None
    result = service_of(ctx).verify_audit(expect=expect)
    if as_json:
        echo_json(
            {
                "ok": result.ok,
                "events": result.events,
                "first_bad": result.first_bad,
                "keyed": result.keyed,
                "unkeyed": result.unkeyed,
                "message": result.message,
                "head": None if result.head is None else result.head.to_json(),
            }
        )
    else:
        click.echo(result.message, file=sys.stdout if result.ok else sys.stderr)
    ctx.exit(0 if result.ok else 1)
