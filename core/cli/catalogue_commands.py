"""Commands about the permission catalogue (roles in words, the generated docs).

``rolecall roles ROLE`` (in :mod:`.registry_commands`) shows one role's can and cannot;
``rolecall docs permissions`` writes ``docs/permissions.md``.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..catalogue import permissions_markdown
from ..plugins import PluginSettings, load_plugins
from .main import cli, plugins_of


@cli.group("docs")
def docs_group() -> None:
    """Generate documentation from the plugin registries."""


@docs_group.command("permissions")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the page to this file instead of standard output.",
)
@click.option(
    "--builtins-only",
    is_flag=True,
    help="Document only the built-in plugins, ignoring installed ones and ROLECALL_* plugin "
    "settings (this is how the project's docs/permissions.md is made).",
)
@click.pass_context
def docs_permissions(ctx: click.Context, output: Path | None, builtins_only: bool) -> None:
    """Write the permission catalogue and the role x permission matrix as Markdown."""
    if builtins_only:
        registry = load_plugins(PluginSettings(), entry_points=[]).registry
    else:
        registry = plugins_of(ctx).registry
    page = permissions_markdown(registry)
    if output is None:
        click.echo(page, nl=False)
        return
    output.write_text(page, encoding="utf-8")
    click.echo(
        f"wrote {output} ({len(registry.permissions)} permissions, {len(registry.roles)} roles)",
        err=True,
    )
