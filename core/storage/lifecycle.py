"""The rows of the lifecycle operations (:mod:`rolecall.core.governance.lifecycle`): expired
grants, a scope's rows and those of its descendants, a user's rows and their erasure. Each
function runs inside a change of the unit of work (:mod:`rolecall.core.writes`), on its
session; the operation decides from what they return and writes the audit events."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from .models import (
    Account,
    ApiToken,
    Assignment,
    ConsoleSession,
    CustomRole,
    KnownScope,
    Restriction,
    SignInFailures,
    StoredRule,
    User,
    name_skeleton,
)

CHUNK = 5_000
"""Rows per ``IN (...)`` list: well under every backend's limit on bound parameters."""

GrantRow = tuple[int, str, str, str, str | None, datetime, datetime | None]
"""(id, username, role, scope, granted by, granted at, expires at)."""

_GRANT_COLUMNS = (
    Assignment.id,
    User.username,
    Assignment.role,
    Assignment.scope,
    Assignment.granted_by,
    Assignment.granted_at,
    Assignment.expires_at,
)


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _grants(session: Session, *where: Any, ordered: bool = True) -> list[GrantRow]:
    query = select(*_GRANT_COLUMNS).join(User, User.id == Assignment.user_id).where(*where)
    if ordered:
        query = query.order_by(Assignment.id)
    return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


def expired_grants(session: Session, now: datetime) -> list[GrantRow]:
    """The grants whose expiry is at or before ``now``, by id."""
    return _grants(session, Assignment.expires_at.is_not(None), Assignment.expires_at <= now)


# ---------------------------------------------------------------- scopes


def keys_in_use(session: Session) -> tuple[list[str], list[str], list[str]]:
    """The scope keys the assignments, the restrictions and the known scopes hold."""
    return (
        list(session.scalars(select(Assignment.scope).distinct())),
        list(session.scalars(select(Restriction.scope))),
        list(session.scalars(select(KnownScope.key))),
    )


def grants_on(session: Session, keys: Sequence[str]) -> list[GrantRow]:
    """The grants on any of ``keys`` (in no particular order)."""
    found: list[GrantRow] = []
    for chunk in _chunks(keys):
        found.extend(_grants(session, Assignment.scope.in_(chunk), ordered=False))
    return found


def delete_scopes(session: Session, restricted: Sequence[str], known: Sequence[str]) -> None:
    """Remove the restrictions on ``restricted`` and the known-scope rows of ``known``."""
    for chunk in _chunks(restricted):
        session.execute(delete(Restriction).where(Restriction.scope.in_(chunk)))
    for chunk in _chunks(known):
        session.execute(delete(KnownScope).where(KnownScope.key.in_(chunk)))


# ---------------------------------------------------------------- users


def user_row(session: Session, username: str) -> Any | None:
    """(id, email, display_name, active) of ``username``, or None."""
    return session.execute(
        select(User.id, User.email, User.display_name, User.active).where(User.username == username)
    ).first()


def grants_of(session: Session, uid: int) -> list[GrantRow]:
    """The grants of the user with row id ``uid``, by id."""
    return _grants(session, Assignment.user_id == uid)


def end_sessions(session: Session, uid: int) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == uid))


def deactivate(session: Session, uid: int) -> None:
    session.execute(update(User).where(User.id == uid).values(active=False))


def username_taken(session: Session, name: str) -> bool:
    return session.scalar(select(User.id).where(User.username == name)) is not None


def erase(session: Session, uid: int, username: str, retired: str) -> None:
    """Erase the user ``username`` (row ``uid``): the row takes ``retired`` and loses its
    e-mail and name; the password, tokens, console sessions and sign-in failures go; the rows
    they made name ``retired`` as their maker."""
    session.execute(
        update(User)
        .where(User.id == uid)
        .values(
            username=retired,
            email=None,
            display_name=None,
            active=False,
            skeleton=name_skeleton(retired),
        )
    )
    session.execute(delete(Account).where(Account.user_id == uid))
    session.execute(delete(ApiToken).where(ApiToken.user_id == uid))
    session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == uid))
    session.execute(
        delete(SignInFailures).where(SignInFailures.key == f"account:{username.casefold()[:254]}")
    )
    for column in (
        Assignment.granted_by,
        Restriction.created_by,
        CustomRole.created_by,
        StoredRule.changed_by,
        ApiToken.created_by,
    ):
        session.execute(
            update(column.class_).where(column == username).values({column.key: retired})
        )
