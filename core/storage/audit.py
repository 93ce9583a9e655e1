"""The audit log: append-only, hash-chained, and the change feed other processes replay.

Each event's hash covers its content and the previous event's hash; the state row keeps the
hash of the newest event, so removing the last events is detected as well as altering or
removing any other.

The hash is keyed: an HMAC-SHA256 with the audit key, which lives outside the database
(:mod:`rolecall.core.storage.keys`), and each event records the id of the key version that
signed it (``key_id``). Someone who can write the database but does not hold the key cannot
rewrite the chain so that it verifies. Events written before keying began have no key id and
a plain SHA-256: they verify as "unkeyed", which proves their order, not who wrote them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .database import GENESIS_HASH, insert_rows, time_param
from .keys import AUDIT_KEY, Key, KeyRing
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
    "key_id",
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
    key: Key | None = None,
) -> str:
    """The event's hash: HMAC-SHA256 with ``key``, or a plain SHA-256 (an event written
    before keying began) without one."""
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
    if key is not None:
        return hmac.digest(key.secret, payload.encode(), "sha256").hex()
    return hashlib.sha256(payload.encode()).hexdigest()


def hmac_sha256(secret: bytes) -> Callable[[bytes], str]:
    """HMAC-SHA256 with ``secret`` (RFC 2104), as a hex digest: the same as
    ``hmac.new(secret, message, "sha256").hexdigest()``, with the key's inner and outer pads
    hashed once and copied per message, which costs a bulk write's million events about a
    third of what a new HMAC per event does."""
    block = secret if len(secret) <= 64 else hashlib.sha256(secret).digest()
    block = block.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def digest(message: bytes) -> str:
        first = inner.copy()
        first.update(message)
        second = outer.copy()
        second.update(first.digest())
        return second.hexdigest()

    return digest


def state_mac(key: Key | None, last_hash: str) -> str | None:
    """The state row's signature of the newest event's hash (None without a key)."""
    if key is None:
        return None
    return hmac_sha256(key.secret)(b"rolecall state\0" + last_hash.encode())


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
        *,
        key: Key | None = None,
    ) -> None:
        """``key``: the audit key that signs the events (see the module's docstring); None
        makes unkeyed events, as before keying began."""
        self.session = session
        self.key = key
        self._sign: Callable[[bytes], str] | None = None
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
        key = self.key
        kid = None if key is None else key.id
        sign = self._signer()
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
            digest = sign(payload.encode())
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
                    kid,
                )
            )
            keep(details)
            last = digest
            previous = f'"{digest}"'  # a hex digest encodes as itself in quotes
        self._last = last

    def _signer(self) -> Callable[[bytes], str]:
        """An event's hash from its payload: the HMAC of this writer's key (made once for all
        its events), or a plain SHA-256 without a key."""
        if self._sign is None:
            if self.key is None:
                self._sign = lambda payload: hashlib.sha256(payload).hexdigest()
            else:
                self._sign = hmac_sha256(self.key.secret)
        return self._sign

    def _stored_at(self) -> Any:
        """The transaction's time as the driver takes it (see :func:`time_param`)."""
        if self._at_param is None:
            self._at_param = time_param(self.session.connection())(self.at)
        return self._at_param

    def flush(self) -> None:
        """Write the collected events and move the state row's hash to the newest."""
        if self._events:
            insert_rows(self.session.connection(), AUDIT_EVENTS, COLUMNS, self._events)
            self.session.execute(
                update(State)
                .where(State.id == 1)
                .values(last_hash=self._last, last_mac=state_mac(self.key, self._last))
            )


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
    keyed: int = 0
    """Events signed with an audit key (HMAC)."""
    unkeyed: int = 0
    """Events from before keying began (plain SHA-256)."""


def verify_chain(
    rows: Iterable[AuditEvent],
    last_hash: str,
    keys: KeyRing | None = None,
    *,
    last_mac: str | None = None,
) -> Verification:
    """Recompute the chain; name the first event that does not match.

    A keyed event is checked with the version of the audit key it names (from ``keys``). An
    unkeyed event is accepted only before the first keyed one and, when ``keys`` knows the
    revision at which keying began, only up to it: a chain rewritten as unkeyed events by
    someone without the key fails. When the newest event is keyed, the state row's
    ``last_mac`` must sign ``last_hash`` with its key: moving the state row back to hide the
    removal of the newest events takes the key (or an old copy of the row)."""
    previous = GENESIS_HASH
    count = keyed = 0
    found: dict[str, Key | None] = {}
    key: Key | None = None
    keyed_after = None if keys is None else keys.keyed_after

    def bad(event: AuditEvent, why: str) -> Verification:
        return Verification(
            False, count, f"event {event.id}: {why}", event.id, keyed, count - keyed
        )

    for event in rows:
        count += 1
        if event.prev_hash != previous:
            return bad(
                event,
                "its previous-hash link is broken (an event before it was removed or altered)",
            )
        key = None
        if event.key_id is None:
            if keyed:
                return bad(
                    event,
                    "it is unkeyed but follows keyed events: the chain was rewritten "
                    "without the audit key",
                )
            if keyed_after is not None and event.revision > keyed_after:
                return bad(
                    event,
                    "it is unkeyed but was written after keying began (revision "
                    f"{keyed_after}): the chain was rewritten without the audit key",
                )
        else:
            if event.key_id not in found:
                found[event.key_id] = None if keys is None else keys.find(AUDIT_KEY, event.key_id)
            key = found[event.key_id]
            if key is None:
                return bad(
                    event,
                    f"it is signed with audit key {event.key_id}, which this installation "
                    "does not have (restore the key file, or the secret, that held it)",
                )
            keyed += 1
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
            key,
        )
        if digest != event.hash:
            return bad(event, "its content does not match its hash (it was altered)")
        previous = event.hash
    unkeyed = count - keyed
    # When the newest event is keyed, the state row must be signed with its key.
    if previous == last_hash and key is not None and last_mac != state_mac(key, last_hash):
        return Verification(
            False,
            count,
            "the state row's hash of the newest event is not signed with the audit key: "
            "it was moved back, and the newest events were removed",
            None,
            keyed,
            unkeyed,
        )
    if previous != last_hash:
        return Verification(
            False,
            count,
            "the newest events were removed: the chain ends at "
            f"{previous[:12]}, the state expects {last_hash[:12]}",
            None,
            keyed,
            unkeyed,
        )
    parts = [f"{keyed} keyed"]
    if unkeyed:
        parts.append(f"{unkeyed} unkeyed (before keying)")
    return Verification(
        True,
        count,
        f"audit chain intact: {count} events ({', '.join(parts)})",
        None,
        keyed,
        unkeyed,
    )
