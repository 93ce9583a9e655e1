"""Where driver errors become rolecall's: opening the database (the first connection, the
migrations, the MySQL checks, the index's first fill), a read of the tables or a catch-up that
the database fails raises :class:`~rolecall.core.errors.StorageError`, with the driver's error
as its cause, so that nothing above storage catches SQLAlchemy's exceptions. A write's
transaction is opened here too (:func:`writing`), for the unit of work,
:mod:`rolecall.core.writes`, which imports nothing of SQLAlchemy."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..errors import StorageError

__all__ = [
    "UNREACHABLE",
    "Engine",
    "Session",
    "driver_errors",
    "driver_words",
    "reading",
    "writing",
]
"""``Engine`` and ``Session``: the types of a database and of a change's session, for the
annotations of the modules above storage (which do not import SQLAlchemy)."""

UNREACHABLE = "the database cannot be reached; nothing was changed, try again soon"

# Under the service's name: what operators configure to see rolled-back writes.
log = logging.getLogger("rolecall.service")


def driver_words(error: DBAPIError) -> str:
    """The driver's own words for ``error``, on one line, at most 300 characters."""
    return " ".join(str(error.orig or error).split())[:300]


@contextmanager
def driver_errors(message: str | None = UNREACHABLE, *, detail: bool = False) -> Iterator[None]:
    """Raise a driver error of the block as :class:`StorageError` (``message``, followed by
    the driver's words with ``detail``; ``None``: the driver's words alone, as opening the
    database says why it cannot, see :func:`driver_words`). The driver's error is the cause."""
    try:
        yield
    except DBAPIError as exc:
        if message is None:
            raise StorageError(driver_words(exc)) from exc
        raise StorageError(f"{message}: {exc.orig or exc}" if detail else message) from exc


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """A session for reads; a driver error in the block raises :class:`StorageError`."""
    with driver_errors(), Session(engine) as session:
        yield session


@contextmanager
def writing(engine: Engine) -> Iterator[Session]:
    """A change's session and its transaction: committed when the block ends, rolled back when
    it raises. A driver error rolls everything back and raises :class:`StorageError` saying
    that nothing of the write was applied, in the driver's words."""
    try:
        with Session(engine) as session, session.begin():
            yield session
    except DBAPIError as exc:
        # Rolled back by the session: no row, no audit event, no revision was kept.
        reason = driver_words(exc)
        log.debug("a write was rolled back by a database error: %s", reason)
        raise StorageError(
            f"the database failed during the write and nothing of it was applied: {reason}"
        ) from exc
