"""The unit of work: every change to rolecall's data is one call of :meth:`UnitOfWork.run`.

    from rolecall.core.writes import UnitOfWork

    def work(session, audit):          # change rows; log one audit event per change
        ...
        audit.add("user_update", user="ada", details={...})

    written = rc.writes.run("admin", work)        # one transaction, or nothing at all
    written.revision, written.result, written.events

One run is one database transaction that

1. takes the **write lock**: it bumps the state row's revision first, so writers queue on that
   row, the revision order is the commit order and the audit chain has no forks; on
   PostgreSQL it also announces the revision (``NOTIFY``, delivered at the commit; with Redis,
   published right after it: :mod:`.storage.notices`);
2. when the change is made **as a user**, catches this process's index up with every write
   committed before (no other writer can commit now) and lets the **guard** decide on that
   index: two changes decided at the same moment can never both pass on a state only one of
   them leaves (two admins removing each other). A guard raises
   :class:`~rolecall.core.governance.NotAllowedError` to refuse, and nothing is written;
3. runs the **work**, which changes rows and appends audit events through the
   :class:`~rolecall.core.storage.audit.AuditWriter` (repositories never commit);
4. commits only if the work logged an event; a run that logs nothing is rolled back and spends
   no revision; a database failure rolls everything back and raises
   :class:`~rolecall.core.errors.StorageError`;
5. applies the change to this process's index and calls the ``assignment_changed`` hooks.

A change made as a user must come with its guard (:meth:`UnitOfWork.run` refuses one
without), so no write made as a user can skip the decision or take it outside the lock. The
guards themselves are in :mod:`rolecall.core.governance.guards`.

The grant and revoke work every write of assignments shares is here too
(:func:`grant_work`, :func:`revoke_work`): it validates, writes the audit events and says what
the index takes; the rows are written by :mod:`.storage.grants`.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .engine import Index, changes
from .errors import BadInputError
from .records import AssignmentEvent
from .scopes import show
from .storage import grants
from .storage.audit import AuditWriter, bump_revision, numbered
from .storage.database import bulk_cache
from .storage.keys import AUDIT_KEY, KeyRing
from .storage.sessions import Engine, Session, writing

if TYPE_CHECKING:
    from .plugins import Plugins
    from .storage.notices import Channel

# Under the service's name: what operators configure to see failing plugins and rolled-back writes.
log = logging.getLogger("rolecall.service")

CHANGE_ROLE = "change_role"
"""The audit action of a role change (``Rolecall.change_role``): the removal of the old role
and the grant of the new, two events of one batch, whose ``op`` says which half each is and
whose details name the other role (``to_role`` on the removal, ``from_role`` on the grant)."""
T = TypeVar("T")

BULK_ROWS = 1000
"""From this many rows, a write pauses the cyclic garbage collector."""

Guard = Callable[[Index], None]
"""A decision on a change made as a user, taken on an index caught up with every committed
write; raises :class:`~rolecall.core.governance.NotAllowedError` to refuse."""
Work = Callable[[Session, AuditWriter], T]
Applied = tuple[int, str, str, str, str | None, float, float | None]
"""A grant as a committed write hands it to the index: (id, user, role, scope, granted_by,
granted_at, expires_at), times in epoch seconds."""

_USER = itemgetter(0)


# ---------------------------------------------------------------------------- the collector

_pauses = 0
_resume = False
_pauses_lock = threading.Lock()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector off inside (nested and concurrent uses included); the
    last one out switches it back on if it was on before the first came in, on error too.

    The collector is the process's, not rolecall's: inside a host application (a Django
    process) other threads run without cyclic collection while a bulk write or an index build
    is under way, and never after it. Reference counting still frees everything that is not in
    a cycle meanwhile."""
    global _pauses, _resume
    with _pauses_lock:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pauses_lock:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()


def hold_collector_state() -> Callable[[bool], None]:
    """For a fork: hold the collector's pause count steady across it; the returned function
    releases it after the fork (``True`` in the child, where the threads that paused the
    collector do not exist: the count starts again from nothing, and the collector is switched
    back on if they had switched it off)."""
    global _pauses_lock
    _pauses_lock.acquire()

    def release(child: bool) -> None:
        global _pauses, _pauses_lock
        if child:
            _pauses_lock = threading.Lock()
            if _pauses and _resume:
                gc.enable()
            _pauses = 0
        else:
            _pauses_lock.release()

    return release


def _now() -> datetime:
    return datetime.now(UTC)


class _Unchanged(Exception):
    def __init__(self, result: Any) -> None:
        self.result = result


@dataclass(frozen=True)
class Written(Generic[T]):
    """What one run did: the revision it wrote (the index's, unchanged, when the work logged
    nothing), what the work returned, and how many audit events it logged."""

    revision: int
    result: T
    events: int


class UnitOfWork:
    """The one way rolecall writes. The service owns one (``Rolecall.writes``); it hands the
    unit of work its index, its catch-up and its lock, and uses it for every change."""

    def __init__(
        self,
        engine: Engine,
        plugins: Plugins,
        *,
        index: Callable[[], Index],
        sync: Callable[[], int],
        lock: threading.RLock,
        service: object,
        check_actor: Callable[[str], str],
        keys: KeyRing | None = None,
        notices: Channel | None = None,
    ) -> None:
        self.engine = engine
        self.plugins = plugins
        self._notices = notices
        """Where each committed write is announced (:mod:`.storage.notices`)."""
        self._index = index
        self._sync = sync
        self._lock = lock
        self._service = service
        self._check_actor = check_actor
        self._keys = keys
        """Where the audit key comes from (None: unkeyed events, as before keying)."""

    def run(
        self,
        actor: str | None,
        work: Work[T],
        *,
        batch_id: str | None = None,
        as_user: str | None = None,
        guard: Guard | None = None,
        rows: int = 1,
        apply: Callable[[Index], None] | None = None,
    ) -> Written[T]:
        """Run ``work`` as one transaction holding the write lock (see the module's doc).

        ``as_user``: the change is made as that user; ``guard`` then decides it, once on the
        current index before the lock is taken (a refusal costs no write transaction) and again
        under the lock on the caught-up index, which is the decision that counts. A change made
        as a user without a guard is a programming error (:class:`TypeError`).

        ``rows``: about how many rows it writes; a bulk write (``BULK_ROWS`` or more) pauses
        the cyclic garbage collector and, on SQLite, enlarges the page cache while it runs.

        ``apply``: the write's changes made to an index from the rows it wrote, the same as
        replaying its audit events; used for this process's own index once committed.
        """
        if as_user is not None and guard is None:
            raise TypeError("a change made as a user needs the guard that decides it")
        if actor is not None:
            actor = self._check_actor(actor)
        if guard is not None:
            self._sync()
            guard(self._index())  # refuse early, without the write lock; decided again under it
        bulk = rows >= BULK_ROWS
        at = _now()
        # Hundreds of thousands of new objects (rows, events, the index's cells) and no cyclic
        # garbage among them: the collector would only walk the whole index again and again
        # while they are created, so a large write would be slower the larger the index.
        with collector_paused() if bulk else nullcontext():
            try:
                with writing(self.engine) as session:
                    revision, last_hash = bump_revision(session)
                    if self._notices is not None:  # PostgreSQL: delivered if it commits
                        self._notices.within(session, revision)
                    if guard is not None:
                        self._sync()  # no other writer can commit now: this is the latest state
                        with self._lock:
                            guard(self._index())
                    with bulk_cache(session.connection()) if bulk else nullcontext():
                        key = None if self._keys is None else self._keys.current(AUDIT_KEY)
                        writer = AuditWriter(
                            session, revision, last_hash, at, actor, batch_id, key=key
                        )
                        result = work(session, writer)
                        if not len(writer):
                            raise _Unchanged(result)  # rolls back: no revision is spent
                        writer.flush()
            except _Unchanged as unchanged:
                return Written(self._index().revision, unchanged.result, 0)
            if self._notices is not None:
                self._notices.committed(revision)
            self._catch_up_after(revision, writer, apply)
            self._announce(writer)
        return Written(revision, result, len(writer))

    def _catch_up_after(
        self, revision: int, writer: AuditWriter, apply: Callable[[Index], None] | None
    ) -> None:
        """After our own write: apply its events from memory when the index was at the
        revision just before it (the usual case), else catch up from the change feed.
        ``apply``, when given, makes the write's changes to the index from what it wrote,
        exactly as its events would: then the events are not read back."""
        with self._lock:
            index = self._index()
            if index.revision == revision - 1:
                if apply is not None:
                    apply(index)
                    index.revision = revision
                    return
                changes.apply_many(
                    index,
                    (
                        (r["revision"], r["action"], r["user"], r["role"], r["scope"], r["details"])
                        for r in writer.rows
                    ),
                )
                return
        self._sync()

    def _announce(self, writer: AuditWriter) -> None:
        """Call the ``assignment_changed`` hooks; a failing plugin is logged, never fatal."""
        from .plugins import own_callers

        # Each plugin through pluggy, so wrappers and monitoring see the call; the callers are
        # made once per write, not once per event.
        listeners = own_callers(self.plugins.manager, "assignment_changed")
        if not listeners:
            return
        for row in writer.rows:
            op = row["details"].get("op", row["action"])
            if op not in ("assign", "revoke", "expire"):
                continue
            # Built from rows this process just wrote: trusted, so not validated again.
            event = AssignmentEvent.model_construct(
                action=op,
                user=row["user"],
                role=row["role"],
                scope=row["scope"],
                actor=row["actor"],
                reason=row["details"].get("reason"),
                at=row["at"],
                revision=row["revision"],
            )
            for name, caller in listeners:
                try:
                    caller(event=event, rolecall=self._service)
                except Exception:
                    log.exception("plugin %r failed in assignment_changed", name)


# ---------------------------------------------------------------------------- grants


@dataclass(frozen=True)
class GrantRow:
    """One grant to write. ``granted_by`` and ``granted_at`` are for imports of grants made
    elsewhere; an ordinary assignment takes the actor and the time of the write."""

    user: str
    role: str
    scope: str
    expires_at: datetime | None = None
    reason: str | None = None
    granted_by: str | None = None
    granted_at: datetime | None = None


def _memo(convert: Callable[[datetime], Any]) -> Callable[[datetime | None], Any]:
    """``convert`` with each distinct time (and offset) converted once; ``None`` stays."""
    done: dict[tuple[datetime, Any], Any] = {}

    def converted(value: datetime | None) -> Any:
        if value is None:
            return None
        key = (value, value.utcoffset())
        found = done.get(key)
        if found is None:
            found = done[key] = convert(value)
        return found

    return converted


def grant_work(
    index: Callable[[], Index],
    wanted: dict[tuple[str, str, str], GrantRow],
    *,
    action: str,
    renew: bool,
    applied: list[Applied],
    extra: dict[str, Any] | None = None,
) -> Work[None]:
    """The part of a write that grants ``wanted`` ((user, role id, scope key) -> row):
    inserting new grants, renewing those whose expiry changes with ``renew``, with their audit
    events (``action``, their details with ``op`` ``assign`` and ``extra``). What the index
    takes once it is committed is appended to ``applied``."""

    def work(session: Session, audit: AuditWriter) -> None:
        users = dict.fromkeys(map(_USER, wanted))
        ids = grants.user_ids(session, users)
        missing = sorted(u for u in users if u not in ids)
        if missing:
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise BadInputError(
                f"unknown user(s) {', '.join(map(show, missing[:5]))}{more}; "
                "add them with `rolecall users add`"
            )
        known = index().users
        retired = sorted(u for u in users if u in known and not known[u].active)
        if retired:
            raise BadInputError(f"user {retired[0]} is retired: no role can be given to them")
        current = grants.current_grants(session, ids, users, wanted)
        if current:
            inserts = [k for k in wanted if k not in current]
            renewals = [
                k
                for k in wanted
                if renew and k in current and current[k][1] != wanted[k].expires_at
            ]
        else:  # a load of new grants: every one is inserted
            inserts, renewals = list(wanted), []
        # Ids from a counter taken under the write lock: one executemany inserts the batch.
        first = grants.next_grant_ids(session, len(inserts))
        # A bulk write gives most rows the same times: each distinct one converts once (keyed
        # with its offset, which its ISO text shows).
        stored = _memo(grants.grant_times(session))
        iso = _memo(datetime.isoformat)
        epoch = _memo(datetime.timestamp)
        values = []
        events = []
        last_row: GrantRow | None = None
        for grant_id, key in enumerate(inserts, start=first):
            user, role, scope = key
            row = wanted[key]
            if row is not last_row:  # assign_many: one record shared by every row
                last_row = row
                granted_by = row.granted_by or audit.actor
                granted_at = row.granted_at or audit.at
                stored_at, stored_expiry = stored(granted_at), stored(row.expires_at)
                iso_at, iso_expiry = iso(granted_at), iso(row.expires_at)
                epoch_at, epoch_expiry = epoch(granted_at), epoch(row.expires_at)
                details_json = numbered(
                    {
                        "op": "assign",
                        "granted_by": audit.recorded(granted_by),
                        "granted_at": iso_at,
                        "expires_at": iso_expiry,
                        "reason": row.reason,
                        **(extra or {}),
                    },
                    "id",
                )
            values.append(
                (grant_id, ids[user], role, scope, granted_by, stored_at, stored_expiry, row.reason)
            )
            # The details are JSON values only: their text alone is kept (AuditWriter).
            events.append((user, role, scope, None, details_json(grant_id)))
            applied.append((grant_id, user, role, scope, granted_by, epoch_at, epoch_expiry))
        audit.add_many(action, events)
        grants.insert_grants(session, values)
        renewed: list[dict[str, Any]] = [
            {
                "id": current[k][0],
                "granted_by": audit.actor,
                "granted_at": audit.at,
                "expires_at": wanted[k].expires_at,
                "reason": wanted[k].reason,
            }
            for k in renewals
        ]
        grants.renew_grants(session, renewed)
        for (user, role, scope), value in zip(renewals, renewed, strict=True):
            audit.add(
                action,
                user=user,
                role=role,
                scope=scope,
                details={
                    "op": "assign",
                    "id": value["id"],
                    "granted_by": value["granted_by"],
                    "granted_at": iso(value["granted_at"]),
                    "expires_at": iso(value["expires_at"]),
                    "reason": value["reason"],
                    **(extra or {}),
                },
            )
            applied.append(
                (
                    value["id"],
                    user,
                    role,
                    scope,
                    value["granted_by"],
                    epoch(value["granted_at"]),
                    epoch(value["expires_at"]),
                )
            )

    return work


def revoke_work(
    user: str,
    role_id: str,
    key: str,
    reason: str | None,
    *,
    action: str = "revoke",
    extra: dict[str, Any] | None = None,
) -> Work[None]:
    """The part of a write that removes one grant, with its audit event (``action``, its
    details with ``op`` ``revoke`` when the action is another, and ``extra``); a grant that
    is not held is bad input."""

    def work(session: Session, audit: AuditWriter) -> None:
        uid = grants.user_ids(session, [user]).get(user)
        if uid is None:
            raise BadInputError(f"unknown user {show(user)}")
        # Read, then delete by id (MySQL has no DELETE ... RETURNING): the write lock is held.
        gone = grants.held_grant_ids(session, uid, role_id, key)
        if not gone:
            raise BadInputError(f"{user} does not hold {role_id} on {key}")
        grants.delete_grants(session, gone)
        details: dict[str, Any] = {"id": gone[0], "reason": reason, **(extra or {})}
        if action != "revoke":
            details["op"] = "revoke"
        audit.add(action, user=user, role=role_id, scope=key, details=details)

    return work


def revoke_many_work(wanted: Collection[tuple[str, str, str]], reason: str | None) -> Work[None]:
    """The part of a write that removes the grants among ``wanted`` that are held (the others
    are skipped), one audit event each."""

    def work(session: Session, audit: AuditWriter) -> None:
        ids = grants.user_ids(session, (u for u, _, _ in wanted))
        present = grants.current_grants(session, ids, ids, wanted)
        gone = [(key, present[key][0]) for key in sorted(present)]
        grants.delete_grants(session, [grant_id for _, grant_id in gone])
        audit.resolve(ids)  # their pseudonyms in one query, not one a user
        for (user, role, scope), grant_id in gone:
            audit.add(
                "revoke",
                user=user,
                role=role,
                scope=scope,
                details={"id": grant_id, "reason": reason},
            )

    return work
