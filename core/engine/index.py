"""The decision core: the index's tables (:mod:`.tables`) compiled for the check.

A check resolves the scope key once (cached by the registry's resolver), walks its ancestor
chain and does set lookups: no hook call, no database read, no parsing after the first sight of
a key (the docstring of :mod:`rolecall.core.engine` says which part answers each step of the
decision rule). The queries that read the index live beside it: :mod:`.reverse` (who, who_can,
scopes_where, access), :mod:`.explain`, :mod:`.lookups` (the governance look-ups) and
:mod:`.known` (look-alike usernames, known scopes ignoring case); :mod:`.changes` applies the
change feed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from ..records import DerivedRole
from ..registry import Registry
from ..scopes import show
from .decisions import GrantInfo
from .tables import (
    _EMPTY,
    ALL,
    MANAGE_RESTRICTIONS,
    PLACES_CACHE_SIZE,
    Cell,
    Grant,
    Tables,
    TimedPerms,
    _dt,
    _Place,
    _Restriction,
    log,
)

__all__ = ["ALL", "MANAGE_RESTRICTIONS", "Cell", "Grant", "Index", "TimedPerms"]


class Index(Tables):
    """The tables, compiled for the check: the decision core every query reads."""

    def __init__(self, registry: Registry) -> None:
        super().__init__(registry)
        self.check: Callable[[str, str, str], bool] = self._compile_check()

    # ---------------------------------------------------------------- the check path

    def lifts_restrictions(self, user: str) -> bool:
        """Whether ``user`` holds ``platform.manage_restrictions`` on the platform, unexpired
        (no restriction denies it): such a user may lift every restriction, so none denies them
        :attr:`unlockable`."""
        perms = self._by_user.get(user, {}).get("platform")
        return perms is not None and MANAGE_RESTRICTIONS in perms

    def _place(self, scope: str) -> _Place:
        """The cached view of a scope key, parsed on first sight."""
        place = self._places.get(scope)
        if place is None:
            resolved = self._resolve(scope)
            applicable = self._type_permissions.get(resolved.type)
            if applicable is None:
                applicable = frozenset(
                    p for p, kinds in self._applies.items() if resolved.type in kinds
                )
                self._type_permissions[resolved.type] = applicable
            generation = self._restriction_generation
            restricted = any(key in self._restrictions for key in resolved.chain)
            place = (resolved.chain, applicable, restricted)
            if len(self._places) >= PLACES_CACHE_SIZE:
                self._places.clear()  # bounded: one-off or hostile keys cannot grow it forever
            self._places[scope] = place
            if generation != self._restriction_generation:
                # A restriction changed (the sync thread) while this was computed: the flag
                # may be stale, so do not keep it; the next check computes it again.
                self._places.pop(scope, None)
        return place

    def _compile_check(self) -> Callable[[str, str, str], bool]:
        # The decision rule, and which part of this path answers each of its steps: the
        # docstring of rolecall.core.engine.
        # The check path in one function: its dictionaries are bound once, and a scope's cached
        # entry holds its chain (with the index's own key strings, found by identity) and the
        # permissions a check may answer there by the walk alone: those applying to its type,
        # less those a restriction on its chain denies. So a check costs what the plain dict
        # walk costs, plus one set membership test.
        # Bound as defaults, they are the function's own local variables: a little faster to
        # read than a closure's cells or globals. They are not arguments to pass.
        def check(
            user: str,
            permission: str,
            scope: str,
            fast: dict[str, tuple[tuple[str, ...], frozenset[str]]] = self._fast,
            by_user: dict[str, dict[str, frozenset[str]]] = self._by_user,
            refused: Callable[[str, str, str], bool] = self._refused,
            slow: Callable[[str, str, str], bool] = self._check_slow,
            derived: frozenset[str] = frozenset(self._derived),
            from_source: Callable[[str, str, str], bool] = self._check_derived,
        ) -> bool:
            """May ``user`` do ``permission`` at ``scope``? An unknown permission or a
            malformed key raises :class:`BadInputError`; a user rolecall has never seen is
            denied."""
            try:
                chain, walkable = fast[scope]
            except KeyError:
                return slow(user, permission, scope)
            cells = by_user.get(user)
            if cells is None:
                return refused(user, permission, scope)
            if permission not in walkable:
                return slow(user, permission, scope)
            for key in chain:
                perms = cells.get(key)
                if perms is not None and permission in perms:
                    return True
            # The stored grants deny: a derived role may still give it.
            return permission in derived and from_source(user, permission, scope)

        return check

    def _check_slow(self, user: str, permission: str, scope: str) -> bool:
        """A check on a scope not cached yet, or of a permission the walk alone cannot answer
        there (one that does not apply to the scope's type, or that a restriction on its chain
        denies, whose exempt roles depend on the user). Caches the scope's entry."""
        generation = self._restriction_generation
        chain, applicable, restricted = self._places.get(scope) or self._place(scope)
        denied = _EMPTY
        if restricted:
            denied = frozenset().union(
                *(r.denied for r in map(self._restrictions.get, chain) if r is not None)
            )
        if scope not in self._fast:
            walkable = applicable
            if denied:
                sets = (applicable, denied)
                walkable = self._walkable.get(sets) or self._walkable.setdefault(
                    sets, applicable - denied
                )
            if len(self._fast) >= PLACES_CACHE_SIZE:
                self._fast.clear()  # bounded, as the places are
            intern = self._strings.get
            self._fast[scope] = (tuple(intern(k, k) for k in chain), walkable)
            if generation != self._restriction_generation:
                # A restriction changed meanwhile (the sync thread): do not keep the entry.
                self._fast.pop(scope, None)
        self.require_permission(permission)
        cells = self._by_user.get(user)
        if cells is None or permission not in applicable:
            return self._refused(user, permission, scope)
        for key in chain:
            perms = cells.get(key)
            if perms is not None and permission in perms:
                if permission not in denied or self._restricting(user, permission, chain) is None:
                    return True
                break
        return permission in self._derived and self._check_derived(user, permission, scope)

    def _refused(self, user: str, permission: str, scope: str) -> bool:
        """The slow end of a denial: raise for an unknown permission. A user rolecall has never
        seen is denied like any user without grants (every learner of the platform is one),
        unless a derived role gives it."""
        self.require_permission(permission)
        return permission in self._derived and self._check_derived(user, permission, scope)

    def _check_derived(self, user: str, permission: str, scope: str) -> bool:
        return self.derived_grant(user, permission, scope) is not None

    def derived_grant(
        self, user: str, permission: str, scope: str
    ) -> tuple[DerivedRole, str] | None:
        """The derived role (and the scope on ``scope``'s chain where its source names
        ``user``) that gives ``permission`` at ``scope``, restrictions applied; or None."""
        derived = self._derived.get(permission)
        if not derived:
            return None
        chain, applicable, restricted = self.place(scope)
        if permission not in applicable:
            return None
        for role in derived:
            for key in chain:
                if self._resolve(key).type not in role.scope_types:
                    continue
                try:
                    held = role.holds(user, key) is True
                except Exception as exc:  # a failing source never allows, never breaks a check
                    log.warning(
                        "derived role %s: source %s failed on %s: %s",
                        role.role,
                        role.source,
                        show(key),
                        type(exc).__name__,
                    )
                    held = False
                if not held:
                    continue
                if restricted and self._restricting(
                    user, permission, chain, also=frozenset({role.role})
                ):
                    continue
                return role, key
        return None

    def _restricting(
        self,
        user: str,
        permission: str,
        chain: tuple[str, ...],
        also: frozenset[str] = _EMPTY,
    ) -> tuple[str, _Restriction] | None:
        """The restriction on ``chain`` that denies ``permission`` to ``user`` (holding the
        roles ``also`` too, derived ones). None denies a holder of
        ``platform.manage_restrictions`` on the platform what it needs to see a scope and lift
        the restriction (:attr:`unlockable`)."""
        if permission in self.unlockable and self.lifts_restrictions(user):
            return None
        for key in chain:
            restriction = self._restrictions.get(key)
            if restriction is not None and permission in restriction.denied:
                if restriction.exempt and (
                    restriction.exempt & also or self._holds_any(user, chain, restriction.exempt)
                ):
                    continue
                return key, restriction
        return None

    def _holds_any(self, user: str, chain: tuple[str, ...], roles: frozenset[str]) -> bool:
        now = time.time()
        for key in chain:
            cell = self._by_scope.get(key, {}).get(user)
            if cell is not None and any(g.role in roles and g.live(now) for g in cell.grants):
                return True
        return False

    def check_many(self, checks: Iterable[tuple[str, str, str]]) -> list[bool]:
        check = self.check
        return [check(u, p, s) for u, p, s in checks]

    def check_throughout(self, user: str, permission: str, scope: str, kind: str) -> bool:
        """May ``user`` do ``permission`` at every scope of type ``kind`` below ``scope``, by
        what holds at ``scope`` and above (an org-wide glob such as ``course-v1:ORG+*``)?
        Grants and restrictions on single scopes below do not count: they are not everywhere.
        An unknown permission or a malformed key raises :class:`BadInputError`."""
        if kind not in self.require_permission(permission):
            return False
        chain = self.place(scope)[0]
        cells = self._by_user.get(user)
        if cells is None:
            return False
        for key in chain:
            perms = cells.get(key)
            if perms is not None and permission in perms:
                return self._restricting(user, permission, chain) is None
        return False

    # ---------------------------------------------------------------- governance helpers

    def place(self, scope: str) -> _Place:
        """(chain, permissions applying to its type, restricted) of a scope key."""
        return self._places.get(scope) or self._place(scope)

    def scope_type(self, scope: str) -> str:
        return self._resolve(scope).type

    def applicable(self, scope: str) -> frozenset[str]:
        return self.place(scope)[1]

    def role_permissions(self, role: str) -> frozenset[str]:
        return self._role_perms.get(role, _EMPTY)

    def restrictions_on(self, chain: Iterable[str]) -> list[tuple[frozenset[str], frozenset[str]]]:
        """(denied permissions, exempt roles) of each restriction on ``chain``."""
        found = []
        for key in chain:
            r = self._restrictions.get(key)
            if r is not None:
                found.append((r.denied, r.exempt))
        return found

    def cells_of(self, user: str) -> dict[str, Cell]:
        """scope -> the user's grants there (a new dict: not for the check path)."""
        by_scope = self._by_scope
        return {key: by_scope[key][user] for key in self._by_user.get(user, ())}

    # ---------------------------------------------------------------- reverse queries

    def _info(self, user: str, scope: str, grant: Grant, now: float) -> GrantInfo:
        granted_at = _dt(grant.granted_at)
        assert granted_at is not None
        return GrantInfo(
            id=grant.id,
            user=user,
            role=grant.role,
            scope=scope,
            granted_by=grant.granted_by,
            granted_at=granted_at,
            expires_at=_dt(grant.expires_at),
            expired=not grant.live(now),
        )

    def grants_of(self, user: str) -> list[GrantInfo]:
        now = time.time()
        return sorted(
            (
                self._info(user, key, g, now)
                for key, cell in self.cells_of(user).items()
                for g in cell.grants
            ),
            key=lambda g: (g.scope, g.role),
        )

    def grant(self, user: str, role: str, scope: str) -> GrantInfo | None:
        cell = self._by_scope.get(scope, {}).get(user)
        for g in cell.grants if cell else ():
            if g.role == role:
                return self._info(user, scope, g, time.time())
        return None

    # ---------------------------------------------------------------- explanations
