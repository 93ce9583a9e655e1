"""The index's tables and their changes (:class:`Tables`), and the records they hold.

Layout:

- ``role -> closed permission set`` comes from the registry;
- ``user -> scope -> Cell``: the grants the user holds at exactly that scope, and the union of
  their roles' permissions, split into permanent permissions and timed ones (with expiry);
- ``scope -> user -> Cell``: the same cells, for "who" queries;
- ``scope -> restriction`` with its denied permissions closed upward (denying ``edit`` also
  denies ``publish``, which implies it);
- the known scopes as a parent -> children map, for "where" queries;
- the users, their pseudonyms (:mod:`.pseudonyms`), custom roles, stored delegation rules and
  the dormant rows (stored rows waiting for an absent plugin).

Changes arrive one at a time, in revision order, from the service after its own writes and
from the change feed for other processes' writes (:mod:`.changes`). The check is compiled by
:class:`~rolecall.core.engine.index.Index`, which extends these tables.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import NamedTuple

from ..errors import BadInputError
from ..records import DelegationRule, DerivedRole, Role
from ..registry import Registry
from ..scopes import show
from ..usernames import skeleton
from .decisions import (
    RestrictionInfo,
    TeamMember,
)
from .pseudonyms import Pseudonyms

log = logging.getLogger("rolecall.engine")

ALL = "*"
"""In a restriction's permission list: every permission of the scope's actions (everything but
the governance permissions, :attr:`Index.governance`)."""
MANAGE_RESTRICTIONS = "platform.manage_restrictions"
"""Declared by the built-in platform plugin, held on the platform: whoever holds it may lift
any restriction, so no restriction stops them seeing a scope and lifting it."""
ADMINISTRATION = (
    MANAGE_RESTRICTIONS,
    "platform.manage_custom_roles",
    "platform.manage_delegation_rules",
    "platform.add_scopes",
    "platform.remove_scopes",
    "platform.retire_users",
)
"""The platform plugin's administration permissions: governance, not a scope's actions."""
PLACES_CACHE_SIZE = 500_000

_Place = tuple[tuple[str, ...], frozenset[str], bool]
"""The check path's view of a scope key: its ancestor chain (itself first), the permissions
that apply to its type, and whether a restriction sits on the chain."""

_EMPTY: frozenset[str] = frozenset()


def _ts(value: datetime | str | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:  # rolecall stores UTC (naive on SQLite, MySQL and MariaDB)
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


class Grant:
    """One assignment held in memory: compact, since there may be millions."""

    __slots__ = ("expires_at", "granted_at", "granted_by", "id", "role")

    def __init__(
        self,
        id: int,
        role: str,
        granted_by: str | None,
        granted_at: float,
        expires_at: float | None,
    ) -> None:
        self.id = id
        self.role = role
        self.granted_by = granted_by
        self.granted_at = granted_at
        self.expires_at = expires_at

    def live(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at > now


class Cell:
    """The grants of one user at one scope and what they allow."""

    __slots__ = ("_grants", "perms", "timed")

    def __init__(
        self,
        grants: tuple[Grant, ...],
        perms: frozenset[str],
        timed: tuple[tuple[float, frozenset[str]], ...],
    ) -> None:
        # Most cells hold one grant: kept without a tuple around it (a million of them).
        self._grants: Grant | tuple[Grant, ...] = grants[0] if len(grants) == 1 else grants
        self.perms = perms
        self.timed = timed

    @property
    def grants(self) -> tuple[Grant, ...]:
        held = self._grants
        return (held,) if isinstance(held, Grant) else held

    def allows(self, permission: str) -> bool:
        if permission in self.perms:
            return True
        if self.timed:
            now = time.time()
            return any(ts > now and permission in ps for ts, ps in self.timed)
        return False


class TimedPerms(frozenset[str]):
    """The permanent permissions of a cell holding a timed grant, which also answers for the
    timed ones while they last. Only such cells pay for a Python-level membership test."""

    __slots__ = ("timed",)
    timed: tuple[tuple[float, frozenset[str]], ...]

    def __contains__(self, permission: object) -> bool:
        if frozenset.__contains__(self, permission):
            return True
        now = time.time()
        return any(ts > now and permission in ps for ts, ps in self.timed)


def _fast(cell: Cell) -> frozenset[str]:
    """What the check path keeps for a cell: the shared permanent set, or a timed view."""
    if not cell.timed:
        return cell.perms
    view = TimedPerms(cell.perms)
    view.timed = cell.timed
    return view


class _Restriction:
    __slots__ = ("denied", "exempt", "permissions", "reason")

    def __init__(
        self,
        permissions: tuple[str, ...],
        denied: frozenset[str],
        exempt: frozenset[str],
        reason: str | None,
    ) -> None:
        self.permissions = permissions
        self.denied = denied
        self.exempt = exempt
        self.reason = reason


class UserRecord:
    __slots__ = ("active", "display_name", "email", "username")

    def __init__(
        self, username: str, email: str | None, display_name: str | None, active: bool
    ) -> None:
        self.username = username
        self.email = email
        self.display_name = display_name
        self.active = active


class Dormant(NamedTuple):
    """A stored row that names a scope type, role or permission no loaded plugin registers: kept
    in the database as it is, granting and denying nothing until its plugin returns.

    ``kind`` is ``assignment``, ``restriction``, ``known_scope`` or ``custom_role``; ``needs``
    says what is missing, as ``scope_type:<namespace>``, ``role:<id>`` or
    ``permission:<id>`` (the service names the plugin that registered it, when it remembers)."""

    kind: str
    user: str | None
    role: str | None
    scope: str | None
    needs: tuple[str, ...]


class Tables:
    """Users, grants, restrictions, roles, rules and known scopes: the data every query reads,
    and its changes. :class:`~rolecall.core.engine.index.Index` adds the check."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.revision = 0
        self.users: dict[str, UserRecord] = {}
        self.keep_users = True
        """False for a loader's index (``Rolecall.open(keep_grants=False)``): of the users,
        only the inactive ones (whom no grant may be given) are kept, with their pseudonyms;
        the loader asks the database about the others, so its memory does not grow with
        them."""
        self.pseudonyms = Pseudonyms()
        """pseudonym -> username (:mod:`rolecall.core.storage.subjects`): how the change
        feed's events name users."""
        self._skeletons: dict[str, str] | None = None  # made on first use by lookalike()
        self.scope_titles: dict[str, str | None] = {}
        self._role_perms: dict[str, frozenset[str]] = dict(registry.role_permissions)
        self._applies: dict[str, frozenset[str]] = {
            p.id: frozenset(p.scope_types) for p in registry.permissions.values()
        }
        self._by_user: dict[str, dict[str, frozenset[str]]] = {}
        """user -> scope -> what the user's grants there allow (the check path's view)."""
        self._by_scope: dict[str, dict[str, Cell]] = {}
        self._restrictions: dict[str, _Restriction] = {}
        implied = registry.implied
        views = frozenset(
            kind.team_permission
            for kind in registry.scope_types.values()
            if kind.team_permission is not None and kind.team_permission in implied
        )
        self.unlockable: frozenset[str] = views | (
            frozenset({MANAGE_RESTRICTIONS}) if MANAGE_RESTRICTIONS in implied else _EMPTY
        )
        """What no restriction denies to a holder of ``platform.manage_restrictions`` on the
        platform: seeing the team of every scope type, and lifting the restriction."""
        self.governance: frozenset[str] = frozenset(
            p
            for p, closed in implied.items()
            if not closed.isdisjoint(views) or p in ADMINISTRATION
        )
        """Governance of a scope rather than its actions: seeing and managing its team (each
        scope type's view-team permission and every permission implying one) and the platform's
        administration (restrictions, custom roles, delegation rules, creating and removing
        scopes, retiring users). A restriction of ``*`` (deny everything) denies the scope's
        actions, never these; a restriction may still name one of them."""
        self._children: dict[str, set[str]] = {}
        self._resolve = registry.scopes.resolve
        self._places: dict[str, _Place] = {}
        self._fast: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {}
        """scope -> (its ancestor chain, itself first; the permissions a check there answers by
        walking the chain alone). Filled by checks, cleared when restrictions change."""
        self._walkable: dict[tuple[frozenset[str], frozenset[str]], frozenset[str]] = {}
        """(applicable, denied) -> applicable less denied: shared by the restricted scopes."""
        self._restriction_generation = 0
        self._derived: dict[str, tuple[DerivedRole, ...]] = {}
        """permission -> the derived roles that give it (consulted after a stored denial)."""
        for derived in registry.derived_roles.values():
            for permission in registry.role_permissions.get(derived.role, ()):
                self._derived[permission] = (*self._derived.get(permission, ()), derived)
        self._teams: dict[str, tuple[tuple[TeamMember, ...], float]] = {}
        """scope -> (its members, the time until which their expired flags hold)."""
        self._below_cache: dict[str, tuple[tuple[str, str], ...]] = {}
        self._below_typed: dict[tuple[str, frozenset[str]], tuple[str, ...]] = {}
        """(scope, scope types) -> itself and its known descendants of those types, sorted."""
        self._restricted_cache: tuple[tuple[int, int], frozenset[str]] | None = None
        self._scopes_generation = 0
        """Bumped whenever the known scopes change."""
        self._folded: tuple[int, dict[str, str]] | None = None
        """(scopes generation, casefolded key -> known key): for "did you mean"."""
        """scope -> itself and its known descendants with their types, sorted."""
        self._type_permissions: dict[str, frozenset[str]] = {}
        self._types_below: dict[str, set[str]] | None = None
        self._unions: dict[frozenset[str], frozenset[str]] = {}
        self.custom_roles: dict[str, Role] = {}
        self.retired_roles: set[str] = set()
        self.stored_rules: dict[str, DelegationRule | None] = {}
        """Rules set at run time by id; ``None`` disables the plugin rule of that id."""
        self._strings: dict[str, str] = {}
        self.dormant: dict[tuple[str, str | None, str | None, str | None], Dormant] = {}
        """Stored rows that wait for an absent plugin, by (kind, user, role, scope)."""
        self.missing_permissions: dict[str, tuple[str, ...]] = {}
        """Custom role -> the permissions it lists that no loaded plugin registers."""
        self._unplaced: dict[str, str] = {}
        """Keys whose scope type is not registered -> the namespace it would have."""

    # ---------------------------------------------------------------- building and changes

    def _intern(self, text: str) -> str:
        return self._strings.setdefault(text, text)

    def _cell(self, grants: tuple[Grant, ...]) -> Cell:
        if len(grants) == 1 and grants[0].expires_at is None:
            # The common case: one permanent grant allows what its role allows.
            return Cell(grants, self._role_perms.get(grants[0].role, _EMPTY), ())
        permanent = frozenset(g.role for g in grants if g.expires_at is None)
        perms = self._unions.get(permanent)
        if perms is None:
            perms = frozenset().union(*(self._role_perms.get(r, _EMPTY) for r in permanent))
            self._unions[permanent] = perms
        timed = tuple(
            (g.expires_at, self._role_perms.get(g.role, _EMPTY))
            for g in grants
            if g.expires_at is not None
        )
        return Cell(grants, perms, timed)

    def placeable(self, key: str) -> bool:
        """Whether ``key`` parses with the scope types registered now. A stored key of a type
        whose plugin is absent does not: its rows are dormant."""
        if key in self._places or key in self.scope_titles or key in self._by_scope:
            return True
        if key in self._unplaced:
            return False
        try:
            self._resolve(key)
        except BadInputError:
            self._unplaced[key] = key.partition(":")[0]
            return False
        return True

    def _needs(self, role: str | None, scope: str | None) -> tuple[str, ...]:
        """What a stored row naming ``role`` and ``scope`` lacks to be placed, if anything."""
        needs = []
        if scope is not None and not self.placeable(scope):
            needs.append(f"scope_type:{self._unplaced[scope]}")
        if role is not None and role not in self._role_perms:
            needs.append(f"role:{role}")
        return tuple(needs)

    def _set_dormant(
        self,
        kind: str,
        user: str | None,
        role: str | None,
        scope: str | None,
        needs: tuple[str, ...],
    ) -> None:
        self.dormant[(kind, user, role, scope)] = Dormant(kind, user, role, scope, needs)

    def _know(self, key: str) -> None:
        chain = self._resolve(key).chain
        for child, parent in itertools.pairwise(chain):
            children = self._children.setdefault(parent, set())
            if child in children:
                break
            children.add(child)
            self._scopes_generation += 1
            if self._below_cache:
                self._below_cache.clear()
                self._below_typed.clear()

    def _set_grants(self, user: str, scope: str, grants: tuple[Grant, ...]) -> None:
        self._teams.pop(scope, None)
        cells = self._by_user.setdefault(user, {})
        members = self._by_scope.setdefault(scope, {})
        if grants:
            cell = self._cell(grants)
            cells[scope] = _fast(cell)
            members[user] = cell
        else:
            cells.pop(scope, None)
            members.pop(user, None)
            if not members:
                del self._by_scope[scope]
            if not cells:
                del self._by_user[user]

    def add_user(
        self,
        username: str,
        email: str | None = None,
        display_name: str | None = None,
        active: bool = True,
        pseudonym: str | None = None,
    ) -> None:
        if active and not self.keep_users:
            if self.users.pop(username, None) is not None:  # active again: forgotten
                while (known := self.pseudonyms.of(username)) is not None:
                    del self.pseudonyms[known]
            return
        self.users[username] = UserRecord(self._intern(username), email, display_name, active)
        if pseudonym is not None:
            self.pseudonyms[pseudonym] = username
        if self._skeletons is not None:
            self._skeletons.setdefault(skeleton(username), username)

    def erase_user(self, username: str, retired: str, pseudonym: str | None = None) -> None:
        """``username`` was erased: it is known as ``retired`` from now on (inactive, with no
        e-mail or name), and the grants it made name ``retired`` as their granter. The user
        holds no grant any more (they were removed first)."""
        if username in self.users:
            del self.users[username]
            self._skeletons = None  # rebuilt without the old name on next use
        while (known := self.pseudonyms.of(username)) is not None:
            pseudonym = pseudonym or known
            del self.pseudonyms[known]
        self.add_user(retired, None, None, False, pseudonym)
        for members in self._by_scope.values():
            for cell in members.values():
                for grant in cell.grants:
                    if grant.granted_by == username:
                        grant.granted_by = retired
        self._teams.clear()

    def add_scope(self, key: str, title: str | None = None) -> None:
        if not self.placeable(key):
            self._set_dormant("known_scope", None, None, key, self._needs(None, key))
            return
        self._know(key)
        self.scope_titles[key] = title

    def forget_scope(self, key: str) -> None:
        """Drop ``key`` and its known descendants from the known scopes (after their grants
        and restrictions were removed), and ancestors left with nothing below or on them."""
        if not self.placeable(key):
            for entry in [e for e in self.dormant if e[3] == key]:
                del self.dormant[entry]
            return
        self._below_cache.clear()
        self._below_typed.clear()
        self._scopes_generation += 1
        for gone in (key, *self.descendants(key)):
            self.scope_titles.pop(gone, None)
            self._children.pop(gone, None)
        chain = self._resolve(key).chain
        for child, parent in itertools.pairwise(chain):
            siblings = self._children.get(parent)
            if siblings is not None:
                siblings.discard(child)
            if (
                parent == "platform"
                or siblings
                or parent in self.scope_titles
                or parent in self._by_scope
                or parent in self._restrictions
            ):
                break
            self._children.pop(parent, None)

    def descendants(self, key: str) -> Iterator[str]:
        """Known scopes below ``key`` (not ``key`` itself)."""
        stack = list(self._children.get(key, ()))
        while stack:
            child = stack.pop()
            yield child
            stack.extend(self._children.get(child, ()))

    def known_scopes(self) -> list[str]:
        return sorted({"platform", *self.descendants("platform")})

    def is_known_scope(self, key: str) -> bool:
        """Whether ``key`` (as resolved) is a known scope: the platform, a recorded scope, one
        holding a grant or a restriction, or an ancestor of one."""
        try:
            chain = self._resolve(key).chain
        except BadInputError:
            return False
        return len(chain) < 2 or key in self._children.get(chain[1], ())

    def put_grants(
        self,
        rows: Iterable[tuple[int, str, str, str, str | None, float, float | None]],
    ) -> None:
        """Add or replace many grants, each (id, user, role, scope, granted_by, granted_at,
        expires_at) with times in epoch seconds: what :func:`.changes.apply_many` does with their
        ``assign`` events, without reading the events back. A new cell of one permanent grant
        (nearly all of a bulk write's) is built in place; any other goes through the general
        merge."""
        intern = self._strings.setdefault
        titles = self.scope_titles
        by_scope = self._by_scope
        by_user = self._by_user
        role_perms = self._role_perms
        teams = self._teams
        for grant_id, user, role, scope, granted_by, granted_at, expires_at in rows:
            user, role, scope = intern(user, user), intern(role, role), intern(scope, scope)
            if scope not in titles:  # a scope with a title entry is known already
                self._know(scope)
            grant = Grant(
                grant_id,
                role,
                intern(granted_by, granted_by) if granted_by else None,
                granted_at,
                expires_at,
            )
            members = by_scope.get(scope)
            old = members.get(user) if members is not None else None
            if old is None and expires_at is None:
                if teams:
                    teams.pop(scope, None)
                cell = Cell((grant,), role_perms.get(role, _EMPTY), ())
                cells = by_user.get(user)
                if cells is None:
                    cells = by_user[user] = {}
                cells[scope] = cell.perms
                if members is None:
                    members = by_scope[scope] = {}
                members[user] = cell
            elif old is None:
                self._set_grants(user, scope, (grant,))
            else:
                kept = tuple(g for g in old.grants if g.role != role)
                self._set_grants(user, scope, (*kept, grant))

    def drop_grant(self, user: str, role: str, scope: str) -> None:
        self.dormant.pop(("assignment", user, role, scope), None)
        old = self._by_scope.get(scope, {}).get(user)
        if old is not None:
            self._set_grants(user, scope, tuple(g for g in old.grants if g.role != role))

    def put_restriction(
        self,
        scope: str,
        permissions: Iterable[str],
        exempt_roles: Iterable[str],
        reason: str | None,
    ) -> None:
        listed = tuple(permissions)
        unknown = tuple(p for p in listed if p != ALL and p not in self._applies)
        if not self.placeable(scope):
            self._set_dormant("restriction", None, None, scope, self._needs(None, scope))
            return
        if unknown:
            # The rest of it holds: a deny is never dropped because part of it waits.
            needs = tuple(f"permission:{p}" for p in unknown)
            self._set_dormant("restriction", None, None, scope, needs)
        else:
            self.dormant.pop(("restriction", None, None, scope), None)
        self._know(scope)
        denied = self.denied_by(listed)
        self._restrictions[scope] = _Restriction(listed, denied, frozenset(exempt_roles), reason)
        self._restriction_generation += 1
        self._places.clear()  # the "restricted" flag of cached scopes may have changed
        self._fast.clear()
        self._walkable.clear()

    def denied_by(self, listed: Iterable[str]) -> frozenset[str]:
        """What a restriction listing ``listed`` denies: ``*`` every permission but the
        governance ones; else each listed permission and every permission implying one (denying
        ``edit`` denies ``publish``). ``platform.manage_restrictions`` is never denied: nobody
        could lift the restriction then."""
        wanted = set(listed)
        if ALL in wanted:
            denied = frozenset(self._applies) - self.governance
        else:
            denied = frozenset(p for p, closed in self.registry.implied.items() if closed & wanted)
        return denied - {MANAGE_RESTRICTIONS}

    def restriction(self, scope: str) -> RestrictionInfo | None:
        """The restriction placed at exactly ``scope``, if any."""
        r = self._restrictions.get(scope)
        if r is None:
            return None
        return RestrictionInfo(
            scope=scope,
            permissions=r.permissions,
            exempt_roles=tuple(sorted(r.exempt)),
            reason=r.reason,
        )

    def restrictions(self) -> list[RestrictionInfo]:
        return [info for key in sorted(self._restrictions) if (info := self.restriction(key))]

    def drop_restriction(self, scope: str) -> None:
        self.dormant.pop(("restriction", None, None, scope), None)
        if self._restrictions.pop(scope, None) is not None:
            self._restriction_generation += 1
            self._places.clear()
            self._fast.clear()
            self._walkable.clear()

    def define_role(self, role: Role, *, retired: bool = False) -> None:
        """Add or change a custom role; cells holding it are rebuilt with its new permissions.
        Permissions no loaded plugin registers are left out (and listed in
        :attr:`missing_permissions`): the role keeps the others."""
        implied = self.registry.implied
        missing = tuple(p for p in role.permissions if p not in implied)
        if missing:
            self.missing_permissions[role.id] = missing
            needs = tuple(f"permission:{p}" for p in missing)
            self._set_dormant("custom_role", None, role.id, None, needs)
        else:
            self.missing_permissions.pop(role.id, None)
            self.dormant.pop(("custom_role", None, role.id, None), None)
        closed = frozenset().union(*(implied[p] for p in role.permissions if p in implied))
        self.custom_roles[role.id] = role
        if retired:
            self.retired_roles.add(role.id)
        else:
            self.retired_roles.discard(role.id)
        if self._role_perms.get(role.id) != closed:
            self._role_perms[role.id] = closed
            self._unions.clear()
            self._rebuild_cells_holding(role.id)

    def drop_role(self, role_id: str) -> None:
        self.missing_permissions.pop(role_id, None)
        self.dormant.pop(("custom_role", None, role_id, None), None)
        self.custom_roles.pop(role_id, None)
        self.retired_roles.discard(role_id)
        if self._role_perms.pop(role_id, None) is not None:
            self._unions.clear()
            self._rebuild_cells_holding(role_id)

    def _rebuild_cells_holding(self, role_id: str) -> None:
        for scope, members in list(self._by_scope.items()):
            for user, cell in list(members.items()):
                if any(g.role == role_id for g in cell.grants):
                    self._set_grants(user, scope, cell.grants)

    def set_rule(self, rule_id: str, rule: DelegationRule | None) -> None:
        self.stored_rules[rule_id] = rule

    def rules(self) -> dict[str, DelegationRule]:
        """The delegation rules in force: the plugins', replaced or disabled by stored ones."""
        merged = dict(self.registry.rules)
        for rule_id, rule in self.stored_rules.items():
            if rule is None:
                merged.pop(rule_id, None)
            else:
                merged[rule_id] = rule
        return merged

    # ---------------------------------------------------------------- validation

    def require_user(self, user: str) -> UserRecord:
        record = self.users.get(user)
        if record is None:
            raise BadInputError(f"unknown user {show(user)}; add it with `rolecall users add`")
        return record

    def require_permission(self, permission: str) -> frozenset[str]:
        applies = self._applies.get(permission)
        if applies is None:
            self.registry.permission(permission)  # raises the documented error
        assert applies is not None
        return applies
