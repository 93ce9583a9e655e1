"""Re-anchoring the audit chain: the events written before pseudonyms, rewritten without the
personal data they hold, and a keyed event that records the chain they were.

Before migration 0010 an event named users by username (``user``, ``actor``, the details'
``granted_by``) and a ``user_add``/``user_update`` event held the user's e-mail address and
display name. Those cannot stay in a chain that a user's erasure must leave intact, and an
event cannot be edited without breaking every hash after it. So the migration checks the
chain as it is, rewrites each event with the users' pseudonyms and without the personal
fields, computes the hashes again (each keyed event with the audit key version it names, each
unkeyed event unkeyed), and appends one ``audit_reanchor`` event, signed with the current
audit key, whose details record the head of the chain it replaced (``previous_head``, what
``audit verify --json`` printed before the upgrade), whether that chain verified and how many
events were rewritten. The state row's head is signed again.

A head recorded outside the database before the upgrade no longer matches the rewritten chain:
compare it with the ``previous_head`` of the ``audit_reanchor`` event, then record the new
head.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, func, insert, select, update

from .audit import COLUMNS, Head, event_hash, state_mac, verify_chain
from .keys import AUDIT_KEY, Key, KeyRing, KeyStoreError
from .models import AuditEvent, State, User
from .subjects import NAMED, PERSONAL

ACTION = "audit_reanchor"
PAGE = 5_000
EVENTS = cast(Table, AuditEvent.__table__)
STATE = cast(Table, State.__table__)
USERS = cast(Table, User.__table__)
_COLUMNS = ("id", *COLUMNS)


class ReanchorError(RuntimeError):
    """The chain cannot be rewritten: a key it needs is not at hand."""


def _pages(connection: Connection) -> Any:
    """Every event in id order, read a page at a time (MySQL drivers cannot run a statement
    while another's result is still streaming)."""
    last = 0
    columns = [EVENTS.c[c] for c in _COLUMNS]
    while True:
        rows = connection.execute(
            select(*columns).where(EVENTS.c.id > last).order_by(EVENTS.c.id).limit(PAGE)
        ).all()
        if not rows:
            return
        yield [SimpleNamespace(**dict(zip(_COLUMNS, row, strict=True))) for row in rows]
        last = rows[-1][0]


def reanchor(connection: Connection, keys: KeyRing | None, *, migration: str) -> int | None:
    """Rewrite the chain on ``connection`` as the module's docstring says; return the
    revision of the ``audit_reanchor`` event, or None for an empty chain (nothing to do)."""
    state = connection.execute(
        select(
            STATE.c.events,
            STATE.c.last_event_id,
            STATE.c.revision,
            STATE.c.last_hash,
            STATE.c.keyed_after,
            STATE.c.last_mac,
        ).where(STATE.c.id == 1)
    ).one()
    head = Head(*state)
    if not connection.scalar(select(func.count()).select_from(EVENTS)):
        return None
    try:
        current: Key | None = None if keys is None else keys.current(AUDIT_KEY)
    except KeyStoreError:
        current, keys = None, None
    checked = verify_chain((event for page in _pages(connection) for event in page), head, keys)
    pseudonyms = dict(connection.execute(select(USERS.c.username, USERS.c.pseudonym)).all())

    def named(value: Any) -> Any:
        return pseudonyms.get(value, value) if isinstance(value, str) else value

    count = rewritten = 0
    last_id = 0
    found: dict[str, Key | None] = {}
    chain = "0" * 64
    first = True
    for page in _pages(connection):
        changes = []
        for event in page:
            count += 1
            if first:
                chain = event.prev_hash  # the genesis hash the chain starts from
                first = False
            details = {
                k: named(v) if k in NAMED else v
                for k, v in (event.details or {}).items()
                if k not in PERSONAL
            }
            user, actor = named(event.user), named(event.actor)
            key = None
            if event.key_id is not None:
                if event.key_id not in found:
                    found[event.key_id] = (
                        None if keys is None else keys.find(AUDIT_KEY, event.key_id)
                    )
                key = found[event.key_id]
                if key is None:
                    raise ReanchorError(
                        f"audit event {event.id} is signed with audit key {event.key_id}, which "
                        "this installation does not have: restore the key file (or the secret) "
                        "that held it, then upgrade again"
                    )
            digest = event_hash(
                chain,
                event.revision,
                event.at,
                event.action,
                actor,
                user,
                event.role,
                event.scope,
                details,
                event.batch_id,
                key,
            )
            if (user, actor, details, chain, digest) != (
                event.user,
                event.actor,
                event.details,
                event.prev_hash,
                event.hash,
            ):
                changes.append(
                    {
                        "eid": event.id,
                        "user": user,
                        "actor": actor,
                        "details": details,
                        "prev_hash": chain,
                        "hash": digest,
                    }
                )
                if (user, actor, details) != (event.user, event.actor, event.details):
                    rewritten += 1
            chain = digest
            last_id = event.id
        if changes:
            connection.execute(
                update(EVENTS)
                .where(EVENTS.c.id == bindparam("eid"))
                .values(
                    user=bindparam("user"),
                    actor=bindparam("actor"),
                    details=bindparam("details"),
                    prev_hash=bindparam("prev_hash"),
                    hash=bindparam("hash"),
                ),
                changes,
            )
    revision = head.revision + 1
    at = datetime.now(UTC)
    details = {
        "op": ACTION,
        "migration": migration,
        "events": count,
        "rewritten": rewritten,
        "previous_head": {k: v for k, v in head.to_json().items() if k != "mac"},
        "previous_verified": checked.ok,
        "previous_message": checked.message,
    }
    digest = event_hash(chain, revision, at, ACTION, None, None, None, None, details, None, current)
    connection.execute(
        insert(EVENTS).values(
            revision=revision,
            at=at,
            action=ACTION,
            actor=None,
            user=None,
            role=None,
            scope=None,
            details=details,
            batch_id=None,
            prev_hash=chain,
            hash=digest,
            key_id=None if current is None else current.id,
        )
    )
    newest = int(connection.scalar(select(func.max(EVENTS.c.id))) or last_id)
    keyed_after = head.keyed_after
    if current is not None and keyed_after is None:
        keyed_after = revision - 1
    signed = Head(count + 1, newest, revision, digest, keyed_after)
    connection.execute(
        update(STATE)
        .where(STATE.c.id == 1)
        .values(
            revision=revision,
            last_hash=digest,
            events=signed.events,
            last_event_id=signed.last_id,
            keyed_after=keyed_after,
            last_mac=state_mac(current, signed),
        )
    )
    return revision
