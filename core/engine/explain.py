"""Explanations: a check decided the long way, with its reasons (:func:`explain`).

Its ``allowed`` always equals :attr:`Index.check <rolecall.core.engine.index.Index.check>`'s
answer; the rest says which grants gave it, which restriction took it away, and what came
close.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .decisions import Contribution, Decision, DerivedInfo, GrantInfo, RestrictionInfo
from .tables import _EMPTY, Cell

if TYPE_CHECKING:
    from .index import Index


def explain(index: Index, user: str, permission: str, scope: str) -> Decision:
    """:meth:`check` with its reasons; ``allowed`` always equals ``check``."""
    applies_to = index.require_permission(permission)
    resolved = index._resolve(scope)
    chain = resolved.chain
    now = time.time()
    cells = index.cells_of(user)
    applies = resolved.type in applies_to
    contributions: list[Contribution] = []
    expired: list[GrantInfo] = []
    held_without: list[tuple[str, str]] = []
    for key in chain:
        cell = cells.get(key)
        for grant in cell.grants if cell else ():
            if permission in index._role_perms.get(grant.role, _EMPTY):
                info = index._info(user, key, grant, now)
                if grant.live(now):
                    contributions.append(
                        Contribution(grant=info, path=_path(index, grant.role, permission))
                    )
                else:
                    expired.append(info)
            elif grant.live(now):
                held_without.append((grant.role, key))
    restricting = index._restricting(user, permission, chain) if contributions else None
    allowed = applies and bool(contributions) and restricting is None
    from_source = None
    if applies and not allowed:
        found = index.derived_grant(user, permission, scope)
        if found is not None:
            role, key = found
            from_source = DerivedInfo(
                role=role.role, scope=key, source=role.source, description=role.description
            )
            allowed = True
    denied_by = None
    if restricting is not None and not allowed:
        key, r = restricting
        denied_by = RestrictionInfo(
            scope=key,
            permissions=r.permissions,
            exempt_roles=tuple(sorted(r.exempt)),
            reason=r.reason,
        )
    if from_source is not None:
        summary = (
            f"allowed: {user} holds {from_source.role} on {from_source.scope} through "
            f"{from_source.source}: {from_source.description} (a derived role, not stored)"
        )
    elif allowed:
        first = contributions[0]
        via = f" (through {' -> '.join(first.path)})" if len(first.path) > 1 else ""
        summary = (
            f"allowed: {user} holds {first.grant.role} on {first.grant.scope}, which grants "
            f"{permission}{via}"
        )
    elif not applies:
        summary = (
            f"denied: {permission} does not apply to {resolved.type} scopes (it applies to "
            f"{', '.join(sorted(applies_to))})"
        )
    elif denied_by is not None:
        exempt = ", ".join(denied_by.exempt_roles) or "none"
        summary = (
            f"denied: the restriction on {denied_by.scope} denies {permission} "
            f"(exempt roles: {exempt})"
        )
    elif user not in index.users:
        summary = (
            f"denied: {user} has no grants in rolecall (a user rolecall has never seen "
            "holds no role)"
        )
    else:
        summary = f"denied: no role {user} holds on {scope} or above it grants {permission}"
    misses: list[str] = []
    about: tuple[str | None, ...] = ()  # the scope of each miss about a grant elsewhere
    if not allowed and applies and not contributions:
        misses.extend(
            f"{g.role} on {g.scope} would grant it, but expired at "
            f"{g.expires_at:%Y-%m-%d %H:%M} UTC"
            for g in expired
            if g.expires_at is not None
        )
        misses.extend(
            f"{role} on {key} is held but does not include {permission}"
            for role, key in held_without
        )
        local = len(misses)
        elsewhere = _elsewhere(index, user, permission, chain, cells)
        misses.extend(text for text, _ in elsewhere)
        about = (None,) * local + tuple(key for _, key in elsewhere)
        givers = _roles_granting(index, permission, chain)
        if givers:
            misses.append(f"roles that grant it here: {', '.join(givers)}")
            about += (None,)
    decision = Decision(
        allowed=allowed,
        user=user,
        permission=permission,
        scope=scope,
        summary=summary,
        applies=applies,
        contributions=tuple(contributions),
        denied_by=denied_by,
        closest_misses=tuple(misses),
        derived=from_source,
    )
    if any(about):
        decision.about_scopes(about)
    return decision


def _own_permissions(index: Index, role: str) -> set[str]:
    """The permissions a role lists itself or through included roles (not implied)."""
    roles = index.registry.roles
    found: set[str] = set(roles[role].not_inherited) if role in roles else set()
    stack = [role]
    seen = set()
    while stack:
        current = stack.pop()
        if current in seen or current not in roles:
            continue
        seen.add(current)
        found.update(roles[current].permissions)
        stack.extend(roles[current].includes)
    return found


def _path(index: Index, role: str, permission: str) -> tuple[str, ...]:
    definition = index.registry.roles.get(role)
    if definition is not None and any(
        index.registry.roles[r].grants_all for r in _included(index, role)
    ):
        return (permission,)
    paths = [
        p
        for p in (
            index.registry.implication_path(own, permission)
            for own in _own_permissions(index, role)
        )
        if p is not None
    ]
    return min(paths, key=len) if paths else (permission,)


def _included(index: Index, role: str) -> set[str]:
    roles = index.registry.roles
    seen: set[str] = set()
    stack = [role]
    while stack:
        current = stack.pop()
        if current in seen or current not in roles:
            continue
        seen.add(current)
        stack.extend(roles[current].includes)
    return seen


def _elsewhere(
    index: Index, user: str, permission: str, chain: tuple[str, ...], cells: Mapping[str, Cell]
) -> list[tuple[str, str]]:
    """Grants of ``permission`` the user holds off the chain, nearest relatives first: (what
    to say, the scope of the grant)."""
    ancestors = set(chain)
    near = []
    for key, cell in cells.items():
        if key in ancestors or not cell.allows(permission):
            continue
        other = index._resolve(key).chain
        shared = len(ancestors.intersection(other))
        for grant in cell.grants:
            if permission in index._role_perms.get(grant.role, _EMPTY):
                near.append((-shared, key, grant.role))
    near.sort()
    return [
        (f"{role} on {key} grants it, but {key} is not {chain[0]} or above it", key)
        for _, key, role in near[:3]
    ]


def _roles_granting(index: Index, permission: str, chain: tuple[str, ...]) -> list[str]:
    """The smallest roles, plugins' and custom ones, that could be assigned on the chain
    and would grant ``permission`` (a retired custom role cannot be assigned)."""
    types = {index._resolve(k).type for k in chain}
    fitting = [
        r
        for r in (*index.registry.roles.values(), *index.custom_roles.values())
        if permission in index._role_perms.get(r.id, _EMPTY)
        and types & set(r.scope_types)
        and r.id not in index.retired_roles
    ]
    fitting.sort(key=lambda r: (len(index._role_perms[r.id]), r.id))
    return [r.id for r in fitting[:3]]
