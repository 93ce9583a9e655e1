"""Delegation: may this actor assign or revoke this role on this scope?

An actor acting as a user (the console, `rolecall assign --as`) is allowed a change when a
delegation rule lets a role the actor holds, on the scope or above it, make it; and the guards
all pass:

- no escalation, judged on everything the grant reaches (see :meth:`Delegation.escalation`):
  the grant's scope and every scope below it, of every scope type where the role's
  permissions apply, and every restriction it would make its holder exempt from;
- a role with ``revocable_by`` (sensitive) is revoked only by a holder of one of those roles on
  the same scope or above;
- the rights to revoke must come from the assignment's scope or above (an org-wide grant is not
  removed by a course admin);
- the last admin of a scope cannot be removed, and an admin cannot remove their own admin role;
- anyone may leave a non-admin role.

Every refusal names the rule or guard that refused and who could make the change instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import partial

from ..engine import lookups
from ..engine.index import Index
from ..errors import RolecallError
from ..records import DelegationRule

COULD_LIMIT = 5


@dataclass(frozen=True)
class Refusal:
    """Why a change is not allowed: ``rule`` is a rule id or one of the guards
    (``delegation``, ``no-escalation``, ``lower-scope``, ``sensitive-role``, ``last-admin``,
    ``own-admin-role``); ``could`` lists users who could make the change."""

    rule: str
    message: str
    could: tuple[str, ...] = ()

    def __str__(self) -> str:
        if not self.could:
            return f"{self.message} [{self.rule}]"
        return f"{self.message} [{self.rule}]; it could be done by: {', '.join(self.could)}"

    def naming_only(self, keep: Callable[[str], bool]) -> Refusal:
        """This refusal naming, in ``could``, only the users ``keep`` keeps: for a caller who
        may not see everyone who holds a role on the scope (its ``str()`` follows)."""
        return replace(self, could=tuple(user for user in self.could if keep(user)))


class NotAllowedError(RolecallError):
    """A change refused by the delegation rules or a guard; nothing was written."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


class Delegation:
    """The delegation rules in force, evaluated against the index."""

    def __init__(self, index: Index, rules: Mapping[str, DelegationRule]) -> None:
        self.index = index
        self.rules = rules
        self._now = time.time()
        self._cache: dict[tuple[str, str, str], tuple[frozenset[str], frozenset[str]]] = {}
        self._supposed: dict[str, frozenset[str]] = {}

    def suppose(self, role: str, permissions: frozenset[str]) -> None:
        """Judge as if ``role`` gave the closed permission set ``permissions`` (a custom role
        edit not made yet), for the grantees only: what the actor holds is what it holds now."""
        self._supposed[role] = permissions

    def _gives(self, role: str) -> frozenset[str]:
        found = self._supposed.get(role)
        return self.index.role_permissions(role) if found is None else found

    # ------------------------------------------------------------------ helpers

    def _held(self, user: str, chain: tuple[str, ...]) -> list[tuple[str, str]]:
        """(role, scope) of the live grants ``user`` holds on ``chain``."""
        now = time.time()
        cells = self.index.cells_of(user)
        return [
            (g.role, key)
            for key in chain
            if (cell := cells.get(key)) is not None
            for g in cell.grants
            if g.live(now)
        ]

    def _rules_for(self, action: str, role: str, scope_type: str) -> list[DelegationRule]:
        return [
            r for r in self.rules.values() if r.covers(role, action) and r.applies_at(scope_type)
        ]

    def _able(
        self,
        user: str,
        place: str,
        kind: str,
        extra: tuple[str, str] | None = None,
        *,
        supposed: bool = False,
    ) -> tuple[frozenset[str], frozenset[str]]:
        """(what ``user`` holds, what ``user`` may exercise) at a scope of type ``kind`` at or
        below ``place`` that holds nothing of its own: the permissions applying to ``kind`` of
        the live roles ``user`` holds on ``place``'s chain (plus ``extra``, a (role, scope)
        grant not made yet, when its scope is on the chain), and those less what the
        restrictions on the chain deny to a holder of none of their exempt roles."""
        chain = self.index.place(place)[0]
        roles = lookups.live_roles(self.index, user, chain, self._now)
        if extra is not None and extra[1] in chain:
            roles.add(extra[0])
        applies = lookups.type_permissions(self.index, kind)
        gives = self._gives if supposed else partial(lookups.role_authority, self.index)
        held = frozenset().union(*(gives(r) for r in roles)) & applies
        able = held
        restrictions = self.index.restrictions_on(chain)
        if restrictions:
            # No restriction denies its lifters what they need to see a scope and lift it.
            on_platform = lookups.live_roles(self.index, user, ("platform",), self._now)
            if extra is not None and extra[1] == "platform":
                on_platform.add(extra[0])
            unlocked = lookups.unlocked(self.index, on_platform)
            for denied, exempt in restrictions:
                if not exempt & roles:
                    able = able - (denied - unlocked)
        return held, able

    def _actor_able(
        self, actor: str, place: str, kind: str
    ) -> tuple[frozenset[str], frozenset[str]]:
        key = (actor, place, kind)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._able(actor, place, kind)
        return found

    def reach(self, scope: str, grantee: str | None = None) -> list[tuple[str, str]]:
        """(place, scope type) of every kind of scope a grant on ``scope`` reaches where it
        can make a difference: ``scope`` itself, each restricted scope below it and each scope
        below it where ``grantee`` already holds a grant, each with every scope type at or
        below its own. Anywhere else below ``scope`` the grantee's roles and the restrictions
        in force are those of one of these places, and the actor can only hold more."""
        places = [scope, *lookups.restricted_below(self.index, scope)]
        if grantee is not None:
            for key in self.index.cells_of(grantee):
                if key == scope or key in places:
                    continue
                try:
                    chain = self.index.place(key)[0]
                except RolecallError:
                    continue  # a scope type whose plugin is gone: it grants nothing
                if scope in chain:
                    places.append(key)
        return [
            (place, kind)
            for place in places
            for kind in lookups.types_below(self.index, self.index.scope_type(place))
        ]

    def escalation(
        self, actor: str, role: str, scope: str, grantee: str | None = None
    ) -> list[tuple[str, str, str]]:
        """(permission, place, scope type) of everything a grant of ``role`` on ``scope`` (to
        ``grantee``, or to someone holding nothing when ``None``) would give that ``actor``
        could not give: empty when the grant is no escalation.

        At each place the grant reaches (:meth:`reach`), the actor must

        1. hold every permission the role gives there, restrictions aside (a lock lifted later
           must not leave the grantee above the actor); and
        2. be able to exercise every permission the grant would let the grantee exercise there
           that they could not exercise before (of the role's own, and any the grant would free
           from a restriction by making the grantee exempt from it), and every permission the
           role alone lets its holder exercise there. What the grantee can exercise already
           through their other grants is no escalation (an org admin may give course staff on
           the org to a course admin of the org, who is exempt from a course's lock)."""
        # A role's own marker permissions (``not_inherited``: openedx-authz's legacy role ids,
        # held by that role alone) say which role it is, not what it lets its holder do: whoever
        # may give its real permissions may give it.
        markers = self._markers(role)
        gives = self._gives(role) - markers
        missing: list[tuple[str, str, str]] = []
        for place, kind in self.reach(scope, grantee):
            held, able = self._actor_able(actor, place, kind)
            lacking = (gives & lookups.type_permissions(self.index, kind)) - held
            after = self._able(grantee or "", place, kind, (role, scope), supposed=True)[1]
            before = self._able(grantee, place, kind, supposed=True)[1] if grantee else frozenset()
            # What the role alone lets its holder exercise there: a role exempt from a
            # restriction the actor is not exempt from frees what it gives, even to a grantee
            # who can exercise it already through another grant, which may go first.
            alone = self._able("", place, kind, (role, scope), supposed=True)[1]
            lacking |= (((after - before) | alone) - able) - markers
            missing.extend((p, place, kind) for p in sorted(lacking))
        return missing

    def _markers(self, role: str) -> frozenset[str]:
        """The closed set of ``role``'s own ``not_inherited`` permissions."""
        definition = self.index.registry.roles.get(role)
        if definition is None or not definition.not_inherited:
            return frozenset()
        implied = self.index.registry.implied
        return frozenset().union(*(implied[p] for p in definition.not_inherited if p in implied))

    def could(self, action: str, role: str, scope: str, *, user: str | None = None) -> list[str]:
        """Users a rule lets make this change (and, for an assignment, who hold the role's
        permissions there), at most a few."""
        place = self.index.place(scope)
        chain, kind = place[0], self.index.scope_type(scope)
        holders = {h for r in self._rules_for(action, role, kind) for h in r.holders}
        found = []
        for candidate in sorted(lookups.users_on(self.index, chain)):
            if candidate == user:
                continue
            held = {r for r, _ in self._held(candidate, chain)}
            if not held & holders:
                continue
            if action == "assign" and self.escalation(candidate, role, scope, user):
                continue
            found.append(candidate)
            if len(found) == COULD_LIMIT:
                break
        return found

    # ------------------------------------------------------------------ decisions

    def may_assign(
        self,
        actor: str,
        role: str,
        scope: str,
        grantee: str | None = None,
        *,
        name_others: bool = True,
    ) -> Refusal | None:
        """May ``actor`` give ``role`` on ``scope`` (to ``grantee``)? ``None`` when allowed.
        ``name_others=False`` leaves the refusal's ``could`` empty (cheaper: for asking about
        many scopes, as the console's choices do)."""
        chain = self.index.place(scope)[0]
        kind = self.index.scope_type(scope)
        held = {r for r, _ in self._held(actor, chain)}

        def could() -> tuple[str, ...]:
            if not name_others:
                return ()
            return tuple(self.could("assign", role, scope, user=grantee))

        if not any(held & set(rule.holders) for rule in self._rules_for("assign", role, kind)):
            return Refusal(
                "delegation",
                f"{actor} may not assign {role} on {scope}: no delegation rule lets a role "
                f"{actor} holds on {scope} or above assign it",
                could(),
            )
        missing = self.escalation(actor, role, scope, grantee)
        if missing:
            return Refusal(
                "no-escalation",
                f"{actor} may not assign {role} on {scope}: {self.describe(missing)}, "
                f"which {actor} does not hold there",
                could(),
            )
        return None

    def allows_assign(self, actor: str, role: str, scope: str, grantee: str | None = None) -> bool:
        """:meth:`may_assign` as a yes or no."""
        return self.may_assign(actor, role, scope, grantee, name_others=False) is None

    def assignable_somewhere(self, actor: str, role: str, kinds: Iterable[str]) -> bool:
        """Whether ``actor`` may give ``role`` (to someone holding nothing) on some known
        scope of one of the types ``kinds``: asked, with :meth:`may_assign`, of each scope
        where ``actor`` holds a live role and, of each of ``kinds`` below it, of one known
        scope of that type below it and under no restriction (the rules and escalation decide
        there as anywhere else below, barring a restriction), then of the restricted ones."""
        wanted = set(kinds)
        for key in sorted(self.index.cells_of(actor)):
            if not self._held(actor, (key,)):
                continue
            try:
                kind = self.index.scope_type(key)
            except RolecallError:
                continue  # a scope type whose plugin is gone
            places = [key] if kind in wanted else []
            below = wanted & (set(lookups.types_below(self.index, kind)) - {kind})
            restricted = set(lookups.restricted_below(self.index, key))
            locked: list[str] = []
            for descendant in self.index.descendants(key):
                if not below:
                    break
                found = self.index.scope_type(descendant)
                if found not in below:
                    continue
                if restricted & set(self.index.place(descendant)[0]):
                    locked.append(descendant)
                    continue
                below.discard(found)
                places.append(descendant)
            places += locked
            if any(self.allows_assign(actor, role, place) for place in places):
                return True
        return False

    def may_revoke(
        self,
        actor: str,
        user: str,
        role: str,
        scope: str,
        *,
        is_admin: bool,
        revocable_by: tuple[str, ...],
        name_others: bool = True,
    ) -> Refusal | None:
        """May ``actor`` remove ``role`` from ``user`` on ``scope``? ``None`` when allowed.
        ``name_others=False`` leaves the refusal's ``could`` empty (see :meth:`may_assign`)."""

        def could() -> tuple[str, ...]:
            if not name_others:
                return ()
            return tuple(self.could("revoke", role, scope, user=actor))

        if is_admin:
            if actor == user:
                return Refusal(
                    "own-admin-role",
                    f"{actor} cannot remove their own {role} role on {scope}",
                    could(),
                )
            if not lookups.other_admins(self.index, scope, exclude=user):
                return Refusal(
                    "last-admin",
                    f"{user} is the last admin of {scope}: assign another admin there first",
                )
        elif actor == user:
            return None  # anyone may leave a non-admin role
        chain = self.index.place(scope)[0]
        kind = self.index.scope_type(scope)
        rules = self._rules_for("revoke", role, kind)
        held = self._held(actor, chain)
        if not any({r for r, _ in held} & set(rule.holders) for rule in rules):
            # Rights to revoke this role held below the assignment's scope name the guard.
            anywhere = [rule for rule in self.rules.values() if rule.covers(role, "revoke")]
            below = [
                (r, key)
                for key, cell in self.index.cells_of(actor).items()
                if key != scope and scope in self.index.place(key)[0]
                for r in (g.role for g in cell.grants)
                if any(r in rule.holders for rule in anywhere)
            ]
            if below:
                r, key = below[0]
                return Refusal(
                    "lower-scope",
                    f"{actor} may not revoke {role} on {scope}: the assignment is on {scope} and "
                    f"{actor}'s rights come from {r} on {key}, below it",
                    could(),
                )
            return Refusal(
                "delegation",
                f"{actor} may not revoke {role} on {scope}: no delegation rule lets a role "
                f"{actor} holds on {scope} or above revoke it",
                could(),
            )
        if revocable_by and not {r for r, _ in held} & set(revocable_by):
            return Refusal(
                "sensitive-role",
                f"{role} is sensitive: only a holder of {', '.join(revocable_by)} on {scope} or "
                "above may revoke it",
                ()
                if not name_others
                else tuple(
                    u
                    for u in sorted(lookups.users_on(self.index, chain))
                    if {r for r, _ in self._held(u, chain)} & set(revocable_by) and u != actor
                )[:COULD_LIMIT],
            )
        return None

    def describe(self, missing: list[tuple[str, str, str]]) -> str:
        """What :meth:`escalation` found, in words: the first few permissions, each with
        where."""

        def where(place: str, kind: str) -> str:
            if kind == self.index.scope_type(place):
                return f" on {place}"
            return f" on every {kind} of {place}"

        shown = [f"{p}{where(place, kind)}" for p, place, kind in missing[:3]]
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        return f"it grants {', '.join(shown)}{more}"
