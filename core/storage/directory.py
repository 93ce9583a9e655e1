"""The rows of users and known scopes that the service adds: the SQL of ``rc.add_users``,
``rc.import_users`` and ``rc.add_scopes``. Each function runs inside a change of the unit of
work (:mod:`rolecall.core.writes`), on its session, and returns what it added, for the change's
audit events."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from .database import insert_rows, rows_in, time_param
from .models import KnownScope, User, name_skeleton, new_pseudonym

USERS = cast(Table, User.__table__)
SCOPES = cast(Table, KnownScope.__table__)

Person = tuple[str | None, str | None]
"""A user's (e-mail, display name)."""


def _existing(session: Session, usernames: list[str]) -> set[str]:
    rows = rows_in(session.connection(), USERS, ("username", "id"), "username", sorted(usernames))
    return {name for name, _ in rows}


def add_users(session: Session, rows: dict[str, Person], at: datetime) -> dict[str, Person]:
    """Insert the users of ``rows`` (username -> person) not there yet, each with a new
    pseudonym and its name's skeleton, in one bulk write; the ones inserted."""
    existing = _existing(session, list(rows))
    new = {name: person for name, person in rows.items() if name not in existing}
    connection = session.connection()
    when = time_param(connection)(at)
    insert_rows(
        connection,
        USERS,
        ("username", "email", "display_name", "active", "created_at", "pseudonym", "skeleton"),
        [(n, e, d, True, when, new_pseudonym(), name_skeleton(n)) for n, (e, d) in new.items()],
    )
    return new


def import_users(session: Session, rows: dict[str, Person], at: datetime) -> dict[str, Person]:
    """Insert the users of ``rows`` not there yet, through the ORM's insert (its column
    defaults applied); the ones inserted."""
    existing = _existing(session, list(rows))
    new = {name: person for name, person in rows.items() if name not in existing}
    if new:
        session.execute(
            insert(User),
            [
                {
                    "username": name,
                    "email": email,
                    "display_name": display,
                    "active": True,
                    "created_at": at,
                    "skeleton": name_skeleton(name),
                }
                for name, (email, display) in new.items()
            ],
        )
    return new


def add_scopes(
    session: Session, rows: list[tuple[str, str, str | None]]
) -> list[tuple[str, str, str | None]]:
    """Insert the (key, type, title) scopes not known yet (the first of a key repeated in
    ``rows``); the ones inserted."""
    known: set[str] = set()
    keys = sorted({key for key, _, _ in rows})
    for start in range(0, len(keys), 5_000):
        known.update(
            session.scalars(
                select(KnownScope.key).where(KnownScope.key.in_(keys[start : start + 5_000]))
            )
        )
    new = []
    for key, kind, title in rows:
        if key in known:
            continue
        known.add(key)
        new.append((key, kind, title))
    insert_rows(session.connection(), SCOPES, ("key", "type", "title"), new)
    return new
