"""The audit log: append-only, hash-chained, and the change feed other processes replay.

Each event's hash covers its content and the previous event's hash; the state row keeps the
chain's head (how many events, the newest one's id, revision and hash), so removing the last
events, or all of them, is detected as well as altering or removing any other.

The hash is keyed: an HMAC-SHA256 with the audit key, which lives outside the database
(:mod:`rolecall.core.storage.keys`), and each event records the id of the key version that
signed it (``key_id``). The state row's head is signed with it too (``last_mac``), from the
moment a database is made. Someone who can write the database but does not hold the key cannot
rewrite the chain, empty it or cut it short so that it verifies. Events written before keying
began have no key id and a plain SHA-256: they verify as "unkeyed", which proves their order,
not who wrote them; none may follow the first keyed write (``keyed_after``).
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

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from .database import GENESIS_HASH, insert_rows, time_param
from .keys import AUDIT_KEY, Key, KeyRing, KeyStoreError
from .models import AUDIT_EVENTS, AuditEvent, State
from .sessions import driver_errors
from .subjects import NAMED, PERSONAL, is_pseudonym, pseudonyms_of

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


def hash_of(previous: str, event: Any, key: Key | None = None) -> str:
    """:func:`event_hash` of a stored event (an ``AuditEvent`` row, or anything with its
    columns), chained to ``previous``."""
    return event_hash(
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


@dataclass(frozen=True)
class Head:
    """The head of the audit chain, as the state row keeps it and ``audit verify --json``
    prints it: how many events, the newest one's id, revision and hash, the revision after
    which every event is keyed, and the state row's signature of all of them."""

    events: int
    last_id: int
    """0: no event."""
    revision: int
    last_hash: str
    keyed_after: int | None = None
    mac: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "last_id": self.last_id,
            "last_revision": self.revision,
            "last_hash": self.last_hash,
            "keyed_after": self.keyed_after,
            "mac": self.mac,
        }

    @classmethod
    def from_json(cls, data: Any) -> Head:
        """A head as :meth:`to_json` writes it, or the whole output of ``audit verify --json``
        (its ``head``); :class:`ValueError` when it is neither."""
        if isinstance(data, dict) and isinstance(data.get("head"), dict):
            data = data["head"]
        if not isinstance(data, dict):
            raise ValueError("not a head: expected the JSON that audit verify --json prints")
        numbers = {}
        for name in ("events", "last_id", "last_revision"):
            value = data.get(name)
            if type(value) is not int or value < 0:
                raise ValueError(f"the head's {name!r} must be a whole number, not {value!r}")
            numbers[name] = value
        last_hash = data.get("last_hash")
        if not isinstance(last_hash, str) or len(last_hash) != 64:
            raise ValueError(f"the head's 'last_hash' must be 64 hex digits, not {last_hash!r}")
        if (numbers["events"] == 0) != (numbers["last_id"] == 0):
            raise ValueError("the head's 'events' and 'last_id' disagree")
        keyed_after, mac = data.get("keyed_after"), data.get("mac")
        if keyed_after is not None and type(keyed_after) is not int:
            raise ValueError(f"the head's 'keyed_after' must be a number, not {keyed_after!r}")
        return cls(
            numbers["events"],
            numbers["last_id"],
            numbers["last_revision"],
            last_hash,
            keyed_after,
            mac if isinstance(mac, str) else None,
        )


def state_mac(key: Key | None, head: Head) -> str | None:
    """The state row's signature of the chain's head (None without a key): the count, the
    newest event's id and revision, the revision after which events are keyed, and the
    newest hash."""
    if key is None:
        return None
    bound = [head.events, head.last_id, head.revision, head.keyed_after, head.last_hash]
    message = b"rolecall state 2\0" + json.dumps(bound, separators=(",", ":")).encode()
    return hmac.digest(key.secret, message, "sha256").hex()


def legacy_state_mac(key: Key, last_hash: str) -> str:
    """The signature of a state row from before migration 0009: the newest hash alone."""
    return hmac_sha256(key.secret)(b"rolecall state\0" + last_hash.encode())


def sign_new_chain(engine: Engine, keys: KeyRing) -> None:
    """Sign the head of a database made just now (no events, revision 0) with the audit key,
    so that its log emptied later, with the state row put back to an unsigned start, fails
    verify. Without a key (a server database with none configured yet) it stays unsigned
    until the first write, which signs it."""
    try:
        key = keys.current(AUDIT_KEY)
    except KeyStoreError:
        return
    head = Head(0, 0, 0, GENESIS_HASH, 0)
    with driver_errors(None), engine.begin() as connection:
        connection.execute(
            update(State)
            .where(
                State.id == 1,
                State.revision == 0,
                State.events == 0,
                State.last_hash == GENESIS_HASH,
                State.last_mac.is_(None),
            )
            .values(keyed_after=0, last_mac=state_mac(key, head))
        )


def _json(value: Any) -> str:
    """One item of the payload as :func:`event_hash` encodes it."""
    if type(value) is str:
        return encode_basestring_ascii(value)
    return "null" if value is None else _ENCODE(value)


_MARKER = -918_273_645_546_372_819

USER_OPS = ("user_add", "user_update", "user_erase")
"""The index operations about a user row, which other processes complete from the users
table (:func:`rolecall.core.storage.feed.readable`)."""


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
        """As given: a username or an operator's name (the table gets the user's pseudonym)."""
        self.batch_id = batch_id
        self._last = last_hash
        self._events: list[tuple[Any, ...]] = []
        # Each event's details as given, or None where its JSON text is the whole record.
        self._details: list[dict[str, Any] | None] = []
        self._rows: list[dict[str, Any]] | None = None
        self._at_param: Any = None
        # username -> what the table records for it: the user's pseudonym, or the name itself
        # when it is no user's (an operator's); and back (see rolecall.core.storage.subjects).
        self._recorded: dict[str | None, str | None] = {None: None}
        self._names: dict[str, str] = {}
        # The payload of event_hash, built from its parts: the items every event of the
        # transaction shares are encoded once, and the details once (that text is stored too).
        self._head = f",{_json(revision)},{_json(at.astimezone(UTC).isoformat())},"
        self._actor: str | None = None
        self._tail = f",{_json(batch_id)}]"

    def __len__(self) -> int:
        """How many events the transaction has so far."""
        return len(self._events)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The events so far, each as a dictionary of the table's columns (``at`` as the
        datetime given, ``details`` as a dictionary) plus ``details_json``, the stored text.
        They name users by username and keep the personal details given (what this
        process's index and the hooks take), where the table has pseudonyms and none: the
        details of an event about a user (``user_add``, ``user_update``, ``user_erase``) also
        carry the user's ``pseudonym``."""
        if self._rows is None or len(self._rows) != len(self._events):
            rows = []
            names = self._names
            for event, details in zip(self._events, self._details, strict=True):
                row = dict(zip(COLUMNS, event, strict=True))
                row["at"] = self.at
                row["actor"] = self.actor
                subject = row["user"]
                row["user"] = names.get(subject, subject)
                row["details_json"] = text = row["details"]
                if details is None:
                    details = json.loads(text)
                    for field in NAMED:
                        value = details.get(field)
                        if value in names:
                            details[field] = names[value]
                if is_pseudonym(subject) and details.get("op", row["action"]) in USER_OPS:
                    details = {**details, "pseudonym": subject}
                row["details"] = details
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
        makes it, when the caller has it already (naming users by :meth:`recorded`, with no
        personal detail).

        ``user``, the actor and the details' ``granted_by`` are usernames: the table records
        their pseudonyms. The details' e-mail and display name are kept for this process's
        index and hooks (:attr:`rows`), never recorded."""
        details = details or {}
        if details_json is None:
            kept = details
            if any(field in details for field in PERSONAL) or any(
                isinstance(details.get(field), str) for field in NAMED
            ):
                named = [v for f in NAMED if isinstance(v := details.get(f), str)]
                self.resolve(named)
                kept = {
                    k: self._recorded.get(v, v) if k in NAMED else v
                    for k, v in details.items()
                    if k not in PERSONAL
                }
            text = _ENCODE(kept)
        else:
            text = details_json
        self.add_many(action, ((user, role, scope, details, text),))

    def resolve(self, names: Iterable[str | None]) -> None:
        """Look up the pseudonyms of the users among ``names`` not seen yet by this writer
        (once per name): a name that is no user's is recorded as it is."""
        missing = {n for n in names if n not in self._recorded}
        if not missing:
            return
        assert None not in missing
        if self.session.new or self.session.dirty:
            self.session.flush()  # users added through the ORM in this transaction
        found = pseudonyms_of(self.session.connection(), missing)  # type: ignore[arg-type]
        for name in missing:
            assert name is not None
            recorded = found.get(name, name)
            self._recorded[name] = recorded
            if recorded != name:
                self._names[recorded] = name

    def recorded(self, name: str | None) -> str | None:
        """What the table records for ``name``: the user's pseudonym, or the name itself when
        it is no user's."""
        self.resolve((name,))
        return self._recorded[name]

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
        all events share once. Users are usernames, recorded as their pseudonyms (see
        :meth:`add`); the details' text must name none and hold no personal detail."""
        codes: dict[str | None, str] = {None: "null"}
        if not isinstance(events, list | tuple):
            events = list(events)
        self.resolve([self.actor, *(event[0] for event in events)])
        if self._actor is None:
            self._actor = f",{_json(self._recorded[self.actor])},"
        recorded = self._recorded
        middle = f"{self._head}{_json(action)}{self._actor}"
        tail = self._tail
        revision, actor, batch_id = self.revision, recorded[self.actor], self.batch_id
        stored_at = self._stored_at()
        key = self.key
        kid = None if key is None else key.id
        sign = self._signer()
        append = self._events.append
        keep = self._details.append
        last = self._last
        previous = _json(last)
        for name, role, scope, details, text in events:
            user = recorded[name]
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
        """Write the collected events and move the state row's head to the newest, signed.

        The count is the row's plus this write's events (the table is never counted: a
        state row that disagrees with it keeps disagreeing, and verify says so); the first
        keyed write records the revision before it as ``keyed_after``."""
        if not self._events:
            return
        insert_rows(self.session.connection(), AUDIT_EVENTS, COLUMNS, self._events)
        newest = select(func.max(AuditEvent.id)).scalar_subquery()
        events, keyed_after, last_id = self.session.execute(
            select(State.events, State.keyed_after, newest).where(State.id == 1)
        ).one()
        if self.key is not None and keyed_after is None:
            keyed_after = self.revision - 1
        head = Head(
            int(events) + len(self._events), int(last_id), self.revision, self._last, keyed_after
        )
        self.session.execute(
            update(State)
            .where(State.id == 1)
            .values(
                last_hash=head.last_hash,
                events=head.events,
                last_event_id=head.last_id,
                keyed_after=head.keyed_after,
                last_mac=state_mac(self.key, head),
            )
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
    head: Head | None = None
    """The head verified (None when verify failed): what an operator records outside the
    database and later passes back as ``expect``."""


UNSIGNED = (
    "the state row is unsigned ({events} events, revision {revision}) but the audit key is "
    "configured ({source}): the audit log was emptied or rewritten by someone without the "
    "key, unless nothing was written since this database was made without a key or upgraded "
    "from a release without one (the next write signs it)"
)
BAD_SIGNATURE = (
    "the state row is not signed with the audit key: it was altered, or moved back to hide "
    "the removal of the newest events (or it was signed with a key this installation does "
    "not have)"
)


def verify_chain(
    rows: Iterable[AuditEvent],
    state: Head,
    keys: KeyRing | None = None,
    *,
    expect: Head | None = None,
) -> Verification:
    """Recompute the chain; name the first event that does not match.

    ``state``: the head the state row keeps, with its signature (``mac``). ``keys``: the
    audit key's versions; None checks the hashes only, without any key (nothing keyed then
    verifies).

    A keyed event is checked with the version of the audit key it names. An unkeyed event is
    accepted only before the first keyed one and only up to the revision at which keying
    began, as the signed state row (``keyed_after``) or the key file records it: a chain
    rewritten as unkeyed events by someone without the key fails. With keys, the state row
    must be signed with one of them, over the head the table holds: the number of events, the
    newest one's id and revision, and its hash. An unsigned state row fails, so emptying the
    log and putting the state row back to the start takes the key; so does cutting the chain
    short (or an old copy of the state row, which ``expect`` catches).

    ``expect``: a head recorded earlier (``audit verify --json``, kept outside the database):
    the chain must still hold it, as its ``events``-th event, with that id, revision and
    hash."""
    previous = GENESIS_HASH
    count = keyed = 0
    last_id = last_revision = 0
    found: dict[str, Key | None] = {}
    versions = [] if keys is None else keys.versions(AUDIT_KEY)
    # The state row's signature first: its keyed_after counts only when it is signed.
    signed = "none"
    if state.mac is not None and keys is not None:
        if any(hmac.compare_digest(state.mac, str(state_mac(k, state))) for k in versions):
            signed = "head"
        elif any(
            hmac.compare_digest(state.mac, legacy_state_mac(k, state.last_hash)) for k in versions
        ):
            signed = "hash"
        else:
            signed = "bad"
    limits = [] if keys is None or keys.keyed_after is None else [keys.keyed_after]
    if signed == "head" and state.keyed_after is not None:
        limits.append(state.keyed_after)
    keyed_after = min(limits, default=None)
    anchored = expect is None or expect.events == 0

    def bad(event: AuditEvent, why: str) -> Verification:
        return Verification(
            False, count, f"event {event.id}: {why}", event.id, keyed, count - keyed
        )

    def failed(why: str, first_bad: int | None = None) -> Verification:
        return Verification(False, count, why, first_bad, keyed, count - keyed)

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
        digest = hash_of(previous, event, key)
        if digest != event.hash:
            return bad(event, "its content does not match its hash (it was altered)")
        if not anchored and expect is not None and event.id >= expect.last_id:
            if (event.id, count, event.revision, event.hash) != (
                expect.last_id,
                expect.events,
                expect.revision,
                expect.last_hash,
            ):
                differs = (
                    f"event {event.id} is not it"
                    if event.id == expect.last_id
                    else f"there is no event {expect.last_id}"
                )
                return failed(_not_held(expect, differs), event.id)
            anchored = True
        previous = event.hash
        last_id, last_revision = event.id, event.revision
    unkeyed = count - keyed
    if previous != state.last_hash:
        return failed(
            "the newest events were removed: the chain ends at "
            f"{previous[:12]}, the state expects {state.last_hash[:12]}"
        )
    if keys is not None:
        if signed == "none":
            source = keys.source
            return failed(UNSIGNED.format(events=count, revision=state.revision, source=source))
        if signed == "bad":
            return failed(BAD_SIGNATURE)
        table = (count, last_id, last_revision)
        if signed == "head" and (state.events, state.last_id, state.revision) != table:
            return failed(
                f"the state row signs {state.events} events up to event {state.last_id} "
                f"(revision {state.revision}), but the table holds {count} up to event "
                f"{last_id} (revision {last_revision}): events were removed, added or "
                "renumbered"
            )
        if signed == "head" and state.keyed_after and not unkeyed:
            # Keying began after some writes, whose unkeyed events must still be there.
            return failed(
                f"the state row says keying began after revision {state.keyed_after}, but the "
                "chain holds no event from before it: the log was emptied (and written to "
                "since)"
            )
    if not anchored and expect is not None:
        return failed(_not_held(expect, f"the chain ends at event {last_id} ({count} events)"))
    parts = [f"{keyed} keyed"]
    if unkeyed:
        parts.append(f"{unkeyed} unkeyed (before keying)")
    message = f"audit chain intact: {count} events ({', '.join(parts)})"
    if signed == "hash":
        message += (
            "; the state row is signed as before migration 0009, over the newest hash only: "
            "the next write signs the whole head"
        )
    if expect is not None:
        message += f"; it holds the head recorded earlier ({expect.events} events)"
    head = Head(count, last_id, last_revision, previous, state.keyed_after, state.mac)
    return Verification(True, count, message, None, keyed, unkeyed, head)


def _not_held(expect: Head, found: str) -> str:
    return (
        f"the chain no longer holds the head recorded earlier ({expect.events} events up to "
        f"event {expect.last_id}, revision {expect.revision}, hash {expect.last_hash[:12]}): "
        f"{found}; events up to it were removed or rewritten"
    )
