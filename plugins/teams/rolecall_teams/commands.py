"""``rolecall teams``: the plugin's commands, built with rolecall's CLI helpers.

This module imports click and :mod:`rolecall.core.cli`; the plugin imports it only from its
``register_commands`` hook, so a host that merely checks permissions never loads it.
"""

from __future__ import annotations

import click

from rolecall.core import BadInputError
from rolecall.core.cli import echo_json, echo_table, json_option, plugins_of, service_of


@click.group("teams")
def teams() -> None:
    """The learner teams of courses (the teams plugin)."""


@teams.command("add")
@click.argument("keys", nargs=-1, required=True, metavar="TEAM...")
@json_option
@click.pass_context
def add(ctx: click.Context, keys: tuple[str, ...], as_json: bool) -> None:
    """Record teams, so that listings (the console's Teams page...) show them before anyone
    holds a role on them."""
    registry = plugins_of(ctx).registry
    for key in keys:
        _require_team(registry.scopes.resolve(key).type, key)
    revision = service_of(ctx).add_scopes(keys)
    if as_json:
        echo_json({"teams": list(keys), "revision": revision})
    else:
        click.echo(f"recorded {len(keys)} team(s) (revision {revision})")


@teams.command("show")
@click.argument("team")
@json_option
@click.pass_context
def show(ctx: click.Context, team: str, as_json: bool) -> None:
    """A team's course, its leaders, and everyone who may manage its members."""
    scope = plugins_of(ctx).registry.scopes.resolve(team)  # exit 2 on a malformed key
    _require_team(scope.type, team)
    rc = service_of(ctx)
    members = rc.who(team).members
    leaders = sorted(
        m.user for m in members if any(g.role == "team_leader" and not g.expired for g in m.grants)
    )
    managers = rc.who_can("teams.manage_membership", team)
    if as_json:
        echo_json(
            {"team": team, "course": scope.parent, "leaders": leaders, "managed_by": managers}
        )
        return
    click.echo(f"team {scope.fields['team']} of {scope.parent}")
    echo_table(
        ("user", "leads it"),
        [(user, "yes" if user in leaders else "") for user in managers],
        empty="no one may manage its members",
    )


def _require_team(kind: str, key: str) -> None:
    if kind != "team":
        raise BadInputError(
            f"{key!r} is a {kind} key, not a team key (team-v1:ORG+COURSE+RUN+team@SLUG)"
        )
