"""Finding users and scopes for the console: by text, the scopes a user holds roles on, every
scope rolecall knows.

    from rolecall.core.reads import managed_scopes, search

    found = search(rc, "mitx", resource="courses")
    mine = managed_scopes(rc, "olivia", level="course")

Two filters narrow every list of scopes, both on the type of the scope itself:

- ``resource``: ``all``, ``courses`` (courses and the custom courses made from them) or
  ``libraries``; with ``courses`` or ``libraries`` orgs and the platform are left out;
- ``level``: ``all``, ``course`` (courses, custom courses and libraries), ``org`` or
  ``platform``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from ..errors import BadInputError
from ..governance.delegation import NotAllowedError
from ..known_scopes import lookup as lookup_known
from ..known_scopes import suggestions
from .pages import MAX_QUERY

if TYPE_CHECKING:
    from ..engine import Index
    from .source import CatalogueSource, HoldingsSource, IndexSource, ScopeSource

Resource = Literal["all", "courses", "libraries"]
Level = Literal["all", "course", "org", "platform"]
RESOURCES: tuple[Resource, ...] = ("all", "courses", "libraries")
LEVELS: tuple[Level, ...] = ("all", "course", "org", "platform")

_RESOURCE_TYPES: dict[str, frozenset[str] | None] = {
    "all": None,
    "courses": frozenset({"course", "ccx"}),
    "libraries": frozenset({"library"}),
}
_LEVEL_TYPES: dict[str, frozenset[str] | None] = {
    "all": None,
    "course": frozenset({"course", "ccx", "library"}),
    "org": frozenset({"org"}),
    "platform": frozenset({"platform"}),
}


@dataclass(frozen=True)
class UserHit:
    username: str
    email: str | None
    display_name: str | None
    active: bool


@dataclass(frozen=True)
class ScopeHit:
    key: str
    type: str
    title: str | None


@dataclass(frozen=True)
class SearchResults:
    users: tuple[UserHit, ...]
    scopes: tuple[ScopeHit, ...]
    more: bool
    """Some matches were left out (past ``limit``)."""


@dataclass(frozen=True)
class HeldRole:
    """A role a user holds that reaches a scope: assigned there (``via`` is the scope) or on
    an ancestor."""

    role: str
    via: str
    local: bool
    expires_at: datetime | None
    expired: bool


@dataclass(frozen=True)
class ManagedScope:
    scope: ScopeHit
    roles: tuple[HeldRole, ...] = field(default=())


def _filter(resource: str, level: str) -> tuple[frozenset[str] | None, frozenset[str] | None]:
    if resource not in _RESOURCE_TYPES:
        raise BadInputError(f"unknown resource type {resource!r}; use one of {RESOURCES}")
    if level not in _LEVEL_TYPES:
        raise BadInputError(f"unknown scope level {level!r}; use one of {LEVELS}")
    return _RESOURCE_TYPES[resource], _LEVEL_TYPES[level]


def _keeps(kind: str, wanted: tuple[frozenset[str] | None, frozenset[str] | None]) -> bool:
    return all(types is None or kind in types for types in wanted)


def scope_hit(rc: ScopeSource, key: str) -> ScopeHit:
    """A scope's type and title (``None`` when rolecall was never told one); raises
    :class:`BadInputError` for a malformed key."""
    resolved = rc.registry.scopes.resolve(key)
    with rc.reading() as index:
        title = index.scope_titles.get(resolved.key)
    return ScopeHit(resolved.key, resolved.type, title)


def known_scopes(
    rc: ScopeSource, *, resource: Resource = "all", level: Level = "all"
) -> list[ScopeHit]:
    """Every scope rolecall knows (recorded, or holding a grant or restriction, and their
    ancestors), sorted by key."""
    wanted = _filter(resource, level)
    with rc.reading() as index:
        titled = [(key, index.scope_titles.get(key)) for key in index.known_scopes()]
    resolve = rc.registry.scopes.resolve
    hits = ((resolve(key), title) for key, title in titled)
    return [
        ScopeHit(resolved.key, resolved.type, title)
        for resolved, title in hits
        if _keeps(resolved.type, wanted)
    ]


def _user_hits(rc: IndexSource) -> list[UserHit]:
    # The records are replaced, never changed, when a user changes: a copy of the list taken
    # while the index is held steady is one state, read at leisure after.
    with rc.reading() as index:
        records = list(index.users.values())
    return [UserHit(u.username, u.email, u.display_name, u.active) for u in records]


def user_hit(rc: IndexSource, name: str) -> UserHit | None:
    """The user with this username or (case-insensitive) e-mail address."""
    text = name.strip()
    with rc.reading() as index:
        record = index.users.get(text)
    if record is not None:
        return UserHit(record.username, record.email, record.display_name, record.active)
    if "@" in text:
        folded = text.casefold()
        return next(
            (u for u in _user_hits(rc) if u.email and u.email.casefold() == folded),
            None,
        )
    return None


def _rank(text: str, values: Iterable[str | None]) -> int | None:
    """0 for an exact match, 1 for a prefix, 2 for a substring, None for no match."""
    best: int | None = None
    for value in values:
        if not value:
            continue
        folded = value.casefold()
        if folded == text:
            return 0
        if folded.startswith(text):
            best = 1
        elif text in folded and best is None:
            best = 2
    return best


def search(
    rc: ScopeSource,
    text: str,
    *,
    resource: Resource = "all",
    level: Level = "all",
    limit: int = 50,
) -> SearchResults:
    """Users (by username, e-mail or name) and scopes (by key or title) whose text contains
    ``text``, case-insensitively; exact matches first, then prefixes, then the rest. The
    filters apply to scopes; users are listed when ``resource`` and ``level`` are ``all``."""
    wanted = _filter(resource, level)
    needle = text.strip().casefold()[:MAX_QUERY]
    if not needle:
        return SearchResults((), (), False)
    users: list[tuple[int, str, UserHit]] = []
    if resource == "all" and level == "all":
        for hit in _user_hits(rc):
            rank = _rank(needle, (hit.username, hit.email, hit.display_name))
            if rank is not None:
                users.append((rank, hit.username, hit))
    scopes: list[tuple[int, str, ScopeHit]] = []
    for place in known_scopes(rc, resource=resource, level=level):
        rank = _rank(needle, (place.key, place.title))
        if rank is not None and _keeps(place.type, wanted):
            scopes.append((rank, place.key, place))
    users.sort(key=lambda item: item[:2])
    scopes.sort(key=lambda item: item[:2])
    return SearchResults(
        users=tuple(hit for _, _, hit in users[:limit]),
        scopes=tuple(hit for _, _, hit in scopes[:limit]),
        more=len(users) > limit or len(scopes) > limit,
    )


def managed_scopes(
    rc: HoldingsSource,
    user: str,
    *,
    resource: Resource = "all",
    level: Level = "all",
    limit: int | None = None,
) -> list[ManagedScope]:
    """Every known scope ``user`` holds a role on, assigned there or inherited from an org or
    the platform, with those roles; sorted by key. Raises :class:`BadInputError` for an unknown
    user."""
    wanted = _filter(resource, level)
    found: dict[str, list[HeldRole]] = {}
    for entry in rc.access(user):
        kind = rc.registry.scopes.resolve(entry.scope).type
        if not _keeps(kind, wanted):
            continue
        found.setdefault(entry.scope, []).append(
            HeldRole(
                role=entry.role,
                via=entry.via,
                local=entry.local,
                expires_at=entry.grant.expires_at,
                expired=entry.grant.expired,
            )
        )
    keys = sorted(found)
    if limit is not None:
        keys = keys[:limit]
    return [ManagedScope(scope_hit(rc, key), tuple(found[key])) for key in keys]


def scopes_below(
    rc: ScopeSource,
    key: str,
    *,
    text: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> tuple[list[ScopeHit], str | None]:
    """A page of the known scopes below ``key`` (an org's courses and libraries, and what is
    below those), sorted by key: those whose key or title holds ``text`` (any case), after
    the key ``after`` (the last of the previous page). Returns the page and the ``after`` of
    the next one (None on the last page). Raises :class:`BadInputError` for a malformed key."""
    resolved = rc.registry.scopes.resolve(key)
    needle = (text or "").strip().casefold()[:MAX_QUERY]
    with rc.reading() as index:
        below = [(k, index.scope_titles.get(k)) for k in index.descendants(resolved.key)]
    below.sort()
    resolve = rc.registry.scopes.resolve
    hits: list[ScopeHit] = []
    for k, title in below:
        if after is not None and k <= after:
            continue
        if needle and needle not in k.casefold() and needle not in (title or "").casefold():
            continue
        hits.append(ScopeHit(k, resolve(k).type, title))
        if len(hits) > limit:
            break
    more = len(hits) > limit
    hits = hits[:limit]
    return hits, hits[-1].key if more else None


def scopes_held(rc: IndexSource, user: str) -> list[str]:
    """The scopes where ``user`` holds a grant itself (expired ones included; not those it
    inherits there), sorted; none for a user rolecall has never seen."""
    with rc.reading() as index:
        return sorted(k for k, cell in index.cells_of(user).items() if cell.grants)


def count_below(rc: ScopeSource, key: str, kind: str) -> int:
    """How many known scopes of type ``kind`` lie below ``key``."""
    with rc.reading() as index:
        below = list(index.descendants(key))
    resolve = rc.registry.scopes.resolve
    return sum(1 for k in below if resolve(k).type == kind)


def scope_suggestions(
    rc: CatalogueSource, key: str, visible: Callable[[Sequence[str]], Mapping[str, bool]]
) -> list[str]:
    """The "did you mean" of the unknown (resolved) ``key``: the known scopes near it and the
    scope catalogue's key equal to it ignoring case, among those ``visible`` allows
    (:func:`rolecall.core.known_scopes.suggestions`). The index is held steady for the
    look-up: its known scopes and the catalogue's answer are one state."""
    with rc.reading() as index:
        found = lookup_known(rc.plugins, index, [key])
        return suggestions(index, key, visible, catalogue=found)


def guard_passes(rc: IndexSource, guard: Callable[[Index], None]) -> bool:
    """Whether ``guard`` (:mod:`rolecall.core.governance.guards`) lets its change through on
    the index as it stands: what the service's guard would decide for that change now."""
    with rc.reading() as index:
        try:
            guard(index)
        except NotAllowedError:
            return False
    return True
