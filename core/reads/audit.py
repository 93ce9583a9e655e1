"""The audit log from its table, newest first by default, cut in pages by event id.

Two callers page it two ways over one set of filters: the REST API with opaque cursors
(:func:`list_audit`), the console with the id the next page starts below, kept in its links as
a plain number (:func:`recent_audit`). Both are keyset pagination on the event id, so a page
costs the same however deep it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict

from ..errors import BadInputError
from ..scopes import show
from ..storage import audit_log
from ..storage.audit_log import EventQuery
from .pages import DEFAULT_LIMIT, Page, check_limit, decode_cursor, encode_cursor

if TYPE_CHECKING:
    from .source import AuditSource, TableSource

AuditSort = Literal["id", "-id"]
AUDIT_SORTS: tuple[str, ...] = get_args(AuditSort)


class AuditRecord(BaseModel):
    """One audit event as the API and CLI show it."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: int
    revision: int
    at: datetime
    action: str
    actor: str | None
    user: str | None
    role: str | None
    scope: str | None
    details: dict[str, Any]
    batch_id: str | None
    hash: str


@dataclass(frozen=True)
class AuditPage:
    records: tuple[AuditRecord, ...]
    older: int | None
    """The ``before`` value of the next page (older events), or ``None`` at the first event."""


def recorded_as(rc: TableSource, name: str) -> list[str]:
    """What the log records for the user or operator ``name``: the user's pseudonym, and the
    name itself (an operator's name, or a name no user has)."""
    return audit_log.recorded_as(rc.engine, name)


def _filters(
    rc: TableSource,
    *,
    user: str | None = None,
    scope: str | None = None,
    since: datetime | None = None,
    action: str | None = None,
    actor: str | None = None,
) -> dict[str, Any]:
    """The query's filters for those given (``scope`` an exact key; ``user`` and ``actor``
    usernames or operators' names, found by what the log records for them)."""
    return {
        "users": None if user is None else recorded_as(rc, user),
        "actors": None if actor is None else recorded_as(rc, actor),
        "scope": scope,
        "since": since,
        "action": action,
    }


def records(rc: TableSource, query: EventQuery) -> list[AuditRecord]:
    """The events ``query`` selects, as readers see them."""
    return [AuditRecord.model_validate(row) for row in audit_log.find_events(rc.engine, query)]


def list_audit(
    rc: AuditSource,
    *,
    user: str | None = None,
    scope: str | None = None,
    since: datetime | None = None,
    action: str | None = None,
    sort: str = "-id",
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[AuditRecord]:
    """One page of audit events, newest first by default (``sort="id"``: oldest first).
    ``scope`` is resolved (a malformed key is bad input); ``since`` needs a time zone."""
    if sort not in AUDIT_SORTS:
        raise BadInputError(f"unknown sort {show(sort)}; one of: {', '.join(AUDIT_SORTS)}")
    limit = check_limit(limit)
    if since is not None and since.tzinfo is None:
        raise BadInputError("since needs a time zone (for example 2026-03-01T00:00Z)")
    descending = sort == "-id"
    key = None if scope is None else rc.registry.scopes.resolve(scope).key
    where = _filters(rc, user=user, scope=key, since=since, action=action)
    if cursor is not None:
        (last,) = decode_cursor(cursor, sort, [int])
        where["before" if descending else "after"] = last
    events = records(rc, EventQuery(**where, descending=descending, limit=limit + 1))
    more = len(events) > limit
    events = events[:limit]
    return Page(events, encode_cursor(sort, [events[-1].id]) if more else None)


def recent_audit(
    rc: AuditSource,
    *,
    user: str | None = None,
    scope: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    org: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: int | None = None,
    limit: int = 50,
) -> AuditPage:
    """Audit events newest first, ``limit`` (at most 1,000) at a time: ``before`` is the id
    the next page starts below. ``scope`` is compared as given, so a filter typed into a form
    never fails: a key that is not one simply finds nothing. ``org``: the events on the org
    and on every scope below it (:func:`audit_scopes_below`); ``since`` and ``until``: the
    events recorded at or after ``since`` and before ``until`` (times with a zone)."""
    limit = check_limit(limit, 1000)
    for moment in (since, until):
        if moment is not None and moment.tzinfo is None:
            raise BadInputError("a time needs a time zone (for example 2026-03-01T00:00Z)")
    # Empty filters (a form's blank fields) filter nothing.
    where = _filters(
        rc,
        user=user or None,
        scope=scope or None,
        action=action or None,
        actor=actor or None,
        since=since,
    )
    query = EventQuery(
        **where,
        until=until,
        scopes=audit_scopes_below(rc, org) if org else None,
        before=before,
        descending=True,
        limit=limit + 1,
    )
    rows = records(rc, query)
    older = rows[limit - 1].id if len(rows) > limit else None
    return AuditPage(records=tuple(rows[:limit]), older=older)


def audit_actions(rc: TableSource) -> list[str]:
    """The distinct actions recorded in the audit log (for a filter's choices)."""
    return audit_log.actions(rc.engine)


def audit_scopes_below(rc: AuditSource, org: str) -> list[str]:
    """The org (``MITx`` or ``org:MITx``) and every scope below it that the audit log names,
    sorted: those the index knows now and those the log recorded, scopes since removed
    included (a key's parents come from the key alone)."""
    key = rc.registry.scopes.resolve(org if org.startswith("org:") else f"org:{org}").key
    resolve = rc.registry.scopes.resolve
    found = {key}
    for scope in audit_log.scopes(rc.engine):
        if scope is None:
            continue
        try:
            if key in resolve(scope).chain:
                found.add(scope)
        except BadInputError:  # a key of a type whose plugin is gone: its org is unknown
            continue
    return sorted(found)
