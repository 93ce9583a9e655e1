"""The service API: one object for checks, explanations, assignments, reverse queries and audit.

    from rolecall.core import Rolecall

    rc = Rolecall.open("sqlite:///rolecall.db")
    token = rc.assign("ada", "ccx_coach", "course-v1:MITx+6.002x+2026_T1", actor="admin")
    rc.check("ada", "ccx.create_ccx", "course-v1:MITx+6.002x+2026_T1", at_least=token)

The service is a front: every write is one run of the unit of work (:mod:`.writes`: one
transaction under the write lock, the guard of a change made as a user decided there, one audit
event per change, the global revision bumped and returned as a token), with the guards of
:mod:`.governance.guards`; every read answers from the compiled index (:mod:`.engine`), which
catches up with other processes' writes by replaying the audit events above its revision, at
least every ``staleness`` seconds (a background thread) and at once when a caller passes a newer
token.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from typing import Literal, TypeVar

from . import known_scopes
from .accounts import Accounts
from .engine import AccessEntry, Decision, GrantInfo, Index, Team, explain, known, reverse
from .errors import BadInputError, StorageError, UnknownScopeError
from .governance import Delegation, guards, rules
from .governance.bulk import bulk_change
from .governance.custom_roles import build_role, define_role, role_of
from .governance.whatif import Impact, what_if_assign, what_if_revoke, what_if_role_change
from .known_scopes import KnownScopes
from .known_scopes import lookup as lookup_known
from .plugins import Plugins, load_plugins
from .reads.audit import AuditRecord, recorded_as, records
from .records import Role
from .registry import Registry
from .storage import audit_log, directory, policy
from .storage.accounts import AccountStore, every_user, lookalikes, users_named
from .storage.audit import AuditWriter, Head, Verification, sign_new_chain
from .storage.audit_log import EventQuery
from .storage.contributions import remember, remembered
from .storage.database import database_url, make_engine, upgrade
from .storage.feed import catch_up, fill_index
from .storage.keys import KeyRing
from .storage.notices import Channel, Listener, channel_for
from .storage.sessions import Engine, Session, driver_errors, reading
from .syncing import forked, sync_loop
from .usernames import refuse_lookalikes
from .validation import GrantRows, check_expiry, text, username
from .writes import (
    CHANGE_ROLE,
    Applied,
    GrantRow,
    Guard,
    UnitOfWork,
    collector_paused,
    grant_work,
    hold_collector_state,
    revoke_many_work,
    revoke_work,
)

log = logging.getLogger("rolecall.service")

T = TypeVar("T")


class Rolecall:
    """The service object. Open it with :meth:`open`; close it (or use ``with``) when done."""

    def __init__(
        self,
        engine: Engine,
        plugins: Plugins,
        *,
        staleness: float = 1.0,
        background_sync: bool = True,
        freeze_index: bool = False,
        keys: KeyRing | None = None,
        notices: Channel | Literal["auto"] | None = "auto",
        keep_grants: bool = True,
    ) -> None:
        self.engine = engine
        self.freeze_index = freeze_index
        self.keep_grants = keep_grants
        """False for a loader (see :meth:`open`): the index holds no grant it did not hear of
        from another process."""
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
        self._copied = False
        """In a forked child until its first catch-up: the index is the parent's copy."""
        self.notices: Channel | None = channel_for(engine) if notices == "auto" else notices
        """How committed changes are announced and heard (:mod:`.storage.notices`); None:
        polling only."""
        self._listener: Listener | None = None
        self._listening = False
        # Outside the database (storage/keys.py): from the environment unless given.
        self.keys = keys if keys is not None else KeyRing.for_database(engine)
        self.writes = UnitOfWork(
            engine,
            plugins,
            index=lambda: self.index,
            sync=self.sync,
            lock=self._lock,
            service=self,
            check_actor=username,
            keys=self.keys,
            notices=self.notices,
        )
        """The unit of work every change runs through (:mod:`rolecall.core.writes`)."""
        self.accounts = Accounts(
            AccountStore(engine),
            self.writes,
            index=lambda: self.index,
            hearing=lambda: self.hearing,
            sync=self.sync,
            keys=self.keys,
        )
        self._load()
        try:
            with driver_errors("cannot record what the plugins contribute", detail=True):
                remember(engine, self.registry)
        except StorageError as exc:  # a read-only database user: the memory is only a courtesy
            log.warning("%s", exc)
        self._memory: dict[tuple[str, str], str] | None = None
        self._runner: threading.Thread | None = None
        """The sync thread."""
        self._thread: threading.Thread | None = None
        """The sync thread once it keeps the index fresh: reads then trust the index as it
        is (see :meth:`check`). None in a forked child until its thread has caught up."""
        if background_sync and staleness > 0:
            if self.notices is None and engine.dialect.name != "sqlite":
                log.info(
                    "no notice channel (set ROLECALL_REDIS_URL on MySQL and MariaDB): other "
                    "processes' changes are seen within %s s",
                    staleness,
                )
            self._start_sync()
            self._thread = self._runner
        _watch(self)

    @classmethod
    def open(
        cls,
        database: str | None = None,
        *,
        plugins: Plugins | None = None,
        staleness: float = 1.0,
        background_sync: bool = True,
        freeze_index: bool = False,
        key_settings: Mapping[str, str] | None = None,
        redis_url: str | None = None,
        notices: bool = True,
        keep_grants: bool = True,
    ) -> Rolecall:
        """Open the database (``database``, else ``ROLECALL_DATABASE_URL``, else
        ``sqlite:///rolecall.db``), create or upgrade its schema, load the plugins and build the
        index.

        ``freeze_index``: once the index is built, move everything the process holds into the
        collector's permanent generation (``gc.freeze``), so that full collections stop
        walking millions of index objects. It is process-wide (the host's objects are frozen
        too and never collected as cycles), so only rolecall's own processes (``rolecall
        serve``, the CLI, the WSGI entry point) ask for it; an application embedding rolecall
        leaves it off.

        ``key_settings``: where the signing keys are found (``ROLECALL_SECRET_KEY``,
        ``ROLECALL_KEY_FILE``), for a host that keeps its settings elsewhere than the process's
        environment (the Django package passes Django's settings); the environment by default.

        ``redis_url``: the Redis server that announces changes to the other processes on
        MySQL, MariaDB or SQLite (else ``ROLECALL_REDIS_URL``, read where the keys are, and
        ``ROLECALL_REDIS_CHANNEL``; PostgreSQL announces them itself); ``notices=False``:
        none, polling only (see :mod:`.storage.notices`).

        ``keep_grants=False`` opens a **loader**, for a process that writes many grants and
        users and reads none back (``rolecall legacy import``): its index is built without the
        stored grants and without the active users, and the grants and users it writes go
        through the same unit of work but are not kept in it (those other processes write
        meanwhile are heard as usual), so its memory grows with neither. Its scopes, roles and
        rules are those of any service, and every write is validated as usual: a new name's
        look-alikes and a retired user are found in the tables (the stored skeletons, the
        inactive users it keeps). It answers no question about grants (read them, and the
        users, with :mod:`rolecall.core.reads.stored`) and makes no change as a user. Every
        other service sees what it wrote, through its catch-up."""
        engine = make_engine(database_url(database))
        keys = KeyRing.for_database(engine, environ=key_settings)
        channel = None
        if notices:
            settings = dict(os.environ if key_settings is None else key_settings)
            if redis_url:
                settings["ROLECALL_REDIS_URL"] = redis_url
            channel = channel_for(engine, settings)
        # A database made here has its empty audit chain signed at once (see sign_new_chain).
        upgrade(engine, created=lambda: sign_new_chain(engine, keys))
        return cls(
            engine,
            plugins or load_plugins(),
            staleness=staleness,
            background_sync=background_sync,
            freeze_index=freeze_index,
            keys=keys,
            notices=channel,
            keep_grants=keep_grants,
        )

    def close(self) -> None:
        self._stop.set()
        listener = self._listener
        if listener is not None:
            listener.wake()
        if self._runner is not None:
            self._runner.join(timeout=5)
        _services.discard(self)
        self.engine.dispose()

    def __enter__(self) -> Rolecall:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ index upkeep

    def _load(self) -> None:
        """Build the index from the tables, in one consistent snapshot."""
        engine = self.engine
        if engine.dialect.name in ("postgresql", "mysql", "mariadb"):
            engine = engine.execution_options(isolation_level="REPEATABLE READ")
        index = Index(self.registry)
        index.keep_users = self.keep_grants  # a loader keeps only its inactive users
        # Millions of new objects and no garbage among them: the cyclic collector would only
        # walk them again and again while they are created.
        with collector_paused():
            fill_index(engine, index, grants=self.keep_grants)
        with self._lock:
            self.index = index
        if self.freeze_index:
            # Long-lived: keep the collector from traversing the index on every full collection.
            gc.freeze()
        self.last_sync = time.monotonic()
        self._fresh_until = self.last_sync + self.staleness

    def sync(self) -> int:
        """Apply every change committed since the index's revision; return the new revision."""
        with self._lock:
            index = self.index
            catch_up(self.engine, index)
            self._caught_up()
            return index.revision

    def _caught_up(self) -> None:
        self.last_sync = time.monotonic()
        self._fresh_until = self.last_sync + self.staleness
        self.sync_error = None
        self._copied = False

    @property
    def hearing(self) -> bool:
        """Whether this process hears the changes of the others as they commit: its sync
        thread listens on the notice channel and has caught up within the staleness bound
        (with one more period of slack for the poll under way)."""
        return (
            self._listening
            and self._thread is not None
            and time.monotonic() < self._fresh_until + self.staleness
        )

    # ------------------------------------------------------------------ the sync thread

    def _start_sync(self) -> None:
        self._runner = threading.Thread(
            target=sync_loop, args=(self, self._stop), name="rolecall-sync", daemon=True
        )
        self._runner.start()

    def _settle(self) -> None:
        """A forked child's first read catches up first, unless its sync thread has."""
        if self._copied and self._thread is None:
            self.sync()

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
        elif self._thread is None and (
            self._copied or time.monotonic() - self.last_sync > self.staleness
        ):
            self.sync()
            index = self.index
        return index

    def contributions(self) -> dict[tuple[str, str], str]:
        """(kind, id) -> the plugin that registered it, as the database remembers: scope types
        (by key namespace), roles and permissions, of the plugins loaded now and before."""
        if self._memory is None:
            self._memory = remembered(self.engine)
        return self._memory

    @property
    def revision(self) -> int:
        return self.index.revision

    @contextmanager
    def reading(self) -> Iterator[Index]:
        """The index, held steady while the block reads it: the catch-up and this process's
        own writes wait until the block ends. For reads that take several looks at the index
        (a listing, a search) and must see one state."""
        self._settle()
        with self._lock:
            yield self.index

    # ------------------------------------------------------------------ writes

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
            rows.setdefault(username(name), (text(email, "e-mail"), text(display, "display name")))
        return self._add_people(rows, actor)

    def _add_people(
        self, rows: dict[str, directory.Person], actor: str | None, batch_id: str | None = None
    ) -> int:
        """The users of ``rows`` not there yet added, in one change: an import's (each event
        an ``import`` of ``batch_id``) when a batch id is given."""
        add = directory.add_users if batch_id is None else directory.import_users

        def work(session: Session, audit: AuditWriter) -> None:
            added = add(session, rows, audit.at)
            audit.resolve(added)  # the new users' pseudonyms in one query, not one per event
            for name, (email, display) in added.items():
                details = {"email": email, "display_name": display, "active": True}
                if batch_id is None:
                    audit.add("user_add", user=name, details=details)
                else:
                    audit.add("import", user=name, details={"op": "user_add", **details})

        if not self.keep_grants:
            # A loader holds no name table: the stored names are asked, under the write lock.
            checked = _stored_checked(rows, work)
            return self.writes.run(actor, checked, rows=len(rows), batch_id=batch_id).revision
        guard = self._no_lookalikes(rows)
        return self.writes.run(actor, work, rows=len(rows), batch_id=batch_id, guard=guard).revision

    def _no_lookalikes(self, names: Iterable[str]) -> Guard:
        """Refuses, on the caught-up index under the write lock, a new name that looks like a
        known user's (:mod:`rolecall.core.usernames`)."""
        return lambda index: refuse_lookalikes(names, index.users, partial(known.lookalike, index))

    def add_scopes(
        self,
        scopes: Iterable[str | tuple[str, str | None]],
        *,
        actor: str | None = None,
        as_user: str | None = None,
    ) -> int:
        """Record scopes rolecall should know (for listings), with optional titles. With
        ``as_user`` the user must hold ``platform.add_scopes`` on each (platform admins
        anywhere, org admins in their org): a refusal raises :class:`NotAllowedError`."""
        actor = self._acting(actor, as_user)
        rows = []
        for item in scopes:
            key, title = (item, None) if isinstance(item, str) else item
            rows.append((self.registry.scopes.resolve(key), text(title, "title")))

        def work(session: Session, audit: AuditWriter) -> None:
            wanted = [(scope.key, scope.type, title) for scope, title in rows]
            for key, _, title in directory.add_scopes(session, wanted):
                audit.add("scope_add", scope=key, details={"title": title})

        guard = None
        if as_user is not None:
            guard = guards.adding_scopes(as_user, [scope.key for scope, _ in rows])
        return self.writes.run(actor, work, rows=len(rows), as_user=as_user, guard=guard).revision

    def _rows(self) -> GrantRows:
        """Grant rows validated against the current index."""
        return GrantRows(self.index, self.registry)

    def role(self, name: str) -> Role:
        """A role by id or alias, custom roles included; :class:`BadInputError` if none."""
        return role_of(self.index, self.registry, name)

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
        known_only: bool = False,
    ) -> int:
        """Grant ``role`` to ``user`` at ``scope``; returns the revision token.

        ``as_user`` makes the change as that user, under the delegation rules (a refusal raises
        :class:`NotAllowedError`); without it the caller acts as the operator, and ``actor`` is
        only the name written to the audit log. Granting a role the user already holds there
        changes nothing unless the expiry differs (then the grant is renewed). ``known_only``
        refuses a scope that is not known with :class:`UnknownScopeError`
        (:mod:`rolecall.core.known_scopes`): the console and the REST API pass it.
        """
        return self.assign_many(
            [(user, role, scope)],
            actor=actor,
            as_user=as_user,
            reason=reason,
            expires_at=expires_at,
            known_only=known_only,
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
        known_only: bool = False,
    ) -> int:
        """Grant many (user, role, scope) rows in one transaction: every row is validated first
        (and, with ``as_user``, allowed by the delegation rules) and any bad row fails the whole
        batch with nothing written. ``known_only``: every scope must be known (see
        :meth:`assign`). Returns the revision."""
        actor = self._acting(actor, as_user)
        check_expiry(expires_at)
        # One record of what every row shares: rows are validated and written as keys.
        shared = GrantRow("", "", "", expires_at=expires_at, reason=reason)
        # One pause of the collector for the whole call (the inner ones nest in it), ended
        # once the rows, events and keys made on the way are freed: the collection that
        # follows walks only what the index kept.
        with collector_paused():
            wanted = self._rows().wanted_shared(rows, shared)
            guard = None if as_user is None else guards.granting(as_user, wanted)
            if known_only:
                keys = list(dict.fromkeys(key for _, _, key in wanted))
                known = lookup_known(self.plugins, self.index, keys)
                checks = [guard] if guard is not None else []
                guard = guards.all_of(lambda index: known.require(index, keys), *checks)
            revision = self._grant(
                wanted,
                actor=actor,
                batch_id=batch_id,
                action="assign",
                renew=True,
                as_user=as_user,
                guard=guard,
            )
            del wanted, guard
        return revision

    def delegation(self) -> Delegation:
        """The delegation rules in force, over the current index."""
        return Delegation(self.index, self.index.rules())

    def _acting(self, actor: str | None, as_user: str | None) -> str | None:
        if as_user is None:
            return actor
        if not self.keep_grants:
            raise BadInputError("a loader (keep_grants=False) makes no change as a user")
        if actor is not None and actor != as_user:
            raise BadInputError("give either actor (the operator's name) or as_user, not both")
        self.index.require_user(username(as_user))
        return as_user

    def import_grants(
        self, rows: Iterable[GrantRow], *, actor: str | None = None, batch_id: str | None = None
    ) -> int:
        """Record grants made elsewhere (a legacy system, a demo): each keeps its own granter,
        time and expiry, which may be past (the grant is then listed as expired). A grant
        already present is left as it is, so importing twice changes nothing. Audit events
        have the action ``import`` and one batch id."""
        wanted = self._rows().wanted((r.user, r.role, r.scope, r) for r in rows)
        return self._grant(wanted, actor=actor, batch_id=batch_id, action="import", renew=False)

    def _grant(
        self,
        wanted: dict[tuple[str, str, str], GrantRow],
        *,
        actor: str | None,
        batch_id: str | None,
        action: str,
        renew: bool,
        as_user: str | None = None,
        guard: Guard | None = None,
    ) -> int:
        if not wanted:
            return self.revision
        applied: list[Applied] = []  # what the index takes once the write is committed
        return self.writes.run(
            actor,
            grant_work(lambda: self.index, wanted, action=action, renew=renew, applied=applied),
            batch_id=batch_id or str(uuid.uuid4()),
            as_user=as_user,
            guard=guard,
            rows=len(wanted),
            # A loader keeps no grant it writes: its index only moves to the new revision.
            apply=(lambda index: index.put_grants(applied)) if self.keep_grants else _unkept,
        ).revision

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
        reason = text(reason, "reason")
        role_id = self._held_role_id(role)
        key = self.registry.scopes.resolve(scope).key
        return self.writes.run(
            actor,
            revoke_work(user, role_id, key, reason),
            as_user=as_user,
            guard=None if as_user is None else guards.revoking(as_user, [(user, role_id, key)]),
        ).revision

    def _held_role_id(self, role: str) -> str:
        """The id of a role to remove: a grant of a role whose plugin is gone can still be
        removed, by the id it was stored under."""
        try:
            return self.role(role).id
        except BadInputError:
            return role

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
        check_expiry(expires_at)
        reason = text(reason, "reason")
        old_id = self._held_role_id(old_role)
        new_id, key = self._rows().grant(new_role, scope)
        if new_id == old_id:
            raise BadInputError(f"{new_id} is the role to replace: choose another")
        shared = GrantRow("", "", "", expires_at=expires_at, reason=reason)
        wanted = self._rows().wanted([(user, new_id, key, shared)])
        guard = None
        if as_user is not None:
            guard = guards.all_of(
                guards.granting(as_user, wanted), guards.revoking(as_user, [(user, old_id, key)])
            )
        # One change in the log: both events are a ``change_role`` of one batch, each naming
        # the other role (``op`` says which half it is, for the change feed).
        remove = revoke_work(
            user, old_id, key, reason, action=CHANGE_ROLE, extra={"to_role": new_id}
        )
        grant = grant_work(
            lambda: self.index,
            wanted,
            action=CHANGE_ROLE,
            renew=True,
            applied=[],
            extra={"from_role": old_id},
        )

        def work(session: Session, audit: AuditWriter) -> None:
            remove(session, audit)
            grant(session, audit)

        # The index takes both changes from the audit events, as another process would.
        return self.writes.run(
            actor, work, batch_id=str(uuid.uuid4()), as_user=as_user, guard=guard
        ).revision

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
        reason = text(reason, "reason")
        wanted = {
            (username(u), self.role(r).id, self.registry.scopes.resolve(s).key) for u, r, s in rows
        }
        if not wanted:
            return self.revision
        return self.writes.run(
            actor, revoke_many_work(wanted, reason), batch_id=batch_id or str(uuid.uuid4())
        ).revision

    bulk = bulk_change  # (:mod:`.governance.bulk`)

    def _catalogue_of(self, scopes: Iterable[str]) -> KnownScopes:
        return known_scopes.catalogue_of(self.plugins, self.index, scopes)

    def unknown_scope(self, scope: str) -> UnknownScopeError | None:
        """:func:`rolecall.core.known_scopes.unknown_scope`: ``None`` when the (well-formed)
        ``scope`` is known, else the error a change taking known scopes only would raise;
        :class:`BadInputError` for a malformed key."""
        return known_scopes.unknown_scope(self.plugins, self.index, scope)

    # ------------------------------------------------------------------ what-if

    def what_if(
        self, action: Literal["assign", "revoke"], rows: Iterable[tuple[str, str, str]]
    ) -> Impact:
        """Who would gain or lose which permissions where if these (user, role, scope) grants
        were made or removed; nothing is written."""
        checked = []
        for user, role, scope in rows:
            role_id, key = (
                self._rows().grant(role, scope)
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

    def _administering(self, as_user: str | None, *, platform_only: bool) -> Guard | None:
        """Custom roles take ``platform.manage_custom_roles`` (platform and org admins) on some
        scope; rule changes ``platform.manage_delegation_rules`` (platform admins)."""
        if as_user is None:
            return None
        if platform_only:
            guard = guards.holding_somewhere(
                as_user, guards.MANAGE_DELEGATION_RULES, "change delegation rules"
            )
        else:
            guard = guards.holding_somewhere(
                as_user, guards.MANAGE_CUSTOM_ROLES, "change custom roles"
            )
        # Refused before anything else is looked at: someone who may not change these learns
        # nothing from a validation error or a dry run. Decided again under the write lock.
        guard(self.index)
        return guard

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
        guard = self._administering(as_user, platform_only=False)
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
        return define_role(
            self.writes,
            role,
            action="role_create",
            retired=False,
            base=base,
            actor=actor,
            as_user=as_user,
            guard=guard,
        )

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
        what-if) and the revision; with ``dry_run`` nothing is written. As a user, it takes an
        org or platform admin who could give the role, as it is and as it would be, to every
        current holder where they hold it (:func:`.governance.guards.changing_role`)."""
        actor = self._acting(actor, as_user)
        allowed = self._administering(as_user, platform_only=False)
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
        guard = None
        if as_user is not None and allowed is not None:
            guard = guards.all_of(allowed, guards.changing_role(as_user, role_id, closed))
            guard(self.index)  # a dry run shows holders: only to who could make the change
        impact = what_if_role_change(self.index, role_id, closed)
        if dry_run:
            return impact, self.revision
        retired = role_id in self.index.retired_roles
        revision = define_role(
            self.writes,
            role,
            action="role_edit",
            retired=retired,
            base=None,
            actor=actor,
            as_user=as_user,
            guard=guard,
        )
        return impact, revision

    def retire_role(
        self, role_id: str, *, as_user: str | None = None, actor: str | None = None
    ) -> int:
        """Stop a custom role from being assigned; existing assignments keep working. As a
        user, it takes what an edit takes (see :meth:`edit_role`)."""
        actor = self._acting(actor, as_user)
        guard = self._role_guard(as_user, role_id)
        role = self.index.custom_roles.get(role_id)
        if role is None:
            raise BadInputError(f"no custom role {role_id!r}")
        return define_role(
            self.writes,
            role,
            action="role_retire",
            retired=True,
            base=None,
            actor=actor,
            as_user=as_user,
            guard=guard,
        )

    def _role_guard(self, as_user: str | None, role_id: str) -> Guard | None:
        allowed = self._administering(as_user, platform_only=False)
        if as_user is None or allowed is None:
            return None
        return guards.all_of(allowed, guards.changing_role(as_user, role_id))

    def delete_role(
        self, role_id: str, *, as_user: str | None = None, actor: str | None = None
    ) -> int:
        """Delete a custom role no assignment uses (a role in use can only be retired)."""
        actor = self._acting(actor, as_user)
        guard = self._role_guard(as_user, role_id)
        if role_id not in self.index.custom_roles:
            raise BadInputError(f"no custom role {role_id!r}")

        def work(session: Session, audit: AuditWriter) -> None:
            used = policy.assignments_of_role(session, role_id)
            if used:
                raise BadInputError(f"{role_id} is held by {used} assignment(s): retire it instead")
            policy.drop_custom_role(session, role_id)
            audit.add("role_delete", role=role_id, details={"op": "role_drop", "id": role_id})

        return self.writes.run(actor, work, as_user=as_user, guard=guard).revision

    # Delegation rules and restrictions (:mod:`.governance.rules`).
    set_rule = rules.set_rule
    disable_rule = rules.disable_rule
    restrict = rules.restrict
    unrestrict = rules.unrestrict

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

    def check_throughout(
        self, user: str, permission: str, scope: str, kind: str, *, at_least: int | None = None
    ) -> bool:
        """May ``user`` do ``permission`` at every scope of type ``kind`` below ``scope`` (an
        org, or the platform), by grants there and above? What an org-wide glob asks."""
        index = self._fresh(at_least)
        with self._lock:
            return index.check_throughout(user, permission, scope, kind)

    def explain(
        self, user: str, permission: str, scope: str, *, at_least: int | None = None
    ) -> Decision:
        index = self._fresh(at_least)
        with self._lock:
            return explain.explain(index, user, permission, scope)

    def who(self, scope: str, *, at_least: int | None = None) -> Team:
        index = self._fresh(at_least)
        with self._lock:
            return reverse.who(index, scope)

    def who_can(self, permission: str, scope: str, *, at_least: int | None = None) -> list[str]:
        index = self._fresh(at_least)
        with self._lock:
            return reverse.who_can(index, permission, scope)

    def not_listed(self, scope: str, permission: str | None = None) -> tuple[str, ...]:
        """What :meth:`who` and :meth:`who_can` at ``scope`` cannot list: the derived roles
        held there (giving ``permission``, when given), one sentence each."""
        self._settle()
        with self._lock:
            return reverse.not_listed(self.index, scope, permission)

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
            return reverse.scopes_where(index, user, permission, scope_type)

    def access(self, user: str, *, at_least: int | None = None) -> list[AccessEntry]:
        index = self._fresh(at_least)
        with self._lock:
            return reverse.access(index, user)

    def grants(self, user: str) -> list[GrantInfo]:
        self._settle()
        with self._lock:
            self.index.require_user(user)
            return self.index.grants_of(user)

    def users(self) -> list[tuple[str, str | None, str | None, bool]]:
        if not self.keep_grants:  # a loader keeps only its inactive users: the table answers
            with reading(self.engine) as session:
                return sorted(every_user(session))
        self._settle()
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
        users = None if user is None else recorded_as(self, user)
        return records(self, EventQuery(users=users, scope=scope, since=since, limit=limit))

    def verify_audit(self, *, expect: Head | None = None) -> Verification:
        """Recompute the hash chain from the first event; name the first bad one. The state
        row's signed head must match the table (see :func:`verify_chain`); ``expect``: a head
        recorded earlier (``Verification.head``) that the chain must still hold."""
        return audit_log.verify(self.engine, self.keys, expect=expect)

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
            username(name): (text(email, "e-mail"), text(display, "display name"))
            for name, email, display in users
        }
        if not rows:
            return self.revision
        return self._add_people(rows, actor, batch_id or str(uuid.uuid4()))


def _stored_checked(
    rows: Mapping[str, object], work: Callable[[Session, AuditWriter], None]
) -> Callable[[Session, AuditWriter], None]:
    """``work`` adding the users of ``rows``, after refusing, from the stored names, a new
    name that looks like a stored user's or another new one's: a loader's check, run inside
    the change, under the write lock, so that no other writer's user can come in between."""

    def checked(session: Session, audit: AuditWriter) -> None:
        existing = users_named(session, rows)
        similar = lookalikes(session, (name for name in rows if name not in existing))
        refuse_lookalikes(rows, existing, similar.get)
        work(session, audit)

    return checked


def _unkept(index: Index) -> None:
    """A loader's own grants, once written: nothing is put in its index."""


# ---------------------------------------------------------------------------- forks

_services: weakref.WeakSet[Rolecall] = weakref.WeakSet()
"""The open services of this process, for the fork handlers."""
_forking: list[Rolecall] = []
_collector: list[Callable[[bool], None]] = []
_watching = False


def _watch(rc: Rolecall) -> None:
    """Register the fork handlers (once per process, with the first service) and ``rc``."""
    global _watching
    if not _watching and hasattr(os, "register_at_fork"):
        os.register_at_fork(
            before=_before_fork,
            after_in_parent=_after_fork_in_parent,
            after_in_child=_after_fork_in_child,
        )
        _watching = True
    _services.add(rc)


def _before_fork() -> None:
    """Hold every service's lock across the fork: no index is half-way through a catch-up or
    a write when it is copied, and the child's copy of the lock is not held by a thread that
    does not exist there."""
    _forking[:] = list(_services)
    for rc in _forking:
        rc._lock.acquire()
    _collector[:] = [hold_collector_state()]


def _after_fork_in_parent() -> None:
    for release in _collector:
        release(False)
    _collector.clear()
    for rc in reversed(_forking):
        rc._lock.release()
    _forking.clear()


def _after_fork_in_child() -> None:
    for release in _collector:
        release(True)
    _collector.clear()
    for rc in reversed(_forking):
        rc._lock.release()
        try:
            forked(rc)
        except Exception:  # never let the child die of it: its reads catch up themselves
            log.exception("cannot restart the sync thread after a fork")
    _forking.clear()
