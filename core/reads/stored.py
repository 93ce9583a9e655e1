"""What a loader reads from the tables instead of its index (``Rolecall.open(keep_grants=False)``,
whose index keeps no grants and only the inactive users): the legacy import asks these of each
slice of users before it plans and writes it. Each read is its own short session; a driver
error raises :class:`~rolecall.core.errors.StorageError`."""

from __future__ import annotations

from collections.abc import Iterable

from ..storage.accounts import lookalikes, users_named
from ..storage.grants import stored_grants as grants_of
from ..storage.sessions import reading
from .source import TableSource


def stored_grants(rc: TableSource, users: Iterable[str]) -> dict[str, set[tuple[str, str]]]:
    """username -> the (role id, scope key) of every grant the database holds for it, for
    those of ``users`` holding any."""
    with reading(rc.engine) as session:
        return grants_of(session, users)


def stored_users(rc: TableSource, users: Iterable[str]) -> dict[str, bool]:
    """username -> whether it is active, of those of ``users`` that exist."""
    with reading(rc.engine) as session:
        return users_named(session, users)


def stored_lookalikes(rc: TableSource, users: Iterable[str]) -> dict[str, str]:
    """Of ``users``, each whose name a stored user's other than its own looks like
    (:mod:`rolecall.core.usernames`) -> that user, found by the stored skeletons."""
    with reading(rc.engine) as session:
        return lookalikes(session, users)
