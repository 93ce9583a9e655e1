"""Property: the engine agrees with a deliberately naive reference evaluator.

Hypothesis generates a registry shape (permissions with random acyclic implications and the
scope types they apply to; roles with random permissions, some including others, some granting
all), then a sequence of writes (assignments with and without expiry, revocations, restrictions
with exempt roles, their removal) on a fixed set of users and scopes. The reference below keeps
the same state as plain lists and decides with plain loops, straight from the decision rule in
the docs. ``check``, ``explain``, ``who_can``, ``scopes_where`` and ``access`` must agree with it,
both in the service that made the writes (its index kept up to date by the change feed) and in a
service opened afterwards (its index loaded from the tables).

Expiry: the index's clock is moved ``CHECK_AT`` hours ahead, so grants expiring after 1 or 2
hours are expired when checked and those expiring after 4 or 5 hours are not.
"""

from __future__ import annotations

import time as real_time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, update

from rolecall.core import (
    BadInputError,
    Permission,
    Plugins,
    Role,
    Rolecall,
    hookimpl,
)
from rolecall.core.engine import lookups
from rolecall.core.storage.database import GENESIS_HASH, make_engine, upgrade
from rolecall.core.storage.models import Base, State

from support import move_engine_clock

TYPES = ("platform", "org", "course", "library")
SCOPES = (
    "platform",
    "org:A",
    "org:B",
    "course-v1:A+c1+r",
    "course-v1:A+c2+r",
    "course-v1:B+c1+r",
    "lib:A:l1",
    "lib:B:l1",
)
USERS = ("u0", "u1")
EXPIRIES = (None, None, 1, 2, 4, 5)
"""Hours from now; ``None`` is a permanent grant."""
CHECK_AT = 3
"""Hours ahead of the real clock at which the index decides expiry."""


# --- the naive reference ----------------------------------------------------------------------


def _never_applies(rc: Rolecall, scope: str, listed: Iterable[str]) -> bool:
    """Whether a permission of ``listed`` can never apply on or below ``scope``: such a
    restriction is bad input."""
    below = set(lookups.types_below(rc.index, rc.registry.scopes.resolve(scope).type))
    return any(p != "*" and not set(rc.registry.permissions[p].scope_types) & below for p in listed)


def scope_type(key: str) -> str:
    if key == "platform":
        return "platform"
    return {"org": "org", "course-v1": "course", "lib": "library"}[key.split(":")[0]]


def ancestors(key: str) -> list[str]:
    """``key`` and everything above it, read off the key by hand."""
    kind = scope_type(key)
    if kind == "platform":
        return [key]
    if kind == "org":
        return [key, "platform"]
    org = key.split(":")[1].split("+")[0]
    return [key, f"org:{org}", "platform"]


@dataclass(frozen=True)
class PermSpec:
    id: str
    scope_types: tuple[str, ...]
    implies: tuple[str, ...]


@dataclass(frozen=True)
class RoleSpec:
    id: str
    scope_types: tuple[str, ...]
    permissions: tuple[str, ...]
    includes: tuple[str, ...]
    grants_all: bool


TEAM_VIEWS = (
    "platform.view_org_team",
    "courses.view_course_team",
    "content_libraries.view_library_team",
)
"""The view-team permissions of the built-in scope types (those registered count)."""
LIFT = "platform.manage_restrictions"
ADMINISTRATION = (
    LIFT,
    "platform.manage_custom_roles",
    "platform.manage_delegation_rules",
    "platform.add_scopes",
    "platform.remove_scopes",
    "platform.retire_users",
)


@dataclass
class Reference:
    perms: dict[str, PermSpec]
    roles: dict[str, RoleSpec]
    assignments: list[tuple[str, str, str, int | None]] = field(default_factory=list)
    """(user, role, scope, expiry in hours or None)."""
    restrictions: list[tuple[str, list[str], list[str]]] = field(default_factory=list)
    """(scope, permissions, exempt roles)."""

    # The closures, by repeated expansion until nothing changes.

    def implied(self, permission: str) -> set[str]:
        found = {permission}
        while True:
            more = {i for p in found for i in self.perms[p].implies} - found
            if not more:
                return found
            found |= more

    def role_permissions(self, role: str) -> set[str]:
        roles = {role}
        while True:
            more = {i for r in roles for i in self.roles[r].includes} - roles
            if not more:
                break
            roles |= more
        if any(self.roles[r].grants_all for r in roles):
            return set(self.perms)
        found: set[str] = set()
        for r in roles:
            for p in self.roles[r].permissions:
                found |= self.implied(p)
        return found

    @staticmethod
    def live(expiry: int | None) -> bool:
        return expiry is None or expiry > CHECK_AT

    def granting(self, user: str, permission: str, scope: str) -> set[tuple[str, str]]:
        """(role, scope) of the unexpired assignments on the chain that hold ``permission``."""
        chain = ancestors(scope)
        return {
            (r, s)
            for u, r, s, expiry in self.assignments
            if u == user
            and s in chain
            and self.live(expiry)
            and permission in self.role_permissions(r)
        }

    def allowed(self, user: str, permission: str, scope: str) -> bool:
        if permission not in self.perms:
            return False
        if scope_type(scope) not in self.perms[permission].scope_types:
            return False
        if not self.granting(user, permission, scope):
            return False
        chain = ancestors(scope)
        views = {p for p in TEAM_VIEWS if p in self.perms}
        governance = permission in ADMINISTRATION or bool(self.implied(permission) & views)
        lifter = any(
            u == user and s == "platform" and self.live(expiry) and LIFT in self.role_permissions(r)
            for u, r, s, expiry in self.assignments
        )
        if permission == LIFT or (permission in views and lifter):
            return True  # no restriction stops whoever may lift it from seeing and lifting
        for where, listed, exempt in self.restrictions:
            if where not in chain:
                continue
            if listed == ["*"] and governance:
                continue  # deny everything: the scope's actions, not its governance
            if listed != ["*"] and not (self.implied(permission) & set(listed)):
                continue
            exempted = False
            for u, r, s, expiry in self.assignments:
                if u == user and s in chain and r in exempt and self.live(expiry):
                    exempted = True
            if not exempted:
                return False
        return True

    def access(self, user: str) -> set[tuple[str, str, str, bool, bool]]:
        entries = set()
        for u, r, s, expiry in self.assignments:
            if u != user:
                continue
            expired = not self.live(expiry)
            entries.add((s, r, s, True, expired))
            for other in SCOPES:
                # Inherited only where the role means something: one of its permissions
                # applies to that scope's type.
                meaningful = any(
                    scope_type(other) in self.perms[p].scope_types for p in self.role_permissions(r)
                )
                if other != s and s in ancestors(other) and meaningful:
                    entries.add((other, r, s, False, expired))
        return entries


# --- generated registries ---------------------------------------------------------------------


class GeneratedPlugin:
    def __init__(self, perms: list[PermSpec], roles: list[RoleSpec]) -> None:
        self.perms = perms
        self.roles = roles

    @hookimpl
    def register_permissions(self) -> list[Permission]:
        return [
            Permission(
                id=p.id,
                title=p.id,
                description=f"Generated {p.id}.",
                area="Generated",
                scope_types=p.scope_types,
                implies=p.implies,
            )
            for p in self.perms
        ]

    @hookimpl
    def register_roles(self) -> list[Role]:
        return [
            Role(
                id=r.id,
                title=r.id,
                description=f"Generated {r.id}.",
                scope_types=r.scope_types,
                permissions=r.permissions,
                includes=r.includes,
                grants_all=r.grants_all,
            )
            for r in self.roles
        ]


def subset(items: list[str] | tuple[str, ...], min_size: int = 0, max_size: int = 3) -> Any:
    if not items:
        return st.just(())
    return st.lists(st.sampled_from(items), min_size=min_size, max_size=max_size, unique=True).map(
        tuple
    )


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[PermSpec], list[RoleSpec], list[tuple[Any, ...]]]:
    count = draw(st.integers(2, 6))
    # Implying only earlier permissions keeps the implication graph acyclic; the shuffled names
    # keep the earlier ones from always being the smaller ones by name.
    names = draw(st.permutations([f"g.p{i}" for i in range(count)]))
    perms: list[PermSpec] = []
    for name in names:
        perms.append(
            PermSpec(
                id=name,
                scope_types=draw(subset(TYPES, 1, 4)),
                implies=draw(subset([p.id for p in perms], 0, 2)),
            )
        )
    roles: list[RoleSpec] = []
    for j in range(draw(st.integers(1, 5))):
        roles.append(
            RoleSpec(
                id=f"r{j}",
                scope_types=draw(subset(TYPES, 1, 4)),
                permissions=draw(subset([p.id for p in perms], 0, 3)),
                includes=draw(subset([r.id for r in roles], 0, 2)),
                grants_all=draw(st.integers(0, 9)) == 0,
            )
        )
    role_ids = [r.id for r in roles]
    perm_ids = [p.id for p in perms]

    def assign_valid(role: RoleSpec) -> Any:
        fitting = [s for s in SCOPES if scope_type(s) in role.scope_types]
        return st.tuples(
            st.just("assign"),
            st.sampled_from(USERS),
            st.just(role.id),
            st.sampled_from(fitting),
            st.sampled_from(EXPIRIES),
        )

    assign = st.sampled_from(roles).flatmap(assign_valid)
    assign_any = st.tuples(  # mostly at a scope type the role cannot be assigned at
        st.just("assign"),
        st.sampled_from(USERS),
        st.sampled_from(role_ids),
        st.sampled_from(SCOPES),
        st.sampled_from(EXPIRIES),
    )
    restrict = st.tuples(
        st.just("restrict"),
        st.sampled_from(SCOPES),
        st.one_of(st.just(("*",)), subset(perm_ids, 1, 3)),
        subset(role_ids, 0, 2) | subset(role_ids, 1, 2),
    )
    op = st.one_of(
        assign,
        assign,
        assign,
        assign_any,
        restrict,
        restrict,
        st.tuples(st.just("revoke"), st.integers(0, 30), st.sampled_from(SCOPES)),
        st.tuples(st.just("unrestrict"), st.sampled_from(SCOPES)),
    )
    ops = draw(st.lists(op, min_size=6, max_size=24))
    return perms, roles, ops


# --- running it -------------------------------------------------------------------------------


class Clock:
    """The index's ``time`` module, ``CHECK_AT`` hours ahead."""

    def time(self) -> float:
        return real_time.time() + CHECK_AT * 3600

    def __getattr__(self, name: str) -> Any:
        return getattr(real_time, name)


def clean(engine: Engine) -> None:
    """Empty every table and reset the revision and the audit chain's head (unsigned, as in a
    database made without a key: the first write signs it): each example starts from
    nothing."""
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table is not State.__table__:
                connection.execute(delete(table))
        connection.execute(
            update(State).values(
                revision=0,
                last_hash=GENESIS_HASH,
                events=0,
                last_event_id=0,
                keyed_after=None,
                last_mac=None,
            )
        )


def run(rc: Rolecall, ref: Reference, ops: list[tuple[Any, ...]], now: datetime) -> None:
    """Apply ``ops`` to the service and to the reference; bad ones must fail in both."""
    for op in ops:
        kind = op[0]
        if kind == "assign":
            _, user, role, scope, hours = op
            expires = None if hours is None else now + timedelta(hours=hours)
            if scope_type(scope) not in ref.roles[role].scope_types:
                with pytest.raises(BadInputError):
                    rc.assign(user, role, scope, expires_at=expires)
                continue
            rc.assign(user, role, scope, expires_at=expires)
            ref.assignments = [a for a in ref.assignments if a[:3] != (user, role, scope)]
            ref.assignments.append((user, role, scope, hours))
        elif kind == "revoke":
            _, pick, scope = op
            if ref.assignments:
                user, role, scope, _ = sorted(ref.assignments, key=str)[pick % len(ref.assignments)]
                rc.revoke(user, role, scope)
                ref.assignments = [a for a in ref.assignments if a[:3] != (user, role, scope)]
            else:
                with pytest.raises(BadInputError):
                    rc.revoke(USERS[pick % len(USERS)], next(iter(ref.roles)), scope)
        elif kind == "restrict":
            _, scope, listed, exempt = op
            if _never_applies(rc, scope, listed):
                with pytest.raises(BadInputError, match="would deny nothing"):
                    rc.restrict(scope, list(listed), exempt_roles=list(exempt))
                continue
            rc.restrict(scope, list(listed), exempt_roles=list(exempt))
            ref.restrictions = [r for r in ref.restrictions if r[0] != scope]
            ref.restrictions.append((scope, list(listed), list(exempt)))
        else:
            _, scope = op
            if any(r[0] == scope for r in ref.restrictions):
                rc.unrestrict(scope)
                ref.restrictions = [r for r in ref.restrictions if r[0] != scope]
            else:
                with pytest.raises(BadInputError):
                    rc.unrestrict(scope)


def compare(rc: Rolecall, ref: Reference) -> None:
    for permission in ref.perms:
        for scope in SCOPES:
            expected_users = []
            for user in USERS:
                expected = ref.allowed(user, permission, scope)
                assert rc.check(user, permission, scope) == expected, (user, permission, scope)
                decision = rc.explain(user, permission, scope)
                assert decision.allowed == expected, (user, permission, scope, decision)
                if decision.applies:
                    found = {(c.grant.role, c.grant.scope) for c in decision.contributions}
                    assert found == ref.granting(user, permission, scope), decision
                if expected:
                    expected_users.append(user)
            assert rc.who_can(permission, scope) == expected_users, (permission, scope)
        for user in USERS:
            for kind in (None, *TYPES):
                expected_scopes = sorted(
                    s
                    for s in SCOPES
                    if ref.allowed(user, permission, s) and kind in (None, scope_type(s))
                )
                assert rc.scopes_where(user, permission, kind) == expected_scopes, (
                    user,
                    permission,
                    kind,
                )
    for user in USERS:
        got = {(e.scope, e.role, e.via, e.local, e.grant.expired) for e in rc.access(user)}
        assert got == ref.access(user), user


@pytest.fixture
def migrated(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds())
def test_engine_agrees_with_the_naive_reference(
    world: tuple[list[PermSpec], list[RoleSpec], list[tuple[Any, ...]]],
    database_url: str,
    migrated: Engine,
    plugins_only: Callable[..., Plugins],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    perms, roles, ops = world
    move_engine_clock(monkeypatch, Clock())
    plugins = plugins_only(generated=GeneratedPlugin(perms, roles))
    # Every registered permission (the platform plugin has its own), as plain data.
    registered = {
        p.id: PermSpec(p.id, tuple(p.scope_types), tuple(p.implies))
        for p in plugins.registry.permissions.values()
    }
    assert {p.id: p for p in perms}.items() <= registered.items()
    ref = Reference(perms=registered, roles={r.id: r for r in roles})
    clean(migrated)
    now = datetime.now(UTC)
    # A stale-forever service: its reads never go to the database, so everything it knows
    # comes from catching up after its own writes.
    with Rolecall.open(database_url, plugins=plugins, background_sync=False, staleness=3600) as rc:
        rc.add_users(USERS)
        rc.add_scopes(SCOPES)
        run(rc, ref, ops, now)
        compare(rc, ref)
        assert rc.verify_audit().ok
    with Rolecall.open(
        database_url, plugins=plugins, background_sync=False, staleness=3600
    ) as reloaded:
        compare(reloaded, ref)
