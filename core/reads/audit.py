"""The audit log from its table, newest first by default, cut in pages by event id.

Two callers page it two ways over one set of filters: the REST API with opaque cursors
(:func:`list_audit`), the console with the id the next page starts below, kept in its links as
a plain number (:func:`recent_audit`). Both are keyset pagination on the event id, so a page
costs the same however deep it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, get_args

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from ..errors import BadInputError
from ..scopes import show
from ..storage.models import AuditEvent
from ..storage.sessions import reading
from ..storage.subjects import is_pseudonym, named_in, names_of, pseudonyms_of, shown, shown_details
from .pages import DEFAULT_LIMIT, Page, check_limit, decode_cursor, encode_cursor

if TYPE_CHECKING:
    from ..service import AuditRecord, Rolecall

AuditSort = Literal["id", "-id"]
AUDIT_SORTS: tuple[str, ...] = get_args(AuditSort)


@dataclass(frozen=True)
class AuditPage:
    records: tuple[AuditRecord, ...]
    older: int | None
    """The ``before`` value of the next page (older events), or ``None`` at the first event."""


def recorded_as(rc: Rolecall, name: str) -> list[str]:
    """What the log records for the user or operator ``name``: the user's pseudonym, and the
    name itself (an operator's name, or a name no user has)."""
    with reading(rc.engine) as session:
        found = pseudonyms_of(session.connection(), [name])
    return [name, *found.values()]


def _filters(
    rc: Rolecall,
    *,
    user: str | None = None,
    scope: str | None = None,
    since: datetime | None = None,
    action: str | None = None,
    actor: str | None = None,
) -> list[ColumnElement[bool]]:
    """The conditions on the events for the filters given (``scope`` an exact key; ``user``
    and ``actor`` usernames or operators' names, found by what the log records for them)."""
    where: list[ColumnElement[bool]] = []
    if user is not None:
        where.append(AuditEvent.user.in_(recorded_as(rc, user)))
    if scope is not None:
        where.append(AuditEvent.scope == scope)
    if since is not None:
        where.append(AuditEvent.at >= since)
    if action is not None:
        where.append(AuditEvent.action == action)
    if actor is not None:
        where.append(AuditEvent.actor.in_(recorded_as(rc, actor)))
    return where


def readable(session: Session, events: Iterable[AuditEvent]) -> list[AuditRecord]:
    """Events as readers see them: each pseudonym as the user's current username (the
    retired placeholder once the user was erased: see
    :mod:`rolecall.core.storage.subjects`)."""
    from ..service import AuditRecord

    events = list(events)
    wanted = {v for e in events for v in (e.user, e.actor) if v is not None and is_pseudonym(v)}
    wanted.update(p for e in events for p in named_in(e.details))
    names = names_of(session.connection(), wanted) if wanted else {}
    records = []
    for e in events:
        record = AuditRecord.model_validate(e)
        if names:
            record = record.model_copy(
                update={
                    "user": shown(e.user, names),
                    "actor": shown(e.actor, names),
                    "details": shown_details(e.details, names),
                }
            )
        records.append(record)
    return records


def _records(
    rc: Rolecall, where: list[ColumnElement[bool]], descending: bool, limit: int
) -> list[AuditRecord]:
    """Up to ``limit`` events meeting every condition, by id."""
    order = AuditEvent.id.desc() if descending else AuditEvent.id.asc()
    query = select(AuditEvent).where(*where).order_by(order).limit(limit)
    with reading(rc.engine) as session:
        return readable(session, session.scalars(query).all())


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
        where.append(AuditEvent.id < last if descending else AuditEvent.id > last)
    events = _records(rc, where, descending, limit + 1)
    more = len(events) > limit
    events = events[:limit]
    return Page(events, encode_cursor(sort, [events[-1].id]) if more else None)


def recent_audit(
    rc: Rolecall,
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
    if until is not None:
        where.append(AuditEvent.at < until)
    if org:
        where.append(AuditEvent.scope.in_(audit_scopes_below(rc, org)))
    if before is not None:
        where.append(AuditEvent.id < before)
    rows = _records(rc, where, True, limit + 1)
    older = rows[limit - 1].id if len(rows) > limit else None
    return AuditPage(records=tuple(rows[:limit]), older=older)


def audit_actions(rc: Rolecall) -> list[str]:
    """The distinct actions recorded in the audit log (for a filter's choices)."""
    with reading(rc.engine) as session:
        return sorted(set(session.scalars(select(AuditEvent.action).distinct())))


def audit_scopes_below(rc: Rolecall, org: str) -> list[str]:
    """The org (``MITx`` or ``org:MITx``) and every scope below it that the audit log names,
    sorted: those the index knows now and those the log recorded, scopes since removed
    included (a key's parents come from the key alone)."""
    key = rc.registry.scopes.resolve(org if org.startswith("org:") else f"org:{org}").key
    resolve = rc.registry.scopes.resolve
    found = {key}
    with reading(rc.engine) as session:
        recorded = session.scalars(
            select(AuditEvent.scope).where(AuditEvent.scope.is_not(None)).distinct()
        ).all()
    for scope in recorded:
        if scope is None:
            continue
        try:
            if key in resolve(scope).chain:
                found.add(scope)
        except BadInputError:  # a key of a type whose plugin is gone: its org is unknown
            continue
    return sorted(found)
