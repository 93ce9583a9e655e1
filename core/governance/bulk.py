"""Bulk operations: one role to many users on many scopes, every row validated and reported.

Each row (user x scope) gets a status: ``ok`` (will change), ``already_has_role`` /
``not_held`` (nothing to do), or a failure: ``invalid_user``, ``unknown_user``,
``unknown_scope``, ``role_not_assignable_here``, ``not_allowed``. By default the operation is
all or nothing: one failing row and nothing is written. ``partial`` applies the ``ok`` rows
anyway; ``dry_run`` writes nothing and only reports.

Users may be given by username or e-mail. ``course-v1:ORG+*`` and ``lib:ORG:*`` (the
openedx-authz globs) mean the org itself: one org-wide grant covering every current and future
course or library of the org.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from ..engine import lookups
from ..engine.index import Index
from ..errors import BadInputError
from ..known_scopes import KnownScopes
from ..records import Role
from ..registry import Registry
from ..storage.audit import AuditWriter
from ..storage.sessions import Session
from ..validation import check_expiry, text
from ..writes import GrantRow, grant_work, revoke_many_work
from .custom_roles import role_of
from .delegation import Delegation
from .whatif import Impact

if TYPE_CHECKING:
    from ..service import Rolecall

Status = Literal[
    "ok",
    "already_has_role",
    "not_held",
    "invalid_user",
    "unknown_user",
    "unknown_scope",
    "role_not_assignable_here",
    "not_allowed",
]
NOTHING_TO_DO = frozenset({"already_has_role", "not_held"})
MAX_ROWS = 100_000
_GLOB = re.compile(r"^(?:course-v1:(?P<course_org>[^+:]+)\+\*|lib:(?P<lib_org>[^:]+):\*)$")


class BulkRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    user: str
    scope: str
    status: Status
    message: str = ""


class BulkResult(BaseModel):
    """Per-row results; ``applied`` says whether anything was written."""

    model_config = ConfigDict(frozen=True)

    action: Literal["assign", "revoke"]
    role: str
    rows: tuple[BulkRow, ...]
    applied: bool
    dry_run: bool
    partial: bool
    revision: int
    batch_id: str | None = None
    impact: Impact | None = None
    """With ``dry_run``: who would gain or lose what if the ``ok`` rows were applied."""

    @property
    def failed(self) -> list[BulkRow]:
        return [r for r in self.rows if r.status != "ok" and r.status not in NOTHING_TO_DO]

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for row in self.rows:
            found[row.status] = found.get(row.status, 0) + 1
        return found


def org_wide(scope: str, registry: Registry | None = None) -> str:
    """An org wildcard names the org: ``course-v1:ORG+*`` and ``lib:ORG:*`` (the openedx-authz
    globs), and any scope type's ``org_wildcard`` in ``registry`` (``program-v1:{org}+*``),
    are ``org:ORG``. Anything else is returned as it is."""
    match = _GLOB.match(scope)
    if match is not None:
        return f"org:{match.group('course_org') or match.group('lib_org')}"
    if registry is not None:
        found = glob_of(scope, registry)
        if found is not None:
            return found[0]
    return scope


def glob_of(scope: str, registry: Registry) -> tuple[str, str] | None:
    """(org key, scope type) of an org-wide glob of a registered type's ``org_wildcard``
    (``course-v1:MITx+*``: ``("org:MITx", "course")``); None for anything else, a glob whose
    org part is not an org name included."""
    if not scope.endswith("*"):
        return None
    for scope_type in registry.scope_types.values():
        pattern = scope_type.org_wildcard
        if not pattern or "{org}" not in pattern:
            continue
        head, _, tail = pattern.partition("{org}")
        if scope.startswith(head) and scope.endswith(tail) and len(scope) > len(head + tail):
            org = scope[len(head) : len(scope) - len(tail)]
            try:
                return registry.scopes.resolve(f"org:{org}").key, scope_type.id
            except ValueError:
                return None  # not an org name: reported as an unknown scope
    return None


def validate(
    index: Index,
    registry: Registry,
    role_of: Callable[[str], Role],
    delegation: Delegation | None,
    action: Literal["assign", "revoke"],
    role: str,
    users: Iterable[str],
    scopes: Iterable[str],
    *,
    actor: str | None,
    progress: Callable[[int], None] | None = None,
    known: KnownScopes | None = None,
) -> tuple[str, list[BulkRow]]:
    """The role id and one row per (user, scope), each with its status. With ``known``, a
    scope that is not known (:mod:`rolecall.core.known_scopes`) is ``unknown_scope``, its
    message saying "did you mean ..." or to create it first."""
    definition = role_of(role)
    if definition.id in index.retired_roles and action == "assign":
        raise BadInputError(f"role {definition.id} is retired: it cannot be assigned")
    user_list = list(dict.fromkeys(u.strip() for u in users if u.strip()))
    scope_list = list(dict.fromkeys(s.strip() for s in scopes if s.strip()))
    if not user_list or not scope_list:
        raise BadInputError("a bulk operation needs at least one user and one scope")
    if len(user_list) * len(scope_list) > MAX_ROWS:
        raise BadInputError(
            f"{len(user_list)} users x {len(scope_list)} scopes is more than {MAX_ROWS} rows; "
            "split the operation"
        )
    by_email = {u.email.lower(): name for name, u in index.users.items() if u.email}
    scope_status: dict[str, tuple[str, Status, str]] = {}
    for given in scope_list:
        key = org_wide(given, registry)
        try:
            resolved = registry.scopes.resolve(key)
        except ValueError as exc:
            scope_status[given] = (given, "unknown_scope", str(exc))
            continue
        unknown = None if known is None else known.problem(index, resolved.key)
        if unknown is not None:
            scope_status[given] = (resolved.key, "unknown_scope", str(unknown))
            continue
        if resolved.type not in definition.scope_types:
            scope_status[given] = (
                key,
                "role_not_assignable_here",
                f"{definition.id} is assigned at {', '.join(definition.scope_types)} scopes, "
                f"not {resolved.type}",
            )
            continue
        scope_status[given] = (key, "ok", "")
    rows: list[BulkRow] = []
    for given_user in user_list:
        user = given_user if given_user in index.users else by_email.get(given_user.lower(), "")
        problem: tuple[Status, str] | None = None
        if not given_user.isprintable() or len(given_user) > 254:
            problem = ("invalid_user", "not a username or e-mail address")
        elif not user:
            problem = ("unknown_user", f"no user {given_user!r}")
        elif action == "assign" and not index.users[user].active:
            problem = ("invalid_user", f"{user} is retired")
        for given_scope in scope_list:
            key, status, message = scope_status[given_scope]
            if problem is not None:
                rows.append(
                    BulkRow(user=given_user, scope=key, status=problem[0], message=problem[1])
                )
                continue
            if status != "ok":
                rows.append(BulkRow(user=user, scope=key, status=status, message=message))
                continue
            held = index.grant(user, definition.id, key)
            if action == "assign" and held is not None and not held.expired:
                rows.append(BulkRow(user=user, scope=key, status="already_has_role"))
                continue
            if action == "revoke" and held is None:
                rows.append(BulkRow(user=user, scope=key, status="not_held"))
                continue
            if delegation is not None and actor is not None:
                refusal = (
                    delegation.may_assign(actor, definition.id, key, user)
                    if action == "assign"
                    else delegation.may_revoke(
                        actor,
                        user,
                        definition.id,
                        key,
                        is_admin=definition.admin,
                        revocable_by=definition.revocable_by,
                    )
                )
                if refusal is not None:
                    rows.append(
                        BulkRow(user=user, scope=key, status="not_allowed", message=str(refusal))
                    )
                    continue
            rows.append(BulkRow(user=user, scope=key, status="ok"))
        if progress is not None:
            progress(len(scope_list))
    if action == "revoke" and definition.admin and actor is not None:
        rows = _keep_an_admin(index, rows)
    return definition.id, rows


def _keep_an_admin(index: Index, rows: list[BulkRow]) -> list[BulkRow]:
    """Each row alone leaves another admin; together they must too (last-admin guard)."""
    removed: dict[str, set[str]] = {}
    for row in rows:
        if row.status == "ok":
            removed.setdefault(row.scope, set()).add(row.user)
    out = []
    for row in rows:
        gone = removed.get(row.scope)
        if row.status == "ok" and gone is not None:
            left = set(lookups.other_admins(index, row.scope, exclude="")) - gone
            if not left and row.user == max(gone):
                row = BulkRow(
                    user=row.user,
                    scope=row.scope,
                    status="not_allowed",
                    message=f"{row.user} would be the last admin of {row.scope} removed "
                    "[last-admin]",
                )
        out.append(row)
    return out


def bulk_change(
    rc: Rolecall,
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
    known_only: bool = False,
) -> BulkResult:
    """``rc.bulk``: one role to (or from) many users on many scopes, every row validated and
    reported.

    All or nothing by default (one transaction, one audit batch id); ``partial`` applies
    the valid rows; ``dry_run`` writes nothing. With ``as_user`` the delegation rules
    decide each row, under the write lock: the rows written are those the caught-up index
    allows when the write lock is held, and the report is that decision. ``known_only``:
    a scope that is not known is an ``unknown_scope`` row (see
    :meth:`~rolecall.core.service.Rolecall.assign`)."""
    actor = rc._acting(actor, as_user)
    check_expiry(expires_at)
    reason = text(reason, "reason")
    user_list, scope_list = list(users), list(scopes)
    reported = [progress]
    known = rc._catalogue_of(scope_list) if known_only else None

    def decide(index: Index) -> tuple[str, list[BulkRow]]:
        tell, reported[0] = reported[0], None  # progress is shown once, the first time
        return validate(
            index,
            rc.registry,
            lambda name: role_of(index, rc.registry, name),
            Delegation(index, index.rules()) if as_user is not None else None,
            action,
            role,
            user_list,
            scope_list,
            actor=as_user,
            progress=tell,
            known=known,
        )

    if dry_run:
        rc.sync()
        role_id, rows = decide(rc.index)
        ok = [(r.user, role_id, r.scope) for r in rows if r.status == "ok"]
        return BulkResult(
            action=action,
            role=role_id,
            impact=rc.what_if(action, ok),
            rows=tuple(rows),
            applied=False,
            dry_run=True,
            partial=partial,
            revision=rc.revision,
        )
    decided: list[tuple[str, list[BulkRow]]] = []

    def guard(index: Index) -> None:
        decided[:] = [decide(index)]

    batch_id = str(uuid.uuid4())
    shared = GrantRow("", "", "", expires_at=expires_at, reason=reason)

    def work(session: Session, audit: AuditWriter) -> bool:
        role_id, rows = decided[0]
        ok = [(r.user, role_id, r.scope) for r in rows if r.status == "ok"]
        failed = any(r.status != "ok" and r.status not in NOTHING_TO_DO for r in rows)
        if not ok or (failed and not partial):
            return False  # nothing logged: nothing is written
        if action == "assign":
            wanted = dict.fromkeys(ok, shared)
            grant_work(lambda: rc.index, wanted, action="assign", renew=True, applied=[])(
                session, audit
            )
        else:
            revoke_many_work(ok, reason)(session, audit)
        return True

    written = rc.writes.run(
        actor,
        work,
        batch_id=batch_id,
        as_user=as_user,
        guard=guard,
        rows=len(user_list) * len(scope_list),
    )
    role_id, rows = decided[0]
    return BulkResult(
        action=action,
        role=role_id,
        impact=None,
        rows=tuple(rows),
        applied=bool(written.events),
        dry_run=False,
        partial=partial,
        revision=written.revision,
        batch_id=batch_id if written.events else None,
    )
