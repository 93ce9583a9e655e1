"""The compiled in-memory index every query reads.

Layout (DESIGN.md section 4):

- ``role -> closed permission set`` comes from the registry;
- ``user -> scope -> Cell``: the grants the user holds at exactly that scope, and the union of
  their roles' permissions, split into permanent permissions and timed ones (with expiry);
- ``scope -> user -> Cell``: the same cells, for "who" queries;
- ``scope -> restriction`` with its denied permissions closed upward (denying ``edit`` also
  denies ``publish``, which implies it);
- the known scopes as a parent -> children map, for "where" queries.

A check resolves the scope key once (cached by the registry's resolver), walks its ancestor
chain and does set lookups: no hook call, no database read, no parsing after the first sight of
a key. Changes arrive one at a time through :meth:`Index.apply`, in revision order, from the
service after its own writes and from the change feed for other processes' writes.
"""

from __future__ import annotations

import itertools
import logging
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from ..errors import BadInputError
from ..records import DelegationRule, DerivedRole, Role
from ..registry import Registry
from ..scopes import show
from ..usernames import skeleton
from .decisions import (
    AccessEntry,
    Contribution,
    Decision,
    DerivedInfo,
    GrantInfo,
    RestrictionInfo,
    Team,
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
_GRANT_FIELDS = set(GrantInfo.model_fields)
_TEAM_FIELDS = set(TeamMember.model_fields)
"""Shared by the cached team records (frozen, every field given): one set, not one each."""


def _ts(value: datetime | str | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:  # rolecall stores UTC (naive on SQLite, MySQL and MariaDB)
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _holds(ordered: list[str], key: str) -> bool:
    """Whether the sorted list ``ordered`` holds ``key``."""
    at = bisect_left(ordered, key)
    return at < len(ordered) and ordered[at] == key


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


class Index:
    """Users, grants, restrictions and known scopes, compiled for fast queries."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.revision = 0
        self.users: dict[str, UserRecord] = {}
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
        self.check: Callable[[str, str, str], bool] = self._compile_check()
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

    def lookalike(self, name: str) -> str | None:
        """A known user whose name is a look-alike of ``name`` but not ``name`` itself
        (:func:`rolecall.core.usernames.skeleton`), or None."""
        if self._skeletons is None:
            found: dict[str, str] = {}
            for known in self.users:
                found.setdefault(skeleton(known), known)
            self._skeletons = found
        other = self._skeletons.get(skeleton(name))
        return other if other is not None and other != name else None

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

    def put_grant(
        self,
        user: str,
        role: str,
        scope: str,
        *,
        id: int,
        granted_by: str | None,
        granted_at: datetime | str,
        expires_at: datetime | str | None,
    ) -> None:
        """Add or replace the grant of ``role`` to ``user`` at ``scope``."""
        self.apply_many(
            [
                (
                    self.revision,
                    "assign",
                    user,
                    role,
                    scope,
                    {
                        "id": id,
                        "granted_by": granted_by,
                        "granted_at": granted_at,
                        "expires_at": expires_at,
                    },
                )
            ]
        )

    def load_grants(
        self,
        rows: Iterable[tuple[int, str, str, str, str | None, Any, Any]],
    ) -> int:
        """Bulk-load (id, user, role, scope, granted_by, granted_at, expires_at) rows into an
        index that holds no grants yet: grouped first, so each cell is built once. Times may
        be datetimes or the text SQLite stores (UTC); each distinct value converts once and
        its float is shared."""
        intern = self._strings.setdefault
        seen: set[str] = set()
        groups: dict[tuple[str, str], list[Grant]] = {}
        times: dict[Any, float] = {}

        def epoch(value: Any) -> float:
            found = times.get(value)
            if found is None:
                if isinstance(value, str):
                    moment = datetime.fromisoformat(value)
                    if moment.tzinfo is None:
                        moment = moment.replace(tzinfo=UTC)
                    found = moment.timestamp()
                elif value.tzinfo is None:  # MySQL's DATETIME comes back naive: UTC
                    found = value.replace(tzinfo=UTC).timestamp()
                else:
                    found = value.timestamp()
                times[value] = found  # keyed by the value as read: one float per time
            return found

        count = 0
        role_perms = self._role_perms
        for grant_id, user, role, scope, granted_by, granted_at, expires_at in rows:
            count += 1
            if scope not in seen:
                if not self.placeable(scope):
                    self._set_dormant("assignment", user, role, scope, self._needs(role, scope))
                    continue
                seen.add(scope)
                self._know(scope)
            if role not in role_perms:
                self._set_dormant("assignment", user, role, scope, self._needs(role, scope))
                continue
            grant = Grant(
                grant_id,
                intern(role, role),
                intern(granted_by, granted_by) if granted_by else None,
                epoch(granted_at),
                None if expires_at is None else epoch(expires_at),
            )
            key = (intern(user, user), intern(scope, scope))
            group = groups.get(key)
            if group is None:
                groups[key] = [grant]
            else:
                group.append(grant)
        for (user, scope), grants in groups.items():
            self._set_grants(user, scope, tuple(grants))
        return count

    def put_grants(
        self,
        rows: Iterable[tuple[int, str, str, str, str | None, float, float | None]],
    ) -> None:
        """Add or replace many grants, each (id, user, role, scope, granted_by, granted_at,
        expires_at) with times in epoch seconds: what :meth:`apply_many` does with their
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

    def lifts_restrictions(self, user: str) -> bool:
        """Whether ``user`` holds ``platform.manage_restrictions`` on the platform, unexpired
        (no restriction denies it): such a user may lift every restriction, so none denies them
        :attr:`unlockable`."""
        perms = self._by_user.get(user, {}).get("platform")
        return perms is not None and MANAGE_RESTRICTIONS in perms

    def unlocked(self, roles: Iterable[str]) -> frozenset[str]:
        """:attr:`unlockable` when one of ``roles``, held on the platform, gives
        ``platform.manage_restrictions``; else nothing."""
        perms = self._role_perms
        if any(MANAGE_RESTRICTIONS in perms.get(r, _EMPTY) for r in roles):
            return self.unlockable
        return _EMPTY

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

    def apply_many(
        self, events: Iterable[tuple[int, str, str | None, str | None, str | None, Any]]
    ) -> None:
        """Apply changes in order; runs of grants are merged per (user, scope) so a bulk
        assignment builds each cell once."""
        pending: dict[tuple[str, str], dict[str, Grant]] = {}

        by_scope = self._by_scope
        titles = self.scope_titles

        def flush() -> None:
            for (user, scope), added in pending.items():
                members = by_scope.get(scope)
                old = members.get(user) if members is not None else None
                if old is None:
                    self._set_grants(user, scope, tuple(added.values()))
                else:
                    kept = tuple(g for g in old.grants if g.role not in added)
                    self._set_grants(user, scope, (*kept, *added.values()))
            pending.clear()

        intern = self._strings.setdefault
        times: dict[Any, float | None] = {None: None}

        def epoch(value: Any) -> float | None:
            # A bulk write gives its rows one time: each distinct text is parsed once.
            if value in times:
                return times[value]
            found = times[value] = _ts(value)
            return found

        newest = self.revision
        for revision, action, user, role, scope, details in events:
            if revision > newest:
                newest = revision
            if details.get("op", action) == "assign" and user and role and scope:
                user, role, scope = intern(user, user), intern(role, role), intern(scope, scope)
                if scope not in titles and scope not in by_scope:
                    if not self.placeable(scope):
                        self._set_dormant("assignment", user, role, scope, self._needs(role, scope))
                        continue
                    self._know(scope)
                if role not in self._role_perms:
                    self._set_dormant("assignment", user, role, scope, self._needs(role, scope))
                    continue
                by = details.get("granted_by")
                pending.setdefault((user, scope), {})[role] = Grant(
                    details["id"],
                    role,
                    intern(by, by) if by else None,
                    epoch(details["granted_at"]) or 0.0,
                    epoch(details.get("expires_at")),
                )
            else:
                flush()
                self._apply_other(action, user, role, scope, details)
                self.revision = newest
        flush()
        self.revision = newest

    def apply(
        self,
        revision: int,
        action: str,
        user: str | None,
        role: str | None,
        scope: str | None,
        details: Mapping[str, Any],
    ) -> None:
        """Apply one change from the audit log (the change feed)."""
        self.apply_many([(revision, action, user, role, scope, details)])

    def _apply_other(
        self,
        action: str,
        user: str | None,
        role: str | None,
        scope: str | None,
        details: Mapping[str, Any],
    ) -> None:
        """Every change but a grant (which :meth:`apply_many` merges per cell)."""
        op = details.get("op", action)
        # Each action carries the fields it needs; absent ones are never read.
        user, role, scope = user or "", role or "", scope or ""
        if op in ("user_add", "user_update"):
            self.add_user(
                user,
                details.get("email"),
                details.get("display_name"),
                details.get("active", True),
                details.get("pseudonym"),
            )
        elif op == "user_erase":
            self.erase_user(user, details["to"], details.get("pseudonym"))
        elif op == "scope_add":
            self.add_scope(scope, details.get("title"))
        elif op in ("revoke", "expire"):
            self.drop_grant(user, role, scope)
        elif op == "restrict":
            self.put_restriction(
                scope, details["permissions"], details["exempt_roles"], details.get("reason")
            )
        elif op == "unrestrict":
            self.drop_restriction(scope)
        elif op == "scope_forget":
            self.forget_scope(scope)
        elif op == "role_define":
            self.define_role(Role.model_validate(details["role"]), retired=details["retired"])
        elif op == "role_drop":
            self.drop_role(details["id"])
        elif op == "rule_set":
            self.set_rule(details["id"], DelegationRule.model_validate(details["rule"]))
        elif op == "rule_disable":
            self.set_rule(details["id"], None)

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

    # ---------------------------------------------------------------- the check path

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

    def not_listed(self, scope: str, permission: str | None = None) -> tuple[str, ...]:
        """What "who" answers at ``scope`` cannot list: the derived roles held there (that give
        ``permission``, when given), one sentence each."""
        chain, applicable, _ = self.place(scope)
        types = {self._resolve(key).type for key in chain}
        notes = []
        for role in self.registry.derived_roles.values():
            perms = self._role_perms.get(role.role, _EMPTY)
            if not types & set(role.scope_types) or perms.isdisjoint(applicable):
                continue
            if permission is not None and permission not in perms:
                continue
            notes.append(
                f"also every user {role.source} names here ({role.description}) holds "
                f"{role.role}: rolecall cannot list them"
            )
        return tuple(notes)

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

    def role_authority(self, role: str) -> frozenset[str]:
        """What a holder of ``role`` counts as holding when a grant is judged: its permissions
        and the ``not_inherited`` ones of the roles it includes (see the registry)."""
        found = self.registry.role_authority.get(role)
        return self._role_perms.get(role, _EMPTY) if found is None else found

    def type_permissions(self, kind: str) -> frozenset[str]:
        """The registered permissions that apply at scopes of type ``kind``."""
        found = self._type_permissions.get(kind)
        if found is None:
            found = frozenset(p for p, kinds in self._applies.items() if kind in kinds)
            self._type_permissions[kind] = found
        return found

    def types_below(self, kind: str) -> tuple[str, ...]:
        """``kind`` and every scope type whose scopes can sit below a scope of type ``kind``
        (``org``: org, course, library, and the plugins' types keyed under them), read from
        the parent chain of each type's example key."""
        below = self._types_below
        if below is None:
            below = {}
            for st in self.registry.scope_types.values():
                try:
                    chain = self._resolve(st.example).chain
                except BadInputError:
                    chain = ()
                for ancestor in chain:
                    try:
                        above = self._resolve(ancestor).type
                    except BadInputError:
                        continue
                    below.setdefault(above, set()).add(st.id)
            self._types_below = below
        return tuple(sorted(below.get(kind, set()) | {kind}))

    def restrictions_on(self, chain: Iterable[str]) -> list[tuple[frozenset[str], frozenset[str]]]:
        """(denied permissions, exempt roles) of each restriction on ``chain``."""
        found = []
        for key in chain:
            r = self._restrictions.get(key)
            if r is not None:
                found.append((r.denied, r.exempt))
        return found

    def restricted_below(self, key: str) -> list[str]:
        """The scopes strictly below ``key`` that carry a restriction."""
        found = []
        for restricted in self._restrictions:
            if restricted == key:
                continue
            try:
                chain = self.place(restricted)[0]
            except BadInputError:
                continue
            if key in chain:
                found.append(restricted)
        return sorted(found)

    def live_roles(self, user: str, chain: Iterable[str], now: float | None = None) -> set[str]:
        """The roles ``user`` holds, unexpired, on the scopes of ``chain``."""
        when = time.time() if now is None else now
        cells = self._by_user.get(user)
        if not cells:
            return set()
        by_scope = self._by_scope
        return {
            g.role
            for key in chain
            if key in cells
            for g in by_scope[key][user].grants
            if g.live(when)
        }

    def cells_of(self, user: str) -> dict[str, Cell]:
        """scope -> the user's grants there (a new dict: not for the check path)."""
        by_scope = self._by_scope
        return {key: by_scope[key][user] for key in self._by_user.get(user, ())}

    def holders_of(self, role: str) -> list[tuple[str, str]]:
        """(user, scope) of every grant of ``role``, expired ones included, sorted."""
        return sorted(
            (user, key)
            for key, members in self._by_scope.items()
            for user, cell in members.items()
            if any(g.role == role for g in cell.grants)
        )

    def users_on(self, chain: Iterable[str]) -> set[str]:
        """Users holding any grant on one of these scopes."""
        return {user for key in chain for user in self._by_scope.get(key, {})}

    def other_admins(self, scope: str, *, exclude: str) -> list[str]:
        """Users other than ``exclude`` holding a live admin role at exactly ``scope``."""
        roles = self.registry.roles
        now = time.time()
        return sorted(
            user
            for user, cell in self._by_scope.get(scope, {}).items()
            if user != exclude
            and any(g.live(now) and g.role in roles and roles[g.role].admin for g in cell.grants)
        )

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

    def known_scope_ignoring_case(self, key: str) -> str | None:
        """The known scope whose key equals ``key`` ignoring case (the first in key order when
        several do), or ``None``; the map behind it is rebuilt only when the known scopes
        change."""
        cached = self._folded
        if cached is None or cached[0] != self._scopes_generation:
            folded: dict[str, str] = {}
            for known in self.known_scopes():
                folded.setdefault(known.casefold(), known)
            cached = self._folded = (self._scopes_generation, folded)
        return cached[1].get(key.casefold())

    def _members(self, scope: str, now: float) -> tuple[TeamMember, ...]:
        """The scope's team, cached until one of its grants changes or expires: a course page
        shares its org's and the platform's lists with every other course."""
        cached = self._teams.get(scope)
        if cached is not None and now < cached[1]:
            return cached[0]
        members = self._by_scope.get(scope, {})
        # Cached, so built lean: the models are frozen and every field is given, so they
        # share one fields-set, and grants made together share one datetime.
        moments: dict[float, datetime] = {}

        def moment(ts: float) -> datetime:
            found = moments.get(ts)
            if found is None:
                found = moments[ts] = datetime.fromtimestamp(ts, UTC)
            return found

        team = tuple(
            TeamMember.model_construct(
                _TEAM_FIELDS,
                user=user,
                grants=tuple(
                    GrantInfo.model_construct(
                        _GRANT_FIELDS,
                        id=g.id,
                        user=user,
                        role=g.role,
                        scope=scope,
                        granted_by=g.granted_by,
                        granted_at=moment(g.granted_at),
                        expires_at=None if g.expires_at is None else moment(g.expires_at),
                        expired=not g.live(now),
                    )
                    for g in cell.grants
                ),
            )
            for user, cell in sorted(members.items())
        )
        upcoming = [
            g.expires_at
            for cell in members.values()
            for g in cell.grants
            if g.expires_at is not None and g.expires_at > now
        ]
        self._teams[scope] = (team, min(upcoming, default=float("inf")))
        return team

    def who(self, scope: str) -> Team:
        """The scope's own team and, separately, those with access from its ancestors: an
        ancestor's grant is listed only when its role gives some permission that applies at
        this scope's type (a course creator on an org has nothing on its courses)."""
        chain, applicable, _ = self._place(scope)
        now = time.time()
        return Team.model_construct(
            scope=scope,
            members=self._members(scope, now),
            inherited=tuple(
                m for key in chain[1:] for m in self._reaching(self._members(key, now), applicable)
            ),
            not_listed=self.not_listed(scope) if self._derived else (),
        )

    def _reaching(
        self, members: tuple[TeamMember, ...], applicable: frozenset[str]
    ) -> Iterator[TeamMember]:
        """``members`` keeping only their grants whose role gives one of ``applicable``."""
        reaches: dict[str, bool] = {}
        for member in members:
            kept = []
            for grant in member.grants:
                found = reaches.get(grant.role)
                if found is None:
                    perms = self._role_perms.get(grant.role, _EMPTY)
                    found = reaches[grant.role] = not perms.isdisjoint(applicable)
                if found:
                    kept.append(grant)
            if len(kept) == len(member.grants):
                yield member
            elif kept:
                yield member.model_copy(update={"grants": tuple(kept)})

    def who_can(self, permission: str, scope: str) -> list[str]:
        """Every user allowed ``permission`` at ``scope``."""
        applies = self.require_permission(permission)
        resolved = self._resolve(scope)
        if resolved.type not in applies:
            return []
        found = {
            user
            for key in resolved.chain
            for user, cell in self._by_scope.get(key, {}).items()
            if cell.allows(permission)
        }
        if self._restrictions:
            found = {u for u in found if self._restricting(u, permission, resolved.chain) is None}
        return sorted(found)

    def scopes_where(self, user: str, permission: str, scope_type: str | None = None) -> list[str]:
        """Every known scope where ``user`` is allowed ``permission`` (of ``scope_type``); none
        for a user rolecall has never seen."""
        applies = self.require_permission(permission)
        if scope_type is not None and scope_type not in self.registry.scope_types:
            raise BadInputError(
                f"unknown scope type {show(scope_type)}; known: "
                f"{', '.join(sorted(self.registry.scope_types))}"
            )
        wanted = applies if scope_type is None else applies & {scope_type}
        by_scope = self._by_scope
        granting = {
            key for key in self._by_user.get(user, ()) if by_scope[key][user].allows(permission)
        }
        # A grant below another grant of the permission adds nothing: keep the topmost ones
        # (a platform-wide user answers with one cached list). What remains lies in disjoint
        # subtrees, so their lists share no key.
        tops = [
            key for key in granting if not any(k in granting for k in self._resolve(key).chain[1:])
        ]
        if len(tops) == 1:
            found = list(self._below_of(tops[0], wanted))
        else:
            # Sorted runs, concatenated: the sort merges them in linear time.
            found = sorted(k for key in tops for k in self._below_of(key, wanted))
        if self._restrictions:
            affected = self._restricted_scopes()
            # Usually far fewer scopes sit under a restriction than the answer holds.
            denied = {
                k
                for k in affected
                if _holds(found, k)
                and self._restricting(user, permission, self.place(k)[0]) is not None
            }
            if denied:
                found = [k for k in found if k not in denied]
        return found

    def _below_of(self, key: str, kinds: frozenset[str]) -> tuple[str, ...]:
        """``key`` and its known descendants of the scope types ``kinds``, sorted (cached
        until the known scopes change)."""
        cached = self._below_typed.get((key, kinds))
        if cached is None:
            cached = tuple(k for k, kind in self._below(key) if kind in kinds)
            self._below_typed[(key, kinds)] = cached
        return cached

    def _restricted_scopes(self) -> frozenset[str]:
        """Known scopes on or below a restriction (cached until restrictions or scopes change)."""
        key = (self._restriction_generation, self._scopes_generation)
        if self._restricted_cache is None or self._restricted_cache[0] != key:
            scopes = frozenset(k for r in self._restrictions for k, _ in self._below(r))
            self._restricted_cache = (key, scopes)
        return self._restricted_cache[1]

    def warm(self) -> None:
        """Build the teams of the platform and of every org ahead of the first ``who``: they
        are the large ones, shared by every scope below them."""
        self.pseudonyms.compact()
        now = time.time()
        for key in ("platform", *self._children.get("platform", ())):
            self._members(key, now)

    def _below(self, key: str) -> tuple[tuple[str, str], ...]:
        cached = self._below_cache.get(key)
        if cached is None:
            cached = tuple(
                sorted((k, self._resolve(k).type) for k in (key, *self.descendants(key)))
            )
            self._below_cache[key] = cached
        return cached

    def access(self, user: str) -> list[AccessEntry]:
        """Every role ``user`` holds on every known scope, local or inherited and from where."""
        self.require_user(user)
        now = time.time()
        entries = []
        for key, cell in self.cells_of(user).items():
            for grant in cell.grants:
                info = self._info(user, key, grant, now)
                entries.append(
                    AccessEntry(scope=key, role=grant.role, via=key, local=True, grant=info)
                )
                perms = self._role_perms.get(grant.role, _EMPTY)
                entries.extend(
                    AccessEntry(scope=d, role=grant.role, via=key, local=False, grant=info)
                    for d in self.descendants(key)
                    # Only where the role means something: a course role does not reach a library.
                    if not perms.isdisjoint(self._place(d)[1])
                )
        return sorted(entries, key=lambda e: (e.scope, e.role, e.via))

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

    def _own_permissions(self, role: str) -> set[str]:
        """The permissions a role lists itself or through included roles (not implied)."""
        roles = self.registry.roles
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

    def _path(self, role: str, permission: str) -> tuple[str, ...]:
        definition = self.registry.roles.get(role)
        if definition is not None and any(
            self.registry.roles[r].grants_all for r in self._included(role)
        ):
            return (permission,)
        paths = [
            p
            for p in (
                self.registry.implication_path(own, permission)
                for own in self._own_permissions(role)
            )
            if p is not None
        ]
        return min(paths, key=len) if paths else (permission,)

    def _included(self, role: str) -> set[str]:
        roles = self.registry.roles
        seen: set[str] = set()
        stack = [role]
        while stack:
            current = stack.pop()
            if current in seen or current not in roles:
                continue
            seen.add(current)
            stack.extend(roles[current].includes)
        return seen

    def explain(self, user: str, permission: str, scope: str) -> Decision:
        """:meth:`check` with its reasons; ``allowed`` always equals ``check``."""
        applies_to = self.require_permission(permission)
        resolved = self._resolve(scope)
        chain = resolved.chain
        now = time.time()
        cells = self.cells_of(user)
        applies = resolved.type in applies_to
        contributions: list[Contribution] = []
        expired: list[GrantInfo] = []
        held_without: list[tuple[str, str]] = []
        for key in chain:
            cell = cells.get(key)
            for grant in cell.grants if cell else ():
                if permission in self._role_perms.get(grant.role, _EMPTY):
                    info = self._info(user, key, grant, now)
                    if grant.live(now):
                        contributions.append(
                            Contribution(grant=info, path=self._path(grant.role, permission))
                        )
                    else:
                        expired.append(info)
                elif grant.live(now):
                    held_without.append((grant.role, key))
        restricting = self._restricting(user, permission, chain) if contributions else None
        allowed = applies and bool(contributions) and restricting is None
        from_source = None
        if applies and not allowed:
            found = self.derived_grant(user, permission, scope)
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
        elif user not in self.users:
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
            elsewhere = self._elsewhere(user, permission, chain, cells)
            misses.extend(text for text, _ in elsewhere)
            about = (None,) * local + tuple(key for _, key in elsewhere)
            givers = self._roles_granting(permission, chain)
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

    def _elsewhere(
        self, user: str, permission: str, chain: tuple[str, ...], cells: Mapping[str, Cell]
    ) -> list[tuple[str, str]]:
        """Grants of ``permission`` the user holds off the chain, nearest relatives first: (what
        to say, the scope of the grant)."""
        ancestors = set(chain)
        near = []
        for key, cell in cells.items():
            if key in ancestors or not cell.allows(permission):
                continue
            other = self._resolve(key).chain
            shared = len(ancestors.intersection(other))
            for grant in cell.grants:
                if permission in self._role_perms.get(grant.role, _EMPTY):
                    near.append((-shared, key, grant.role))
        near.sort()
        return [
            (f"{role} on {key} grants it, but {key} is not {chain[0]} or above it", key)
            for _, key, role in near[:3]
        ]

    def _roles_granting(self, permission: str, chain: tuple[str, ...]) -> list[str]:
        """The smallest roles, plugins' and custom ones, that could be assigned on the chain
        and would grant ``permission`` (a retired custom role cannot be assigned)."""
        types = {self._resolve(k).type for k in chain}
        fitting = [
            r
            for r in (*self.registry.roles.values(), *self.custom_roles.values())
            if permission in self._role_perms.get(r.id, _EMPTY)
            and types & set(r.scope_types)
            and r.id not in self.retired_roles
        ]
        fitting.sort(key=lambda r: (len(self._role_perms[r.id]), r.id))
        return [r.id for r in fitting[:3]]
