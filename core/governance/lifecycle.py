"""Lifecycle: expiring grants, removing scopes and retiring users.

Each operation is one audited write transaction, a run of the unit of work (``rc.writes``): it
takes the write lock, decides from the rows (never from the index, which may lag other
writers), deletes them and appends one audit event per removed row. Other processes follow
through the change feed: every event carries the index operation it stands for in
``details["op"]`` (``revoke``, ``unrestrict``, ``user_update``, ``user_erase``,
``scope_forget``), or is an ``expire`` event the index applies as such. An operation with
nothing to remove writes nothing and spends no revision.

    from rolecall.core.governance.lifecycle import expire, remove_scope, retire_user

    expire(rc)                                 # the grants whose expiry has passed
    remove_scope(rc, "course-v1:MITx+6.002x+2026_T1", reason="course deleted")
    retire_user(rc, "ada", reason="left the organisation")
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..engine import GrantInfo
from ..errors import BadInputError
from ..scopes import show
from ..storage import grants as grant_rows
from ..storage import lifecycle as rows_of
from ..storage.audit import AuditWriter
from ..storage.sessions import Session
from ..storage.subjects import new_retired_username
from ..usernames import check_username
from . import guards

if TYPE_CHECKING:
    from ..engine import Index
    from ..registry import Registry
    from ..writes import UnitOfWork


class Service(Protocol):
    """What the lifecycle operations use of the service (``rc``): its unit of work, its
    registry and its index; any object holding those will do."""

    @property
    def writes(self) -> UnitOfWork: ...
    @property
    def registry(self) -> Registry: ...
    @property
    def index(self) -> Index: ...


MAX_REASON = 1000

SCOPE_FORGET = "scope_forget"
"""The index operation of an event saying a scope key is no longer known (its assignments,
restriction and known-scope row are gone)."""


@dataclass(frozen=True)
class Removal:
    """What one lifecycle operation removed, and the revision it wrote (unchanged when it
    removed nothing)."""

    revision: int
    grants: tuple[GrantInfo, ...] = ()
    restrictions: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    deactivated: bool = False
    erased_as: str | None = None
    """The retired placeholder that replaced an erased user's username."""

    @property
    def changed(self) -> bool:
        return bool(
            self.grants or self.restrictions or self.scopes or self.deactivated or self.erased_as
        )


def _now() -> datetime:
    return datetime.now(UTC)


def _reason(reason: str | None) -> str | None:
    if reason is not None and len(reason) > MAX_REASON:
        raise BadInputError(f"the reason is longer than {MAX_REASON} characters")
    return reason


def _infos(rows: Iterable[Any], now: datetime) -> list[GrantInfo]:
    return [
        GrantInfo(
            id=gid,
            user=user,
            role=role,
            scope=scope,
            granted_by=by,
            granted_at=at,
            expires_at=expires,
            expired=expires is not None and expires <= now,
        )
        for gid, user, role, scope, by, at, expires in rows
    ]


def _delete_grants(session: Session, grants: Sequence[GrantInfo]) -> None:
    grant_rows.delete_grants(session, [g.id for g in grants])


# ------------------------------------------------------------------------------------ expiry


def expire(
    rc: Service, *, now: datetime | None = None, actor: str | None = None
) -> list[GrantInfo]:
    """Delete every assignment whose expiry is at or before ``now`` (default: the current time),
    in one transaction with one ``expire`` audit event each (details: ``id``, ``expired_at``).
    Returns the removed grants, oldest id first; with nothing to remove nothing is written.

    An expired grant already grants nothing (the index compares expiries with the clock); this
    clears it from listings and from the tables. ``now`` may be earlier than the current time
    (expire only what had expired by then), never later: that would remove live grants."""
    current = _now()
    if now is None:
        now = current
    elif now.tzinfo is None:
        raise BadInputError("the time needs a time zone (for example 2027-01-31T00:00Z)")
    elif now > current:
        raise BadInputError(f"{now.isoformat()} is in the future: grants expire when it comes")

    def work(session: Session, audit: AuditWriter) -> list[GrantInfo]:
        gone = _infos(rows_of.expired_grants(session, now), now)
        _delete_grants(session, gone)
        audit.resolve({g.user for g in gone})  # their pseudonyms in one query, not one a user
        for g in gone:
            assert g.expires_at is not None
            audit.add(
                "expire",
                user=g.user,
                role=g.role,
                scope=g.scope,
                details={"id": g.id, "expired_at": g.expires_at.isoformat()},
            )
        return gone

    return rc.writes.run(actor, work, batch_id=str(uuid.uuid4())).result


# ------------------------------------------------------------------------------------ scopes


def _acting(rc: Service, actor: str | None, as_user: str | None) -> str | None:
    """The name the audit log records: ``as_user`` when the change is made as a user."""
    if as_user is None:
        return actor
    if actor is not None and actor != as_user:
        raise BadInputError("give either actor (the operator's name) or as_user, not both")
    rc.index.require_user(as_user)
    return as_user


def _below(rc: Service, keys: Iterable[str], target: str) -> set[str]:
    """The keys among ``keys`` that are ``target`` or one of its descendants. A stored key
    whose type is no longer registered (its plugin was removed) cannot be placed: skipped."""
    resolve = rc.registry.scopes.resolve
    found = set()
    for key in keys:
        try:
            chain = resolve(key).chain
        except BadInputError:
            continue
        if target in chain:
            found.add(key)
    return found


def scope_removal(
    rc: Service,
    scope: str,
    *,
    actor: str | None = None,
    as_user: str | None = None,
    reason: str | None = None,
) -> Removal:
    """:func:`remove_scope`, returning what was removed."""
    actor = _acting(rc, actor, as_user)
    resolved = rc.registry.scopes.resolve(scope)
    if resolved.type == "platform":
        raise BadInputError("the platform scope cannot be removed")
    key = resolved.key
    reason = _reason(reason)

    def work(session: Session, audit: AuditWriter) -> Removal:
        # Descendants are found from the keys in use, under the write lock: an org's courses
        # are whatever keys have the org on their chain, whether the index knows them or not.
        in_use = rows_of.keys_in_use(session)
        granted, restricted, known = (_below(rc, keys, key) for keys in in_use)
        grants = _infos(rows_of.grants_on(session, sorted(granted)), audit.at)
        grants.sort(key=lambda g: g.id)
        _delete_grants(session, grants)
        rows_of.delete_scopes(session, sorted(restricted), sorted(known))
        audit.resolve({g.user for g in grants})  # their pseudonyms in one query, not one a user
        for g in grants:
            audit.add(
                "scope_remove",
                user=g.user,
                role=g.role,
                scope=g.scope,
                details={"op": "revoke", "id": g.id, "reason": reason},
            )
        for s in sorted(restricted):
            audit.add("scope_remove", scope=s, details={"op": "unrestrict", "reason": reason})
        # Last, once their grants and restrictions are gone: every key the index may know
        # from the removed rows (and the removed key itself) leaves its scope listings.
        touched = granted | restricted | known
        forgotten = sorted(touched | {key}) if touched else []
        for s in forgotten:
            audit.add("scope_remove", scope=s, details={"op": SCOPE_FORGET, "reason": reason})
        return Removal(
            revision=audit.revision,
            grants=tuple(grants),
            restrictions=tuple(sorted(restricted)),
            scopes=tuple(forgotten),
        )

    guard = None if as_user is None else guards.removing_scope(as_user, key)
    written = rc.writes.run(actor, work, batch_id=str(uuid.uuid4()), as_user=as_user, guard=guard)
    return written.result if written.events else Removal(revision=written.revision)


def remove_scope(
    rc: Service,
    scope: str,
    *,
    actor: str | None = None,
    as_user: str | None = None,
    reason: str | None = None,
) -> int:
    """Remove a scope (a course, a library, an org...) from rolecall: the assignments on it and
    on its descendants (for an org: on every scope whose ancestor chain holds the org), the
    restrictions there, and the known-scope rows, in one transaction with one ``scope_remove``
    audit event per removed assignment (``op`` ``revoke``) and restriction (``op``
    ``unrestrict``) and per key no longer known (``op`` ``scope_forget``). A key used again
    later starts empty: nothing revives. ``platform`` cannot be removed. Returns the revision
    (unchanged when there was nothing to remove). ``as_user``: made as that user, who needs
    ``platform.remove_scopes`` there and the right to remove everything that goes
    (:func:`rolecall.core.governance.guards.removing_scope`)."""
    return scope_removal(rc, scope, actor=actor, as_user=as_user, reason=reason).revision


# ------------------------------------------------------------------------------------ users


def user_retirement(
    rc: Service,
    username: str,
    *,
    actor: str | None = None,
    as_user: str | None = None,
    reason: str | None = None,
    erase: bool = False,
    retired_username: str | None = None,
) -> Removal:
    """:func:`retire_user`, returning what was removed."""
    if not isinstance(username, str) or not username:
        raise BadInputError(f"a username must be non-empty text, not {show(username)}")
    actor = _acting(rc, actor, as_user)
    reason = _reason(reason)
    if retired_username is not None:
        if not erase:
            raise BadInputError("a retired username is for an erasure (erase=True)")
        check_username(retired_username)
        if retired_username == username:
            raise BadInputError("the retired username must differ from the username")

    def work(session: Session, audit: AuditWriter) -> Removal:
        user = rows_of.user_row(session, username)
        if user is None:
            raise BadInputError(f"unknown user {show(username)}")
        grants = _infos(rows_of.grants_of(session, user.id), audit.at)
        _delete_grants(session, grants)
        for g in grants:
            audit.add(
                "user_retire",
                user=g.user,
                role=g.role,
                scope=g.scope,
                details={"op": "revoke", "id": g.id, "reason": reason},
            )
        # Their console sessions end in every process (and stay ended if they come back).
        rows_of.end_sessions(session, user.id)
        if user.active:
            rows_of.deactivate(session, user.id)
            audit.add(
                "user_update",
                user=username,
                details={
                    "email": user.email,
                    "display_name": user.display_name,
                    "active": False,
                },
            )
        erased = _erase(session, audit, user.id, username, retired_username) if erase else None
        return Removal(
            revision=audit.revision,
            grants=tuple(grants),
            deactivated=user.active,
            erased_as=erased,
        )

    guard = None if as_user is None else guards.retiring_user(as_user, username)
    written = rc.writes.run(actor, work, as_user=as_user, guard=guard)
    return written.result if written.events else Removal(revision=written.revision)


def _erase(
    session: Session, audit: AuditWriter, uid: int, username: str, retired: str | None
) -> str:
    """Erase what rolecall holds of ``username`` (row ``uid``): see :func:`retire_user`."""
    if retired is None:
        retired = new_retired_username()
    if rows_of.username_taken(session, retired):
        raise BadInputError(f"the retired username {show(retired)} is another user's")
    # Recorded before the row changes: the event names the user by their pseudonym, found
    # by the username they still have.
    audit.add("user_erase", user=username, details={"op": "user_erase", "to": retired})
    rows_of.erase(session, uid, username, retired)
    return retired


def retire_user(
    rc: Service,
    username: str,
    *,
    actor: str | None = None,
    as_user: str | None = None,
    reason: str | None = None,
    erase: bool = False,
    retired_username: str | None = None,
) -> int:
    """Remove every role ``username`` holds (one ``user_retire`` audit event each, ``op``
    ``revoke``) and mark the user inactive (a ``user_update`` event), in one transaction.
    Returns the revision (unchanged when the user was already inactive and held nothing, and
    nothing was to be erased). ``as_user``: made as that user, who needs
    ``platform.retire_users`` and the right to remove every role ``username`` holds
    (:func:`rolecall.core.governance.guards.retiring_user`).

    Without ``erase`` the user stays known by name: the audit log and history still show
    their username. With ``erase`` (the Open edX retirement pipeline) nothing of the username,
    e-mail address or display name stays in any of rolecall's tables: the users row takes
    ``retired_username`` (the platform's ``retired__user_...`` name; by default a random
    ``retired__user_`` placeholder) and loses its e-mail and name; the user's password,
    API tokens, console sessions and sign-in failures are deleted; the grants, restrictions,
    custom roles, delegation rules and tokens they made name the placeholder as their maker;
    one ``user_erase`` event records it. The audit chain is not touched: it names the user by
    a pseudonym (:mod:`rolecall.core.storage.subjects`), which readers now show as the
    placeholder, and it still verifies. A user erased already is unknown by their old name."""
    return user_retirement(
        rc,
        username,
        actor=actor,
        as_user=as_user,
        reason=reason,
        erase=erase,
        retired_username=retired_username,
    ).revision
