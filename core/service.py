"""The service API: one object for checks, explanations, assignments, reverse queries and audit.

    from rolecall.core import Rolecall

    rc = Rolecall.open("sqlite:///rolecall.db")
    token = rc.assign("ada", "ccx_coach", "course-v1:MITx+6.002x+2026_T1", actor="admin")
    rc.check("ada", "ccx.create_ccx", "course-v1:MITx+6.002x+2026_T1", at_least=token)

Every write is one transaction: it takes the write lock (the state row), validates, changes the
rows, appends one audit event per change and bumps the global revision, which it returns as a
token. Reads answer from the compiled index; the index catches up with other processes' writes
by replaying the audit events above its revision, at least every ``staleness`` seconds (a
background thread) and at once when a caller passes a newer token.
"""

from __future__ import annotations

import gc
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, String, Table, delete, func, insert, select, type_coerce, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from .accounts import Accounts
from .engine import AccessEntry, Decision, GrantInfo, Index, Team
from .engine.index import ALL
from .errors import BadInputError, StorageError
from .governance import Delegation, NotAllowedError
from .governance.bulk import NOTHING_TO_DO, BulkResult
from .governance.bulk import validate as bulk_validate
from .governance.custom_roles import build_role, role_of
from .governance.delegation import Refusal
from .governance.whatif import Impact, what_if_assign, what_if_revoke, what_if_role_change
from .plugins import Plugins, load_plugins
from .records import AssignmentEvent, DelegationRule, Role, Scope
from .registry import Registry
from .scopes import show
from .storage.audit import AuditWriter, Verification, bump_revision, numbered, verify_chain
from .storage.database import (
    bulk_cache,
    database_url,
    insert_rows,
    make_engine,
    rows_in,
    time_param,
    upgrade,
)
from .storage.keys import AUDIT_KEY, KeyRing
from .storage.models import (
    ASSIGNMENT_COLUMNS,
    ASSIGNMENTS,
    Assignment,
    AuditEvent,
    CustomRole,
    KnownScope,
    Restriction,
    State,
    StoredRule,
    User,
)

log = logging.getLogger("rolecall.service")
USERS = cast(Table, User.__table__)
SCOPES = cast(Table, KnownScope.__table__)

T = TypeVar("T")
_SPACE = re.compile(r"\s")
RAW_TIME = String()
"""Reads a time column as the driver returns it (text on SQLite, datetime on PostgreSQL)."""
MAX_TEXT = 1000
BULK_ROWS = 1000
"""From this many rows, a write pauses the cyclic garbage collector."""
USERNAME_MAX = 150


class AuditRecord(BaseModel):
    """One audit event as the API and CLI show it."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: int
    revision: int
    at: datetime
    action: str
    actor: str | None
    user: str | None
    role: str | None
    scope: str | None
    details: dict[str, Any]
    batch_id: str | None
    hash: str


def _now() -> datetime:
    return datetime.now(UTC)


def _text(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    if len(value) > MAX_TEXT:
        raise BadInputError(f"the {what} is longer than {MAX_TEXT} characters")
    return value


def _role_record(row: CustomRole) -> Role:
    return Role(
        id=row.id,
        title=row.title,
        description=row.description,
        scope_types=tuple(row.scope_types),
        permissions=tuple(row.permissions),
    )


def _rule_record(row: StoredRule) -> DelegationRule:
    return DelegationRule(
        id=row.id,
        description=row.description,
        holders=tuple(row.holders),
        assign=tuple(row.assign),
        revoke=tuple(row.revoke),
        scope_types=tuple(row.scope_types),
    )


def _check_expiry(expires_at: datetime | None) -> None:
    if expires_at is None:
        return
    if expires_at.tzinfo is None:
        raise BadInputError("the expiry needs a time zone (for example 2027-01-31T00:00Z)")
    if expires_at <= _now():
        raise BadInputError(f"the expiry {expires_at.isoformat()} is in the past")


_pauses = 0
_resume = False
_pauses_lock = threading.Lock()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector off inside (nested and concurrent uses included);
    the last one out switches it back on if it was on before the first came in."""
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


def _placed(definition: Role, resolved: Scope) -> tuple[str, str]:
    """(role id, scope key) of a grant of ``definition`` at ``resolved``; a role assigned at a
    scope type it does not apply to is bad input."""
    if resolved.type not in definition.scope_types:
        raise BadInputError(
            f"role {definition.id} cannot be assigned at a {resolved.type} scope; it can be "
            f"assigned at: {', '.join(definition.scope_types)}"
        )
    return definition.id, resolved.key


def _username(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise BadInputError(f"a username must be non-empty text, not {show(name)}")
    if len(name) > USERNAME_MAX or not name.isprintable() or _SPACE.search(name):
        raise BadInputError(
            f"username {show(name)} is not valid: at most {USERNAME_MAX} printable characters, "
            "no spaces"
        )
    return name


def _check_shared(row: GrantRow) -> None:
    """What a grant row says besides user, role and scope: an expiry with a time zone, and a
    reason that is plain text."""
    if row.expires_at is not None and row.expires_at.tzinfo is None:
        raise BadInputError("an expiry needs a time zone (for example 2027-01-31T00:00Z)")
    _text(row.reason, "reason")


_USER = itemgetter(0)
_ROLE = itemgetter(1)
_SCOPE = itemgetter(2)
_ROLE_SCOPE = itemgetter(1, 2)

Applied = tuple[int, str, str, str, str | None, float, float | None]
"""A grant as a committed write hands it to the index: (id, user, role, scope, granted_by,
granted_at, expires_at), times in epoch seconds."""


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


class _Unchanged(Exception):
    def __init__(self, result: Any) -> None:
        self.result = result


class Rolecall:
    """The service object. Open it with :meth:`open`; close it (or use ``with``) when done."""

    def __init__(
        self,
        engine: Engine,
        plugins: Plugins,
        *,
        staleness: float = 1.0,
        background_sync: bool = True,
    ) -> None:
        self.engine = engine
        self.plugins = plugins
        self.registry: Registry = plugins.registry
        self.staleness = staleness
        self.index = Index(self.registry)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self.last_sync = 0.0
        self._fresh_until = 0.0
        """``last_sync + staleness``: until then a check needs no catch-up."""
        self.sync_error: str | None = None
        self.keys = KeyRing.for_database(engine)  # outside the database (storage/keys.py)
        self.accounts = Accounts(self)
        self._load()
        self._thread: threading.Thread | None = None
        if background_sync and staleness > 0:
            self._thread = threading.Thread(
                target=self._sync_loop, name="rolecall-sync", daemon=True
            )
            self._thread.start()

    @classmethod
    def open(
        cls,
        database: str | None = None,
        *,
        plugins: Plugins | None = None,
        staleness: float = 1.0,
        background_sync: bool = True,
    ) -> Rolecall:
        """Open the database (``database``, else ``ROLECALL_DATABASE_URL``, else
        ``sqlite:///rolecall.db``), create or upgrade its schema, load the plugins and build the
        index."""
        engine = make_engine(database_url(database))
        upgrade(engine)
        return cls(
            engine, plugins or load_plugins(), staleness=staleness, background_sync=background_sync
        )

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.engine.dispose()

    def __enter__(self) -> Rolecall:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ index upkeep

    def _load(self) -> None:
        """Build the index from the tables, in one consistent snapshot."""
        engine = self.engine
        if engine.dialect.name == "postgresql":
            engine = engine.execution_options(isolation_level="REPEATABLE READ")
        index = Index(self.registry)
        # Millions of new objects and no garbage among them: the cyclic collector would only
        # walk them again and again while they are created.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._fill(engine, index)
        finally:
            if collecting:
                gc.enable()
        with self._lock:
            self.index = index
        # Long-lived: keep the collector from traversing the index on every full collection.
        gc.freeze()
        self.last_sync = time.monotonic()
        self._fresh_until = self.last_sync + self.staleness

    def _fill(self, engine: Engine, index: Index) -> None:
        with Session(engine) as session, session.begin():
            index.revision = int(session.scalar(select(State.revision)) or 0)
            names: dict[int, str] = {}
            for uid, username, email, display_name, active in session.execute(
                select(User.id, User.username, User.email, User.display_name, User.active)
            ):
                names[uid] = username
                index.add_user(username, email, display_name, active)
            for scope in session.scalars(select(KnownScope)):
                index.add_scope(scope.key, scope.title)
            for custom in session.scalars(select(CustomRole)):
                index.define_role(_role_record(custom), retired=custom.retired)
            # Core rows, times as stored (text on SQLite): the index wants epoch seconds, and a
            # bulk write gives many rows the same time, so each distinct value converts once.
            rows = session.connection().execute(
                select(
                    Assignment.id,
                    Assignment.user_id,
                    Assignment.role,
                    Assignment.scope,
                    Assignment.granted_by,
                    type_coerce(Assignment.granted_at, RAW_TIME),
                    type_coerce(Assignment.expires_at, RAW_TIME),
                ).execution_options(yield_per=50_000)
            )
            index.load_grants(
                (gid, names[uid], role, scope, by, at, exp)
                for gid, uid, role, scope, by, at, exp in rows
            )
            for r in session.scalars(select(Restriction)):
                index.put_restriction(r.scope, r.permissions, r.exempt_roles, r.reason)
            for rule in session.scalars(select(StoredRule)):
                index.set_rule(rule.id, None if rule.disabled else _rule_record(rule))
        index.warm()

    def sync(self) -> int:
        """Apply every change committed since the index's revision; return the new revision."""
        with self._lock:
            index = self.index
            with self.engine.connect() as connection:
                current = int(connection.scalar(select(State.revision)) or 0)
                if current > index.revision:
                    events = connection.execute(
                        select(
                            AuditEvent.revision,
                            AuditEvent.action,
                            AuditEvent.user,
                            AuditEvent.role,
                            AuditEvent.scope,
                            AuditEvent.details,
                        )
                        .where(AuditEvent.revision > index.revision)
                        .order_by(AuditEvent.id)
                    )
                    index.apply_many(
                        (e.revision, e.action, e.user, e.role, e.scope, e.details) for e in events
                    )
                    index.revision = max(index.revision, current)
            self.last_sync = time.monotonic()
            self._fresh_until = self.last_sync + self.staleness
            self.sync_error = None
            return index.revision

    def _catch_up_after(
        self,
        revision: int,
        writer: AuditWriter,
        apply: Callable[[Index], None] | None = None,
    ) -> None:
        """After our own write: apply its events from memory when the index was at the
        revision just before it (the usual case), else catch up from the change feed.
        ``apply``, when given, makes the write's changes to the index from what it wrote,
        exactly as its events would: then the events are not read back."""
        with self._lock:
            index = self.index
            if index.revision == revision - 1:
                if apply is not None:
                    apply(index)
                    index.revision = revision
                    return
                index.apply_many(
                    (r["revision"], r["action"], r["user"], r["role"], r["scope"], r["details"])
                    for r in writer.rows
                )
                return
        self.sync()

    def _sync_loop(self) -> None:
        while not self._stop.wait(self.staleness):
            try:
                self.sync()
            except Exception as exc:  # the database is away: keep answering from the index
                self.sync_error = f"{type(exc).__name__}: {exc}".splitlines()[0]
                log.warning("cannot catch up with the database: %s", self.sync_error)

    def _fresh(self, at_least: int | None) -> Index:
        index = self.index
        if at_least is not None and at_least > index.revision:
            self.sync()
            index = self.index
            if at_least > index.revision:
                raise BadInputError(
                    f"revision token {at_least} is newer than the database's revision "
                    f"{index.revision}"
                )
        elif self._thread is None and time.monotonic() - self.last_sync > self.staleness:
            self.sync()
        return index

    @property
    def revision(self) -> int:
        return self.index.revision

    @contextmanager
    def reading(self) -> Iterator[Index]:
        """The index, held steady while the block reads it: the catch-up and this process's
        own writes wait until the block ends. For reads that take several looks at the index
        (a listing, a search) and must see one state."""
        with self._lock:
            yield self.index

    # ------------------------------------------------------------------ writes

    def _write(
        self,
        actor: str | None,
        work: Callable[[Session, AuditWriter], T],
        batch_id: str | None = None,
        guard: Callable[[], None] | None = None,
        *,
        rows: int = 1,
        apply: Callable[[Index], None] | None = None,
    ) -> tuple[int, T, int]:
        """Run ``work`` in one transaction holding the write lock; commit only if it logged.
        Returns the revision, what ``work`` returned, and how many audit events it logged.

        ``guard`` (a delegation decision) runs once the lock is held, on an index caught up
        with every write committed before: two changes decided at the same moment cannot both
        pass on a state that only one of them leaves (two admins removing each other). It
        raises to refuse, and nothing is written.

        ``rows``: about how many rows it writes; a bulk write (``BULK_ROWS`` or more) pauses
        the cyclic garbage collector and, on SQLite, enlarges the page cache while it runs.

        ``apply``: the write's changes made to an index from the rows it wrote, the same as
        replaying its audit events; used for this process's own index once committed.

        A database failure rolls the whole transaction back and raises :class:`StorageError`.
        """
        if actor is not None:
            actor = _username(actor)
        bulk = rows >= BULK_ROWS
        at = _now()
        # Hundreds of thousands of new objects (rows, events, the index's cells) and no
        # cyclic garbage among them: the collector would only walk the whole index again and
        # again while they are created, so a large write would be slower the larger the index.
        with _collector_paused() if bulk else nullcontext():
            try:
                with Session(self.engine) as session, session.begin():
                    revision, last_hash = bump_revision(session)
                    if guard is not None:
                        self.sync()  # no other writer can commit now: this is the latest state
                        guard()
                    with bulk_cache(session.connection()) if bulk else nullcontext():
                        writer = AuditWriter(
                            session,
                            revision,
                            last_hash,
                            at,
                            actor,
                            batch_id,
                            key=self.keys.current(AUDIT_KEY),
                        )
                        result = work(session, writer)
                        if not len(writer):
                            raise _Unchanged(result)  # rolls back: no revision is spent
                        writer.flush()
            except _Unchanged as unchanged:
                return self.index.revision, unchanged.result, 0
            except DBAPIError as exc:
                # Rolled back by the session: no row, no audit event, no revision was kept.
                reason = " ".join(str(exc.orig or exc).split())[:300]
                log.debug("a write was rolled back by a database error: %s", reason)
                raise StorageError(
                    f"the database failed during the write and nothing of it was applied: {reason}"
                ) from exc
            self._catch_up_after(revision, writer, apply)
            self._announce(writer)
        return revision, result, len(writer)

    def _announce(self, writer: AuditWriter) -> None:
        """Call the ``assignment_changed`` hooks; a failing plugin is logged, never fatal."""
        impls = self.plugins.manager.hook.assignment_changed.get_hookimpls()
        if not impls:
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
            arguments = {"event": event, "rolecall": self}
            for impl in impls:
                try:
                    impl.function(*(arguments[name] for name in impl.argnames))
                except Exception:
                    log.exception("plugin %r failed in assignment_changed", impl.plugin_name)

    def _user_ids(self, session: Session, usernames: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(usernames))
        rows = rows_in(session.connection(), USERS, ("username", "id"), "username", wanted)
        return dict(cast(Iterator[tuple[str, int]], rows))

    def add_user(
        self,
        username: str,
        *,
        email: str | None = None,
        display_name: str | None = None,
        actor: str | None = None,
    ) -> int:
        """Add one user (nothing happens if the username exists); returns the revision."""
        return self.add_users([(username, email, display_name)], actor=actor)

    def add_users(
        self, users: Iterable[str | tuple[str, str | None, str | None]], *, actor: str | None = None
    ) -> int:
        """Add users by username, or (username, e-mail, display name); existing ones are left
        as they are. Returns the revision."""
        rows: dict[str, tuple[str | None, str | None]] = {}
        for item in users:
            name, email, display = (item, None, None) if isinstance(item, str) else item
            # Every row is validated; the first of a name repeated in the input is kept.
            rows.setdefault(
                _username(name), (_text(email, "e-mail"), _text(display, "display name"))
            )

        def work(session: Session, audit: AuditWriter) -> None:
            existing = self._user_ids(session, rows)
            new = [(n, e, d) for n, (e, d) in rows.items() if n not in existing]
            connection = session.connection()
            at = time_param(connection)(audit.at)
            insert_rows(
                connection,
                USERS,
                ("username", "email", "display_name", "active", "created_at"),
                [(n, e, d, True, at) for n, e, d in new],
            )
            for name, email, display in new:
                audit.add(
                    "user_add",
                    user=name,
                    details={"email": email, "display_name": display, "active": True},
                )

        return self._write(actor, work, rows=len(rows))[0]

    def add_scopes(
        self, scopes: Iterable[str | tuple[str, str | None]], *, actor: str | None = None
    ) -> int:
        """Record scopes rolecall should know (for listings), with optional titles."""
        rows = []
        for item in scopes:
            key, title = (item, None) if isinstance(item, str) else item
            rows.append((self.registry.scopes.resolve(key), _text(title, "title")))

        def work(session: Session, audit: AuditWriter) -> None:
            known: set[str] = set()
            keys = sorted({s.key for s, _ in rows})
            for start in range(0, len(keys), 5_000):
                known.update(
                    session.scalars(
                        select(KnownScope.key).where(
                            KnownScope.key.in_(keys[start : start + 5_000])
                        )
                    )
                )
            new = []
            for scope, title in rows:
                if scope.key in known:
                    continue
                known.add(scope.key)
                new.append((scope.key, scope.type, title))
                audit.add("scope_add", scope=scope.key, details={"title": title})
            insert_rows(session.connection(), SCOPES, ("key", "type", "title"), new)

        return self._write(actor, work, rows=len(rows))[0]

    def role(self, name: str) -> Role:
        """A role by id or alias, custom roles included; :class:`BadInputError` if none."""
        return role_of(self.index, self.registry, name)

    def _validate_grant(self, role: str, scope: str) -> tuple[str, str]:
        return _placed(self._assignable(role), self.registry.scopes.resolve(scope))

    def _assignable(self, role: str) -> Role:
        """The role ``role`` names, if it can be assigned (it exists and is not retired)."""
        definition = self.role(role)
        if definition.id in self.index.retired_roles:
            raise BadInputError(f"role {definition.id} is retired: it cannot be assigned")
        return definition

    def assign(
        self,
        user: str,
        role: str,
        scope: str,
        *,
        actor: str | None = None,
        as_user: str | None = None,
        reason: str | None = None,
        expires_at: datetime | None = None,
    ) -> int:
        """Grant ``role`` to ``user`` at ``scope``; returns the revision token.

        ``as_user`` makes the change as that user, under the delegation rules (a refusal raises
        :class:`NotAllowedError`); without it the caller acts as the operator, and ``actor`` is
        only the name written to the audit log. Granting a role the user already holds there
        changes nothing unless the expiry differs (then the grant is renewed).
        """
        return self.assign_many(
            [(user, role, scope)],
            actor=actor,
            as_user=as_user,
            reason=reason,
            expires_at=expires_at,
        )

    def assign_many(
        self,
        rows: Iterable[tuple[str, str, str]],
        *,
        actor: str | None = None,
        as_user: str | None = None,
        reason: str | None = None,
        expires_at: datetime | None = None,
        batch_id: str | None = None,
    ) -> int:
        """Grant many (user, role, scope) rows in one transaction: every row is validated first
        (and, with ``as_user``, allowed by the delegation rules) and any bad row fails the whole
        batch with nothing written. Returns the revision."""
        actor = self._acting(actor, as_user)
        _check_expiry(expires_at)
        if as_user is not None:
            self.sync()  # decide on the freshest grants: the actor's own may just have changed
        # One record of what every row shares: rows are validated and written as keys.
        shared = GrantRow("", "", "", expires_at=expires_at, reason=reason)
        # One pause of the collector for the whole call (the inner ones nest in it), ended
        # once the rows, events and keys made on the way are freed: the collection that
        # follows walks only what the index kept.
        with _collector_paused():
            wanted = self._wanted_shared(rows, shared)
            guard = None
            if as_user is not None:
                guard = self._assign_guard(as_user, dict.fromkeys(map(_ROLE_SCOPE, wanted)))
                guard()  # refuse early, without taking the write lock; decided again under it
            revision = self._grant(
                wanted, actor=actor, batch_id=batch_id, action="assign", renew=True, guard=guard
            )
            del wanted
        return revision

    def _assign_guard(self, acting: str, pairs: Iterable[tuple[str, str]]) -> Callable[[], None]:
        """The delegation rules' decision on ``acting`` giving each (role id, scope key) of
        ``pairs``: raises :class:`NotAllowedError` to refuse."""
        pairs = list(pairs)

        def guard() -> None:
            delegation = self.delegation()
            for role_id, key in pairs:
                refusal = delegation.may_assign(acting, role_id, key)
                if refusal is not None:
                    raise NotAllowedError(refusal)

        return guard

    def delegation(self) -> Delegation:
        """The delegation rules in force, over the current index."""
        return Delegation(self.index, self.index.rules())

    def _acting(self, actor: str | None, as_user: str | None) -> str | None:
        if as_user is None:
            return actor
        if actor is not None and actor != as_user:
            raise BadInputError("give either actor (the operator's name) or as_user, not both")
        self.index.require_user(_username(as_user))
        return as_user

    def import_grants(
        self, rows: Iterable[GrantRow], *, actor: str | None = None, batch_id: str | None = None
    ) -> int:
        """Record grants made elsewhere (a legacy system, a demo): each keeps its own granter,
        time and expiry, which may be past (the grant is then listed as expired). A grant
        already present is left as it is, so importing twice changes nothing. Audit events
        have the action ``import`` and one batch id."""
        wanted = self._wanted((r.user, r.role, r.scope, r) for r in rows)
        return self._grant(wanted, actor=actor, batch_id=batch_id, action="import", renew=False)

    def _wanted(
        self, rows: Iterable[tuple[str, str, str, GrantRow]]
    ) -> dict[tuple[str, str, str], GrantRow]:
        """Validate (user, role, scope, what else to write) rows into (user, role id, scope
        key) -> row. A bulk write repeats the same roles, scopes and users: each distinct one
        is checked once.

        The cyclic garbage collector is paused meanwhile: a bulk write's keys are hundreds of
        thousands of new tuples, and the collections they would trigger walk the whole index
        (a full one now and then), which made validation slower the larger the index."""
        with _collector_paused():
            return self._validated(rows)

    def _wanted_shared(
        self, rows: Iterable[tuple[str, str, str]], shared: GrantRow
    ) -> dict[tuple[str, str, str], GrantRow]:
        """:meth:`_wanted` of (user, role, scope) rows that all write ``shared``, checked in
        bulk: the distinct users, roles and scopes are gathered by C-level passes (``map``,
        ``dict.fromkeys``) and each checked once, then each distinct (role, scope) pair only
        for the scope's type. When every row already names its role by id and its scope by
        its key (as a load does), the rows themselves become the keys: no row is visited by a
        loop in Python. Any other shape of row takes the general path, which raises the
        documented errors."""
        listed = rows if type(rows) is list else list(rows)
        if set(map(type, listed)) - {tuple} or set(map(len, listed)) - {3}:
            for number, row in enumerate(listed, start=1):
                if not isinstance(row, tuple | list) or len(row) != 3:
                    raise BadInputError(f"row {number} is not (user, role, scope): {show(row)}")
            return self._wanted((u, r, s, shared) for u, r, s in listed)
        with _collector_paused():
            # Each distinct value in the order of its first row, so the error reported for a
            # batch with several bad rows is the same on every run.
            named_roles = dict.fromkeys(map(_ROLE, listed))
            named_scopes = dict.fromkeys(map(_SCOPE, listed))
            if set(map(type, named_roles)) - {str} or set(map(type, named_scopes)) - {str}:
                # Not text (or a subclass of it): the general path checks each row as it is.
                return self._wanted((u, r, s, shared) for u, r, s in listed)
            _check_shared(shared)
            roles = {r: self._assignable(r) for r in named_roles}
            resolve = self.registry.scopes.resolve
            places = {s: resolve(s) for s in named_scopes}
            for role, scope in dict.fromkeys(map(_ROLE_SCOPE, listed)):
                _placed(roles[role], places[scope])
            known = self.index.users
            for user in dict.fromkeys(map(_USER, listed)):
                if user not in known:  # a user the index holds was checked when added
                    _username(user)
            if all(r == d.id for r, d in roles.items()) and all(
                s == p.key for s, p in places.items()
            ):
                return dict.fromkeys(listed, shared)
            return {(u, roles[r].id, places[s].key): shared for u, r, s in listed}

    def _pair_checker(self) -> Callable[[str, str], tuple[str, str]]:
        """(role, scope) -> (role id, scope key), raising the documented error for a role or
        scope that cannot be assigned there. A batch names thousands of scopes but few roles:
        each of either is looked up once, then each pair only checks the scope's type."""
        valid: dict[tuple[str, str], tuple[str, str]] = {}
        roles: dict[str, Role] = {}
        places: dict[str, Scope] = {}
        resolve = self.registry.scopes.resolve

        def check(role: str, scope: str) -> tuple[str, str]:
            if type(role) is not str or type(scope) is not str:
                return self._validate_grant(role, scope)  # raises the documented error
            pair = valid.get((role, scope))
            if pair is None:
                definition = roles.get(role)
                if definition is None:
                    definition = roles[role] = self._assignable(role)
                resolved = places.get(scope)
                if resolved is None:
                    resolved = places[scope] = resolve(scope)
                pair = valid[(role, scope)] = _placed(definition, resolved)
            return pair

        return check

    def _validated(
        self, rows: Iterable[tuple[str, str, str, GrantRow]]
    ) -> dict[tuple[str, str, str], GrantRow]:
        canonical = self._pair_checker()
        names: set[str] = set()
        checked: GrantRow | None = None
        known = self.index.users
        wanted: dict[tuple[str, str, str], GrantRow] = {}
        for user, role, scope, row in rows:
            pair = canonical(role, scope)
            if row is not checked:
                _check_shared(row)
                checked = row
            # A user the index holds was checked when added: only other names are checked.
            if type(user) is not str or (user not in names and user not in known):
                names.add(_username(user))
            wanted[(user, pair[0], pair[1])] = row
        return wanted

    def _grant(
        self,
        wanted: dict[tuple[str, str, str], GrantRow],
        *,
        actor: str | None,
        batch_id: str | None,
        action: str,
        renew: bool,
        guard: Callable[[], None] | None = None,
    ) -> int:
        if not wanted:
            return self.revision
        applied: list[Applied] = []  # what the index takes once the write is committed
        return self._write(
            actor,
            self._grant_work(wanted, action=action, renew=renew, applied=applied),
            batch_id or str(uuid.uuid4()),
            guard=guard,
            rows=len(wanted),
            apply=lambda index: index.put_grants(applied),
        )[0]

    def _grant_work(
        self,
        wanted: dict[tuple[str, str, str], GrantRow],
        *,
        action: str,
        renew: bool,
        applied: list[Applied],
    ) -> Callable[[Session, AuditWriter], None]:
        """The part of a write that grants ``wanted`` (inserting new grants, renewing those
        whose expiry changes with ``renew``), with their audit events; what the index takes
        once it is committed is appended to ``applied``."""

        def work(session: Session, audit: AuditWriter) -> None:
            users = dict.fromkeys(map(_USER, wanted))
            ids = self._user_ids(session, users)
            missing = sorted(u for u in users if u not in ids)
            if missing:
                more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
                raise BadInputError(
                    f"unknown user(s) {', '.join(map(show, missing[:5]))}{more}; "
                    "add them with `rolecall users add`"
                )
            known = self.index.users
            retired = sorted(u for u in users if u in known and not known[u].active)
            if retired:
                raise BadInputError(f"user {retired[0]} is retired: no role can be given to them")
            # Decided from the rows, under the write lock: the index may lag other writers.
            current = self._current(session, ids, users, wanted)
            if current:
                inserts = [k for k in wanted if k not in current]
                renewals = [
                    k
                    for k in wanted
                    if renew and k in current and current[k][1] != wanted[k].expires_at
                ]
            else:  # a load of new grants: every one is inserted
                inserts, renewals = list(wanted), []
            # Ids are given here, under the write lock every writer takes, so one executemany
            # inserts the batch (RETURNING with ordered ids would cost a statement per row).
            # They come from a counter, never reused, so an id in the audit log names one grant.
            last = int(session.scalar(select(State.last_assignment_id)) or 0)
            if inserts:
                session.execute(
                    update(State)
                    .where(State.id == 1)
                    .values(last_assignment_id=last + len(inserts))
                )
            connection = session.connection()
            # A bulk write gives most rows the same times: each distinct one converts once
            # (keyed with its offset, which its ISO text shows).
            stored = _memo(time_param(connection))
            iso = _memo(datetime.isoformat)
            epoch = _memo(datetime.timestamp)
            values = []
            events = []
            last_row: GrantRow | None = None
            for grant_id, key in enumerate(inserts, start=last + 1):
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
                            "granted_by": granted_by,
                            "granted_at": iso_at,
                            "expires_at": iso_expiry,
                            "reason": row.reason,
                        },
                        "id",
                    )
                values.append(
                    (
                        grant_id,
                        ids[user],
                        role,
                        scope,
                        granted_by,
                        stored_at,
                        stored_expiry,
                        row.reason,
                    )
                )
                # The details are JSON values only: their text alone is kept (AuditWriter).
                events.append((user, role, scope, None, details_json(grant_id)))
                applied.append((grant_id, user, role, scope, granted_by, epoch_at, epoch_expiry))
            audit.add_many(action, events)
            insert_rows(connection, ASSIGNMENTS, ASSIGNMENT_COLUMNS, values)
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
            for start in range(0, len(renewed), 10_000):
                session.execute(update(Assignment), renewed[start : start + 10_000])
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

    def _current(
        self,
        session: Session,
        ids: dict[str, int],
        users: Iterable[str],
        wanted: Collection[tuple[str, str, str]],
    ) -> dict[tuple[str, str, str], tuple[int, datetime | None]]:
        """The existing assignments among ``wanted`` (whose users are ``users``, each once):
        key -> (id, expires_at)."""
        names = {v: k for k, v in ids.items()}
        found: dict[tuple[str, str, str], tuple[int, datetime | None]] = {}
        user_ids = sorted(ids[u] for u in users)
        rows = rows_in(
            session.connection(),
            ASSIGNMENTS,
            ("id", "user_id", "role", "scope", "expires_at"),
            "user_id",
            user_ids,
        )
        for grant_id, uid, role, scope, expires in rows:
            key = (names[uid], role, scope)
            if key in wanted:
                found[key] = (grant_id, expires)
        return found

    def revoke(
        self,
        user: str,
        role: str,
        scope: str,
        *,
        actor: str | None = None,
        as_user: str | None = None,
        reason: str | None = None,
    ) -> int:
        """Remove ``role`` from ``user`` at ``scope``; returns the revision token. With
        ``as_user``, the delegation rules and guards decide (see :meth:`assign`)."""
        actor = self._acting(actor, as_user)
        reason = _text(reason, "reason")
        role_id = self._held_role_id(role)
        key = self.registry.scopes.resolve(scope).key
        guard = None
        if as_user is not None:
            guard = self._revoke_guard(as_user, user, role_id, key)
            self.sync()
            guard()  # refuse early, without taking the write lock; decided again under it
        return self._write(actor, self._revoke_work(user, role_id, key, reason), guard=guard)[0]

    def _held_role_id(self, role: str) -> str:
        """The id of a role to remove: a grant of a role whose plugin is gone can still be
        removed, by the id it was stored under."""
        try:
            return self.role(role).id
        except BadInputError:
            return role

    def _revoke_guard(self, acting: str, user: str, role_id: str, key: str) -> Callable[[], None]:
        """The delegation rules' decision on ``acting`` removing ``role_id`` from ``user`` at
        ``key``: raises :class:`NotAllowedError` to refuse."""
        definition = self.registry.roles.get(role_id)

        def guard() -> None:
            refusal = self.delegation().may_revoke(
                acting,
                user,
                role_id,
                key,
                is_admin=bool(definition and definition.admin),
                revocable_by=definition.revocable_by if definition else (),
            )
            if refusal is not None:
                raise NotAllowedError(refusal)

        return guard

    def _revoke_work(
        self, user: str, role_id: str, key: str, reason: str | None
    ) -> Callable[[Session, AuditWriter], None]:
        """The part of a write that removes one grant, with its audit event; a grant that is
        not held is bad input."""

        def work(session: Session, audit: AuditWriter) -> None:
            uid = self._user_ids(session, [user]).get(user)
            if uid is None:
                raise BadInputError(f"unknown user {show(user)}")
            gone = (
                session.execute(
                    delete(Assignment)
                    .where(
                        Assignment.user_id == uid,
                        Assignment.role == role_id,
                        Assignment.scope == key,
                    )
                    .returning(Assignment.id)
                )
                .scalars()
                .all()
            )
            if not gone:
                raise BadInputError(f"{user} does not hold {role_id} on {key}")
            audit.add(
                "revoke",
                user=user,
                role=role_id,
                scope=key,
                details={"id": gone[0], "reason": reason},
            )

        return work

    def change_role(
        self,
        user: str,
        old_role: str,
        new_role: str,
        scope: str,
        *,
        actor: str | None = None,
        as_user: str | None = None,
        reason: str | None = None,
        expires_at: datetime | None = None,
    ) -> int:
        """Give ``user`` ``new_role`` in place of ``old_role`` at ``scope``, in one transaction:
        both changes or neither. With ``as_user``, the delegation rules must allow both the
        grant and the removal. A user already holding ``new_role`` there only loses the old
        one. Returns the revision token."""
        actor = self._acting(actor, as_user)
        _check_expiry(expires_at)
        reason = _text(reason, "reason")
        old_id = self._held_role_id(old_role)
        new_id, key = self._validate_grant(new_role, scope)
        if new_id == old_id:
            raise BadInputError(f"{new_id} is the role to replace: choose another")
        shared = GrantRow("", "", "", expires_at=expires_at, reason=reason)
        wanted = self._wanted([(user, new_id, key, shared)])
        guard = None
        if as_user is not None:
            grant_allowed = self._assign_guard(as_user, [(new_id, key)])
            removal_allowed = self._revoke_guard(as_user, user, old_id, key)

            def guard() -> None:
                grant_allowed()
                removal_allowed()

            self.sync()
            guard()  # refuse early, without taking the write lock; decided again under it
        remove = self._revoke_work(user, old_id, key, reason)
        grant = self._grant_work(wanted, action="assign", renew=True, applied=[])

        def work(session: Session, audit: AuditWriter) -> None:
            remove(session, audit)
            grant(session, audit)

        # The index takes both changes from the audit events, as another process would.
        return self._write(actor, work, str(uuid.uuid4()), guard=guard)[0]

    def revoke_many(
        self,
        rows: Iterable[tuple[str, str, str]],
        *,
        actor: str | None = None,
        reason: str | None = None,
        batch_id: str | None = None,
    ) -> int:
        """Remove many (user, role, scope) grants in one transaction (as the operator); rows
        not held are skipped. Returns the revision."""
        reason = _text(reason, "reason")
        wanted = {
            (_username(u), self.role(r).id, self.registry.scopes.resolve(s).key) for u, r, s in rows
        }
        if not wanted:
            return self.revision

        def work(session: Session, audit: AuditWriter) -> None:
            ids = self._user_ids(session, (u for u, _, _ in wanted))
            present = self._current(session, ids, ids, wanted)
            gone = [(key, present[key][0]) for key in sorted(present)]
            for start in range(0, len(gone), 10_000):
                chunk = [grant_id for _, grant_id in gone[start : start + 10_000]]
                session.execute(delete(Assignment).where(Assignment.id.in_(chunk)))
            for (user, role, scope), grant_id in gone:
                audit.add(
                    "revoke",
                    user=user,
                    role=role,
                    scope=scope,
                    details={"id": grant_id, "reason": reason},
                )

        return self._write(actor, work, batch_id=batch_id or str(uuid.uuid4()))[0]

    def bulk(
        self,
        action: Literal["assign", "revoke"],
        role: str,
        users: Iterable[str],
        scopes: Iterable[str],
        *,
        as_user: str | None = None,
        actor: str | None = None,
        dry_run: bool = False,
        partial: bool = False,
        reason: str | None = None,
        expires_at: datetime | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> BulkResult:
        """One role to (or from) many users on many scopes, every row validated and reported.

        All or nothing by default (one transaction, one audit batch id); ``partial`` applies
        the valid rows; ``dry_run`` writes nothing. With ``as_user`` the delegation rules
        decide each row."""
        actor = self._acting(actor, as_user)
        _check_expiry(expires_at)
        self.sync()
        role_id, rows = bulk_validate(
            self.index,
            self.registry,
            self.role,
            self.delegation() if as_user is not None else None,
            action,
            role,
            users,
            scopes,
            actor=as_user,
            progress=progress,
        )
        ok = [(r.user, role_id, r.scope) for r in rows if r.status == "ok"]
        failed = any(r.status != "ok" and r.status not in NOTHING_TO_DO for r in rows)
        apply = bool(ok) and not dry_run and (partial or not failed)
        batch_id = str(uuid.uuid4()) if apply else None
        revision = self.revision
        if apply and action == "assign":
            revision = self.assign_many(
                ok, actor=actor, reason=reason, expires_at=expires_at, batch_id=batch_id
            )
        elif apply:
            revision = self.revoke_many(ok, actor=actor, reason=reason, batch_id=batch_id)
        impact = self.what_if(action, ok) if dry_run else None
        return BulkResult(
            action=action,
            role=role_id,
            impact=impact,
            rows=tuple(rows),
            applied=apply,
            dry_run=dry_run,
            partial=partial,
            revision=revision,
            batch_id=batch_id,
        )

    # ------------------------------------------------------------------ what-if

    def what_if(
        self, action: Literal["assign", "revoke"], rows: Iterable[tuple[str, str, str]]
    ) -> Impact:
        """Who would gain or lose which permissions where if these (user, role, scope) grants
        were made or removed; nothing is written."""
        checked = []
        for user, role, scope in rows:
            role_id, key = (
                self._validate_grant(role, scope)
                if action == "assign"
                else (
                    self.role(role).id,
                    self.registry.scopes.resolve(scope).key,
                )
            )
            self.index.require_user(user)
            checked.append((user, role_id, key))
        with self._lock:
            if action == "assign":
                return what_if_assign(self.index, checked)
            return what_if_revoke(self.index, checked)

    # ------------------------------------------------------------------ custom roles and rules

    def _require_admin(self, as_user: str | None, *, platform_only: bool) -> None:
        """Custom roles take a platform or org admin; rule changes a platform admin."""
        if as_user is None:
            return
        wanted = {"platform_admin"} if platform_only else {"platform_admin", "org_admin"}
        held = {
            g.role
            for cell in self.index.cells_of(as_user).values()
            for g in cell.grants
            if g.expires_at is None or g.expires_at > time.time()
        }
        if not held & wanted:
            raise NotAllowedError(
                Refusal(
                    "administration",
                    f"{as_user} may not change "
                    f"{'delegation rules' if platform_only else 'custom roles'}: it takes "
                    f"{' or '.join(sorted(wanted))}",
                )
            )

    def _define(
        self, role: Role, *, action: str, retired: bool, base: str | None, actor: str | None
    ) -> int:
        def work(session: Session, audit: AuditWriter) -> None:
            row = session.get(CustomRole, role.id)
            if row is None:
                row = CustomRole(id=role.id, created_by=audit.actor, created_at=audit.at)
                session.add(row)
            row.title, row.description = role.title, role.description
            row.permissions, row.scope_types = list(role.permissions), list(role.scope_types)
            row.base_role, row.retired, row.updated_at = base, retired, audit.at
            audit.add(
                action,
                role=role.id,
                details={
                    "op": "role_define",
                    "role": role.model_dump(mode="json"),
                    "retired": retired,
                },
            )

        return self._write(actor, work)[0]

    def create_role(
        self,
        role_id: str,
        *,
        title: str,
        description: str,
        scope_types: Iterable[str],
        permissions: Iterable[str] = (),
        base: str | None = None,
        as_user: str | None = None,
        actor: str | None = None,
    ) -> int:
        """Create a custom role from registered permissions (and those of ``base``)."""
        actor = self._acting(actor, as_user)
        self._require_admin(as_user, platform_only=False)
        role = build_role(
            self.index,
            self.registry,
            role_id,
            title=title,
            description=description,
            scope_types=scope_types,
            permissions=permissions,
            base=base,
        )
        return self._define(role, action="role_create", retired=False, base=base, actor=actor)

    def edit_role(
        self,
        role_id: str,
        *,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        title: str | None = None,
        description: str | None = None,
        dry_run: bool = False,
        as_user: str | None = None,
        actor: str | None = None,
    ) -> tuple[Impact, int]:
        """Change a custom role's permissions (or words). Returns who gains and loses what (the
        what-if) and the revision; with ``dry_run`` nothing is written."""
        actor = self._acting(actor, as_user)
        self._require_admin(as_user, platform_only=False)
        current = self.index.custom_roles.get(role_id)
        if current is None:
            if role_id in self.registry.roles or role_id in self.registry.aliases:
                raise BadInputError(
                    f"{role_id} comes from a plugin: plugin roles cannot be changed"
                )
            raise BadInputError(f"no custom role {role_id!r}")
        gone = set(remove)
        unknown = gone - set(current.permissions)
        if unknown:
            raise BadInputError(
                f"{role_id} does not list {', '.join(sorted(unknown))}; it lists "
                f"{', '.join(current.permissions)}"
            )
        role = build_role(
            self.index,
            self.registry,
            role_id,
            existing=True,
            title=title or current.title,
            description=description or current.description,
            scope_types=current.scope_types,
            permissions=[p for p in current.permissions if p not in gone] + list(add),
        )
        closed = frozenset().union(*(self.registry.implied[p] for p in role.permissions))
        impact = what_if_role_change(self.index, role_id, closed)
        if dry_run:
            return impact, self.revision
        retired = role_id in self.index.retired_roles
        revision = self._define(role, action="role_edit", retired=retired, base=None, actor=actor)
        return impact, revision

    def retire_role(
        self, role_id: str, *, as_user: str | None = None, actor: str | None = None
    ) -> int:
        """Stop a custom role from being assigned; existing assignments keep working."""
        actor = self._acting(actor, as_user)
        self._require_admin(as_user, platform_only=False)
        role = self.index.custom_roles.get(role_id)
        if role is None:
            raise BadInputError(f"no custom role {role_id!r}")
        return self._define(role, action="role_retire", retired=True, base=None, actor=actor)

    def delete_role(
        self, role_id: str, *, as_user: str | None = None, actor: str | None = None
    ) -> int:
        """Delete a custom role no assignment uses (a role in use can only be retired)."""
        actor = self._acting(actor, as_user)
        self._require_admin(as_user, platform_only=False)
        if role_id not in self.index.custom_roles:
            raise BadInputError(f"no custom role {role_id!r}")

        def work(session: Session, audit: AuditWriter) -> None:
            used = session.scalar(
                select(func.count()).select_from(Assignment).where(Assignment.role == role_id)
            )
            if used:
                raise BadInputError(f"{role_id} is held by {used} assignment(s): retire it instead")
            session.execute(delete(CustomRole).where(CustomRole.id == role_id))
            audit.add("role_delete", role=role_id, details={"op": "role_drop", "id": role_id})

        return self._write(actor, work)[0]

    def set_rule(
        self, rule: DelegationRule, *, as_user: str | None = None, actor: str | None = None
    ) -> int:
        """Add a delegation rule, or replace the one with the same id (platform admins)."""
        actor = self._acting(actor, as_user)
        self._require_admin(as_user, platform_only=True)
        for name in (*rule.holders, *rule.assign, *rule.revoke):
            if name != "*":
                self.role(name)
        for kind in rule.scope_types:
            if kind not in self.registry.scope_types:
                raise BadInputError(f"unknown scope type {kind!r}")
        return self._store_rule(rule.id, rule, actor)

    def disable_rule(
        self, rule_id: str, *, as_user: str | None = None, actor: str | None = None
    ) -> int:
        """Switch a delegation rule off (platform admins)."""
        actor = self._acting(actor, as_user)
        self._require_admin(as_user, platform_only=True)
        if rule_id not in self.index.rules():
            raise BadInputError(f"no delegation rule {rule_id!r} is in force")
        return self._store_rule(rule_id, None, actor)

    def _store_rule(self, rule_id: str, rule: DelegationRule | None, actor: str | None) -> int:
        def work(session: Session, audit: AuditWriter) -> None:
            row = session.get(StoredRule, rule_id)
            if row is None:
                row = StoredRule(id=rule_id)
                session.add(row)
            source = rule or self.index.rules()[rule_id]
            row.description, row.holders = source.description, list(source.holders)
            row.assign, row.revoke = list(source.assign), list(source.revoke)
            row.scope_types, row.disabled = list(source.scope_types), rule is None
            row.changed_by, row.changed_at = audit.actor, audit.at
            if rule is None:
                audit.add("rule_disable", details={"op": "rule_disable", "id": rule_id})
            else:
                audit.add(
                    "rule_set",
                    details={"op": "rule_set", "id": rule_id, "rule": rule.model_dump(mode="json")},
                )

        return self._write(actor, work)[0]

    def restrict(
        self,
        scope: str,
        permissions: Sequence[str] = (ALL,),
        *,
        exempt_roles: Sequence[str] = (),
        reason: str | None = None,
        actor: str | None = None,
    ) -> int:
        """Deny ``permissions`` (``*``: all) at ``scope`` and below, except to holders of
        ``exempt_roles``. Replaces an earlier restriction on the same scope."""
        key = self.registry.scopes.resolve(scope).key
        perms = list(dict.fromkeys(permissions))
        if not perms:
            raise BadInputError("a restriction needs at least one permission (or * for all)")
        for p in perms:
            if p != ALL:
                self.registry.permission(p)
        exempt = [self.role(r).id for r in dict.fromkeys(exempt_roles)]
        reason = _text(reason, "reason")

        def work(session: Session, audit: AuditWriter) -> None:
            session.execute(delete(Restriction).where(Restriction.scope == key))
            session.add(
                Restriction(
                    scope=key,
                    permissions=perms,
                    exempt_roles=exempt,
                    reason=reason,
                    created_by=audit.actor,
                    created_at=audit.at,
                )
            )
            audit.add(
                "restrict",
                scope=key,
                details={"permissions": perms, "exempt_roles": exempt, "reason": reason},
            )

        return self._write(actor, work)[0]

    def unrestrict(self, scope: str, *, actor: str | None = None) -> int:
        key = self.registry.scopes.resolve(scope).key

        def work(session: Session, audit: AuditWriter) -> None:
            gone = session.execute(
                delete(Restriction).where(Restriction.scope == key).returning(Restriction.id)
            ).first()
            if gone is None:
                raise BadInputError(f"{key} has no restriction")
            audit.add("unrestrict", scope=key)

        return self._write(actor, work)[0]

    # ------------------------------------------------------------------ reads

    def check(self, user: str, permission: str, scope: str, *, at_least: int | None = None) -> bool:
        """May ``user`` do ``permission`` at ``scope``? See the decision rule in the docs."""
        if at_least is None and (self._thread is not None or time.monotonic() < self._fresh_until):
            # The sync thread keeps the index fresh, or it caught up less than ``staleness``
            # ago: nothing to decide before the lookup.
            return self.index.check(user, permission, scope)
        return self._fresh(at_least).check(user, permission, scope)

    def check_many(
        self, checks: Iterable[tuple[str, str, str]], *, at_least: int | None = None
    ) -> list[bool]:
        return self._fresh(at_least).check_many(checks)

    def explain(
        self, user: str, permission: str, scope: str, *, at_least: int | None = None
    ) -> Decision:
        index = self._fresh(at_least)
        with self._lock:
            return index.explain(user, permission, scope)

    def who(self, scope: str, *, at_least: int | None = None) -> Team:
        index = self._fresh(at_least)
        with self._lock:
            return index.who(scope)

    def who_can(self, permission: str, scope: str, *, at_least: int | None = None) -> list[str]:
        index = self._fresh(at_least)
        with self._lock:
            return index.who_can(permission, scope)

    def scopes_where(
        self,
        user: str,
        permission: str,
        scope_type: str | None = None,
        *,
        at_least: int | None = None,
    ) -> list[str]:
        index = self._fresh(at_least)
        with self._lock:
            return index.scopes_where(user, permission, scope_type)

    def access(self, user: str, *, at_least: int | None = None) -> list[AccessEntry]:
        index = self._fresh(at_least)
        with self._lock:
            return index.access(user)

    def grants(self, user: str) -> list[GrantInfo]:
        with self._lock:
            self.index.require_user(user)
            return self.index.grants_of(user)

    def users(self) -> list[tuple[str, str | None, str | None, bool]]:
        with self._lock:
            return sorted(
                (u.username, u.email, u.display_name, u.active) for u in self.index.users.values()
            )

    # ------------------------------------------------------------------ audit

    def audit(
        self,
        *,
        user: str | None = None,
        scope: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        query = select(AuditEvent).order_by(AuditEvent.id)
        if user is not None:
            query = query.where(AuditEvent.user == user)
        if scope is not None:
            query = query.where(AuditEvent.scope == scope)
        if since is not None:
            query = query.where(AuditEvent.at >= since)
        if limit is not None:
            query = query.limit(limit)
        with Session(self.engine) as session:
            return [AuditRecord.model_validate(e) for e in session.scalars(query)]

    def verify_audit(self) -> Verification:
        """Recompute the hash chain from the first event; name the first bad one."""
        with Session(self.engine) as session, session.begin():
            last_hash, last_mac = session.execute(select(State.last_hash, State.last_mac)).one()
            events = session.scalars(
                select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=10_000)
            )
            try:
                return verify_chain(events, last_hash, self.keys, last_mac=last_mac)
            finally:
                events.close()  # it may stop at the first bad event: free the cursor

    # ------------------------------------------------------------------ imports

    def import_users(
        self,
        users: Iterable[tuple[str, str | None, str | None]],
        *,
        actor: str | None = None,
        batch_id: str | None = None,
    ) -> int:
        """Add (username, e-mail, display name) users taken from another system, as
        :meth:`add_users` does, but audited as part of an import: each new user is one event
        with the action ``import`` and ``batch_id``. Existing users are left as they are, so
        importing twice writes nothing. Returns the revision."""
        rows = {
            _username(name): (_text(email, "e-mail"), _text(display, "display name"))
            for name, email, display in users
        }
        if not rows:
            return self.revision

        def work(session: Session, audit: AuditWriter) -> None:
            existing = self._user_ids(session, rows)
            new = {name: value for name, value in rows.items() if name not in existing}
            if new:
                session.execute(
                    insert(User),
                    [
                        {
                            "username": name,
                            "email": email,
                            "display_name": display,
                            "active": True,
                            "created_at": audit.at,
                        }
                        for name, (email, display) in new.items()
                    ],
                )
            for name, (email, display) in new.items():
                audit.add(
                    "import",
                    user=name,
                    details={
                        "op": "user_add",
                        "email": email,
                        "display_name": display,
                        "active": True,
                    },
                )

        return self._write(actor, work, batch_id=batch_id or str(uuid.uuid4()))[0]
