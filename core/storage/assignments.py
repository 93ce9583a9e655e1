"""The assignment listings' SQL: the queries of :mod:`rolecall.core.reads.assignments`
(filters, keyset pages, counts, the users holding them). The read layer resolves the names
(roles, scopes, scope types, orgs), checks the texts and cursors and applies its visibility
rule; this module turns what it resolved into queries. Each read is its own short session; a
driver error raises :class:`~rolecall.core.errors.StorageError`.

Each sort walks an index: ``id`` the primary key, ``user`` the users' unique username and the
assignments' (user, role, scope) key, ``scope`` the scope index. The text search has no index
to use; it reads rows in the chosen order until a page is full."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Engine, Select, String, and_, func, or_, select, tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from .models import Assignment, User
from .sessions import reading

Known = Callable[[], int]
"""How many scopes are known (asked only when a query weighs a list of scopes against it)."""


class Seen(Protocol):
    """What someone may see (the read layer's ``SeenScopes``)."""

    @property
    def scopes(self) -> frozenset[str] | None: ...
    @property
    def hidden(self) -> frozenset[str]: ...
    @property
    def user(self) -> str | None: ...
    @property
    def own(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class Filters:
    """A listing's filters, resolved by the read layer: ``roles`` role ids (any of them; an
    empty list matches nothing), ``scope`` one scope key, ``scope_type`` a type's namespaces
    and whether it claims slash keys, ``scopes`` the keys of an org and below; ``q``, ``who``
    and ``scope_text`` texts checked already; ``seen`` only what someone may see."""

    user: str | None = None
    roles: Sequence[str] | None = None
    scope: str | None = None
    scope_type: tuple[Sequence[str], bool] | None = None
    scopes: Sequence[str] | None = None
    q: str | None = None
    who: str | None = None
    granted_by: str | None = None
    scope_text: str | None = None
    seen: Seen | None = None


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


def _scope_in(known: Known, keys: Collection[str], *, negate: bool = False) -> Any:
    """``scope IN keys`` (``NOT IN`` with ``negate``), through the scope index only when
    ``keys`` are few."""
    column: Any = Assignment.scope
    if not negate and len(keys) > 1 and len(keys) * BROAD > known():
        column = _Unindexed(Assignment.scope)
    ordered = sorted(keys)
    return column.not_in(ordered) if negate else column.in_(ordered)


def _seen_filter(known: Known, seen: Seen) -> list[ColumnElement[bool]]:
    """The conditions that keep the rows ``seen`` allows: one list of scopes the query may
    walk, and the viewer's own grants on scopes the list would not give, as a check of the
    rows found (an OR of the two would keep SQLite from using either)."""
    where: list[ColumnElement[bool]] = []
    own = select(User.id).where(User.username == seen.user).scalar_subquery()
    mine = Assignment.user_id == own
    if seen.scopes is None:
        others = seen.hidden - seen.own if seen.user else seen.hidden
        if others:
            where.append(_scope_in(known, others, negate=True))
        if seen.user and seen.own & seen.hidden:
            where.append(or_(_scope_in(known, seen.own & seen.hidden, negate=True), mine))
        return where
    extra = seen.own - seen.scopes if seen.user else frozenset()
    where.append(_scope_in(known, seen.scopes | extra))
    if extra:
        where.append(or_(_scope_in(known, extra, negate=True), mine))
    return where


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    """``column`` holds ``text``, in any case (LIKE's wildcards in ``text`` are literal)."""
    return func.lower(func.coalesce(column, "")).like(_like(text), escape="\\")


def _where(filters: Filters, known: Known) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.user is not None:
        where.append(User.username == filters.user)
    if filters.roles is not None:
        ids = list(filters.roles)
        where.append(Assignment.role == ids[0] if len(ids) == 1 else Assignment.role.in_(ids))
    if filters.scope is not None:
        where.append(Assignment.scope == filters.scope)
    if filters.scope_type is not None:
        # Every key of a type starts with one of its namespaces (see ScopeType): the type's
        # whole key (``platform``) or the namespace and a colon; a type claiming slash keys also
        # has the keys with a ``/`` and no ``:``. Namespaces hold no LIKE wildcards.
        namespaces, slash_keys = filters.scope_type
        forms: list[ColumnElement[bool]] = []
        for namespace in namespaces:
            forms.append(Assignment.scope == namespace)
            forms.append(Assignment.scope.like(f"{namespace}:%"))
        if slash_keys:
            forms.append(and_(Assignment.scope.like("%/%"), ~Assignment.scope.like("%:%")))
        where.append(or_(*forms))
    if filters.scopes is not None:
        where.append(_scope_in(known, filters.scopes))
    if filters.q is not None:
        text = filters.q
        where.append(
            or_(
                _contains(User.username, text),
                _contains(User.email, text),
                _contains(User.display_name, text),
                _contains(Assignment.role, text),
                _contains(Assignment.scope, text),
            )
        )
    if filters.who is not None:
        text = filters.who
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
    if filters.granted_by is not None:
        where.append(Assignment.granted_by == filters.granted_by)
    if filters.scope_text is not None:
        where.append(_contains(Assignment.scope, filters.scope_text))
    if filters.seen is not None:
        where += _seen_filter(known, filters.seen)
    return where


ROW_COLUMNS = (
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
"""The columns of a listed assignment, in the order of the read layer's ``AssignmentRow``."""


@dataclass(frozen=True)
class Sort:
    column: Any
    kind: type
    nullable: bool = False
    """Rows without a value (``granted_by`` of a grant made by the operator, ``expires_at``
    of one that never expires) come after every value, in id order."""


SORTS: dict[str, Sort] = {
    "id": Sort(Assignment.id, int),
    "user": Sort(User.username, str),
    "role": Sort(Assignment.role, str),
    "scope": Sort(Assignment.scope, str),
    "granted_by": Sort(Assignment.granted_by, str, nullable=True),
    "granted_at": Sort(Assignment.granted_at, datetime),
    "expires_at": Sort(Assignment.expires_at, datetime, nullable=True),
}
"""Each sort's column, the type of its values and whether a row may have none."""

After = tuple[bool, Any, int]
"""Where a page starts: (past the rows with a value, the last value, the last id)."""


def _after(column: Any, value: Any, last: int, descending: bool) -> ColumnElement[bool]:
    columns, key = tuple_(column, Assignment.id), tuple_(value, last)
    return columns < key if descending else columns > key


def _runs(sort: str, after: After | None) -> list[tuple[list[ColumnElement[bool]], list[Any]]]:
    """The conditions and order of the one or two queries that give the rows after
    ``after`` in ``sort``: a column that may be empty is read in two runs, the rows with a
    value and those without, so that each run walks an index on every backend (they order
    NULL differently)."""
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    spec = SORTS[name]
    column = spec.column
    ids = Assignment.id.desc() if descending else Assignment.id.asc()
    ordered = column.desc() if descending else column.asc()
    missing, value, last = (False, None, None) if after is None else after
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
    return select(*ROW_COLUMNS).join(User, User.id == Assignment.user_id).where(*where)


def page(
    engine: Engine, filters: Filters, known: Known, *, sort: str, after: After | None, limit: int
) -> list[Sequence[Any]]:
    """Up to ``limit`` rows (:data:`ROW_COLUMNS`) matching ``filters``, in ``sort`` order
    (``-`` first for descending), after ``after``."""
    where = _where(filters, known)
    rows: list[Sequence[Any]] = []
    with reading(engine) as session:
        for run, order in _runs(sort, after):
            query = _select([*where, *run]).order_by(*order).limit(limit - len(rows))
            rows += list(session.execute(query))
            if len(rows) >= limit:
                break
    return rows


def count(engine: Engine, filters: Filters, known: Known, *, most: int) -> int:
    """How many assignments match ``filters``, counting at most ``most + 1``."""
    capped = (
        select(Assignment.id)
        .join(User, User.id == Assignment.user_id)
        .where(*_where(filters, known))
        .limit(most + 1)
        .subquery()
    )
    with reading(engine) as session:
        return int(session.scalar(select(func.count()).select_from(capped)) or 0)


def by_id(engine: Engine, grant_id: int) -> Sequence[Any] | None:
    """The row (:data:`ROW_COLUMNS`) of the assignment with this id, or None."""
    with reading(engine) as session:
        return session.execute(_select([Assignment.id == grant_id])).first()


def by_key(engine: Engine, user: str, role_id: str, key: str) -> Sequence[Any] | None:
    """The row of the assignment of ``role_id`` to ``user`` at scope ``key``, or None."""
    where = [User.username == user, Assignment.role == role_id, Assignment.scope == key]
    with reading(engine) as session:
        return session.execute(_select(where)).first()


def holders(
    engine: Engine, filters: Filters, known: Known, *, after: str | None, limit: int
) -> tuple[list[tuple[str, str | None, str | None, int]], dict[str, set[str]]]:
    """Up to ``limit`` distinct users, by username after ``after``, holding assignments that
    match ``filters``: (username, e-mail, display name, how many) each, and the roles of each
    among those assignments."""
    where = _where(filters, known)
    if after is not None:
        where.append(User.username > after)
    query = (
        select(User.username, User.email, User.display_name, func.count(Assignment.id))
        .join(User, User.id == Assignment.user_id)
        .where(*where)
        .group_by(User.username, User.email, User.display_name)
        .order_by(User.username)
        .limit(limit)
    )
    roles: dict[str, set[str]] = {}
    with reading(engine) as session:
        found = [
            (name, email, display, int(n)) for name, email, display, n in session.execute(query)
        ]
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
    return found, roles


def count_holders(engine: Engine, filters: Filters, known: Known, *, most: int) -> int:
    """How many distinct users hold assignments that match ``filters``, counting at most
    ``most + 1``."""
    capped = (
        select(Assignment.user_id)
        .join(User, User.id == Assignment.user_id)
        .where(*_where(filters, known))
        .distinct()
        .limit(most + 1)
        .subquery()
    )
    with reading(engine) as session:
        return int(session.scalar(select(func.count()).select_from(capped)) or 0)
