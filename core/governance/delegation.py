"""Delegation: may this actor assign or revoke this role on this scope?

An actor acting as a user (the console, `rolecall assign --as`) is allowed a change when a
delegation rule lets a role the actor holds, on the scope or above it, make it; and the guards
all pass:

- no escalation: an actor grants a role only if it holds every permission of that role there;
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

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
            r for r in self.rules.values() if r.covers(role, action) and scope_type in r.scope_types
        ]

    def _missing(self, actor: str, role: str, scope: str) -> list[str]:
        """The permissions of ``role`` that apply at ``scope`` and ``actor`` lacks there."""
        applicable = self.index.applicable(scope)
        check = self.index.check
        return sorted(
            p for p in self.index.role_permissions(role) & applicable if not check(actor, p, scope)
        )

    def could(self, action: str, role: str, scope: str, *, user: str | None = None) -> list[str]:
        """Users a rule lets make this change (and, for an assignment, who hold the role's
        permissions there), at most a few."""
        place = self.index.place(scope)
        chain, kind = place[0], self.index.scope_type(scope)
        holders = {h for r in self._rules_for(action, role, kind) for h in r.holders}
        found = []
        for candidate in sorted(self.index.users_on(chain)):
            if candidate == user:
                continue
            held = {r for r, _ in self._held(candidate, chain)}
            if not held & holders:
                continue
            if action == "assign" and self._missing(candidate, role, scope):
                continue
            found.append(candidate)
            if len(found) == COULD_LIMIT:
                break
        return found

    # ------------------------------------------------------------------ decisions

    def may_assign(self, actor: str, role: str, scope: str) -> Refusal | None:
        chain = self.index.place(scope)[0]
        kind = self.index.scope_type(scope)
        held = {r for r, _ in self._held(actor, chain)}
        if not any(held & set(rule.holders) for rule in self._rules_for("assign", role, kind)):
            return Refusal(
                "delegation",
                f"{actor} may not assign {role} on {scope}: no delegation rule lets a role "
                f"{actor} holds on {scope} or above assign it",
                tuple(self.could("assign", role, scope)),
            )
        missing = self._missing(actor, role, scope)
        if missing:
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            return Refusal(
                "no-escalation",
                f"{actor} may not assign {role} on {scope}: it grants {', '.join(missing[:3])}"
                f"{more}, which {actor} does not hold there",
                tuple(self.could("assign", role, scope)),
            )
        return None

    def may_revoke(
        self,
        actor: str,
        user: str,
        role: str,
        scope: str,
        *,
        is_admin: bool,
        revocable_by: tuple[str, ...],
    ) -> Refusal | None:
        if is_admin:
            if actor == user:
                return Refusal(
                    "own-admin-role",
                    f"{actor} cannot remove their own {role} role on {scope}",
                    tuple(self.could("revoke", role, scope, user=actor)),
                )
            if not self.index.other_admins(scope, exclude=user):
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
                    tuple(self.could("revoke", role, scope, user=actor)),
                )
            return Refusal(
                "delegation",
                f"{actor} may not revoke {role} on {scope}: no delegation rule lets a role "
                f"{actor} holds on {scope} or above revoke it",
                tuple(self.could("revoke", role, scope, user=actor)),
            )
        if revocable_by and not {r for r, _ in held} & set(revocable_by):
            return Refusal(
                "sensitive-role",
                f"{role} is sensitive: only a holder of {', '.join(revocable_by)} on {scope} or "
                "above may revoke it",
                tuple(
                    u
                    for u in sorted(self.index.users_on(chain))
                    if {r for r, _ in self._held(u, chain)} & set(revocable_by) and u != actor
                )[:COULD_LIMIT],
            )
        return None
