"""``rolecall custom-roles ...`` and ``rolecall rules ...``: run-time governance changes."""

from __future__ import annotations

import click

from ..reads import custom_roles, delegation_rules
from ..records import DelegationRule
from .access_commands import as_option
from .main import cli, service_of
from .output import echo_json, echo_table, joined, json_option


@cli.group("custom-roles")
def custom_roles_group() -> None:
    """Roles created by administrators from registered permissions."""


@custom_roles_group.command("list")
@json_option
@click.pass_context
def custom_list(ctx: click.Context, as_json: bool) -> None:
    """List the custom roles."""
    rows = custom_roles(service_of(ctx))
    if as_json:
        echo_json(
            [
                {**r.role.model_dump(mode="json"), "retired": r.retired, "missing": list(r.missing)}
                for r in rows
            ]
        )
        return
    echo_table(
        ("role", "title", "assignable at", "permissions", "state"),
        [
            (
                r.role.id,
                r.role.title,
                joined(r.role.scope_types),
                len(r.permissions),
                ("retired" if r.retired else "active")
                + (f"; missing {joined(r.missing)}" if r.missing else ""),
            )
            for r in rows
        ],
        empty="no custom roles",
    )


@custom_roles_group.command("create")
@click.argument("role_id")
@click.option("--title", required=True)
@click.option("--description", required=True)
@click.option(
    "--scope-type",
    "scope_types",
    multiple=True,
    required=True,
    metavar="TYPE",
    help="Where it may be assigned (repeatable).",
)
@click.option(
    "--permission",
    "permissions",
    multiple=True,
    metavar="P",
    help="A permission it grants (repeatable).",
)
@click.option("--base", metavar="ROLE", help="Start from this role's permissions.")
@as_option
@click.pass_context
def custom_create(
    ctx: click.Context,
    role_id: str,
    title: str,
    description: str,
    scope_types: tuple[str, ...],
    permissions: tuple[str, ...],
    base: str | None,
    as_user: str | None,
) -> None:
    """Create a custom role."""
    revision = service_of(ctx).create_role(
        role_id,
        title=title,
        description=description,
        scope_types=scope_types,
        permissions=permissions,
        base=base,
        as_user=as_user,
    )
    click.echo(f"created {role_id} (revision {revision})")


@custom_roles_group.command("edit")
@click.argument("role_id")
@click.option("--add", "add", multiple=True, metavar="P", help="A permission to add.")
@click.option("--remove", "remove", multiple=True, metavar="P", help="A permission to remove.")
@click.option("--title")
@click.option("--description")
@click.option("--dry-run", is_flag=True, help="Show who gains and loses what; change nothing.")
@as_option
@json_option
@click.pass_context
def custom_edit(
    ctx: click.Context,
    role_id: str,
    add: tuple[str, ...],
    remove: tuple[str, ...],
    title: str | None,
    description: str | None,
    dry_run: bool,
    as_user: str | None,
    as_json: bool,
) -> None:
    """Change a custom role; prints its what-if (who gains and loses which permissions)."""
    impact, revision = service_of(ctx).edit_role(
        role_id,
        add=add,
        remove=remove,
        title=title,
        description=description,
        dry_run=dry_run,
        as_user=as_user,
    )
    if as_json:
        echo_json(
            {"impact": impact.model_dump(mode="json"), "revision": revision, "applied": not dry_run}
        )
        return
    lines = impact.summary()
    click.echo("\n".join(lines) if lines else "nobody gains or loses anything")
    click.echo("dry run: nothing changed" if dry_run else f"changed (revision {revision})")


@custom_roles_group.command("retire")
@click.argument("role_id")
@as_option
@click.pass_context
def custom_retire(ctx: click.Context, role_id: str, as_user: str | None) -> None:
    """Stop a custom role from being assigned (its assignments keep working)."""
    revision = service_of(ctx).retire_role(role_id, as_user=as_user)
    click.echo(f"retired {role_id} (revision {revision})")


@custom_roles_group.command("delete")
@click.argument("role_id")
@as_option
@click.pass_context
def custom_delete(ctx: click.Context, role_id: str, as_user: str | None) -> None:
    """Delete a custom role no one holds."""
    revision = service_of(ctx).delete_role(role_id, as_user=as_user)
    click.echo(f"deleted {role_id} (revision {revision})")


@cli.group("rules")
def rules_group() -> None:
    """Delegation rules: who may assign and revoke which roles where."""


@rules_group.command("list")
@json_option
@click.pass_context
def rules_list(ctx: click.Context, as_json: bool) -> None:
    """The delegation rules in force."""
    in_force = [row for row in delegation_rules(service_of(ctx)) if row.enabled]
    rules = [row.rule for row in in_force]
    if as_json:
        echo_json(
            [
                {**row.rule.model_dump(mode="json"), "changed": row.source == "stored"}
                for row in in_force
            ]
        )
        return
    echo_table(
        ("rule", "holders", "assign", "revoke", "on"),
        [
            (r.id, joined(r.holders), joined(r.assign), joined(r.revoke), joined(r.scope_types))
            for r in rules
        ],
        empty="no delegation rules",
    )


@rules_group.command("set")
@click.argument("rule_id")
@click.option("--description", required=True)
@click.option("--holder", "holders", multiple=True, required=True, metavar="ROLE")
@click.option("--assign", "assign", multiple=True, metavar="ROLE", help="* for every role.")
@click.option("--revoke", "revoke", multiple=True, metavar="ROLE", help="* for every role.")
@click.option("--scope-type", "scope_types", multiple=True, required=True, metavar="TYPE")
@as_option
@click.pass_context
def rules_set(
    ctx: click.Context,
    rule_id: str,
    description: str,
    holders: tuple[str, ...],
    assign: tuple[str, ...],
    revoke: tuple[str, ...],
    scope_types: tuple[str, ...],
    as_user: str | None,
) -> None:
    """Add a rule, or replace the rule RULE_ID (platform admins)."""
    rule = DelegationRule(
        id=rule_id,
        description=description,
        holders=holders,
        assign=assign,
        revoke=revoke,
        scope_types=scope_types,
    )
    revision = service_of(ctx).set_rule(rule, as_user=as_user)
    click.echo(f"rule {rule_id} set (revision {revision})")


@rules_group.command("disable")
@click.argument("rule_id")
@as_option
@click.pass_context
def rules_disable(ctx: click.Context, rule_id: str, as_user: str | None) -> None:
    """Switch the rule RULE_ID off (platform admins)."""
    revision = service_of(ctx).disable_rule(rule_id, as_user=as_user)
    click.echo(f"rule {rule_id} disabled (revision {revision})")
