"""Governance look-ups: what the guards and the delegation rules ask of the index beyond the
check (the scope types below a type, the restrictions below a scope, live roles on a chain,
the holders of a role, the other admins of a scope, what a role counts as when a grant is
judged).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..errors import BadInputError
from .tables import _EMPTY, MANAGE_RESTRICTIONS

if TYPE_CHECKING:
    from .index import Index


def types_below(index: Index, kind: str) -> tuple[str, ...]:
    """``kind`` and every scope type whose scopes can sit below a scope of type ``kind``
    (``org``: org, course, library, and the plugins' types keyed under them), read from
    the parent chain of each type's example key."""
    below = index._types_below
    if below is None:
        below = {}
        for st in index.registry.scope_types.values():
            try:
                chain = index._resolve(st.example).chain
            except BadInputError:
                chain = ()
            for ancestor in chain:
                try:
                    above = index._resolve(ancestor).type
                except BadInputError:
                    continue
                below.setdefault(above, set()).add(st.id)
        index._types_below = below
    return tuple(sorted(below.get(kind, set()) | {kind}))


def restricted_below(index: Index, key: str) -> list[str]:
    """The scopes strictly below ``key`` that carry a restriction."""
    found = []
    for restricted in index._restrictions:
        if restricted == key:
            continue
        try:
            chain = index.place(restricted)[0]
        except BadInputError:
            continue
        if key in chain:
            found.append(restricted)
    return sorted(found)


def live_roles(index: Index, user: str, chain: Iterable[str], now: float | None = None) -> set[str]:
    """The roles ``user`` holds, unexpired, on the scopes of ``chain``."""
    when = time.time() if now is None else now
    cells = index._by_user.get(user)
    if not cells:
        return set()
    by_scope = index._by_scope
    return {
        g.role for key in chain if key in cells for g in by_scope[key][user].grants if g.live(when)
    }


def holders_of(index: Index, role: str) -> list[tuple[str, str]]:
    """(user, scope) of every grant of ``role``, expired ones included, sorted."""
    return sorted(
        (user, key)
        for key, members in index._by_scope.items()
        for user, cell in members.items()
        if any(g.role == role for g in cell.grants)
    )


def users_on(index: Index, chain: Iterable[str]) -> set[str]:
    """Users holding any grant on one of these scopes."""
    return {user for key in chain for user in index._by_scope.get(key, {})}


def other_admins(index: Index, scope: str, *, exclude: str) -> list[str]:
    """Users other than ``exclude`` holding a live admin role at exactly ``scope``."""
    roles = index.registry.roles
    now = time.time()
    return sorted(
        user
        for user, cell in index._by_scope.get(scope, {}).items()
        if user != exclude
        and any(g.live(now) and g.role in roles and roles[g.role].admin for g in cell.grants)
    )


def role_authority(index: Index, role: str) -> frozenset[str]:
    """What a holder of ``role`` counts as holding when a grant is judged: its permissions
    and the ``not_inherited`` ones of the roles it includes (see the registry)."""
    found = index.registry.role_authority.get(role)
    return index._role_perms.get(role, _EMPTY) if found is None else found


def type_permissions(index: Index, kind: str) -> frozenset[str]:
    """The registered permissions that apply at scopes of type ``kind``."""
    found = index._type_permissions.get(kind)
    if found is None:
        found = frozenset(p for p, kinds in index._applies.items() if kind in kinds)
        index._type_permissions[kind] = found
    return found


def unlocked(index: Index, roles: Iterable[str]) -> frozenset[str]:
    """:attr:`unlockable` when one of ``roles``, held on the platform, gives
    ``platform.manage_restrictions``; else nothing."""
    perms = index._role_perms
    if any(MANAGE_RESTRICTIONS in perms.get(r, _EMPTY) for r in roles):
        return index.unlockable
    return _EMPTY
