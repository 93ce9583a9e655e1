"""Pseudonyms: how the audit chain names people without holding anything personal.

Every user row has a random, stable pseudonym (``user/`` and 20 hex digits), made when the
row is. The audit log records it, never the username, in the ``user`` and ``actor`` columns
and in the details that name a user (``granted_by``), and it records no e-mail address or
display name at all: those live in the users table only. The chain's hashes cover the
pseudonyms, so when a retired user's row is erased (their username replaced by a retired
placeholder, their e-mail and name removed) every event stays as it was and the chain still
verifies. Whoever reads the log sees each pseudonym as the user's current username: the
retired placeholder after an erasure.

A pseudonym contains ``/``, which no username or operator name may (see
:mod:`rolecall.core.usernames`), so a stored name is a pseudonym exactly when it starts with
:data:`PREFIX`. An operator's name that is not a user's (``admin``, ``retirement``) is
recorded as it is.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any, cast

from sqlalchemy import Connection, Table

from .database import rows_in
from .models import User, new_pseudonym

PREFIX = "user/"
PERSONAL = ("email", "display_name")
"""Detail fields the chain never holds: the users table keeps them."""
NAMED = ("granted_by",)
"""Detail fields that name a user: recorded as the user's pseudonym."""
RETIRED_PREFIX = "retired__user_"
"""The start of a retired placeholder made by rolecall (Open edX's own retired usernames
begin the same way)."""

USERS = cast(Table, User.__table__)
__all__ = ["new_pseudonym"]


def is_pseudonym(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def new_retired_username() -> str:
    """A placeholder for an erased username when the platform gives none."""
    return RETIRED_PREFIX + secrets.token_hex(16)


def pseudonyms_of(connection: Connection, usernames: Iterable[str]) -> dict[str, str]:
    """username -> pseudonym of the users among ``usernames`` that exist."""
    wanted = sorted(set(usernames))
    if not wanted:
        return {}
    return dict(rows_in(connection, USERS, ("username", "pseudonym"), "username", wanted))


def people(
    connection: Connection, pseudonyms: Iterable[str]
) -> dict[str, tuple[str, str | None, str | None, bool]]:
    """pseudonym -> (username, e-mail, display name, active) as the users table has them now."""
    wanted = sorted({p for p in pseudonyms if is_pseudonym(p)})
    if not wanted:
        return {}
    columns = ("pseudonym", "username", "email", "display_name", "active")
    return {
        p: (name, email, display, bool(active))
        for p, name, email, display, active in rows_in(
            connection, USERS, columns, "pseudonym", wanted
        )
    }


def names_of(connection: Connection, pseudonyms: Iterable[str]) -> dict[str, str]:
    """pseudonym -> current username of the pseudonyms among ``pseudonyms``."""
    return {p: found[0] for p, found in people(connection, pseudonyms).items()}


def shown(value: str | None, names: Mapping[str, str]) -> str | None:
    """A stored user or actor as a reader sees it: a pseudonym as the current username (the
    pseudonym itself if the row is gone), anything else as it is."""
    if value is None or not is_pseudonym(value):
        return value
    return names.get(value, value)


def shown_details(details: dict[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """An event's details with the users they name (``granted_by``) as current usernames."""
    if not any(is_pseudonym(details.get(field)) for field in NAMED):
        return details
    return {k: names.get(v, v) if k in NAMED and is_pseudonym(v) else v for k, v in details.items()}


def named_in(details: Mapping[str, Any]) -> list[str]:
    """The pseudonyms ``details`` names."""
    return [v for field in NAMED if isinstance(v := details.get(field), str) and is_pseudonym(v)]
