"""What-if: who would gain and who would lose which permissions where, computed without writing.

    from rolecall.core.governance.whatif import what_if_assign

    impact = what_if_assign(rc.index, [("ada", "course_staff", "course-v1:MITx+6.002x+2026_T1")])
    print("\\n".join(impact.summary()))

Each function reads a compiled :class:`Index` and changes nothing, neither the index nor the
database. The hypothetical state is built on the side: the affected users' grants are copied
into local dictionaries, the proposed grants are added or removed there (or the role's
permission set is replaced), and the decision rule of ``docs/engine.md`` is evaluated over that
copy, restrictions (with their exempt roles) and expiry included. "Before" is the index's own
:meth:`Index.check`.

Where: a change at a scope also reaches the scopes below it, so for every (user, scope) an
operation touches, the scope itself and every *known* scope below it are evaluated, each with
the permissions that apply to its own type (a course role assigned on an org grants nothing at
the org itself, but something on each of its courses). Scopes not known yet (a course created
later) are not listed, although an org or platform grant will cover them too.

The index is read without its service's lock: pass an index that is not being changed, or
accept an answer as of some moment of the catch-up (the CLI and tests are single-threaded).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from ..engine import lookups
from ..engine.index import Grant, Index
from ..errors import BadInputError
from .custom_roles import role_of

Row = tuple[str, str, str]
"""(user, role, scope) as the service's ``assign_many`` takes them."""

_Grants = dict[str, tuple[Grant, ...]]
"""One user's grants, scope key -> grants there: a hypothetical copy of the index's cells."""

SUMMARY_SCOPES = 3
"""How many scope keys one summary line names before it says "and N more"."""


class Change(BaseModel):
    """What one user gains and loses at one scope. ``via`` is the scope the operation touched
    (an assignment's, a revocation's, a role holder's) that ``scope`` is at or below: the
    same as ``scope`` for the touched scope itself."""

    model_config = ConfigDict(frozen=True)

    user: str
    scope: str
    gains: tuple[str, ...] = ()
    loses: tuple[str, ...] = ()
    via: str | None = None

    def words(self) -> str:
        """The change in words: ``gains a, b and loses c``, or either half alone."""
        parts = []
        if self.gains:
            parts.append(f"gains {', '.join(self.gains)}")
        if self.loses:
            parts.append(f"loses {', '.join(self.loses)}")
        return " and ".join(parts)


class Impact(BaseModel):
    """Every (user, scope) whose permissions would change, sorted by user then scope; a
    (user, scope) that would not change is left out, so an empty impact changes nothing."""

    model_config = ConfigDict(frozen=True)

    changes: tuple[Change, ...] = ()

    def change(self, user: str, scope: str) -> Change | None:
        """The change of ``user`` at exactly ``scope``, if any."""
        return next((c for c in self.changes if c.user == user and c.scope == scope), None)

    def summary(self) -> list[str]:
        """Human lines, one per user, touched scope and identical change, for example
        ``ada gains t.edit, t.view on course-v1:MITx+6.002x+2026_T1 (and below)``.

        "(and below)": known scopes below the touched scope change the same way (scopes below
        it that change differently have lines of their own); "(below org:MITx)": the scopes
        named change because of what the operation does on org:MITx."""
        if not self.changes:
            return ["no one gains or loses any permission"]
        groups: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], list[str]] = {}
        for c in self.changes:
            via = c.via or c.scope
            groups.setdefault((c.user, via, c.gains, c.loses), []).append(c.scope)
        lines = []
        for (user, via, gains, loses), scopes in sorted(
            groups.items(), key=lambda item: (item[0][:2], item[0][1] not in item[1], item[1][0])
        ):
            words = Change(user=user, scope=via, gains=gains, loses=loses).words()
            lines.append(f"{user} {words} on {_places(via, sorted(scopes))}")
        return lines


def _places(via: str, scopes: list[str]) -> str:
    if via in scopes:
        return f"{via} (and below)" if len(scopes) > 1 else via
    named = scopes[:SUMMARY_SCOPES]
    if len(scopes) > SUMMARY_SCOPES:
        text = f"{', '.join(named)} and {len(scopes) - SUMMARY_SCOPES} more scopes"
    elif len(named) > 1:
        text = f"{', '.join(named[:-1])} and {named[-1]}"
    else:
        text = named[0]
    return f"{text} (below {via})"


# ---------------------------------------------------------------------- the hypothetical rule


_Denial = tuple[frozenset[str], frozenset[str]]
"""A restriction as the rule uses it: (the permissions it denies, closed upward: denying
``edit`` denies ``publish``, which implies it; its exempt roles)."""


class _Rule:
    """The decision rule over hypothetical grants, with the index's scopes, restrictions and
    (unless replaced) role permissions; one clock for the whole evaluation."""

    def __init__(
        self, index: Index, role_permissions: Callable[[str], frozenset[str]] | None = None
    ) -> None:
        self.index = index
        self.role_permissions = role_permissions or index.role_permissions
        self.now = time.time()
        self._denials: dict[str, _Denial | None] = {}
        self._held: dict[frozenset[str], frozenset[str]] = {}

    def _denial(self, key: str) -> _Denial | None:
        if key not in self._denials:
            info = self.index.restriction(key)
            denial = None
            if info is not None:
                denial = (self.index.denied_by(info.permissions), frozenset(info.exempt_roles))
            self._denials[key] = denial
        return self._denials[key]

    def restrictions(self, chain: tuple[str, ...]) -> list[_Denial]:
        """The restrictions on ``chain`` (the scope and its ancestors)."""
        return [d for key in chain if (d := self._denial(key)) is not None]

    def allowed(
        self, grants: Mapping[str, tuple[Grant, ...]], scope: str, wanted: frozenset[str]
    ) -> frozenset[str]:
        """Of ``wanted`` (permissions that apply to the scope's type), those the decision rule
        allows: held through a role of a live grant on the scope's chain, and denied by no
        restriction on the chain unless the user holds one of its exempt roles, live, on the
        chain."""
        chain = self.index.place(scope)[0]
        now = self.now
        live = frozenset(g.role for key in chain for g in grants.get(key, ()) if g.live(now))
        held = self._held.get(live)
        if held is None:
            held = self._held[live] = frozenset().union(*map(self.role_permissions, live))
        allowed = held & wanted
        restrictions = self.restrictions(chain) if allowed else []
        if restrictions:
            # No restriction denies its lifters what they need to see a scope and lift it.
            on_platform = (g.role for g in grants.get("platform", ()) if g.live(now))
            unlocked = lookups.unlocked(self.index, on_platform)
            for denied, exempt in restrictions:
                if exempt.isdisjoint(live):
                    allowed -= denied - unlocked
        return allowed


def _grants_of(index: Index, user: str) -> _Grants:
    return {key: cell.grants for key, cell in index.cells_of(user).items()}


def _impact(
    index: Index,
    rule: _Rule,
    touched: Mapping[str, set[str]],
    after: Mapping[str, Mapping[str, tuple[Grant, ...]]],
    relevant: frozenset[str],
    exempting: frozenset[str],
) -> Impact:
    """Compare ``index.check`` with ``rule`` over ``after`` for each user in ``touched``, at its
    touched scopes and every known scope below them.

    Only permissions in ``relevant`` can change, except where a restriction on the chain
    exempts a role in ``exempting`` (roles gained or lost: then any denied permission may
    change, so every applicable one is compared)."""
    check = index.check
    changes = []
    for user in sorted(touched):
        roots = touched[user]
        grants = after[user]
        where = set(roots)
        for root in roots:
            where.update(index.descendants(root))
        for scope in sorted(where):
            chain, applicable, _ = index.place(scope)
            wanted = applicable & relevant
            if exempting and any(
                not exempting.isdisjoint(exempt) for _, exempt in rule.restrictions(chain)
            ):
                wanted = applicable
            if not wanted:
                continue
            before = {p for p in wanted if check(user, p, scope)}
            now = rule.allowed(grants, scope, wanted)
            if before != now:
                changes.append(
                    Change(
                        user=user,
                        scope=scope,
                        gains=tuple(sorted(now - before)),
                        loses=tuple(sorted(before - now)),
                        via=next(key for key in chain if key in roots),
                    )
                )
    return Impact(changes=tuple(changes))


def _row(index: Index, user: str, role: str, scope: str) -> Row:
    """Validate one row as the service would; return it with the role id and canonical key."""
    index.require_user(user)
    definition = role_of(index, index.registry, role)
    if definition.id in index.retired_roles:
        raise BadInputError(f"role {definition.id} is retired: it cannot be assigned")
    resolved = index.registry.scopes.resolve(scope)
    if resolved.type not in definition.scope_types:
        raise BadInputError(
            f"role {definition.id} cannot be assigned at a {resolved.type} scope; it can be "
            f"assigned at: {', '.join(definition.scope_types)}"
        )
    return user, definition.id, resolved.key


def _role_id(index: Index, role: str) -> str:
    """The id of a plugin or custom role named by id or alias; the documented error if none."""
    return role_of(index, index.registry, role).id


# ---------------------------------------------------------------------- the public functions


def what_if_assign(
    index: Index, rows: Iterable[Row], *, expires_at: datetime | None = None
) -> Impact:
    """What granting each (user, role, scope) of ``rows`` would change, as
    ``Rolecall.assign_many(rows, expires_at=expires_at)`` would write it: for each user, the
    permissions they do not have now at a touched scope (or a known scope below it) and would
    have after. A row whose grant exists already changes nothing, unless that grant has
    expired (assigning again renews it). Bad rows raise :class:`BadInputError`, as the service
    would."""
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise BadInputError("the expiry needs a time zone (for example 2027-01-31T00:00Z)")
        if expires_at <= datetime.now(UTC):
            raise BadInputError(f"the expiry {expires_at.isoformat()} is in the past")
    rule = _Rule(index)
    expiry = None if expires_at is None else expires_at.timestamp()
    touched: dict[str, set[str]] = {}
    after: dict[str, _Grants] = {}
    roles: set[str] = set()
    for user, role, scope in dict.fromkeys(_row(index, *row) for row in rows):
        grants = after.get(user)
        if grants is None:
            grants = after[user] = _grants_of(index, user)
        kept = tuple(g for g in grants.get(scope, ()) if g.role != role)
        grants[scope] = (*kept, Grant(0, role, None, rule.now, expiry))
        touched.setdefault(user, set()).add(scope)
        roles.add(role)
    relevant = frozenset().union(*(index.role_permissions(r) for r in roles))
    return _impact(index, rule, touched, after, relevant, frozenset(roles))


def what_if_revoke(index: Index, rows: Iterable[Row]) -> Impact:
    """What revoking each (user, role, scope) of ``rows`` would change: the permissions each
    user has now at a touched scope (or a known scope below it) and would not have once those
    grants are gone; none where another grant on the scope's chain still gives them. A row
    naming a grant that does not exist raises :class:`BadInputError`, as
    ``Rolecall.revoke`` would."""
    rule = _Rule(index)
    touched: dict[str, set[str]] = {}
    after: dict[str, _Grants] = {}
    roles: set[str] = set()
    wanted = dict.fromkeys(
        (user, _role_id(index, role), index.registry.scopes.resolve(scope).key)
        for user, role, scope in rows
    )
    for user, role_id, key in wanted:
        index.require_user(user)
        grants = after.get(user)
        if grants is None:
            grants = after[user] = _grants_of(index, user)
        held = grants.get(key, ())
        if not any(g.role == role_id for g in held):
            raise BadInputError(f"{user} does not hold {role_id} on {key}")
        grants[key] = tuple(g for g in held if g.role != role_id)
        touched.setdefault(user, set()).add(key)
        roles.add(role_id)
    relevant = frozenset().union(*(index.role_permissions(r) for r in roles))
    return _impact(index, rule, touched, after, relevant, frozenset(roles))


def what_if_role_change(index: Index, role_id: str, new_permissions: frozenset[str]) -> Impact:
    """What every holder of ``role_id`` would gain and lose if the role's closed permission set
    became ``new_permissions`` (closed under implication here, as the registry closes a role's
    permissions): for each grant of the role, at its scope and every known scope below it.
    For custom role edits. Unregistered permissions raise :class:`BadInputError`.

    v1 ignores inclusion: holders of roles that include ``role_id`` would be affected too and
    are not listed."""
    role_id = _role_id(index, role_id)
    for permission in new_permissions:
        index.require_permission(permission)
    implied = index.registry.implied
    closed = frozenset().union(*(implied[p] for p in new_permissions))
    old = index.role_permissions(role_id)

    def role_permissions(role: str) -> frozenset[str]:
        return closed if role == role_id else index.role_permissions(role)

    rule = _Rule(index, role_permissions)
    touched: dict[str, set[str]] = {}
    after: dict[str, _Grants] = {}
    for user in list(index.users):
        held = {
            key
            for key, cell in index.cells_of(user).items()
            if any(g.role == role_id for g in cell.grants)
        }
        if held:
            touched[user] = held
            after[user] = _grants_of(index, user)
    return _impact(index, rule, touched, after, old | closed, frozenset())
