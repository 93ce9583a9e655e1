"""The index and the tables: building an index from the rows, and following the change feed.

The store is the source of truth. A process builds its index once from the tables
(:func:`fill_index`) and then follows the audit log, which is also the change feed: every event
carries the index operation it stands for, and :func:`catch_up` applies those above the
index's revision, in order. It never reloads everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Engine, String, select, type_coerce
from sqlalchemy.orm import Session

from ..engine import Index, changes, reverse
from ..records import DelegationRule, Role
from .audit import USER_OPS
from .models import (
    Assignment,
    AuditEvent,
    CustomRole,
    KnownScope,
    Restriction,
    State,
    StoredRule,
    User,
)
from .sessions import driver_errors
from .subjects import NAMED, PREFIX, people

Event = tuple[int, str, str | None, str | None, str | None, Any]
"""An event as the index applies it: (revision, action, user, role, scope, details)."""

RAW_TIME = String()
"""Reads a time column as the driver returns it (text on SQLite, datetime on PostgreSQL)."""


def _role_record(row: CustomRole) -> Role:
    return Role(
        id=row.id,
        title=row.title,
        description=row.description,
        scope_types=tuple(row.scope_types),
        permissions=tuple(row.permissions),
    )


def _rule_record(row: StoredRule) -> DelegationRule:
    return DelegationRule(
        id=row.id,
        description=row.description,
        holders=tuple(row.holders),
        assign=tuple(row.assign),
        revoke=tuple(row.revoke),
        scope_types=tuple(row.scope_types),
    )


def fill_index(engine: Engine, index: Index, *, grants: bool = True) -> None:
    """Build ``index`` from the tables, in one transaction (a consistent snapshot on
    PostgreSQL's REPEATABLE READ; the caller chooses the isolation). ``grants=False``: the
    assignments are not read (a loader's index, see ``Rolecall(keep_grants=False)``). A
    database that fails raises :class:`~rolecall.core.errors.StorageError` in the driver's
    words."""
    with driver_errors(None), Session(engine) as session, session.begin():
        index.revision = int(session.scalar(select(State.revision)) or 0)
        names: dict[int, str] = {}
        people = select(
            User.id, User.username, User.email, User.display_name, User.active, User.pseudonym
        )
        if not index.keep_users:  # a loader's index: the inactive users only
            people = people.where(User.active.is_(False))
        pseudonyms: list[tuple[str, str]] = []
        for uid, username, email, display_name, active, pseudonym in session.execute(people):
            names[uid] = username
            index.add_user(username, email, display_name, active)
            if pseudonym is not None:
                pseudonyms.append((pseudonym, username))
        index.pseudonyms.load(pseudonyms)  # in one go: no search nor merge per user
        del pseudonyms
        for scope in session.scalars(select(KnownScope)):
            index.add_scope(scope.key, scope.title)
        for custom in session.scalars(select(CustomRole)):
            index.define_role(_role_record(custom), retired=custom.retired)
        # Core rows, times as stored (text on SQLite): the index wants epoch seconds, and a
        # bulk write gives many rows the same time, so each distinct value converts once.
        if grants:
            rows = session.connection().execute(
                select(
                    Assignment.id,
                    Assignment.user_id,
                    Assignment.role,
                    Assignment.scope,
                    Assignment.granted_by,
                    type_coerce(Assignment.granted_at, RAW_TIME),
                    type_coerce(Assignment.expires_at, RAW_TIME),
                ).execution_options(yield_per=50_000)
            )
            changes.load_grants(
                index,
                (
                    (gid, names[uid], role, scope, by, at, exp)
                    for gid, uid, role, scope, by, at, exp in rows
                ),
            )
        for r in session.scalars(select(Restriction)):
            index.put_restriction(r.scope, r.permissions, r.exempt_roles, r.reason)
        for rule in session.scalars(select(StoredRule)):
            index.set_rule(rule.id, None if rule.disabled else _rule_record(rule))
    reverse.warm(index)


def catch_up(engine: Engine, index: Index) -> int:
    """Apply to ``index`` every change committed since its revision; return the new revision.
    A driver error raises :class:`~rolecall.core.errors.StorageError`."""
    with driver_errors(), engine.connect() as connection:
        current = int(connection.scalar(select(State.revision)) or 0)
        if current > index.revision:
            events = connection.execute(
                select(
                    AuditEvent.revision,
                    AuditEvent.action,
                    AuditEvent.user,
                    AuditEvent.role,
                    AuditEvent.scope,
                    AuditEvent.details,
                )
                .where(AuditEvent.revision > index.revision)
                .order_by(AuditEvent.id)
            )
            changes.apply_many(
                index,
                readable(
                    connection,
                    ((e.revision, e.action, e.user, e.role, e.scope, e.details) for e in events),
                    index.pseudonyms,
                ),
            )
            index.revision = max(index.revision, current)
    return index.revision


def readable(
    connection: Connection,
    events: Iterable[Event],
    known: Mapping[str, str] | None = None,
    *,
    chunk: int = 10_000,
) -> Iterator[Event]:
    """Events as the table holds them, as the index applies them: the users they name by
    pseudonym (:mod:`.subjects`) named by username, and the events about a user row
    (``user_add``, ``user_update``, ``user_erase``) completed from the users table (its
    e-mail, display name and pseudonym), which the chain never holds.

    ``known``: pseudonym -> the name an index knows the user by (an index following the feed
    must find a user it holds under the name it holds, erased since or not); the others are
    read from the users table, by their current name, ``chunk`` events at a time."""
    known = known or {}
    found: dict[str, tuple[str, str | None, str | None, bool]] = {}
    iterator = iter(events)
    while batch := list(islice(iterator, chunk)):
        wanted: set[str] = set()
        for _revision, action, user, _role, _scope, details in batch:
            if (
                user is not None
                and user.startswith(PREFIX)
                and (user not in known or details.get("op", action) in USER_OPS)
            ):
                wanted.add(user)
            for field in NAMED:
                value = details.get(field)
                if isinstance(value, str) and value.startswith(PREFIX) and value not in known:
                    wanted.add(value)
        wanted.difference_update(found)
        if wanted:
            found.update(people(connection, wanted))
        for revision, action, user, role, scope, details in batch:
            if user is not None and user.startswith(PREFIX):
                row = found.get(user)
                name = known.get(user) or (row[0] if row is not None else user)
                if details.get("op", action) in USER_OPS:
                    details = {**details, "pseudonym": user}
                    if row is not None:
                        details["email"], details["display_name"] = row[1], row[2]
                user = name
            for field in NAMED:
                value = details.get(field)
                if isinstance(value, str) and value.startswith(PREFIX):
                    row = found.get(value)
                    name = known.get(value) or (row[0] if row is not None else value)
                    details = {**details, field: name}
            yield revision, action, user, role, scope, details
