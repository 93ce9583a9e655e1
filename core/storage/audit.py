"""The audit log: append-only, hash-chained, and the change feed other processes replay.

Each event's hash covers its content and the previous event's hash; the state row keeps the
hash of the newest event, so removing the last events is detected as well as altering or
removing any other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .database import GENESIS_HASH, insert_rows, time_param
from .models import AUDIT_EVENTS, AuditEvent, State

_ENCODE = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), default=str, check_circular=False
).encode
"""The JSON of the hashed payload: sorted keys, no spaces, anything else as text."""
COLUMNS = (
    "revision",
    "at",
    "action",
    "actor",
    "user",
    "role",
    "scope",
    "details",
    "batch_id",
    "prev_hash",
    "hash",
)


def event_hash(
    prev_hash: str,
    revision: int,
    at: datetime,
    action: str,
    actor: str | None,
    user: str | None,
    role: str | None,
    scope: str | None,
    details: dict[str, Any],
    batch_id: str | None,
) -> str:
    payload = json.dumps(
        [
            prev_hash,
            revision,
            at.astimezone(UTC).isoformat(),
            action,
            actor,
            user,
            role,
            scope,
            details,
            batch_id,
        ],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _json(value: Any) -> str:
    """One item of the payload as :func:`event_hash` encodes it."""
    if type(value) is str:
        return encode_basestring_ascii(value)
    return "null" if value is None else _ENCODE(value)


_MARKER = -918_273_645_546_372_819


def numbered(details: dict[str, Any], field: str) -> Callable[[int], str]:
    """The JSON text :meth:`AuditWriter.add` stores and hashes for ``details`` with ``field``
    set to a given integer: encoded once, the number put in per event (a bulk write's events
    differ only in their grant id)."""
    text = _ENCODE({**details, field: _MARKER})
    head, found, tail = text.partition(str(_MARKER))
    if not found or str(_MARKER) in tail:  # the marker also sits in a value: no shortcut
        return lambda number: _ENCODE({**details, field: number})
    return lambda number: f"{head}{number}{tail}"


class AuditWriter:
    """Collects the events of one write transaction and appends them, chained, at the end.

    Each event is kept as the row the table takes (a tuple in the order of ``COLUMNS``), so a
    bulk write of a million events builds no dictionary per event; :attr:`rows` makes the
    dictionaries when something asks for them."""

    def __init__(
        self,
        session: Session,
        revision: int,
        last_hash: str,
        at: datetime,
        actor: str | None,
        batch_id: str | None,
    ) -> None:
        self.session = session
        self.revision = revision
        self.at = at
        self.actor = actor
        self.batch_id = batch_id
        self._last = last_hash
        self._events: list[tuple[Any, ...]] = []
        # Each event's details as given, or None where its JSON text is the whole record.
        self._details: list[dict[str, Any] | None] = []
        self._rows: list[dict[str, Any]] | None = None
        self._at_param: Any = None
        # The payload of event_hash, built from its parts: the items every event of the
        # transaction shares are encoded once, and the details once (that text is stored too).
        self._head = f",{_json(revision)},{_json(at.astimezone(UTC).isoformat())},"
        self._actor = f",{_json(actor)},"
        self._tail = f",{_json(batch_id)}]"

    def __len__(self) -> int:
        """How many events the transaction has so far."""
        return len(self._events)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The events so far, each as a dictionary of the table's columns (``at`` as the
        datetime given, ``details`` as a dictionary) plus ``details_json``, the stored text."""
        if self._rows is None or len(self._rows) != len(self._events):
            rows = []
            for event, details in zip(self._events, self._details, strict=True):
                row = dict(zip(COLUMNS, event, strict=True))
                row["at"] = self.at
                row["details_json"] = text = row["details"]
                row["details"] = json.loads(text) if details is None else details
                rows.append(row)
            self._rows = rows
        return self._rows

    def add(
        self,
        action: str,
        *,
        user: str | None = None,
        role: str | None = None,
        scope: str | None = None,
        details: dict[str, Any] | None = None,
        details_json: str | None = None,
    ) -> None:
        """Append one event. ``details_json``: the details' JSON text as :func:`numbered`
        makes it, when the caller has it already."""
        details = details or {}
        text = _ENCODE(details) if details_json is None else details_json
        self.add_many(action, ((user, role, scope, details, text),))

    def add_many(
        self,
        action: str,
        events: Iterable[tuple[str | None, str | None, str | None, dict[str, Any] | None, str]],
    ) -> None:
        """Append events of one action in order, each ``(user, role, scope, details,
        details_json)`` with the details' JSON text already made (as :func:`numbered` or
        ``add`` makes it). ``details`` may be None when that text decodes to the details
        exactly (JSON values only): :attr:`rows` decodes it if asked. A bulk write's events
        repeat the same roles and scopes: each distinct value is encoded once, and the items
        all events share once."""
        codes: dict[str | None, str] = {None: "null"}
        middle = f"{self._head}{_json(action)}{self._actor}"
        tail = self._tail
        revision, actor, batch_id = self.revision, self.actor, self.batch_id
        stored_at = self._stored_at()
        sha256 = hashlib.sha256
        append = self._events.append
        keep = self._details.append
        last = self._last
        previous = _json(last)
        for user, role, scope, details, text in events:
            user_code = codes.get(user)
            if user_code is None:
                user_code = codes[user] = _json(user)
            role_code = codes.get(role)
            if role_code is None:
                role_code = codes[role] = _json(role)
            scope_code = codes.get(scope)
            if scope_code is None:
                scope_code = codes[scope] = _json(scope)
            payload = f"[{previous}{middle}{user_code},{role_code},{scope_code},{text}{tail}"
            digest = sha256(payload.encode()).hexdigest()
            # In the order of COLUMNS.
            append(
                (
                    revision,
                    stored_at,
                    action,
                    actor,
                    user,
                    role,
                    scope,
                    text,
                    batch_id,
                    last,
                    digest,
                )
            )
            keep(details)
            last = digest
            previous = f'"{digest}"'  # a hex digest encodes as itself in quotes
        self._last = last

    def _stored_at(self) -> Any:
        """The transaction's time as the driver takes it (see :func:`time_param`)."""
        if self._at_param is None:
            self._at_param = time_param(self.session.connection())(self.at)
        return self._at_param

    def flush(self) -> None:
        """Write the collected events and move the state row's hash to the newest."""
        if self._events:
            insert_rows(self.session.connection(), AUDIT_EVENTS, COLUMNS, self._events)
            self.session.execute(update(State).where(State.id == 1).values(last_hash=self._last))


def bump_revision(session: Session) -> tuple[int, str]:
    """Take the write lock (the state row) and return the new revision and the last hash.

    Every write transaction starts here, so writers serialize on this row: the revision order is
    the commit order, and the hash chain has no forks.
    """
    session.execute(update(State).where(State.id == 1).values(revision=State.revision + 1))
    row = session.execute(select(State.revision, State.last_hash).where(State.id == 1)).one()
    return int(row.revision), str(row.last_hash)


@dataclass(frozen=True)
class Verification:
    ok: bool
    events: int
    message: str
    first_bad: int | None = None


def verify_chain(rows: Iterable[AuditEvent], last_hash: str) -> Verification:
    """Recompute the chain; name the first event that does not match."""
    previous = GENESIS_HASH
    count = 0
    for event in rows:
        count += 1
        if event.prev_hash != previous:
            return Verification(
                False,
                count,
                f"event {event.id}: its previous-hash link is "
                f"broken (an event before it was removed or altered)",
                event.id,
            )
        digest = event_hash(
            previous,
            event.revision,
            event.at,
            event.action,
            event.actor,
            event.user,
            event.role,
            event.scope,
            event.details,
            event.batch_id,
        )
        if digest != event.hash:
            return Verification(
                False,
                count,
                f"event {event.id}: its content does not match its hash (it was altered)",
                event.id,
            )
        previous = event.hash
    if previous != last_hash:
        return Verification(
            False,
            count,
            "the newest events were removed: the chain ends at "
            f"{previous[:12]}, the state expects {last_hash[:12]}",
            None,
        )
    return Verification(True, count, f"audit chain intact: {count} events")
