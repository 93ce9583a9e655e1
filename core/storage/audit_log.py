"""Reads of the audit log's table: the events a filter selects, as readers see them (each
pseudonym as the user's current username: :mod:`rolecall.core.storage.subjects`), the distinct
actions and scopes it records, and the verification of its hash chain. The SQL of
:mod:`rolecall.core.reads.audit` and of ``rc.audit`` and ``rc.verify_audit``. A driver error
raises :class:`~rolecall.core.errors.StorageError`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, select
from sqlalchemy.orm import Session

from .audit import Head, Verification, verify_chain
from .database import snapshot
from .feed import Event, readable
from .keys import KeyRing
from .models import AuditEvent, State
from .sessions import driver_errors, reading
from .subjects import is_pseudonym, named_in, names_of, pseudonyms_of, shown, shown_details

FIELDS = ("id", "revision", "at", "action", "actor", "user", "role", "scope", "details")
"""An event's fields as read (with ``batch_id`` and ``hash``)."""


@dataclass(frozen=True)
class EventQuery:
    """Which events, in which order, how many. ``users`` and ``actors``: the names as the log
    records them (:func:`recorded_as`); ``scopes``: any of these keys; ``after`` and
    ``before``: event ids (exclusive)."""

    users: Sequence[str] | None = None
    actors: Sequence[str] | None = None
    scope: str | None = None
    scopes: Sequence[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    action: str | None = None
    after: int | None = None
    before: int | None = None
    descending: bool = False
    limit: int | None = None

    def where(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.users is not None:
            where.append(AuditEvent.user.in_(self.users))
        if self.scope is not None:
            where.append(AuditEvent.scope == self.scope)
        if self.since is not None:
            where.append(AuditEvent.at >= self.since)
        if self.action is not None:
            where.append(AuditEvent.action == self.action)
        if self.actors is not None:
            where.append(AuditEvent.actor.in_(self.actors))
        if self.until is not None:
            where.append(AuditEvent.at < self.until)
        if self.scopes is not None:
            where.append(AuditEvent.scope.in_(self.scopes))
        if self.after is not None:
            where.append(AuditEvent.id > self.after)
        if self.before is not None:
            where.append(AuditEvent.id < self.before)
        return where


def recorded_as(engine: Engine, name: str) -> list[str]:
    """What the log records for the user or operator ``name``: the user's pseudonym, and the
    name itself (an operator's name, or a name no user has)."""
    with reading(engine) as session:
        found = pseudonyms_of(session.connection(), [name])
    return [name, *found.values()]


def _readable(session: Session, events: Iterable[AuditEvent]) -> list[dict[str, Any]]:
    events = list(events)
    wanted = {v for e in events for v in (e.user, e.actor) if v is not None and is_pseudonym(v)}
    wanted.update(p for e in events for p in named_in(e.details))
    names = names_of(session.connection(), wanted) if wanted else {}
    rows = []
    for e in events:
        row = {field: getattr(e, field) for field in (*FIELDS, "batch_id", "hash")}
        if names:
            row["user"] = shown(e.user, names)
            row["actor"] = shown(e.actor, names)
            row["details"] = shown_details(e.details, names)
        rows.append(row)
    return rows


def find_events(engine: Engine, query: EventQuery) -> list[dict[str, Any]]:
    """The events ``query`` selects, by id, each a dict of its fields as readers see them."""
    order = AuditEvent.id.desc() if query.descending else AuditEvent.id.asc()
    statement = select(AuditEvent).where(*query.where()).order_by(order)
    if query.limit is not None:
        statement = statement.limit(query.limit)
    with reading(engine) as session:
        return _readable(session, session.scalars(statement).all())


def actions(engine: Engine) -> list[str]:
    """The distinct actions recorded, sorted."""
    with reading(engine) as session:
        return sorted(set(session.scalars(select(AuditEvent.action).distinct())))


def scopes(engine: Engine) -> list[str | None]:
    """The distinct scopes the events name."""
    with reading(engine) as session:
        return list(
            session.scalars(
                select(AuditEvent.scope).where(AuditEvent.scope.is_not(None)).distinct()
            )
        )


def verify(engine: Engine, keys: KeyRing, *, expect: Head | None = None) -> Verification:
    """Recompute the hash chain from the first event (:func:`verify_chain`), against the state
    row's signed head, both read in one snapshot: a write committed between the two reads is
    not a removed event."""
    with driver_errors(), snapshot(engine) as connection, Session(connection) as session:
        row = session.execute(
            select(
                State.events,
                State.last_event_id,
                State.revision,
                State.last_hash,
                State.keyed_after,
                State.last_mac,
            )
        ).one()
        state = Head(*row)
        events = session.scalars(
            select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=10_000)
        )
        try:
            return verify_chain(events, state, keys, expect=expect)
        finally:
            events.close()  # it may stop at the first bad event: free the cursor


def events_until(engine: Engine, when: datetime) -> list[Event]:
    """The change feed's events committed at or before ``when``, oldest first, as the index
    applies them (:func:`~rolecall.core.storage.feed.readable`)."""
    with reading(engine) as session:
        rows = session.execute(
            select(
                AuditEvent.at,
                AuditEvent.revision,
                AuditEvent.action,
                AuditEvent.user,
                AuditEvent.role,
                AuditEvent.scope,
                AuditEvent.details,
            )
            .order_by(AuditEvent.id)
            .execution_options(yield_per=10_000)
        )
        # Read whole, then named (the users they name, by their current names): a second
        # query while the first still streams is refused by some drivers.
        try:
            events = []
            for at, revision, action, user, role, scope, details in rows:
                if at > when:
                    break  # the log is in commit order: what follows came later
                events.append((revision, action, user, role, scope, details))
        finally:
            rows.close()
        return list(readable(session.connection(), events))
