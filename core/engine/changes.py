"""Changes applied to the index: the change feed's events in revision order
(:func:`apply_many`) and the bulk load of the stored grants (:func:`load_grants`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..records import DelegationRule, Role
from .tables import Grant, _ts

if TYPE_CHECKING:
    from .index import Index


def apply_many(
    index: Index, events: Iterable[tuple[int, str, str | None, str | None, str | None, Any]]
) -> None:
    """Apply changes in order; runs of grants are merged per (user, scope) so a bulk
    assignment builds each cell once."""
    pending: dict[tuple[str, str], dict[str, Grant]] = {}

    by_scope = index._by_scope
    titles = index.scope_titles

    def flush() -> None:
        for (user, scope), added in pending.items():
            members = by_scope.get(scope)
            old = members.get(user) if members is not None else None
            if old is None:
                index._set_grants(user, scope, tuple(added.values()))
            else:
                kept = tuple(g for g in old.grants if g.role not in added)
                index._set_grants(user, scope, (*kept, *added.values()))
        pending.clear()

    intern = index._strings.setdefault
    times: dict[Any, float | None] = {None: None}

    def epoch(value: Any) -> float | None:
        # A bulk write gives its rows one time: each distinct text is parsed once.
        if value in times:
            return times[value]
        found = times[value] = _ts(value)
        return found

    newest = index.revision
    for revision, action, user, role, scope, details in events:
        if revision > newest:
            newest = revision
        if details.get("op", action) == "assign" and user and role and scope:
            user, role, scope = intern(user, user), intern(role, role), intern(scope, scope)
            if scope not in titles and scope not in by_scope:
                if not index.placeable(scope):
                    index._set_dormant("assignment", user, role, scope, index._needs(role, scope))
                    continue
                index._know(scope)
            if role not in index._role_perms:
                index._set_dormant("assignment", user, role, scope, index._needs(role, scope))
                continue
            by = details.get("granted_by")
            pending.setdefault((user, scope), {})[role] = Grant(
                details["id"],
                role,
                intern(by, by) if by else None,
                epoch(details["granted_at"]) or 0.0,
                epoch(details.get("expires_at")),
            )
        else:
            flush()
            _apply_other(index, action, user, role, scope, details)
            index.revision = newest
    flush()
    index.revision = newest


def apply(
    index: Index,
    revision: int,
    action: str,
    user: str | None,
    role: str | None,
    scope: str | None,
    details: Mapping[str, Any],
) -> None:
    """Apply one change from the audit log (the change feed)."""
    apply_many(index, [(revision, action, user, role, scope, details)])


def _apply_other(
    index: Index,
    action: str,
    user: str | None,
    role: str | None,
    scope: str | None,
    details: Mapping[str, Any],
) -> None:
    """Every change but a grant (which :meth:`apply_many` merges per cell)."""
    op = details.get("op", action)
    # Each action carries the fields it needs; absent ones are never read.
    user, role, scope = user or "", role or "", scope or ""
    if op in ("user_add", "user_update"):
        index.add_user(
            user,
            details.get("email"),
            details.get("display_name"),
            details.get("active", True),
            details.get("pseudonym"),
        )
    elif op == "user_erase":
        index.erase_user(user, details["to"], details.get("pseudonym"))
    elif op == "scope_add":
        index.add_scope(scope, details.get("title"))
    elif op in ("revoke", "expire"):
        index.drop_grant(user, role, scope)
    elif op == "restrict":
        index.put_restriction(
            scope, details["permissions"], details["exempt_roles"], details.get("reason")
        )
    elif op == "unrestrict":
        index.drop_restriction(scope)
    elif op == "scope_forget":
        index.forget_scope(scope)
    elif op == "role_define":
        index.define_role(Role.model_validate(details["role"]), retired=details["retired"])
    elif op == "role_drop":
        index.drop_role(details["id"])
    elif op == "rule_set":
        index.set_rule(details["id"], DelegationRule.model_validate(details["rule"]))
    elif op == "rule_disable":
        index.set_rule(details["id"], None)


def load_grants(
    index: Index,
    rows: Iterable[tuple[int, str, str, str, str | None, Any, Any]],
) -> int:
    """Bulk-load (id, user, role, scope, granted_by, granted_at, expires_at) rows into an
    index that holds no grants yet: grouped first, so each cell is built once. Times may
    be datetimes or the text SQLite stores (UTC); each distinct value converts once and
    its float is shared."""
    index.pseudonyms.compact()  # the users, added one by one before their grants
    intern = index._strings.setdefault
    seen: set[str] = set()
    groups: dict[tuple[str, str], list[Grant]] = {}
    times: dict[Any, float] = {}

    def epoch(value: Any) -> float:
        found = times.get(value)
        if found is None:
            if isinstance(value, str):
                moment = datetime.fromisoformat(value)
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=UTC)
                found = moment.timestamp()
            elif value.tzinfo is None:  # MySQL's DATETIME comes back naive: UTC
                found = value.replace(tzinfo=UTC).timestamp()
            else:
                found = value.timestamp()
            times[value] = found  # keyed by the value as read: one float per time
        return found

    count = 0
    role_perms = index._role_perms
    for grant_id, user, role, scope, granted_by, granted_at, expires_at in rows:
        count += 1
        if scope not in seen:
            if not index.placeable(scope):
                index._set_dormant("assignment", user, role, scope, index._needs(role, scope))
                continue
            seen.add(scope)
            index._know(scope)
        if role not in role_perms:
            index._set_dormant("assignment", user, role, scope, index._needs(role, scope))
            continue
        grant = Grant(
            grant_id,
            intern(role, role),
            intern(granted_by, granted_by) if granted_by else None,
            epoch(granted_at),
            None if expires_at is None else epoch(expires_at),
        )
        key = (intern(user, user), intern(scope, scope))
        group = groups.get(key)
        if group is None:
            groups[key] = [grant]
        else:
            group.append(grant)
    for (user, scope), grants in groups.items():
        index._set_grants(user, scope, tuple(grants))
    return count


def put_grant(
    index: Index,
    user: str,
    role: str,
    scope: str,
    *,
    id: int,
    granted_by: str | None,
    granted_at: datetime | str,
    expires_at: datetime | str | None,
) -> None:
    """Add or replace the grant of ``role`` to ``user`` at ``scope``."""
    apply_many(
        index,
        [
            (
                index.revision,
                "assign",
                user,
                role,
                scope,
                {
                    "id": id,
                    "granted_by": granted_by,
                    "granted_at": granted_at,
                    "expires_at": expires_at,
                },
            )
        ],
    )
