"""Assignments from the tables: filtered, sorted and cut in pages, or found one by one.

The engine answers questions about one user or one scope from memory; a listing that filters
and sorts across every assignment is a database query instead. Pages are cut with keyset
pagination (see :mod:`.pages`). Each sort walks an index: ``id`` the primary key, ``user`` the
users' unique username and the assignments' (user, role, scope) key, ``scope`` the scope index.
The text search ``q`` has no index to use; it reads rows in the chosen order until a page is
full. This module resolves the filters, checks the texts and cursors and applies who may see
what (:class:`SeenScopes`); the queries are in :mod:`rolecall.core.storage.assignments`.

    from rolecall.core.reads import list_assignments

    page = list_assignments(rc, org="MITx", sort="-id", limit=50)
    more = list_assignments(rc, org="MITx", sort="-id", limit=50, cursor=page.next_cursor)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from ..errors import BadInputError
from ..scopes import show
from ..storage import assignments as stored
from .pages import DEFAULT_LIMIT, MAX_QUERY, Page, check_limit, decode_cursor, encode_cursor

if TYPE_CHECKING:
    from .source import GrantSource, IndexSource, ListingSource, ScopeSource, TableSource

AssignmentSort = Literal[
    "id",
    "-id",
    "user",
    "-user",
    "role",
    "-role",
    "scope",
    "-scope",
    "granted_by",
    "-granted_by",
    "granted_at",
    "-granted_at",
    "expires_at",
    "-expires_at",
]
ASSIGNMENT_SORTS: tuple[str, ...] = get_args(AssignmentSort)

COUNT_LIMIT = 10_000
"""The most :func:`count_assignments` counts; past it, the answer is "more than this"."""


@dataclass(frozen=True)
class AssignmentRow:
    """One assignment as listed: the grant and its holder's e-mail and name."""

    id: int
    user: str
    email: str | None
    display_name: str | None
    role: str
    scope: str
    granted_by: str | None
    granted_at: datetime
    expires_at: datetime | None
    reason: str | None


@dataclass(frozen=True)
class SeenScopes:
    """The assignments someone may see: those on ``scopes`` (when ``scopes`` is None, on every
    scope but ``hidden``), and ``user``'s own on the scopes ``own``, which the rest would not
    show.

    The interfaces work it out (``rolecall.webapp.authz.assignments_seen_by``); a listing
    given one adds it to its filters, so that a page, its count and its export hold the same
    rows."""

    scopes: frozenset[str] | None
    hidden: frozenset[str] = frozenset()
    user: str | None = None
    own: frozenset[str] = frozenset()

    @property
    def everything(self) -> bool:
        return self.scopes is None and not self.hidden

    @property
    def nothing(self) -> bool:
        return self.scopes is not None and not self.scopes and not (self.user and self.own)


def _text(text: str, what: str) -> str:
    text = text.strip()
    if not text or len(text) > MAX_QUERY:
        raise BadInputError(f"{what} must be 1 to {MAX_QUERY} characters")
    return text


def _known(rc: IndexSource) -> Callable[[], int]:
    """How many scopes the index knows, counted when a query asks."""

    def known() -> int:
        with rc.reading() as index:
            return 1 + sum(1 for _ in index.descendants("platform"))

    return known


def _assignment_filters(
    rc: ListingSource,
    *,
    user: str | None,
    role: str | Sequence[str] | None,
    scope: str | None,
    scope_type: str | None,
    org: str | None,
    q: str | None,
    who: str | None = None,
    granted_by: str | None = None,
    scope_text: str | None = None,
    seen: SeenScopes | None = None,
) -> stored.Filters:
    roles: list[str] | None = None
    if role is not None:
        roles = []
        for one in [role] if isinstance(role, str) else role:
            # A role whose plugin is gone is unknown, yet its grants can still be listed by
            # its id.
            with contextlib.suppress(BadInputError):
                one = rc.role(one).id
            roles.append(one)
    key = None if scope is None else rc.registry.scopes.resolve(scope).key
    kind_forms: tuple[Sequence[str], bool] | None = None
    if scope_type is not None:
        kind = rc.registry.scope_types.get(scope_type)
        if kind is None:
            raise BadInputError(
                f"unknown scope type {show(scope_type)}; known: "
                f"{', '.join(sorted(rc.registry.scope_types))}"
            )
        kind_forms = (tuple(kind.namespaces), bool(kind.slash_keys))
    return stored.Filters(
        user=user,
        roles=roles,
        scope=key,
        scope_type=kind_forms,
        scopes=None if org is None else org_and_below(rc, org),
        q=None if q is None else _text(q, "the search text"),
        who=None if who is None else _text(who, "the user searched for"),
        granted_by=granted_by,
        scope_text=(None if scope_text is None else _text(scope_text, "the scope searched for")),
        seen=seen,
    )


def org_and_below(rc: ScopeSource, org: str) -> list[str]:
    """The org (``MITx`` or ``org:MITx``) and every known scope below it, sorted."""
    key = rc.registry.scopes.resolve(org if org.startswith("org:") else f"org:{org}").key
    # Every scope below the org that holds a grant is known to the index (it learns the
    # chain of each grant's scope), so the org and its known descendants are all there is.
    with rc.reading() as index:
        below = [key, *index.descendants(key)]
    return sorted(below)


def _row(values: Sequence[Any]) -> AssignmentRow:
    return AssignmentRow(*values)


def _key_of(row: AssignmentRow, sort: str) -> list[Any]:
    """The cursor's key for ``row``: ``[id]`` for the id sort, ``[value, id]`` for the
    others, ``[missing, value, id]`` for a column that may be empty (``missing`` is 1 for a
    row without a value; a time is kept as its ISO text)."""
    name = sort.lstrip("-")
    if name == "id":
        return [row.id]
    value = getattr(row, name)
    if isinstance(value, datetime):
        value = value.isoformat()
    if stored.SORTS[name].nullable:
        return [int(value is None), value or "", row.id]
    return [value, row.id]


def _decoded(sort: str, cursor: str) -> tuple[bool, Any, int]:
    """(past the rows with a value, the last value, the last id) of ``cursor``."""
    name = sort.lstrip("-")
    spec = stored.SORTS[name]
    kind = str if spec.kind is datetime else spec.kind
    if name == "id":
        (last,) = decode_cursor(cursor, sort, [int])
        return False, last, last
    if spec.nullable:
        missing, value, last = decode_cursor(cursor, sort, [int, kind, int])
    else:
        missing = 0
        value, last = decode_cursor(cursor, sort, [kind, int])
    if spec.kind is datetime and not missing:
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise BadInputError("the cursor is not one this listing gave out") from None
        if value.tzinfo is None:
            raise BadInputError("the cursor is not one this listing gave out")
    return bool(missing), value, last


def list_assignments(
    rc: ListingSource,
    *,
    user: str | None = None,
    role: str | Sequence[str] | None = None,
    scope: str | None = None,
    scope_type: str | None = None,
    org: str | None = None,
    q: str | None = None,
    who: str | None = None,
    granted_by: str | None = None,
    scope_text: str | None = None,
    seen: SeenScopes | None = None,
    sort: str = "id",
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[AssignmentRow]:
    """One page of assignments matching every filter given (expired ones included, flagged
    by their ``expires_at``).

    ``user``: a username; ``role``: a role id or alias, or several (any of them); ``scope``:
    exactly this scope key;
    ``scope_type``: scopes of this type; ``org``: the org (``MITx`` or ``org:MITx``) and every
    scope below it; ``q``: text found (case-insensitively) in the username, e-mail, display
    name, role or scope; ``who``: text found in the username, e-mail or display name;
    ``granted_by``: the username that granted it; ``scope_text``: text found in the scope
    key; ``seen``: only what someone may see (:class:`SeenScopes`). ``sort``: ``id`` (grant
    order), ``user``, ``role``, ``scope``, ``granted_by``, ``granted_at`` or ``expires_at``,
    ``-`` first for descending; grants without a ``granted_by`` or ``expires_at`` come last
    in ascending order and first in descending.
    """
    if sort not in ASSIGNMENT_SORTS:
        raise BadInputError(f"unknown sort {show(sort)}; one of: {', '.join(ASSIGNMENT_SORTS)}")
    limit = check_limit(limit)
    where = _assignment_filters(
        rc,
        user=user,
        role=role,
        scope=scope,
        scope_type=scope_type,
        org=org,
        q=q,
        who=who,
        granted_by=granted_by,
        scope_text=scope_text,
        seen=seen,
    )
    after = None if cursor is None else _decoded(sort, cursor)
    rows: list[AssignmentRow] = []
    if seen is None or not seen.nothing:
        found = stored.page(rc.engine, where, _known(rc), sort=sort, after=after, limit=limit + 1)
        rows = [_row(r) for r in found]
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(sort, _key_of(rows[-1], sort)) if more else None
    return Page(rows, next_cursor)


def count_assignments(
    rc: ListingSource, *, most: int = COUNT_LIMIT, **filters: Any
) -> tuple[int, bool]:
    """How many assignments match the filters of :func:`list_assignments` (``sort``,
    ``limit`` and ``cursor`` aside), counting at most ``most``: (count, more than ``most``)."""
    seen: SeenScopes | None = filters.get("seen")
    if seen is not None and seen.nothing:
        return 0, False
    where = _assignment_filters(rc, **{k: filters.get(k) for k in _FILTERS})
    found = stored.count(rc.engine, where, _known(rc), most=most)
    return min(found, most), found > most


_FILTERS = (
    "user",
    "role",
    "scope",
    "scope_type",
    "org",
    "q",
    "who",
    "granted_by",
    "scope_text",
    "seen",
)


def iter_assignments(
    rc: ListingSource, *, sort: str = "id", batch: int = 500, **filters: Any
) -> Iterator[AssignmentRow]:
    """Every assignment matching the filters of :func:`list_assignments`, in ``sort``
    order, read a page of ``batch`` at a time (each its own short query, so an export holds
    no transaction open while it is sent)."""
    cursor: str | None = None
    while True:
        page = list_assignments(rc, sort=sort, limit=batch, cursor=cursor, **filters)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def find_assignment(rc: TableSource, grant_id: int) -> AssignmentRow | None:
    """The assignment with this id, or None."""
    found = stored.by_id(rc.engine, grant_id)
    return None if found is None else _row(found)


def find_grant(rc: GrantSource, user: str, role: str, scope: str) -> AssignmentRow | None:
    """The assignment of ``role`` (an id or alias) to ``user`` at ``scope``, or None."""
    role_id = rc.role(role).id
    key = rc.registry.scopes.resolve(scope).key
    found = stored.by_key(rc.engine, user, role_id, key)
    return None if found is None else _row(found)


@dataclass(frozen=True)
class AssignedUser:
    """One user holding some of the assignments a filter matches: how many, and which roles."""

    user: str
    email: str | None
    display_name: str | None
    assignments: int
    roles: tuple[str, ...]


def list_assigned_users(
    rc: ListingSource, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None, **filters: Any
) -> Page[AssignedUser]:
    """One page, by username, of the distinct users holding the assignments that match the
    filters of :func:`list_assignments` (``sort`` aside), each with how many of them they hold
    and their roles: "which people" rather than "which assignments"."""
    limit = check_limit(limit)
    seen: SeenScopes | None = filters.get("seen")
    if seen is not None and seen.nothing:
        return Page([], None)
    where = _assignment_filters(rc, **{k: filters.get(k) for k in _FILTERS})
    after: str | None = None
    if cursor is not None:
        (after,) = decode_cursor(cursor, "users", (str,))
    found, roles = stored.holders(rc.engine, where, _known(rc), after=after, limit=limit + 1)
    more = len(found) > limit
    found = found[:limit]
    items = [
        AssignedUser(name, email, display, count, tuple(sorted(roles.get(name, ()))))
        for name, email, display, count in found
    ]
    next_cursor = encode_cursor("users", [items[-1].user]) if more else None
    return Page(items, next_cursor)


def count_assigned_users(
    rc: ListingSource, *, most: int = COUNT_LIMIT, **filters: Any
) -> tuple[int, bool]:
    """How many distinct users :func:`list_assigned_users` lists, counting at most ``most``:
    (count, more than ``most``)."""
    seen: SeenScopes | None = filters.get("seen")
    if seen is not None and seen.nothing:
        return 0, False
    where = _assignment_filters(rc, **{k: filters.get(k) for k in _FILTERS})
    found = stored.count_holders(rc.engine, where, _known(rc), most=most)
    return min(found, most), found > most


def iter_assigned_users(
    rc: ListingSource, *, batch: int = 500, **filters: Any
) -> Iterator[AssignedUser]:
    """Every user :func:`list_assigned_users` lists, by username, a page of ``batch`` at a
    time (each its own short query)."""
    cursor: str | None = None
    while True:
        page = list_assigned_users(rc, limit=batch, cursor=cursor, **filters)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
