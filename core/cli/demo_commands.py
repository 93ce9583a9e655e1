"""``rolecall demo``: load the demo data set."""

from __future__ import annotations

import click

from ..demo import load_demo
from .main import cli, service_of
from .output import echo_json, json_option


@cli.command("demo")
@click.option("--if-empty", is_flag=True, help="Only when the database has no users yet.")
@json_option
@click.pass_context
def demo_command(ctx: click.Context, if_empty: bool, as_json: bool) -> None:
    """Load a realistic demo data set (safe to run twice: nothing changes the second time)."""
    rc = service_of(ctx)
    if if_empty and rc.index.users:
        if as_json:
            echo_json({"loaded": False, "reason": "the database already has users"})
        else:
            click.echo("the database already has users: demo data not loaded")
        return
    report = load_demo(rc)
    if as_json:
        echo_json(
            {
                "loaded": True,
                "users": report.users,
                "grants": report.grants,
                "skipped": report.skipped,
                "revision": report.revision,
            }
        )
        return
    click.echo(
        f"demo data: {report.users} users, {report.grants} grants (revision {report.revision})"
    )
    for line in report.skipped:
        click.echo(f"  skipped {line}")
