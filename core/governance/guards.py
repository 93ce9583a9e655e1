"""The guards: the decisions on changes made as a user, one per kind of change.

Each function here returns a :data:`~rolecall.core.writes.Guard`: a callable that takes an
index and raises :class:`NotAllowedError` to refuse. The unit of work
(:mod:`rolecall.core.writes`) calls it under the write lock, on an index caught up with every
committed write, which is the only decision that counts; every change made as a user passes
through one of these.

| change | guard |
|---|---|
| grant (single, many, bulk, the legacy functions) | :func:`granting` |
| removal | :func:`revoking` |
| role change | :func:`granting` and :func:`revoking` together (:func:`all_of`) |
| custom role edit, retirement, deletion | :func:`changing_role` |
| restriction added, changed or lifted | :func:`restricting` |
| scope creation | :func:`adding_scopes` |
| scope removal | :func:`removing_scope` |
| user retirement | :func:`retiring_user` |

The permissions these guards take beyond the delegation rules (:data:`MANAGE_CUSTOM_ROLES`,
:data:`MANAGE_DELEGATION_RULES`, :data:`MANAGE_RESTRICTIONS`, :data:`ADD_SCOPES`,
:data:`REMOVE_SCOPES`, :data:`RETIRE_USERS`) are declared by the built-in ``platform`` plugin;
platform admins hold them all, org admins hold custom roles and adding and removing scopes in
their org. Without that plugin nobody may make these changes as a user: an
unknown permission allows nothing. The operator (a change made without ``as_user``) is not judged.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING

from ..engine import Index, lookups
from ..reads.access import allows
from .delegation import Delegation, NotAllowedError, Refusal

if TYPE_CHECKING:
    from ..writes import Guard

MANAGE_CUSTOM_ROLES = "platform.manage_custom_roles"
"""Create custom roles (and change them, with :func:`changing_role` on top)."""
MANAGE_DELEGATION_RULES = "platform.manage_delegation_rules"
"""Set and switch off delegation rules."""
MANAGE_RESTRICTIONS = "platform.manage_restrictions"
"""Place, change and lift restrictions (checked on the platform: a restriction that denies
everything on a scope must not keep its holders from lifting it)."""
ADD_SCOPES = "platform.add_scopes"
"""Record a new scope so roles can be given on it (checked on the scope's own key)."""
REMOVE_SCOPES = "platform.remove_scopes"
"""Remove a scope and everything held on it and below (checked on the scope)."""
RETIRE_USERS = "platform.retire_users"
"""Retire a user: remove every role they hold and mark them inactive (checked on the
platform)."""
PLATFORM = "platform"


def _delegation(index: Index) -> Delegation:
    return Delegation(index, index.rules())


def _refuse(refusal: Refusal | None) -> None:
    if refusal is not None:
        raise NotAllowedError(refusal)


def _require(index: Index, actor: str, permission: str, scope: str, doing: str) -> None:
    if not allows(index, actor, permission, scope):
        raise NotAllowedError(
            Refusal("permission", f"{actor} may not {doing}: it takes {permission} on {scope}")
        )


def holding_somewhere(actor: str, permission: str, doing: str) -> Guard:
    """``actor`` able to exercise ``permission`` on at least one scope where it holds a role
    (custom roles take :data:`MANAGE_CUSTOM_ROLES`, held by platform and org admins; delegation
    rules :data:`MANAGE_DELEGATION_RULES`, held by platform admins)."""

    def guard(index: Index) -> None:
        if not any(allows(index, actor, permission, key) for key in index.cells_of(actor)):
            raise NotAllowedError(
                Refusal("administration", f"{actor} may not {doing}: it takes {permission}")
            )

    return guard


def all_of(*guards: Guard) -> Guard:
    """Every one of ``guards``, in order, on the same index."""

    def guard(index: Index) -> None:
        for each in guards:
            each(index)

    return guard


def granting(actor: str, rows: Iterable[tuple[str, str, str]]) -> Guard:
    """``actor`` giving each (user, role id, scope key) of ``rows``: a delegation rule must
    allow it, and it must be no escalation by anything it reaches."""
    wanted = list(dict.fromkeys(rows))

    def guard(index: Index) -> None:
        delegation = _delegation(index)
        for user, role, key in wanted:
            _refuse(delegation.may_assign(actor, role, key, user))

    return guard


def revoking(
    actor: str,
    rows: Iterable[tuple[str, str, str]],
    *,
    last_admin: bool = True,
) -> Guard:
    """``actor`` removing each (user, role id, scope key) of ``rows``, under the delegation
    rules and the guards (sensitive role, lower scope, own admin role). With ``last_admin`` the
    rows together must leave every scope they touch an admin, if it had one."""
    wanted = list(dict.fromkeys(rows))

    def guard(index: Index) -> None:
        delegation = _delegation(index)
        roles = index.registry.roles
        for user, role, key in wanted:
            definition = roles.get(role)
            _refuse(
                delegation.may_revoke(
                    actor,
                    user,
                    role,
                    key,
                    is_admin=bool(definition and definition.admin) and last_admin,
                    revocable_by=definition.revocable_by if definition else (),
                )
            )
        if last_admin:
            _keep_admins(index, wanted)

    return guard


def _keep_admins(index: Index, rows: Collection[tuple[str, str, str]]) -> None:
    """Each removal alone leaves another admin; together they must too."""
    roles = index.registry.roles
    removed: dict[str, set[str]] = {}
    for user, role, key in rows:
        definition = roles.get(role)
        if definition is not None and definition.admin:
            removed.setdefault(key, set()).add(user)
    for key, users in sorted(removed.items()):
        if not set(lookups.other_admins(index, key, exclude="")) - users:
            raise NotAllowedError(
                Refusal(
                    "last-admin",
                    f"removing {', '.join(sorted(users))} would leave {key} with no admin: "
                    "assign another admin there first",
                )
            )


def changing_role(actor: str, role: str, permissions: frozenset[str] | None = None) -> Guard:
    """``actor`` changing the custom role ``role`` (to the closed permission set
    ``permissions``, or retiring or deleting it when ``None``): allowed only when ``actor``
    could make every grant of it that exists, as the role is and as it would be, under the
    no-escalation rule (so an org admin may not touch a role held outside her org, nor add a
    permission she lacks)."""

    def guard(index: Index) -> None:
        versions = [None] if permissions is None else [None, permissions]
        for version in versions:
            delegation = _delegation(index)
            if version is not None:
                delegation.suppose(role, version)
            for user, key in lookups.holders_of(index, role):
                missing = delegation.escalation(actor, role, key, user)
                if missing:
                    raise NotAllowedError(
                        Refusal(
                            "no-escalation",
                            f"{actor} may not change {role}: {user} holds it on {key}, where "
                            f"{delegation.describe(missing)}, which {actor} does not hold there",
                        )
                    )

    return guard


def restricting(actor: str, scope: str) -> Guard:
    """``actor`` placing, changing or lifting the restriction on ``scope``."""

    def guard(index: Index) -> None:
        _require(index, actor, MANAGE_RESTRICTIONS, PLATFORM, f"change the restriction on {scope}")

    return guard


def adding_scopes(actor: str, scopes: Iterable[str]) -> Guard:
    """``actor`` recording new scopes: it takes :data:`ADD_SCOPES` on each (platform admins
    anywhere, org admins in their org)."""
    keys = list(dict.fromkeys(scopes))

    def guard(index: Index) -> None:
        for key in keys:
            _require(index, actor, ADD_SCOPES, key, f"create {key}")

    return guard


def removing_scope(actor: str, scope: str) -> Guard:
    """``actor`` removing ``scope``: it takes :data:`REMOVE_SCOPES` there, the right to remove
    every grant that goes with it (the last-admin guard aside: the scope goes too), and
    :data:`MANAGE_RESTRICTIONS` where a restriction goes with it (lifting one frees what it
    denied to holders above the scope if the key is used again)."""

    def guard(index: Index) -> None:
        _require(index, actor, REMOVE_SCOPES, scope, f"remove {scope}")
        below = [scope, *index.descendants(scope)]
        rows = [
            (user, grant.role, key)
            for key in below
            for user in lookups.users_on(index, [key])
            for grant in index.cells_of(user)[key].grants
        ]
        revoking(actor, rows, last_admin=False)(index)
        for key in [scope, *lookups.restricted_below(index, scope)]:
            if index.restriction(key) is not None:
                _require(
                    index, actor, MANAGE_RESTRICTIONS, PLATFORM, f"lift the restriction on {key}"
                )

    return guard


def retiring_user(actor: str, user: str) -> Guard:
    """``actor`` retiring ``user``: it takes :data:`RETIRE_USERS` on the platform and the
    right to remove every role ``user`` holds (the last-admin and own-admin-role guards
    included)."""

    def guard(index: Index) -> None:
        _require(index, actor, RETIRE_USERS, PLATFORM, f"retire {user}")
        rows = [
            (user, grant.role, key)
            for key, cell in index.cells_of(user).items()
            for grant in cell.grants
        ]
        revoking(actor, rows)(index)

    return guard
