"""The ``teams`` plugin: the learner teams of a course, an example that uses every hook.

A team key is its course key with a ``+team@SLUG`` suffix, in the ``team-v1`` namespace:
``team-v1:MITx+6.002x+2026_T1+team@blue`` is the team ``blue`` of
``course-v1:MITx+6.002x+2026_T1``, which is its parent scope (then the org, then the platform).

It contributes, one hook each:

- ``register_scope_types``: the ``team`` scope type;
- ``register_permissions``: ``teams.create_teams`` (on a course), ``teams.view_team`` and
  ``teams.manage_membership`` (on a team);
- ``register_roles``: ``teams_coordinator`` (on a course or an org: every team below it) and
  ``team_leader`` (on one team);
- ``register_delegation_rules``: coordinators appoint team leaders (platform admins manage
  every scope type already, through the built-in rule ``platform_admins_manage_everything``);
- ``register_commands``: ``rolecall teams add TEAM...`` and ``rolecall teams show TEAM`` (in
  :mod:`rolecall_teams.commands`);
- ``register_console_pages``: the page ``/console/plugins/teams``;
- ``assignment_changed``: remembers the changes to its roles (the console page shows the
  latest ones) and, when ``ROLECALL_TEAMS_OUTBOX`` names a file, appends each as a JSON line
  for the platform's team service to pick up;
- ``lookup_scopes`` and ``find_scopes``: the teams on the roster are the scope catalogue, so
  the console and the REST API take a team the platform has even if rolecall never recorded
  it, and the wizard's place search finds teams by key.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rolecall.core import (
    AssignmentEvent,
    ConsolePage,
    DelegationRule,
    DerivedRole,
    ParsedKey,
    Permission,
    Risk,
    Role,
    ScopeType,
    hookimpl,
    split_key,
)

if TYPE_CHECKING:
    import click

    from rolecall.core import Rolecall

NAMESPACE = "team-v1"
MARKER = "+team@"
ROLES = ("teams_coordinator", "team_leader", "team_member")
ROSTER: dict[str, set[str]] = {}
"""Team key -> the usernames on its roster: the outside source of the derived role
``team_member`` (a real deployment reads the platform's team memberships instead)."""
OUTBOX = "ROLECALL_TEAMS_OUTBOX"
"""The variable naming the file the ``assignment_changed`` hook appends to (JSON lines)."""

RECENT: deque[AssignmentEvent] = deque(maxlen=50)
"""The latest changes to the plugin's roles made by this process, newest last."""


def parse_team(key: str) -> ParsedKey:
    """``team-v1:ORG+COURSE+RUN+team@SLUG`` -> its fields, and its course as the parent."""
    course_part, marker, slug = key.rpartition(MARKER)
    if not marker:
        raise ValueError(f"it does not end with {MARKER}SLUG")
    fields = split_key(course_part, f"{NAMESPACE}:", "+", ("org", "course", "run"))
    fields.update(split_key(slug, "", "+", ("team",)))
    return ParsedKey(
        fields=fields, parent=f"course-v1:{fields['org']}+{fields['course']}+{fields['run']}"
    )


def course_of(team: str) -> str:
    """The course key of a team key (which must parse)."""
    parent = parse_team(team).parent
    assert parent is not None
    return parent


@hookimpl
def register_scope_types() -> list[ScopeType]:
    return [
        ScopeType(
            id="team",
            title="Team",
            description="A team of learners inside a course, with its own leader.",
            namespace=NAMESPACE,
            pattern=f"{NAMESPACE}:ORG+COURSE+RUN{MARKER}SLUG",
            example=f"{NAMESPACE}:MITx+6.002x+2026_T1{MARKER}blue",
            parse=parse_team,
            # Who sees a team's roles in the console and the API: its leaders and coordinators
            # (and, through the course, whoever holds the permission above it).
            team_permission="teams.view_team",
        )
    ]


AREA = "Teams"


@hookimpl
def register_permissions() -> list[Permission]:
    return [
        Permission(
            id="teams.create_teams",
            title="Create teams",
            description="Create and close the learner teams of a course.",
            area=AREA,
            scope_types=("course",),
        ),
        Permission(
            id="teams.view_team",
            title="View a team",
            description="See who belongs to a team.",
            area=AREA,
            scope_types=("team",),
            risks={Risk.LEARNER_DATA},
        ),
        Permission(
            id="teams.manage_membership",
            title="Manage a team's members",
            description="Add learners to a team and remove them from it.",
            area=AREA,
            scope_types=("team",),
            implies=("teams.view_team",),
            risks={Risk.LEARNER_DATA},
        ),
    ]


@hookimpl
def register_roles() -> list[Role]:
    return [
        Role(
            id="teams_coordinator",
            title="Teams coordinator",
            description="Creates the teams of a course and manages the members of every one of "
            "them. Cannot change the course itself or see grades.",
            scope_types=("course", "org"),
            permissions=("teams.create_teams", "teams.manage_membership"),
        ),
        Role(
            id="team_leader",
            title="Team leader",
            description="Leads one team: sees and manages its members. Cannot create teams or "
            "touch any other team.",
            scope_types=("team",),
            permissions=("teams.manage_membership",),
        ),
        Role(
            id="team_member",
            title="Team member",
            description="Belongs to one team: sees who else is on it. Held through the team's "
            "roster, never assigned one by one.",
            scope_types=("team",),
            permissions=("teams.view_team",),
        ),
    ]


def on_roster(user: str, team: str) -> bool:
    return user in ROSTER.get(team, ())


@hookimpl
def lookup_scopes(keys: Sequence[str]) -> list[tuple[str, str | None]]:
    """The teams on the roster whose keys equal one of ``keys`` ignoring case."""
    wanted = {key.casefold() for key in keys if key.startswith(f"{NAMESPACE}:")}
    found: list[tuple[str, str | None]] = [
        (t, None) for t in sorted(ROSTER) if t.casefold() in wanted
    ]
    return found


@hookimpl
def find_scopes(query: str, limit: int) -> list[tuple[str, str | None]]:
    """Up to ``limit`` teams on the roster whose key contains ``query`` ignoring case."""
    needle = query.casefold()
    found: list[tuple[str, str | None]] = [
        (t, None) for t in sorted(ROSTER) if needle in t.casefold()
    ]
    return found[:limit]


@hookimpl
def register_derived_roles() -> list[DerivedRole]:
    return [
        DerivedRole(
            role="team_member",
            source="roster",
            description="on the team's roster",
            scope_types=("team",),
            holds=on_roster,
        )
    ]


@hookimpl
def register_delegation_rules() -> list[DelegationRule]:
    return [
        DelegationRule(
            id="teams_coordinators_appoint_leaders",
            description="Teams coordinators may appoint and remove the leaders of the teams "
            "below where they coordinate.",
            holders=("teams_coordinator",),
            assign=("team_leader",),
            revoke=("team_leader",),
            scope_types=("team",),
        ),
    ]


@hookimpl
def register_commands() -> list[click.Command]:
    # The CLI helpers are imported only here, so importing the plugin stays light.
    from .commands import teams

    return [teams]


def teams_page(viewer: str, rolecall: Rolecall) -> dict[str, object]:
    """The console page: the teams the viewer may see, with who manages each one's members,
    and the latest changes to the teams roles this server made."""
    rows = [
        [team, course_of(team), ", ".join(rolecall.who_can("teams.manage_membership", team))]
        for team in rolecall.scopes_where(viewer, "teams.view_team", "team")
    ]
    changes = [
        [e.at.strftime("%Y-%m-%d %H:%M"), e.action, e.user, e.role, e.scope, e.actor or "-"]
        for e in reversed(RECENT)
    ]
    return {
        "text": "Teams are groups of learners inside a course. A teams coordinator creates "
        "them and appoints their leaders; a team leader manages one team's members.",
        "tables": [
            {
                "caption": "Your teams",
                "headers": ["team", "course", "members managed by"],
                "rows": rows,
                "empty": "You see no team yet: a team appears once it is recorded "
                "(rolecall teams add) or someone holds a role on it.",
            },
            {
                "caption": "Latest changes to the teams roles",
                "headers": ["when", "change", "user", "role", "scope", "by"],
                "rows": changes,
                "empty": "No teams role has changed since this server started.",
            },
        ],
    }


@hookimpl
def register_console_pages() -> list[ConsolePage]:
    return [
        ConsolePage(
            id="teams",
            title="Teams",
            description="The teams you may see, who manages them, and the latest changes.",
            permission="teams.view_team",
            render=teams_page,
        )
    ]


@hookimpl
def assignment_changed(event: AssignmentEvent) -> None:
    """Remember a change to the teams roles; append it to the outbox file, if one is named."""
    if event.role not in ROLES:
        return
    RECENT.append(event)
    outbox = os.environ.get(OUTBOX)
    if outbox:
        with open(outbox, "a", encoding="utf-8") as out:
            out.write(json.dumps(event.model_dump(mode="json")) + "\n")
