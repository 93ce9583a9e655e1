"""Listings for the REST API and the console: assignments and audit events, page by page.

The engine answers questions about one user or one scope from memory; a listing that filters
and sorts across every assignment is a database query instead. Pages are cut with keyset
pagination: the cursor carries the sort key of the last row shown, and the next page starts
after it, so page 1,000 costs what page 1 costs and nothing counts the whole table. Each sort
walks an index: ``id`` the primary key, ``user`` the users' unique username and the
assignments' (user, role, scope) key, ``scope`` the scope index. The text search ``q`` has no
index to use; it reads rows in the chosen order until a page is full.

    from rolecall.core.listing import list_assignments

    page = list_assignments(rc, org="MITx", sort="-id", limit=50)
    more = list_assignments(rc, org="MITx", sort="-id", limit=50, cursor=page.next_cursor)

Cursors are opaque to callers (URL-safe base64 of the sort and the last key) and belong to the
sort they were made with; a cursor from another sort, or one that was altered, is bad input.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, get_args

from sqlalchemy import ColumnElement, Select, func, or_, select, tuple_
from sqlalchemy.orm import Session

from .engine.decisions import RestrictionInfo
from .errors import BadInputError
from .records import DelegationRule, Role
from .scopes import show
from .service import AuditRecord
from .storage.models import Assignment, AuditEvent, User

if TYPE_CHECKING:
    from .service import Rolecall

T = TypeVar("T")

AssignmentSort = Literal["id", "-id", "user", "-user", "scope", "-scope"]
AuditSort = Literal["id", "-id"]
ASSIGNMENT_SORTS: tuple[str, ...] = get_args(AssignmentSort)
AUDIT_SORTS: tuple[str, ...] = get_args(AuditSort)
MAX_LIMIT = 500
DEFAULT_LIMIT = 50
MAX_QUERY = 200


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; ``next_cursor`` is None on the last page."""

    items: list[T]
    next_cursor: str | None


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
class CustomRoleRow:
    role: Role
    retired: bool


@dataclass(frozen=True)
class RuleRow:
    """A delegation rule: ``source`` is ``plugin`` (a plugin's default, unchanged) or
    ``stored`` (set or switched off at run time); a switched-off rule has ``enabled`` False."""

    rule: DelegationRule
    source: Literal["plugin", "stored"]
    enabled: bool


# ---------------------------------------------------------------------- cursors


def encode_cursor(sort: str, key: Sequence[Any]) -> str:
    """An opaque cursor for the row whose sort key is ``key``."""
    raw = json.dumps({"s": sort, "k": list(key)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, types: Sequence[type]) -> list[Any]:
    """The key stored in ``cursor``, checked against ``sort`` and the key's ``types``."""
    problem = "the cursor is not one this listing gave out"
    if not isinstance(cursor, str) or len(cursor) > 2000:
        raise BadInputError(problem)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise BadInputError(problem) from exc
    if not isinstance(data, dict) or not isinstance(data.get("k"), list):
        raise BadInputError(problem)
    if data.get("s") != sort:
        raise BadInputError(
            f"the cursor belongs to the sort {show(data.get('s'))}, not {sort!r}: keep the sort "
            "of the page it came from"
        )
    key: list[Any] = data["k"]
    # bool is an int subclass: refuse it where an int is wanted.
    if len(key) != len(types) or not all(
        isinstance(v, t) and not (t is int and isinstance(v, bool))
        for v, t in zip(key, types, strict=True)
    ):
        raise BadInputError(problem)
    return key


def _limit(limit: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise BadInputError(f"limit must be a whole number from 1 to {MAX_LIMIT}, not {limit!r}")
    return limit


def require_revision(rc: Rolecall, at_least: int | None) -> int:
    """Read-your-writes for listings: catch up when the caller's revision token is newer than
    this process's index, and refuse a token newer than the database. Returns the revision."""
    if at_least is not None and at_least > rc.revision:
        rc.sync()
        if at_least > rc.revision:
            raise BadInputError(
                f"revision token {at_least} is newer than the database's revision {rc.revision}"
            )
    return rc.revision


# ---------------------------------------------------------------------- assignments


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
        # Every key of a type starts with its namespace (see ScopeType): the type's whole key
        # (``platform``) or the namespace and a colon. Namespaces hold no LIKE wildcards.
        where.append(
            or_(Assignment.scope == kind.namespace, Assignment.scope.like(f"{kind.namespace}:%"))
        )
    if org is not None:
        key = rc.registry.scopes.resolve(org if org.startswith("org:") else f"org:{org}").key
        # Every scope below the org that holds a grant is known to the index (it learns the
        # chain of each grant's scope), so the org and its known descendants are all there is.
        below = [key, *rc.index.descendants(key)]
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
    limit = _limit(limit)
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


# ---------------------------------------------------------------------- audit


def list_audit(
    rc: Rolecall,
    *,
    user: str | None = None,
    scope: str | None = None,
    since: datetime | None = None,
    action: str | None = None,
    sort: str = "-id",
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[AuditRecord]:
    """One page of audit events, newest first by default (``sort="id"``: oldest first)."""
    if sort not in AUDIT_SORTS:
        raise BadInputError(f"unknown sort {show(sort)}; one of: {', '.join(AUDIT_SORTS)}")
    limit = _limit(limit)
    if since is not None and since.tzinfo is None:
        raise BadInputError("since needs a time zone (for example 2026-03-01T00:00Z)")
    descending = sort == "-id"
    query = select(AuditEvent)
    if user is not None:
        query = query.where(AuditEvent.user == user)
    if scope is not None:
        query = query.where(AuditEvent.scope == rc.registry.scopes.resolve(scope).key)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if cursor is not None:
        (last,) = decode_cursor(cursor, sort, [int])
        query = query.where(AuditEvent.id < last if descending else AuditEvent.id > last)
    query = query.order_by(AuditEvent.id.desc() if descending else AuditEvent.id.asc())
    with Session(rc.engine) as session:
        events = [AuditRecord.model_validate(e) for e in session.scalars(query.limit(limit + 1))]
    more = len(events) > limit
    events = events[:limit]
    return Page(events, encode_cursor(sort, [events[-1].id]) if more else None)


# ---------------------------------------------------------------------- in-memory state


def custom_roles(rc: Rolecall) -> list[CustomRoleRow]:
    """The custom roles, by id, each with whether it is retired."""
    index = rc.index
    return [
        CustomRoleRow(role, role.id in index.retired_roles)
        for _, role in sorted(index.custom_roles.items())
    ]


def restrictions(rc: Rolecall) -> list[RestrictionInfo]:
    """Every restriction, by scope."""
    return rc.index.restrictions()


def restriction(rc: Rolecall, scope: str) -> RestrictionInfo | None:
    """The restriction placed at exactly ``scope``, if any."""
    return rc.index.restriction(rc.registry.scopes.resolve(scope).key)


def delegation_rules(rc: Rolecall) -> list[RuleRow]:
    """The plugins' rules and the stored ones, by id, each with whether it is in force."""
    stored = dict(rc.index.stored_rules)
    rows: dict[str, RuleRow] = {}
    for rule_id, rule in rc.registry.rules.items():
        if rule_id not in stored:
            rows[rule_id] = RuleRow(rule, "plugin", True)
    for rule_id, maybe in stored.items():
        if maybe is not None:
            rows[rule_id] = RuleRow(maybe, "stored", True)
        elif rule_id in rc.registry.rules:
            rows[rule_id] = RuleRow(rc.registry.rules[rule_id], "stored", False)
    return [rows[k] for k in sorted(rows)]
