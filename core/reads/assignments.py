"""Assignments from the tables: filtered, sorted and cut in pages, or found one by one.

The engine answers questions about one user or one scope from memory; a listing that filters
and sorts across every assignment is a database query instead. Pages are cut with keyset
pagination (see :mod:`.pages`). Each sort walks an index: ``id`` the primary key, ``user`` the
users' unique username and the assignments' (user, role, scope) key, ``scope`` the scope index.
The text search ``q`` has no index to use; it reads rows in the chosen order until a page is
full.

    from rolecall.core.reads import list_assignments

    page = list_assignments(rc, org="MITx", sort="-id", limit=50)
    more = list_assignments(rc, org="MITx", sort="-id", limit=50, cursor=page.next_cursor)
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from sqlalchemy import ColumnElement, Select, String, and_, func, or_, select, tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ..errors import BadInputError
from ..scopes import show
from ..storage.models import Assignment, User
from ..storage.sessions import reading
from .pages import DEFAULT_LIMIT, MAX_QUERY, Page, check_limit, decode_cursor, encode_cursor

if TYPE_CHECKING:
    from ..service import Rolecall

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


class _Unindexed(FunctionElement[str]):
    """A column that the query must not look up through an index (SQLite's unary ``+``), so
    that the planner walks the index of the sort instead; the plain column elsewhere."""

    type = String()
    inherit_cache = True
    name = "unindexed"


@compiles(_Unindexed)
def _plain(element: _Unindexed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_Unindexed, "sqlite")
def _unary_plus(element: _Unindexed, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.clauses, **kw))


BROAD = 20
"""A list of scopes holding more than 1/BROAD of the known ones is no way in: SQLite (which
has no statistics unless ANALYZE was run) would read every grant of those scopes and sort them,
where walking the sort's index and keeping the rows on those scopes stops after a page."""


def _scope_in(rc: Rolecall, keys: Collection[str], *, negate: bool = False) -> Any:
    """``scope IN keys`` (``NOT IN`` with ``negate``), through the scope index only when
    ``keys`` are few."""
    column: Any = Assignment.scope
    if not negate and len(keys) > 1:
        with rc.reading() as index:
            known = 1 + sum(1 for _ in index.descendants("platform"))
        if len(keys) * BROAD > known:
            column = _Unindexed(Assignment.scope)
    ordered = sorted(keys)
    return column.not_in(ordered) if negate else column.in_(ordered)


def _seen_filter(rc: Rolecall, seen: SeenScopes) -> list[ColumnElement[bool]]:
    """The conditions that keep the rows ``seen`` allows: one list of scopes the query may
    walk, and the viewer's own grants on scopes the list would not give, as a check of the
    rows found (an OR of the two would keep SQLite from using either)."""
    where: list[ColumnElement[bool]] = []
    own = select(User.id).where(User.username == seen.user).scalar_subquery()
    mine = Assignment.user_id == own
    if seen.scopes is None:
        others = seen.hidden - seen.own if seen.user else seen.hidden
        if others:
            where.append(_scope_in(rc, others, negate=True))
        if seen.user and seen.own & seen.hidden:
            where.append(or_(_scope_in(rc, seen.own & seen.hidden, negate=True), mine))
        return where
    extra = seen.own - seen.scopes if seen.user else frozenset()
    where.append(_scope_in(rc, seen.scopes | extra))
    if extra:
        where.append(or_(_scope_in(rc, extra, negate=True), mine))
    return where


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    """``column`` holds ``text``, in any case (LIKE's wildcards in ``text`` are literal)."""
    return func.lower(func.coalesce(column, "")).like(_like(text), escape="\\")


def _text(text: str, what: str) -> str:
    text = text.strip()
    if not text or len(text) > MAX_QUERY:
        raise BadInputError(f"{what} must be 1 to {MAX_QUERY} characters")
    return text


def _assignment_filters(
    rc: Rolecall,
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
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if user is not None:
        where.append(User.username == user)
    if role is not None:
        ids = []
        for one in [role] if isinstance(role, str) else role:
            # A role whose plugin is gone is unknown, yet its grants can still be listed by
            # its id.
            with contextlib.suppress(BadInputError):
                one = rc.role(one).id
            ids.append(one)
        # Several roles: any of them; none (an empty list) matches nothing.
        where.append(Assignment.role == ids[0] if len(ids) == 1 else Assignment.role.in_(ids))
    if scope is not None:
        where.append(Assignment.scope == rc.registry.scopes.resolve(scope).key)
    if scope_type is not None:
        kind = rc.registry.scope_types.get(scope_type)
        if kind is None:
            raise BadInputError(
                f"unknown scope type {show(scope_type)}; known: "
                f"{', '.join(sorted(rc.registry.scope_types))}"
            )
        # Every key of a type starts with one of its namespaces (see ScopeType): the type's
        # whole key (``platform``) or the namespace and a colon; a type claiming slash keys also
        # has the keys with a ``/`` and no ``:``. Namespaces hold no LIKE wildcards.
        forms: list[ColumnElement[bool]] = []
        for namespace in kind.namespaces:
            forms.append(Assignment.scope == namespace)
            forms.append(Assignment.scope.like(f"{namespace}:%"))
        if kind.slash_keys:
            forms.append(and_(Assignment.scope.like("%/%"), ~Assignment.scope.like("%:%")))
        where.append(or_(*forms))
    if org is not None:
        where.append(_scope_in(rc, org_and_below(rc, org)))
    if q is not None:
        text = _text(q, "the search text")
        where.append(
            or_(
                _contains(User.username, text),
                _contains(User.email, text),
                _contains(User.display_name, text),
                _contains(Assignment.role, text),
                _contains(Assignment.scope, text),
            )
        )
    if who is not None:
        text = _text(who, "the user searched for")
        # The users first (one pass over their table), then their grants by the
        # assignments' (user, role, scope) index, rather than the text tried on every grant.
        matching = select(User.id).where(
            or_(
                _contains(User.username, text),
                _contains(User.email, text),
                _contains(User.display_name, text),
            )
        )
        where.append(Assignment.user_id.in_(matching))
    if granted_by is not None:
        where.append(Assignment.granted_by == granted_by)
    if scope_text is not None:
        where.append(_contains(Assignment.scope, _text(scope_text, "the scope searched for")))
    if seen is not None:
        where += _seen_filter(rc, seen)
    return where


def org_and_below(rc: Rolecall, org: str) -> list[str]:
    """The org (``MITx`` or ``org:MITx``) and every known scope below it, sorted."""
    key = rc.registry.scopes.resolve(org if org.startswith("org:") else f"org:{org}").key
    # Every scope below the org that holds a grant is known to the index (it learns the
    # chain of each grant's scope), so the org and its known descendants are all there is.
    with rc.reading() as index:
        below = [key, *index.descendants(key)]
    return sorted(below)


_ROW_COLUMNS = (
    Assignment.id,
    User.username,
    User.email,
    User.display_name,
    Assignment.role,
    Assignment.scope,
    Assignment.granted_by,
    Assignment.granted_at,
    Assignment.expires_at,
    Assignment.reason,
)


def _row(values: Sequence[Any]) -> AssignmentRow:
    return AssignmentRow(*values)


@dataclass(frozen=True)
class _Sort:
    column: Any
    kind: type
    nullable: bool = False
    """Rows without a value (``granted_by`` of a grant made by the operator, ``expires_at``
    of one that never expires) come after every value, in id order."""


_SORTS: dict[str, _Sort] = {
    "id": _Sort(Assignment.id, int),
    "user": _Sort(User.username, str),
    "role": _Sort(Assignment.role, str),
    "scope": _Sort(Assignment.scope, str),
    "granted_by": _Sort(Assignment.granted_by, str, nullable=True),
    "granted_at": _Sort(Assignment.granted_at, datetime),
    "expires_at": _Sort(Assignment.expires_at, datetime, nullable=True),
}


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
    if _SORTS[name].nullable:
        return [int(value is None), value or "", row.id]
    return [value, row.id]


def _decoded(sort: str, cursor: str) -> tuple[bool, Any, int]:
    """(past the rows with a value, the last value, the last id) of ``cursor``."""
    name = sort.lstrip("-")
    spec = _SORTS[name]
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


def _after(column: Any, value: Any, last: int, descending: bool) -> ColumnElement[bool]:
    columns, key = tuple_(column, Assignment.id), tuple_(value, last)
    return columns < key if descending else columns > key


def _pages(sort: str, cursor: str | None) -> list[tuple[list[ColumnElement[bool]], list[Any]]]:
    """The conditions and order of the one or two queries that give the rows after
    ``cursor`` in ``sort``: a column that may be empty is read in two runs, the rows with a
    value and those without, so that each run walks an index on every backend (they order
    NULL differently)."""
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    spec = _SORTS[name]
    column = spec.column
    ids = Assignment.id.desc() if descending else Assignment.id.asc()
    ordered = column.desc() if descending else column.asc()
    missing, value, last = (False, None, None) if cursor is None else _decoded(sort, cursor)
    if name == "id":
        where = [] if last is None else [column < last if descending else column > last]
        return [(where, [ids])]
    if not spec.nullable:
        where = [] if last is None else [_after(column, value, last, descending)]
        if name == "user" and last is None:
            # Always true, yet it lets the planner walk the username index from the users'
            # side instead of sorting every assignment (SQLite otherwise starts from the
            # assignments).
            where.append(User.username >= "")
        return [(where, [ordered, ids])]
    with_value: list[ColumnElement[bool]] = [column.is_not(None)]
    without: list[ColumnElement[bool]] = [column.is_(None)]
    if last is not None and not missing:
        with_value.append(_after(column, value, last, descending))
    if last is not None and missing:
        without.append(Assignment.id < last if descending else Assignment.id > last)
    runs = [(with_value, [ordered, ids]), (without, [ids])]
    if descending:  # the rows without a value come first
        runs.reverse()
    if last is not None and missing != descending:
        # Past the first run already: only the second is left.
        runs = runs[1:]
    return runs


def _select(where: list[ColumnElement[bool]]) -> Select[*tuple[Any, ...]]:
    return select(*_ROW_COLUMNS).join(User, User.id == Assignment.user_id).where(*where)


def list_assignments(
    rc: Rolecall,
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
    runs = _pages(sort, cursor)
    rows: list[AssignmentRow] = []
    if seen is None or not seen.nothing:
        with reading(rc.engine) as session:
            for run, order in runs:
                query = _select([*where, *run]).order_by(*order).limit(limit + 1 - len(rows))
                rows += [_row(r) for r in session.execute(query)]
                if len(rows) > limit:
                    break
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(sort, _key_of(rows[-1], sort)) if more else None
    return Page(rows, next_cursor)


def count_assignments(rc: Rolecall, *, most: int = COUNT_LIMIT, **filters: Any) -> tuple[int, bool]:
    """How many assignments match the filters of :func:`list_assignments` (``sort``,
    ``limit`` and ``cursor`` aside), counting at most ``most``: (count, more than ``most``)."""
    seen: SeenScopes | None = filters.get("seen")
    if seen is not None and seen.nothing:
        return 0, False
    where = _assignment_filters(rc, **{k: filters.get(k) for k in _FILTERS})
    capped = (
        select(Assignment.id)
        .join(User, User.id == Assignment.user_id)
        .where(*where)
        .limit(most + 1)
        .subquery()
    )
    with reading(rc.engine) as session:
        found = int(session.scalar(select(func.count()).select_from(capped)) or 0)
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
    rc: Rolecall, *, sort: str = "id", batch: int = 500, **filters: Any
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


def find_assignment(rc: Rolecall, grant_id: int) -> AssignmentRow | None:
    """The assignment with this id, or None."""
    query = (
        select(*_ROW_COLUMNS)
        .join(User, User.id == Assignment.user_id)
        .where(Assignment.id == grant_id)
    )
    with reading(rc.engine) as session:
        found = session.execute(query).first()
    return None if found is None else _row(found)


def find_grant(rc: Rolecall, user: str, role: str, scope: str) -> AssignmentRow | None:
    """The assignment of ``role`` (an id or alias) to ``user`` at ``scope``, or None."""
    role_id = rc.role(role).id
    key = rc.registry.scopes.resolve(scope).key
    query = (
        select(*_ROW_COLUMNS)
        .join(User, User.id == Assignment.user_id)
        .where(User.username == user, Assignment.role == role_id, Assignment.scope == key)
    )
    with reading(rc.engine) as session:
        found = session.execute(query).first()
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
    rc: Rolecall, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None, **filters: Any
) -> Page[AssignedUser]:
    """One page, by username, of the distinct users holding the assignments that match the
    filters of :func:`list_assignments` (``sort`` aside), each with how many of them they hold
    and their roles: "which people" rather than "which assignments"."""
    limit = check_limit(limit)
    seen: SeenScopes | None = filters.get("seen")
    if seen is not None and seen.nothing:
        return Page([], None)
    where = _assignment_filters(rc, **{k: filters.get(k) for k in _FILTERS})
    if cursor is not None:
        (after,) = decode_cursor(cursor, "users", (str,))
        where.append(User.username > after)
    query = (
        select(User.username, User.email, User.display_name, func.count(Assignment.id))
        .join(User, User.id == Assignment.user_id)
        .where(*where)
        .group_by(User.username, User.email, User.display_name)
        .order_by(User.username)
        .limit(limit + 1)
    )
    with reading(rc.engine) as session:
        found = list(session.execute(query))
        more = len(found) > limit
        found = found[:limit]
        roles: dict[str, set[str]] = {}
        if found:
            names = [r[0] for r in found]
            held = (
                select(User.username, Assignment.role)
                .join(User, User.id == Assignment.user_id)
                .where(*where, User.username.in_(names))
                .distinct()
            )
            for name, role in session.execute(held):
                roles.setdefault(name, set()).add(role)
    items = [
        AssignedUser(name, email, display, int(count), tuple(sorted(roles.get(name, ()))))
        for name, email, display, count in found
    ]
    next_cursor = encode_cursor("users", [items[-1].user]) if more else None
    return Page(items, next_cursor)


def count_assigned_users(
    rc: Rolecall, *, most: int = COUNT_LIMIT, **filters: Any
) -> tuple[int, bool]:
    """How many distinct users :func:`list_assigned_users` lists, counting at most ``most``:
    (count, more than ``most``)."""
    seen: SeenScopes | None = filters.get("seen")
    if seen is not None and seen.nothing:
        return 0, False
    where = _assignment_filters(rc, **{k: filters.get(k) for k in _FILTERS})
    capped = (
        select(Assignment.user_id)
        .join(User, User.id == Assignment.user_id)
        .where(*where)
        .distinct()
        .limit(most + 1)
        .subquery()
    )
    with reading(rc.engine) as session:
        found = int(session.scalar(select(func.count()).select_from(capped)) or 0)
    return min(found, most), found > most


def iter_assigned_users(
    rc: Rolecall, *, batch: int = 500, **filters: Any
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
