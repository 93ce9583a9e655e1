"""The rows that grants and revocations write: the SQL of the grant and revoke work of the
unit of work (:func:`rolecall.core.writes.grant_work`, :func:`~rolecall.core.writes.revoke_work`,
:func:`~rolecall.core.writes.revoke_many_work`), and the stored grants a loader reads
(:func:`stored_grants`). The others run inside a change, on its session, under the write lock
it holds; they never commit, and the work decides from what they return and writes the audit
events.

A bulk load of a million grants passes through here: the reads of many users or grants go
through the driver in slices (:func:`~.database.rows_in`), the inserts are one driver
``executemany`` per slice of rows already in the driver's types
(:func:`~.database.insert_rows`), and no function runs a statement per row."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.orm import Session

from .database import insert_rows, rows_in, time_param
from .models import ASSIGNMENT_COLUMNS, ASSIGNMENTS, Assignment, State, User

USERS = cast(Table, User.__table__)

CHUNK = 10_000
"""Rows per renewal ``executemany`` and ids per ``DELETE ... IN (...)``."""


def user_ids(session: Session, usernames: Iterable[str]) -> dict[str, int]:
    """username -> row id of the users among ``usernames`` that exist."""
    wanted = sorted(set(usernames))
    rows = rows_in(session.connection(), USERS, ("username", "id"), "username", wanted)
    return dict(cast(Iterator[tuple[str, int]], rows))


def current_grants(
    session: Session,
    ids: Mapping[str, int],
    users: Iterable[str],
    wanted: Collection[tuple[str, str, str]],
) -> dict[tuple[str, str, str], tuple[int, datetime | None]]:
    """The existing assignments among ``wanted`` (whose users are ``users``, each once; ``ids``
    their row ids, from :func:`user_ids`): key -> (id, expires_at). Read from the rows, under
    the write lock: the index may lag other writers."""
    names = {v: k for k, v in ids.items()}
    found: dict[tuple[str, str, str], tuple[int, datetime | None]] = {}
    user_list = sorted(ids[u] for u in users if u in ids)
    rows = rows_in(
        session.connection(),
        ASSIGNMENTS,
        ("id", "user_id", "role", "scope", "expires_at"),
        "user_id",
        user_list,
    )
    for grant_id, uid, role, scope, expires in rows:
        key = (names[uid], role, scope)
        if key in wanted:
            found[key] = (grant_id, expires)
    return found


def stored_grants(session: Session, users: Iterable[str]) -> dict[str, set[tuple[str, str]]]:
    """username -> the (role, scope) of each assignment stored for it, for those of ``users``
    holding any, read from the rows (a loader's index holds none: see ``Rolecall.open``)."""
    ids = user_ids(session, users)
    names = {v: k for k, v in ids.items()}
    found: dict[str, set[tuple[str, str]]] = {}
    rows = rows_in(
        session.connection(), ASSIGNMENTS, ("user_id", "role", "scope"), "user_id", sorted(names)
    )
    for uid, role, scope in rows:
        found.setdefault(names[uid], set()).add((role, scope))
    return found


def next_grant_ids(session: Session, count: int) -> int:
    """Take ``count`` new grant ids from the state row's counter and return the first (the
    next unused one when ``count`` is 0, which takes none).

    Ids are given here, under the write lock every writer takes, so that one ``executemany``
    inserts a batch (``RETURNING`` with ordered ids would cost a statement per row). They come
    from a counter, never reused, so an id in the audit log names one grant."""
    last = int(session.scalar(select(State.last_assignment_id)) or 0)
    if count:
        session.execute(update(State).where(State.id == 1).values(last_assignment_id=last + count))
    return last + 1


def grant_times(session: Session) -> Callable[[datetime], Any]:
    """How :func:`insert_grants` takes a time: as the session's database stores it
    (:func:`~.database.time_param`)."""
    return time_param(session.connection())


def insert_grants(session: Session, values: Sequence[Sequence[Any]]) -> None:
    """Insert new grants, each (id, user's row id, role, scope, granted by, granted at,
    expires at, reason): ids from :func:`next_grant_ids`, times from :func:`grant_times`. One
    driver ``executemany`` per slice; column defaults are not applied."""
    insert_rows(session.connection(), ASSIGNMENTS, ASSIGNMENT_COLUMNS, values)


def renew_grants(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Update existing grants: each row holds the grant's ``id`` and its new ``granted_by``,
    ``granted_at``, ``expires_at`` and ``reason``; one ``executemany`` per slice."""
    for start in range(0, len(rows), CHUNK):
        session.execute(update(Assignment), rows[start : start + CHUNK])


def held_grant_ids(session: Session, uid: int, role: str, scope: str) -> list[int]:
    """The ids of the grants of ``role`` on ``scope`` to the user of row id ``uid`` (one at
    most, or none)."""
    held = (Assignment.user_id == uid, Assignment.role == role, Assignment.scope == scope)
    return list(session.scalars(select(Assignment.id).where(*held)).all())


def delete_grants(session: Session, ids: Sequence[int]) -> None:
    """Delete the grants of ``ids``, by id (read first under the write lock: MySQL has no
    ``DELETE ... RETURNING``)."""
    for start in range(0, len(ids), CHUNK):
        session.execute(delete(Assignment).where(Assignment.id.in_(ids[start : start + CHUNK])))
