"""The driver alone: what the rows ``assign_many`` writes cost SQLite, with no rolecall around.

For each grant of the data set, ``assign_many`` writes an assignment row and an audit event
(its details as JSON text, its hash chained to the event before). Here the same rows are made
first, untimed, with the same columns, sizes and values; then they are inserted with the
standard library's ``sqlite3`` ``executemany`` in transactions of the same size, into a copy of
the database as it stood before the grants (users and scopes in), with the pragmas the service
uses for a bulk write. The time is the database's share of the load: whatever ``assign_many``
takes beyond it is rolecall's own work (validating, looking up user ids and existing grants,
building and hashing the rows, the index taking the grants).

``run.py`` has the two take turns, one transaction each, so a machine whose speed moves from
one minute to the next slows both alike: their ratio means more than either time.
"""

from __future__ import annotations

import gc
import hmac
import json
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

from rolecall.core.storage.audit import COLUMNS
from rolecall.core.storage.database import BULK_CACHE_KIB
from rolecall.core.storage.models import ASSIGNMENT_COLUMNS, ASSIGNMENTS, AUDIT_EVENTS, State

STATE = State.__tablename__

ACTOR = "bench-loader"
REASON = "benchmark"
KEY = b"k" * 32  # an audit key, as the service signs each event with one
KEY_ID = "0123456789abcdef"


def snapshot(path: str) -> str:
    """A consistent copy of the SQLite database at ``path`` (SQLite's online backup, which
    takes what the write-ahead log holds too and keeps the page size), next to it: its path,
    for :class:`DriverAlone`."""
    copy = str(Path(path).with_suffix(".floor.db"))
    source, target = sqlite3.connect(path), sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return copy


def _rows(
    path: str, grants: Sequence[tuple[str, str, str]], chunk: int
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The assignment rows and audit rows of ``grants`` as the service would write them in
    transactions of ``chunk`` grants."""
    with sqlite3.connect(path) as connection:
        users = {
            name: (user_id, pseudonym)
            for name, user_id, pseudonym in connection.execute(
                "SELECT username, id, pseudonym FROM rolecall_users"
            )
        }
        query = f"SELECT revision FROM {STATE}"  # noqa: S608
        revision = int(connection.execute(query).fetchone()[0])
    connection.close()
    stored_at = "2026-01-31 09:30:00.123456"  # as the service stores a time on SQLite
    iso_at = "2026-01-31T09:30:00.123456+00:00"  # as its audit details give it
    batch_id = "00000000-0000-4000-8000-000000000000"
    assignments: list[tuple[object, ...]] = []
    events: list[tuple[object, ...]] = []
    previous = "0" * 64
    for grant_id, (user, role, scope) in enumerate(grants, start=1):
        user_id, subject = users[user]  # the chain names the user by pseudonym
        assignments.append((grant_id, user_id, role, scope, ACTOR, stored_at, None, REASON))
        details = json.dumps(
            {
                "expires_at": None,
                "granted_at": iso_at,
                "granted_by": ACTOR,
                "id": grant_id,
                "op": "assign",
                "reason": REASON,
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        payload = f"{previous}{subject}{role}{scope}{details}".encode()
        digest = hmac.digest(KEY, payload, "sha256").hex()
        events.append(
            (
                revision + 1 + (grant_id - 1) // chunk,
                stored_at,
                "assign",
                ACTOR,
                subject,
                role,
                scope,
                details,
                batch_id,
                previous,
                digest,
                KEY_ID,
            )
        )
        previous = digest
    return assignments, events


class DriverAlone:
    """The rows of ``grants`` ready to go into the SQLite database at ``path`` (which holds the
    users and scopes, no grants: a :func:`snapshot`), one transaction of ``chunk`` grants per
    :meth:`write`. The rows are made and the connection opened here, untimed."""

    def __init__(self, path: str, grants: Sequence[tuple[str, str, str]], chunk: int) -> None:
        self.path = path
        self.chunk = chunk
        self.assignments, self.events = _rows(path, grants, chunk)
        gc.collect()  # the new tuples hold only numbers and text: the collector lets go of them
        self.connection = sqlite3.connect(path, isolation_level=None)
        for pragma in (
            "foreign_keys=ON",
            "journal_mode=WAL",
            "synchronous=NORMAL",
            f"cache_size=-{BULK_CACHE_KIB}",
        ):
            self.connection.execute(f"PRAGMA {pragma}")
        quoted = [f'"{c}"' for c in COLUMNS]  # "user" among them
        self.insert_assignment = (
            f"INSERT INTO {ASSIGNMENTS.name} ({', '.join(ASSIGNMENT_COLUMNS)}) "  # noqa: S608
            f"VALUES ({', '.join('?' for _ in ASSIGNMENT_COLUMNS)})"
        )
        self.insert_event = (
            f"INSERT INTO {AUDIT_EVENTS.name} ({', '.join(quoted)}) "  # noqa: S608
            f"VALUES ({', '.join('?' for _ in COLUMNS)})"
        )
        self.bump = f"UPDATE {STATE} SET revision = revision + 1"  # noqa: S608

    def write(self, first: int) -> tuple[float, float]:
        """Insert the grants from index ``first`` (a multiple of ``chunk``) in one transaction,
        as ``assign_many`` would: (wall s, CPU s)."""
        connection, end = self.connection, first + self.chunk
        start, start_cpu = time.perf_counter(), time.process_time()
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(self.bump)
        connection.executemany(self.insert_assignment, self.assignments[first:end])
        connection.executemany(self.insert_event, self.events[first:end])
        connection.execute("COMMIT")
        return time.perf_counter() - start, time.process_time() - start_cpu

    def close(self) -> None:
        """Close the connection and remove the file."""
        self.connection.close()
        self.assignments, self.events = [], []
        discard(self.path)


def discard(path: str) -> None:
    """Remove a :func:`snapshot` and its write-ahead log."""
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)
