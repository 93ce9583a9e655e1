"""Who may see and change what in the console and the API: every decision is an engine check.

Deny by default: each answer is :func:`rolecall.core.reads.allows` (an unknown permission or a
malformed key allows nothing). A team (the roles held on a scope) is visible to whoever holds
the scope type's view-team permission there (``ScopeType.team_permission``, declared by the
plugin that registers the type), and changeable under the delegation rules (the service enforces
them when a change is made ``as_user``). Scopes of a type that declares none, or whose
permission is not registered now, are visible to those who may view the platform's team: the
rule is :func:`rolecall.core.reads.team_permission`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

from rolecall.core import BadInputError, Decision, Permission, Role, Rolecall, UnknownScopeError
from rolecall.core.governance import Refusal, guards
from rolecall.core.governance.bulk import BulkResult
from rolecall.core.reads import (
    VIEW_PLATFORM_TEAM,
    SeenScopes,
    allows,
    custom_roles,
    guard_passes,
    may_view_team,
    may_view_teams,
    scopes_held,
    team_permission,
)
from rolecall.core.reads import scope_suggestions as read_scope_suggestions

P = ParamSpec("P")
R = TypeVar("R")

PLATFORM = "platform"
VIEW_AUDIT_LOG = "console.view_audit_log"
MANAGE_RESTRICTIONS = guards.MANAGE_RESTRICTIONS
"""Declared by the built-in platform plugin; the service decides restriction changes made as a
user with it too."""


CONSOLE_PERMISSIONS = (
    Permission(
        id=VIEW_PLATFORM_TEAM,
        title="View the platform team",
        description="See who holds roles on the platform itself (and so everywhere).",
        area="Console",
        scope_types=(PLATFORM,),
    ),
    Permission(
        id=VIEW_AUDIT_LOG,
        title="View the audit log",
        description="See every recorded change of roles, restrictions and rules, and replay "
        "the access anyone had at a past moment.",
        area="Console",
        scope_types=(PLATFORM,),
    ),
)
"""The web application's own permissions (its plugin registers them); ``platform_admin``
holds them, since it holds every permission."""


def scope_type(rc: Rolecall, scope: str) -> str:
    """The type of ``scope``; raises :class:`BadInputError` for a malformed key."""
    return rc.registry.scopes.resolve(scope).type


def team_view_permission(rc: Rolecall, scope: str) -> tuple[str, str]:
    """(permission, scope at which to check it) for viewing ``scope``'s team."""
    return team_permission(rc.registry, scope)


def can_view_team(rc: Rolecall, viewer: str, scope: str) -> bool:
    """Whether ``viewer`` may view ``scope``'s team; a malformed key raises
    :class:`BadInputError`."""
    return may_view_team(rc, viewer, scope)


def can_view_teams(rc: Rolecall, viewer: str, scopes: Iterable[str]) -> dict[str, bool]:
    """:func:`can_view_team` of many scopes (a batch of checks about other users names up to
    1,000), answered by one ``check_many``. A malformed key raises :class:`BadInputError`, as
    there."""
    return may_view_teams(rc, viewer, scopes)


def can_view_audit(rc: Rolecall, viewer: str) -> bool:
    return allows(rc, viewer, VIEW_AUDIT_LOG, PLATFORM)


def can_manage_restrictions(rc: Rolecall, viewer: str) -> bool:
    return allows(rc, viewer, MANAGE_RESTRICTIONS, PLATFORM)


def can_view_user(rc: Rolecall, viewer: str, user: str) -> bool:
    """A user's own access is theirs to see; anyone's else, the platform team's viewers'."""
    return viewer == user or allows(rc, viewer, VIEW_PLATFORM_TEAM, PLATFORM)


def access_seen_by(rc: Rolecall, viewer: str, user: str) -> Callable[[str], bool] | None:
    """Which scopes of ``user``'s access ``viewer`` may see: every one for the user and the
    platform team's viewers; for anyone else, those whose team they may view, so that a program
    manager asking about her program's members sees their roles there and nowhere else. ``None``
    when that leaves nothing (an unknown user included): the caller is refused."""
    if can_view_user(rc, viewer, user):
        return lambda _scope: True
    try:
        held = {g.scope for g in rc.grants(user) if not g.expired}
    except BadInputError:
        return None
    if not any(can_view_teams(rc, viewer, held).values()):
        return None
    seen: dict[str, bool] = {}

    def sees(scope: str) -> bool:
        found = seen.get(scope)
        if found is None:
            found = seen[scope] = can_view_team(rc, viewer, scope)
        return found

    return sees


def assignments_seen_by(rc: Rolecall, viewer: str) -> SeenScopes:
    """Which assignments ``viewer`` may see in a listing: those on every scope whose team it
    may view (:func:`can_view_team`, scope by scope), and its own anywhere.

    Worked out per scope type from the index: the scopes where the viewer holds the type's
    view-team permission (``scopes_where``, restrictions included), or, for a type that
    declares none, every known scope of the type for the platform team's viewers. Those
    viewers are told the scopes they may not view instead (usually none), so that their
    listing needs no list of every scope; they also see grants on scopes the index does not
    place (a dormant plugin's), as they may view the platform's team."""
    registry = rc.registry
    try:
        own = frozenset(g.scope for g in rc.grants(viewer))
    except BadInputError:  # a user never seen holds nothing and sees nothing
        return SeenScopes(frozenset())
    platform = allows(rc, viewer, VIEW_PLATFORM_TEAM, PLATFORM)
    visible: set[str] = set()
    unviewed: list[str] = []  # types whose team only the platform team's viewers see
    for kind, scope_type in registry.scope_types.items():
        permission = scope_type.team_permission
        if permission is None or permission not in registry.permissions:
            unviewed.append(kind)
        else:
            visible.update(rc.scopes_where(viewer, permission, kind))
    if not platform:
        return SeenScopes(frozenset(visible), user=viewer, own=own - visible)
    known = _known_scopes(rc)
    by_type = {key: registry.scopes.resolve(key).type for key in known}
    visible.update(key for key, kind in by_type.items() if kind in unviewed)
    hidden = frozenset(k for k in by_type if k not in visible)
    return SeenScopes(None, hidden=hidden, user=viewer, own=own & hidden)


def _known_scopes(rc: Rolecall) -> list[str]:
    with rc.reading() as index:
        return index.known_scopes()


def members_seen_by(rc: Rolecall, viewer: str, scope: str | None) -> Callable[[str], bool]:
    """Which users ``viewer`` may be told hold a role on ``scope`` or above it: anyone when it
    may view the scope's team (the team page lists them, those with access from above too),
    else only the users it may view (itself; anyone for the platform team's viewers)."""
    if scope is not None and _views_team(rc, viewer, scope):
        return lambda user: True
    platform = allows(rc, viewer, VIEW_PLATFORM_TEAM, PLATFORM)
    return lambda user: platform or user == viewer


def refusal_seen_by(rc: Rolecall, viewer: str, refusal: Refusal, scope: str | None) -> Refusal:
    """``refusal`` (of a change on ``scope``, when known) naming as "could make the change"
    only the users ``viewer`` may be told about (:func:`members_seen_by`)."""
    return refusal.naming_only(members_seen_by(rc, viewer, scope))


def decision_seen_by(rc: Rolecall, viewer: str, decision: Decision) -> Decision:
    """``decision`` as ``viewer`` may see it: about someone else, its closest misses name
    grants held elsewhere only on scopes whose team ``viewer`` may view."""
    if decision.user == viewer:
        return decision
    seen: dict[str, bool] = {}

    def may_view(scope: str) -> bool:
        if scope not in seen:
            seen[scope] = _views_team(rc, viewer, scope)
        return seen[scope]

    return decision.seen_by(may_view)


def bulk_seen_by(rc: Rolecall, viewer: str, result: BulkResult) -> BulkResult:
    """``result`` (of a bulk change made as ``viewer``) as ``viewer`` may see it.

    A row on a scope whose team ``viewer`` may not view says nothing of what the user holds
    there: when ``viewer`` may not make that change there, the row is ``not_allowed`` with
    the refusal (whether the user already held the role, or did not, is not told), and a
    refusal names only the users ``viewer`` may view. Rows on scopes it may view, and rows
    about itself, are as they were."""
    result = _suggestions_seen_by(rc, viewer, result)
    telling = ("already_has_role", "not_held", "not_allowed")
    hidden = {r.scope: False for r in result.rows if r.status in telling and r.user != viewer}
    if not hidden:
        return result
    for scope in hidden:
        hidden[scope] = not _views_team(rc, viewer, scope)
    if not any(hidden.values()):
        return result
    definition = rc.role(result.role)
    delegation = rc.delegation()
    keep = members_seen_by(rc, viewer, None)
    rows = []
    for row in result.rows:
        if row.status not in telling or row.user == viewer or not hidden[row.scope]:
            rows.append(row)
            continue
        if result.action == "assign":
            refusal = delegation.may_assign(viewer, result.role, row.scope, row.user)
        else:
            refusal = delegation.may_revoke(
                viewer,
                row.user,
                result.role,
                row.scope,
                is_admin=definition.admin and row.status == "not_allowed",
                revocable_by=definition.revocable_by,
            )
        if refusal is not None:
            message = str(refusal.naming_only(keep))
            row = row.model_copy(update={"status": "not_allowed", "message": message})
        rows.append(row)
    return result.model_copy(update={"rows": tuple(rows)})


def _suggestions_seen_by(rc: Rolecall, viewer: str, result: BulkResult) -> BulkResult:
    """An ``unknown_scope`` row says "did you mean" a known key only when ``viewer`` may view
    that key's team: a key one case off another org's course would tell that it exists."""
    rows = []
    changed = False
    for row in result.rows:
        if row.status == "unknown_scope":
            problem = rc.unknown_scope(row.scope)
            if (
                problem is not None
                and problem.suggestion is not None
                and not _views_team(rc, viewer, problem.suggestion)
            ):
                row = row.model_copy(update={"message": str(UnknownScopeError(problem.key))})
                changed = True
        rows.append(row)
    return result.model_copy(update={"rows": tuple(rows)}) if changed else result


def can_add_scope(rc: Rolecall, viewer: str, scope: str) -> bool:
    """Whether ``viewer`` may create ``scope`` (``platform.add_scopes`` there, as the
    service's guard decides when it is created)."""
    return allows(rc, viewer, guards.ADD_SCOPES, scope)


def can_define_roles(rc: Rolecall, viewer: str) -> bool:
    """Whether ``viewer`` may create custom roles (``platform.manage_custom_roles`` on some
    scope where it holds a role: platform and org admins), as the service's guard decides when
    one is created; changing or removing one may take more (``guards.changing_role``)."""
    guard = guards.holding_somewhere(viewer, guards.MANAGE_CUSTOM_ROLES, "change custom roles")
    return guard_passes(rc, guard)


def scope_suggestions(rc: Rolecall, viewer: str, key: str) -> list[str]:
    """The "did you mean" of the unknown ``key``: the known scopes equal to it ignoring case or
    one character off, the scope catalogue's too, among those whose team ``viewer`` may view
    (:func:`rolecall.core.known_scopes.suggestions`); none for a known or malformed key."""
    try:
        problem = rc.unknown_scope(key)
    except BadInputError:
        return []
    if problem is None:
        return []
    return read_scope_suggestions(rc, problem.key, lambda keys: can_view_teams(rc, viewer, keys))


def offered_roles(rc: Rolecall, viewer: str, roles: Iterable[Role]) -> list[Role]:
    """The ``roles`` the delegation rules let ``viewer`` give on some known scope (the roles
    the console offers; the service decides every change again)."""
    delegation = rc.delegation()
    return [r for r in roles if delegation.assignable_somewhere(viewer, r.id, r.scope_types)]


HELPERS_LIMIT = 5


def who_can_help(
    rc: Rolecall, viewer: str, scope: str, permission: str | None = None
) -> list[tuple[str, str, str]]:
    """(user, role, where) of the holders of a live admin role on ``scope`` or above (the
    course, library, org and platform admins) that ``viewer`` may be told about: those on a
    scope whose team it may view, or above a scope whose team it may view (that page lists
    them as "other users with access"). At most a few, the closest first.

    With ``permission``, only those who could give ``viewer`` that access there: the
    delegation rules let them give, on ``scope``, a role holding ``permission`` that no
    restriction on the scope denies it to (:func:`roles_giving`); where a lock denies it to
    such a role, those who may lift the lock too (``platform.manage_restrictions``), named to
    a viewer holding a role on the scope or above it even where it may see no team."""
    try:
        chain = rc.registry.scopes.resolve(scope).chain
        team = rc.who(scope)
    except BadInputError:
        return []
    try:
        mine = scopes_held(rc, viewer)
    except BadInputError:
        mine = []
    seen_from = {
        above
        for key, sees in can_view_teams(rc, viewer, mine).items()
        if sees
        for above in rc.registry.scopes.resolve(key).chain
    }
    found = []
    for member in (*team.members, *team.inherited):
        for grant in member.grants:
            if grant.expired or member.user == viewer:
                continue
            try:
                admin = rc.role(grant.role).admin
            except BadInputError:
                continue
            if admin:
                seen = grant.scope in seen_from or _views_team(rc, viewer, grant.scope)
                found.append((chain.index(grant.scope), member.user, grant.role, grant.scope, seen))
    found.sort()
    if permission is None or permission not in rc.registry.permissions:
        shown = [(user, role, where) for _, user, role, where, seen in found if seen]
        return shown[:HELPERS_LIMIT]
    roles, locked = roles_giving(rc, permission, scope)
    # A member of the scope shut out by a lock is told who may lift it.
    inside = locked and bool(set(mine) & set(chain))
    delegation = rc.delegation()
    helpers: list[tuple[str, str, str]] = []
    asked: dict[str, tuple[bool, bool]] = {}
    for _, user, role, where, seen in found:
        if user not in asked:
            gives = any(
                delegation.may_assign(user, r, scope, viewer, name_others=False) is None
                for r in roles
            )
            lifts = locked and allows(rc, user, MANAGE_RESTRICTIONS, PLATFORM)
            asked[user] = (gives, lifts)
        gives, lifts = asked[user]
        if (seen and (gives or lifts)) or (inside and lifts):
            helpers.append((user, role, where))
            if len(helpers) == HELPERS_LIMIT:
                break
    return helpers


def roles_giving(rc: Rolecall, permission: str, scope: str) -> tuple[list[str], bool]:
    """(the roles assignable on ``scope`` that hold ``permission`` and that no restriction on
    its chain denies it to, fewest permissions first; whether a restriction denies it to some
    role holding it there)."""
    kind = scope_type(rc, scope)
    chain = rc.registry.scopes.resolve(scope).chain
    with rc.reading() as index:
        restrictions = index.restrictions_on(chain)
        holding = [
            r
            for r in all_roles(rc)
            if kind in r.scope_types and permission in index.role_permissions(r.id)
        ]
        sizes = {r.id: len(index.role_permissions(r.id)) for r in holding}
    free = [
        r.id
        for r in holding
        if not any(permission in denied and r.id not in exempt for denied, exempt in restrictions)
    ]
    free.sort(key=lambda r: (sizes[r], r))
    return free, len(free) < len(holding)


def all_roles(rc: Rolecall) -> list[Role]:
    """The plugins' roles and the custom ones not retired."""
    custom = [row.role for row in custom_roles(rc) if not row.retired]
    return [*rc.registry.roles.values(), *custom]


def _views_team(rc: Rolecall, viewer: str, scope: str) -> bool:
    try:
        return can_view_team(rc, viewer, scope)
    except BadInputError:  # a key that is not a scope: nobody's team
        return False


def is_staff(rc: Rolecall, viewer: str) -> bool:
    """Holds at least one unexpired role somewhere: the least a caller needs to read the
    catalogue (plugins, permissions, roles), which is the same for everyone. A user whose
    grants have all expired holds nothing, here as in every check."""
    try:
        return any(not grant.expired for grant in rc.grants(viewer))
    except BadInputError:
        return False


def public(view: Callable[P, R]) -> Callable[P, R]:
    """Mark a view as served to anonymous callers (a login page...). Every other view must
    refuse them: a test walks every route of the application and checks that it does."""
    view.rolecall_public = True  # type: ignore[attr-defined]
    return view


def is_public(view: Callable[..., object]) -> bool:
    return bool(getattr(view, "rolecall_public", False))
