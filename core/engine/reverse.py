"""Reverse queries over the index: who holds what where, and where a user may act.

``who`` (a scope's team, cached per scope until one of its grants changes or expires),
``who_can``, ``scopes_where`` (from cached sorted lists of the known scopes below each scope,
per scope type) and ``access``. They read the index's tables and never change a grant.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..errors import BadInputError
from ..scopes import show
from .decisions import AccessEntry, GrantInfo, Team, TeamMember
from .tables import _EMPTY

if TYPE_CHECKING:
    from .index import Index

_GRANT_FIELDS = set(GrantInfo.model_fields)
_TEAM_FIELDS = set(TeamMember.model_fields)
"""Shared by the cached team records (frozen, every field given): one set, not one each."""


def _holds(ordered: list[str], key: str) -> bool:
    """Whether the sorted list ``ordered`` holds ``key``."""
    at = bisect_left(ordered, key)
    return at < len(ordered) and ordered[at] == key


def who(index: Index, scope: str) -> Team:
    """The scope's own team and, separately, those with access from its ancestors: an
    ancestor's grant is listed only when its role gives some permission that applies at
    this scope's type (a course creator on an org has nothing on its courses)."""
    chain, applicable, _ = index._place(scope)
    now = time.time()
    return Team.model_construct(
        scope=scope,
        members=_members(index, scope, now),
        inherited=tuple(
            m for key in chain[1:] for m in _reaching(index, _members(index, key, now), applicable)
        ),
        not_listed=not_listed(index, scope) if index._derived else (),
    )


def _members(index: Index, scope: str, now: float) -> tuple[TeamMember, ...]:
    """The scope's team, cached until one of its grants changes or expires: a course page
    shares its org's and the platform's lists with every other course."""
    cached = index._teams.get(scope)
    if cached is not None and now < cached[1]:
        return cached[0]
    members = index._by_scope.get(scope, {})
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
    index._teams[scope] = (team, min(upcoming, default=float("inf")))
    return team


def _reaching(
    index: Index, members: tuple[TeamMember, ...], applicable: frozenset[str]
) -> Iterator[TeamMember]:
    """``members`` keeping only their grants whose role gives one of ``applicable``."""
    reaches: dict[str, bool] = {}
    for member in members:
        kept = []
        for grant in member.grants:
            found = reaches.get(grant.role)
            if found is None:
                perms = index._role_perms.get(grant.role, _EMPTY)
                found = reaches[grant.role] = not perms.isdisjoint(applicable)
            if found:
                kept.append(grant)
        if len(kept) == len(member.grants):
            yield member
        elif kept:
            yield member.model_copy(update={"grants": tuple(kept)})


def who_can(index: Index, permission: str, scope: str) -> list[str]:
    """Every user allowed ``permission`` at ``scope``."""
    applies = index.require_permission(permission)
    resolved = index._resolve(scope)
    if resolved.type not in applies:
        return []
    found = {
        user
        for key in resolved.chain
        for user, cell in index._by_scope.get(key, {}).items()
        if cell.allows(permission)
    }
    if index._restrictions:
        found = {u for u in found if index._restricting(u, permission, resolved.chain) is None}
    return sorted(found)


def scopes_where(
    index: Index, user: str, permission: str, scope_type: str | None = None
) -> list[str]:
    """Every known scope where ``user`` is allowed ``permission`` (of ``scope_type``); none
    for a user rolecall has never seen."""
    applies = index.require_permission(permission)
    if scope_type is not None and scope_type not in index.registry.scope_types:
        raise BadInputError(
            f"unknown scope type {show(scope_type)}; known: "
            f"{', '.join(sorted(index.registry.scope_types))}"
        )
    wanted = applies if scope_type is None else applies & {scope_type}
    by_scope = index._by_scope
    granting = {
        key for key in index._by_user.get(user, ()) if by_scope[key][user].allows(permission)
    }
    # A grant below another grant of the permission adds nothing: keep the topmost ones
    # (a platform-wide user answers with one cached list). What remains lies in disjoint
    # subtrees, so their lists share no key.
    tops = [
        key for key in granting if not any(k in granting for k in index._resolve(key).chain[1:])
    ]
    if len(tops) == 1:
        found = list(_below_of(index, tops[0], wanted))
    else:
        # Sorted runs, concatenated: the sort merges them in linear time.
        found = sorted(k for key in tops for k in _below_of(index, key, wanted))
    if index._restrictions:
        affected = _restricted_scopes(index)
        # Usually far fewer scopes sit under a restriction than the answer holds.
        denied = {
            k
            for k in affected
            if _holds(found, k)
            and index._restricting(user, permission, index.place(k)[0]) is not None
        }
        if denied:
            found = [k for k in found if k not in denied]
    return found


def _below_of(index: Index, key: str, kinds: frozenset[str]) -> tuple[str, ...]:
    """``key`` and its known descendants of the scope types ``kinds``, sorted (cached
    until the known scopes change)."""
    cached = index._below_typed.get((key, kinds))
    if cached is None:
        cached = tuple(k for k, kind in _below(index, key) if kind in kinds)
        index._below_typed[(key, kinds)] = cached
    return cached


def _restricted_scopes(index: Index) -> frozenset[str]:
    """Known scopes on or below a restriction (cached until restrictions or scopes change)."""
    key = (index._restriction_generation, index._scopes_generation)
    if index._restricted_cache is None or index._restricted_cache[0] != key:
        scopes = frozenset(k for r in index._restrictions for k, _ in _below(index, r))
        index._restricted_cache = (key, scopes)
    return index._restricted_cache[1]


def warm(index: Index) -> None:
    """Build the teams of the platform and of every org ahead of the first ``who``: they
    are the large ones, shared by every scope below them."""
    now = time.time()
    for key in ("platform", *index._children.get("platform", ())):
        _members(index, key, now)


def _below(index: Index, key: str) -> tuple[tuple[str, str], ...]:
    cached = index._below_cache.get(key)
    if cached is None:
        cached = tuple(sorted((k, index._resolve(k).type) for k in (key, *index.descendants(key))))
        index._below_cache[key] = cached
    return cached


def access(index: Index, user: str) -> list[AccessEntry]:
    """Every role ``user`` holds on every known scope, local or inherited and from where."""
    index.require_user(user)
    now = time.time()
    entries = []
    for key, cell in index.cells_of(user).items():
        for grant in cell.grants:
            info = index._info(user, key, grant, now)
            entries.append(AccessEntry(scope=key, role=grant.role, via=key, local=True, grant=info))
            perms = index._role_perms.get(grant.role, _EMPTY)
            entries.extend(
                AccessEntry(scope=d, role=grant.role, via=key, local=False, grant=info)
                for d in index.descendants(key)
                # Only where the role means something: a course role does not reach a library.
                if not perms.isdisjoint(index._place(d)[1])
            )
    return sorted(entries, key=lambda e: (e.scope, e.role, e.via))


def not_listed(index: Index, scope: str, permission: str | None = None) -> tuple[str, ...]:
    """What "who" answers at ``scope`` cannot list: the derived roles held there (that give
    ``permission``, when given), one sentence each."""
    chain, applicable, _ = index.place(scope)
    types = {index._resolve(key).type for key in chain}
    notes = []
    for role in index.registry.derived_roles.values():
        perms = index._role_perms.get(role.role, _EMPTY)
        if not types & set(role.scope_types) or perms.isdisjoint(applicable):
            continue
        if permission is not None and permission not in perms:
            continue
        notes.append(
            f"also every user {role.source} names here ({role.description}) holds "
            f"{role.role}: rolecall cannot list them"
        )
    return tuple(notes)
