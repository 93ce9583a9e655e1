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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, tuple_
from sqlalchemy.orm import Session

from ..errors import BadInputError
from ..scopes import show
from ..storage.models import Assignment, User
from .pages import DEFAULT_LIMIT, MAX_QUERY, Page, check_limit, decode_cursor, encode_cursor

if TYPE_CHECKING:
    from ..service import Rolecall

AssignmentSort = Literal["id", "-id", "user", "-user", "scope", "-scope"]
ASSIGNMENT_SORTS: tuple[str, ...] = get_args(AssignmentSort)


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


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _assignment_filters(
    rc: Rolecall,
    *,
    user: str | None,
    role: str | None,
    scope: str | None,
    scope_type: str | None,
    org: str | None,
    q: str | None,
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if user is not None:
        where.append(User.username == user)
    if role is not None:
        # A role whose plugin is gone is unknown, yet its grants can still be listed by its id.
        with contextlib.suppress(BadInputError):
            role = rc.role(role).id
        where.append(Assignment.role == role)
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
        key = rc.registry.scopes.resolve(org if org.startswith("org:") else f"org:{org}").key
        # Every scope below the org that holds a grant is known to the index (it learns the
        # chain of each grant's scope), so the org and its known descendants are all there is.
        with rc.reading() as index:
            below = [key, *index.descendants(key)]
        where.append(Assignment.scope.in_(below))
    if q is not None:
        if not q.strip() or len(q) > MAX_QUERY:
            raise BadInputError(f"the search text must be 1 to {MAX_QUERY} characters")
        pattern = _like(q.strip())
        where.append(
            or_(
                func.lower(User.username).like(pattern, escape="\\"),
                func.lower(func.coalesce(User.email, "")).like(pattern, escape="\\"),
                func.lower(func.coalesce(User.display_name, "")).like(pattern, escape="\\"),
                func.lower(Assignment.role).like(pattern, escape="\\"),
                func.lower(Assignment.scope).like(pattern, escape="\\"),
            )
        )
    return where


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


def _keyed(
    query: Select[*tuple[Any, ...]], sort: str, cursor: str | None
) -> Select[*tuple[Any, ...]]:
    """Order ``query`` by ``sort`` and start it after ``cursor``."""
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    columns: list[Any]
    types: list[type]
    if name == "id":
        columns, types = [Assignment.id], [int]
    elif name == "user":
        columns, types = [User.username, Assignment.id], [str, int]
    else:
        columns, types = [Assignment.scope, Assignment.id], [str, int]
    if cursor is not None:
        last = decode_cursor(cursor, sort, types)
        if len(columns) == 1:
            after = columns[0] < last[0] if descending else columns[0] > last[0]
        else:
            after = (
                tuple_(*columns) < tuple_(*last) if descending else tuple_(*columns) > tuple_(*last)
            )
        query = query.where(after)
    elif name == "user":
        # Always true, yet it lets the planner walk the username index from the users' side
        # instead of sorting every assignment (SQLite otherwise starts from the assignments).
        query = query.where(User.username >= "")
    order = [c.desc() if descending else c.asc() for c in columns]
    return query.order_by(*order)


def _key_of(row: AssignmentRow, sort: str) -> list[Any]:
    name = sort.lstrip("-")
    if name == "id":
        return [row.id]
    return [row.user if name == "user" else row.scope, row.id]


def list_assignments(
    rc: Rolecall,
    *,
    user: str | None = None,
    role: str | None = None,
    scope: str | None = None,
    scope_type: str | None = None,
    org: str | None = None,
    q: str | None = None,
    sort: str = "id",
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[AssignmentRow]:
    """One page of assignments matching every filter given (expired ones included, flagged
    by their ``expires_at``).

    ``user``: a username; ``role``: a role id or alias; ``scope``: exactly this scope key;
    ``scope_type``: scopes of this type; ``org``: the org (``MITx`` or ``org:MITx``) and every
    scope below it; ``q``: text found (case-insensitively) in the username, e-mail, display
    name, role or scope. ``sort``: ``id`` (grant order), ``user`` or ``scope``, ``-`` first for
    descending.
    """
    if sort not in ASSIGNMENT_SORTS:
        raise BadInputError(f"unknown sort {show(sort)}; one of: {', '.join(ASSIGNMENT_SORTS)}")
    limit = check_limit(limit)
    where = _assignment_filters(
        rc, user=user, role=role, scope=scope, scope_type=scope_type, org=org, q=q
    )
    query = select(*_ROW_COLUMNS).join(User, User.id == Assignment.user_id).where(*where)
    query = _keyed(query, sort, cursor)
    with Session(rc.engine) as session:
        rows = [_row(r) for r in session.execute(query.limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(sort, _key_of(rows[-1], sort)) if more else None
    return Page(rows, next_cursor)


def find_assignment(rc: Rolecall, grant_id: int) -> AssignmentRow | None:
    """The assignment with this id, or None."""
    query = (
        select(*_ROW_COLUMNS)
        .join(User, User.id == Assignment.user_id)
        .where(Assignment.id == grant_id)
    )
    with Session(rc.engine) as session:
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
    with Session(rc.engine) as session:
        found = session.execute(query).first()
    return None if found is None else _row(found)
