"""May they? The one reading of a check that the guards, the console, the REST APIs and
Django's ``has_perm`` share, and who may view a scope's team.

:meth:`Rolecall.check` raises :class:`BadInputError` for an unknown permission and a malformed
key, so that a typo on the command line is never silently "no". A caller deciding whether to
let someone do something wants "no" there instead: :func:`allows` is that answer, on the
service (which catches up first) or on an index the caller already holds (a guard, under the
write lock).

A scope's team (the roles held on it) is visible to whoever holds the scope type's view-team
permission there (``ScopeType.team_permission``, declared by the plugin that registers the
type). Scopes of a type that declares none, or whose permission is not registered now, are
visible to those who may view the platform's team (:data:`VIEW_PLATFORM_TEAM`, declared by the
web application's plugin).

    from rolecall.core.reads import allows, may_view_teams

    allows(rc, "ada", "courses.edit_course_content", "course-v1:MITx+6.002x+2026_T1")
    may_view_teams(rc, "ada", ["course-v1:MITx+6.002x+2026_T1", "org:MITx"])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from ..errors import BadInputError

if TYPE_CHECKING:
    from ..registry import Registry

PLATFORM = "platform"
VIEW_PLATFORM_TEAM = "console.view_platform_team"
"""Viewing the platform's team, and the team of a scope whose type declares no team
permission (declared by the web application's plugin)."""


class Checks(Protocol):
    """What :func:`allows` asks: the service or an index."""

    @property
    def registry(self) -> Registry: ...

    def check(self, user: str, permission: str, scope: str) -> bool: ...


class ChecksMany(Checks, Protocol):
    def check_many(self, checks: Iterable[tuple[str, str, str]]) -> list[bool]: ...


def allows(source: Checks, user: str, permission: str, scope: str, *, strict: bool = False) -> bool:
    """Whether ``user`` may do ``permission`` at ``scope``: the check, except that a
    permission no loaded plugin registers allows nothing, and so does a user rolecall has
    never seen. A malformed key allows nothing too; with ``strict`` it raises
    :class:`BadInputError`, as the check does, for a caller that reports it."""
    if permission not in source.registry.permissions:
        return False
    if strict:
        return source.check(user, permission, scope)
    try:
        return source.check(user, permission, scope)
    except BadInputError:
        return False


def team_permission(registry: Registry, scope: str) -> tuple[str, str]:
    """(permission, scope at which to check it) for viewing ``scope``'s team: its type's team
    permission there, else :data:`VIEW_PLATFORM_TEAM` on the platform. Raises
    :class:`BadInputError` for a key the registry cannot place (malformed, or of a type no
    loaded plugin registers)."""
    kind = registry.scopes.resolve(scope).type
    permission = registry.scope_types[kind].team_permission
    if permission is None or permission not in registry.permissions:
        return VIEW_PLATFORM_TEAM, PLATFORM
    return permission, scope


def may_view_teams(
    source: ChecksMany, viewer: str, scopes: Iterable[str], *, unplaced: bool = False
) -> dict[str, bool]:
    """Whether ``viewer`` may view the team of each of ``scopes``, answered by one
    ``check_many``. A key the registry cannot place raises :class:`BadInputError`; with
    ``unplaced`` it is seen by the platform team's viewers instead (a grant on a dormant
    plugin's scope)."""
    registry = source.registry
    asks: dict[str, tuple[str, str]] = {}
    for scope in scopes:
        try:
            asks[scope] = team_permission(registry, scope)
        except BadInputError:
            if not unplaced:
                raise
            asks[scope] = (VIEW_PLATFORM_TEAM, PLATFORM)
    known = [s for s, (permission, _) in asks.items() if permission in registry.permissions]
    try:
        answers = source.check_many((viewer, *asks[s]) for s in known)
    except BadInputError:  # an unknown viewer holds nothing
        answers = [False] * len(known)
    found = dict.fromkeys(asks, False)
    found.update(zip(known, answers, strict=True))
    return found


def may_view_team(source: ChecksMany, viewer: str, scope: str) -> bool:
    """:func:`may_view_teams` of one scope; a key the registry cannot place raises
    :class:`BadInputError`."""
    return allows(source, viewer, *team_permission(source.registry, scope))
