"""Commands that show the registries: plugins, permissions, roles, scope keys; and `doctor`,
what waits for a plugin that is not loaded."""

from __future__ import annotations

import click

from ..errors import BadInputError
from ..plugins import PluginInfo
from ..reads import dormant
from .main import cli, plugins_of, service_of
from .output import echo_json, echo_table, joined, json_option


def _describe(info: PluginInfo) -> list[str]:
    version = f" {info.version}" if info.version and not info.builtin else ""
    lines = [f"{info.name}{version} ({info.origin}): {info.status}"]
    if info.error:
        lines.append(f"  error: {info.error}")
    if info.hooks:
        lines.append(f"  hooks: {', '.join(info.hooks)}")
    for kind, items in info.contributes.items():
        if items:
            lines.append(f"  {kind.replace('_', ' ')}: {', '.join(items)}")
    return lines


@cli.command("plugins")
@json_option
@click.pass_context
def plugins_command(ctx: click.Context, as_json: bool) -> None:
    """List every plugin: version, origin, hooks, what it contributes, load errors."""
    loaded = plugins_of(ctx)
    if as_json:
        echo_json([info.as_dict() for info in loaded.plugins])
        return
    for info in loaded.plugins:
        click.echo("\n".join(_describe(info)))


@cli.command("permissions")
@json_option
@click.option("--plugin", "plugin", metavar="NAME", help="Only the permissions of this plugin.")
@click.pass_context
def permissions_command(ctx: click.Context, as_json: bool, plugin: str | None) -> None:
    """List the registered permissions."""
    registry = plugins_of(ctx).registry
    if plugin is not None and plugins_of(ctx).info(plugin) is None:
        raise BadInputError(f"no plugin named {plugin!r}; `rolecall plugins` lists them")
    chosen = sorted(
        (
            p
            for p in registry.permissions.values()
            if plugin is None or registry.origin[f"permission:{p.id}"] == plugin
        ),
        key=lambda p: p.id,
    )
    if as_json:
        echo_json(
            [
                {
                    **p.model_dump(mode="json"),
                    "implies_closed": sorted(registry.implied[p.id] - {p.id}),
                    "plugin": registry.origin[f"permission:{p.id}"],
                }
                for p in chosen
            ]
        )
        return
    echo_table(
        ("permission", "area", "scope types", "implies", "risks", "plugin"),
        [
            (
                p.id,
                p.area,
                joined(p.scope_types),
                joined(p.implies),
                joined([r.value for r in p.risks]),
                registry.origin[f"permission:{p.id}"],
            )
            for p in chosen
        ],
        empty="no permissions registered",
    )


@cli.command("roles")
@click.argument("role", required=False)
@json_option
@click.option("--matrix", is_flag=True, help="Print a permissions x roles matrix.")
@click.pass_context
def roles_command(ctx: click.Context, role: str | None, as_json: bool, matrix: bool) -> None:
    """List the registered roles, or their permission matrix; with ROLE (an id or a legacy
    name), say what that role can and cannot do, by functional area."""
    from ..catalogue import role_summary, summary_as_dict, summary_lines

    registry = plugins_of(ctx).registry
    if role is not None:
        if matrix:
            raise BadInputError("--matrix shows every role; leave out ROLE")
        summary = role_summary(registry, role)
        if as_json:
            echo_json(summary_as_dict(summary, registry))
        else:
            click.echo("\n".join(summary_lines(summary, registry)))
        return
    roles = sorted(registry.roles.values(), key=lambda r: r.id)
    if as_json:
        echo_json(
            [
                {
                    **r.model_dump(mode="json"),
                    "closed_permissions": sorted(registry.role_permissions[r.id]),
                    "plugin": registry.origin[f"role:{r.id}"],
                }
                for r in roles
            ]
        )
        return
    if matrix:
        permissions = sorted(registry.permissions)
        echo_table(
            ("permission", *(r.id for r in roles)),
            [
                (pid, *("x" if pid in registry.role_permissions[r.id] else "." for r in roles))
                for pid in permissions
            ],
            empty="no permissions registered",
        )
        return
    echo_table(
        ("role", "title", "assignable at", "permissions", "aliases", "plugin"),
        [
            (
                r.id,
                r.title,
                joined(r.scope_types),
                "all" if r.grants_all else len(registry.role_permissions[r.id]),
                joined(r.aliases),
                registry.origin[f"role:{r.id}"],
            )
            for r in roles
        ],
        empty="no roles registered",
    )


@cli.group("scope")
def scope_group() -> None:
    """Scope keys: parse and inspect them."""


@scope_group.command("parse")
@click.argument("key")
@json_option
@click.pass_context
def scope_parse(ctx: click.Context, key: str, as_json: bool) -> None:
    """Show KEY's scope type, fields and parent chain (exit 2 when it is malformed)."""
    scope = plugins_of(ctx).registry.scopes.resolve(key)
    if as_json:
        echo_json(
            {
                "key": scope.key,
                "type": scope.type,
                "fields": dict(scope.fields),
                "parent": scope.parent,
                "chain": list(scope.chain),
            }
        )
        return
    click.echo(f"key:    {scope.key}")
    click.echo(f"type:   {scope.type}")
    fields = " ".join(f"{k}={v}" for k, v in scope.fields.items())
    click.echo(f"fields: {fields or '-'}")
    click.echo(f"chain:  {' -> '.join(scope.chain)}")


@cli.command("doctor")
@json_option
@click.pass_context
def doctor_command(ctx: click.Context, as_json: bool) -> None:
    """What is not working as installed: plugins that did not load, and the stored rows that
    wait for one (dormant: kept intact, granting nothing until their plugin returns)."""
    rc = service_of(ctx)
    absent = [p for p in rc.plugins.plugins if p.status != "loaded"]
    rows = dormant(rc)
    if as_json:
        echo_json(
            {
                "plugins": [p.as_dict() for p in absent],
                "dormant": [
                    {
                        "kind": r.kind,
                        "user": r.user,
                        "role": r.role,
                        "scope": r.scope,
                        "needs": list(r.needs),
                        "plugins": list(r.plugins),
                    }
                    for r in rows
                ],
            }
        )
        return
    if not absent and not rows:
        click.echo("every plugin loaded; no stored row waits for a plugin")
        return
    for info in absent:
        click.echo(
            f"plugin {info.name}: {info.status}" + (f" ({info.error})" if info.error else "")
        )
    if rows:
        click.echo(f"{len(rows)} stored row(s) wait for a plugin (kept, granting nothing):")
        for row in rows:
            click.echo(f"  {row.describe()}")
