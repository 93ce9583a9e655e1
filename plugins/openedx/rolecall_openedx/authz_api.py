"""openedx-authz's user API (``openedx_authz.api.users``) answered by rolecall, under the same
names and with results of the same shape, so platform code switches by changing its import::

    from rolecall_openedx import authz_api as api      # was: from openedx_authz import api

Users are usernames (openedx-authz's ``user_external_key``), roles are role ids, scopes are scope
keys, actions are permission ids: rolecall registers openedx-authz's catalogue under the same
ids. A user rolecall has not met is added the first time a role is assigned to them (the
platform owns its users). Each assignment is its own :class:`RoleAssignmentData`, one role per
record, as openedx-authz returns them. Expired grants are not listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rolecall.core import BadInputError, GrantInfo, Rolecall

from .service import get_rolecall

ACTOR = "openedx-authz-api"


@dataclass(frozen=True)
class UserData:
    external_key: str

    @property
    def username(self) -> str:
        return self.external_key


@dataclass(frozen=True)
class ActionData:
    external_key: str


@dataclass(frozen=True)
class PermissionData:
    action: ActionData
    effect: str = "allow"


@dataclass(frozen=True)
class RoleData:
    external_key: str
    permissions: list[PermissionData] = field(default_factory=list, compare=False)


@dataclass(frozen=True)
class ScopeData:
    external_key: str


@dataclass(frozen=True)
class RoleAssignmentData:
    subject: UserData
    roles: list[RoleData]
    scope: ScopeData


def _known(rc: Rolecall, user: str) -> bool:
    try:
        rc.grants(user)
    except BadInputError:
        return False
    return True


def _live(rc: Rolecall, user: str) -> list[GrantInfo]:
    if not _known(rc, user):
        return []
    return [g for g in rc.grants(user) if not g.expired]


def _role(rc: Rolecall, role_id: str) -> RoleData:
    try:
        permissions = sorted(rc.registry.role_permissions.get(role_id, frozenset()))
    except BadInputError:
        permissions = []
    return RoleData(role_id, [PermissionData(ActionData(p)) for p in permissions])


def _assignment(rc: Rolecall, grant: GrantInfo) -> RoleAssignmentData:
    return RoleAssignmentData(UserData(grant.user), [_role(rc, grant.role)], ScopeData(grant.scope))


def _scope(rc: Rolecall, scope: str) -> str:
    return rc.registry.scopes.resolve(scope).key


def assign_role_to_user_in_scope(
    user_external_key: str, role_external_key: str, scope_external_key: str
) -> bool:
    """Assign the role; False when the user already held it there."""
    rc = get_rolecall()
    role, key = rc.role(role_external_key).id, _scope(rc, scope_external_key)
    if any(g.role == role and g.scope == key for g in _live(rc, user_external_key)):
        return False
    rc.add_user(user_external_key, actor=ACTOR)
    rc.assign(user_external_key, role, key, actor=ACTOR)
    return True


def batch_assign_role_to_users_in_scope(
    users: list[str], role_external_key: str, scope_external_key: str
) -> None:
    rc = get_rolecall()
    role, key = rc.role(role_external_key).id, _scope(rc, scope_external_key)
    rc.add_users(list(dict.fromkeys(users)), actor=ACTOR)
    rows = [(user, role, key) for user in dict.fromkeys(users)]
    if rows:
        rc.assign_many(rows, actor=ACTOR)


def unassign_role_from_user(
    user_external_key: str, role_external_key: str, scope_external_key: str
) -> bool:
    """Remove the role; False when the user did not hold it there."""
    rc = get_rolecall()
    try:
        rc.revoke(user_external_key, role_external_key, _scope(rc, scope_external_key), actor=ACTOR)
    except BadInputError:
        return False
    return True


def batch_unassign_role_from_users(
    users: list[str], role_external_key: str, scope_external_key: str
) -> None:
    for user in dict.fromkeys(users):
        unassign_role_from_user(user, role_external_key, scope_external_key)


def get_user_role_assignments(user_external_key: str) -> list[RoleAssignmentData]:
    rc = get_rolecall()
    return [_assignment(rc, g) for g in _live(rc, user_external_key)]


def get_user_role_assignments_in_scope(
    user_external_key: str, scope_external_key: str
) -> list[RoleAssignmentData]:
    rc = get_rolecall()
    key = _scope(rc, scope_external_key)
    return [_assignment(rc, g) for g in _live(rc, user_external_key) if g.scope == key]


def _team(rc: Rolecall, scope: str) -> list[GrantInfo]:
    return [g for m in rc.who(scope).members for g in m.grants if not g.expired]


def get_user_role_assignments_for_role_in_scope(
    role_external_key: str, scope_external_key: str
) -> list[RoleAssignmentData]:
    rc = get_rolecall()
    role = rc.role(role_external_key).id
    key = _scope(rc, scope_external_key)
    return [_assignment(rc, g) for g in _team(rc, key) if g.role == role]


def get_all_user_role_assignments_in_scope(scope_external_key: str) -> list[RoleAssignmentData]:
    rc = get_rolecall()
    return [_assignment(rc, g) for g in _team(rc, _scope(rc, scope_external_key))]


def get_users_for_role_in_scope(role_external_key: str, scope_external_key: str) -> list[UserData]:
    return [
        a.subject
        for a in get_user_role_assignments_for_role_in_scope(role_external_key, scope_external_key)
    ]


def is_user_allowed(
    user_external_key: str, action_external_key: str, scope_external_key: str
) -> bool:
    return get_rolecall().check(user_external_key, action_external_key, scope_external_key)


def get_scopes_for_user_and_permission(
    user_external_key: str, action_external_key: str
) -> list[ScopeData]:
    """The scopes of the user's assignments whose role gives the permission (openedx-authz's
    answer: where the user is assigned it, not every scope below)."""
    rc = get_rolecall()
    scopes: list[ScopeData] = []
    for grant in _live(rc, user_external_key):
        perms = rc.registry.role_permissions.get(grant.role, frozenset())
        scope = ScopeData(grant.scope)
        if action_external_key in perms and scope not in scopes:
            scopes.append(scope)
    return scopes


def unassign_all_roles_from_user(user_external_key: str) -> bool:
    """Remove every role the user holds; False when there was none."""
    rc = get_rolecall()
    grants = _live(rc, user_external_key)
    for grant in grants:
        rc.revoke(grant.user, grant.role, grant.scope, actor=ACTOR)
    return bool(grants)
