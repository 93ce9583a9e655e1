"""Delegation rules and restrictions: the service's changes of them (``rc.set_rule``,
``rc.disable_rule``, ``rc.restrict``, ``rc.unrestrict``, methods of
:class:`~rolecall.core.service.Rolecall` defined here). What each change checks is decided here
and under the write lock (:mod:`.guards`); the rows are written by :mod:`..storage.policy`
inside the unit of work."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..engine import lookups
from ..engine.index import ALL
from ..errors import BadInputError
from ..records import DelegationRule
from ..storage import policy
from ..storage.audit import AuditWriter
from ..storage.sessions import Session
from ..validation import text
from . import guards

if TYPE_CHECKING:
    from ..service import Rolecall


def set_rule(
    rc: Rolecall, rule: DelegationRule, *, as_user: str | None = None, actor: str | None = None
) -> int:
    """Add a delegation rule, or replace the one with the same id (platform admins)."""
    actor = rc._acting(actor, as_user)
    rc._administering(as_user, platform_only=True)  # refused before validation
    for name in (*rule.holders, *rule.assign, *rule.revoke):
        if name != "*":
            rc.role(name)
    for kind in rule.scope_types:
        if kind != "*" and kind not in rc.registry.scope_types:
            raise BadInputError(f"unknown scope type {kind!r}")
    return _store_rule(rc, rule.id, rule, actor, as_user)


def disable_rule(
    rc: Rolecall, rule_id: str, *, as_user: str | None = None, actor: str | None = None
) -> int:
    """Switch a delegation rule off (platform admins)."""
    actor = rc._acting(actor, as_user)
    rc._administering(as_user, platform_only=True)  # refused before validation
    if rule_id not in rc.index.rules():
        raise BadInputError(f"no delegation rule {rule_id!r} is in force")
    return _store_rule(rc, rule_id, None, actor, as_user)


def _store_rule(
    rc: Rolecall, rule_id: str, rule: DelegationRule | None, actor: str | None, as_user: str | None
) -> int:
    def work(session: Session, audit: AuditWriter) -> None:
        source = rule or rc.index.rules()[rule_id]
        policy.put_rule(
            session, rule_id, source, disabled=rule is None, by=audit.actor, at=audit.at
        )
        if rule is None:
            audit.add("rule_disable", details={"op": "rule_disable", "id": rule_id})
        else:
            audit.add(
                "rule_set",
                details={"op": "rule_set", "id": rule_id, "rule": rule.model_dump(mode="json")},
            )

    guard = rc._administering(as_user, platform_only=True)
    return rc.writes.run(actor, work, as_user=as_user, guard=guard).revision


def restrict(
    rc: Rolecall,
    scope: str,
    permissions: Sequence[str] = (ALL,),
    *,
    exempt_roles: Sequence[str] = (),
    reason: str | None = None,
    actor: str | None = None,
    as_user: str | None = None,
) -> int:
    """Deny ``permissions`` (``*``: all) at ``scope`` and below, except to holders of
    ``exempt_roles``. Replaces an earlier restriction on the same scope. As a user, it takes
    ``platform.manage_restrictions`` on the scope (:func:`.guards.restricting`)."""
    actor = rc._acting(actor, as_user)
    key = rc.registry.scopes.resolve(scope).key
    if as_user is not None:
        guards.restricting(as_user, key)(rc.index)  # refused before validation
    perms = list(dict.fromkeys(permissions))
    if not perms:
        raise BadInputError("a restriction needs at least one permission (or * for all)")
    kind = rc.registry.scopes.resolve(scope).type
    reach = lookups.types_below(rc.index, kind)
    for p in perms:
        if p == ALL:
            continue
        applies = rc.registry.permission(p).scope_types
        if not set(applies) & set(reach):
            raise BadInputError(
                f"{p} applies at {', '.join(applies)} scopes, never on or below a {kind} "
                f"scope such as {scope}: a restriction of it there would deny nothing"
            )
    exempt = [rc.role(r).id for r in dict.fromkeys(exempt_roles)]
    reason = text(reason, "reason")

    def work(session: Session, audit: AuditWriter) -> None:
        policy.put_restriction(
            session,
            key,
            permissions=perms,
            exempt_roles=exempt,
            reason=reason,
            by=audit.actor,
            at=audit.at,
        )
        audit.add(
            "restrict",
            scope=key,
            details={"permissions": perms, "exempt_roles": exempt, "reason": reason},
        )

    return _restriction_write(rc, actor, as_user, key, work)


def _restriction_write(
    rc: Rolecall, actor: str | None, as_user: str | None, key: str, work: Callable[..., None]
) -> int:
    guard = None if as_user is None else guards.restricting(as_user, key)
    return rc.writes.run(actor, work, as_user=as_user, guard=guard).revision


def unrestrict(
    rc: Rolecall, scope: str, *, actor: str | None = None, as_user: str | None = None
) -> int:
    """Lift the restriction on ``scope`` (as a user: see :meth:`restrict`)."""
    actor = rc._acting(actor, as_user)
    key = rc.registry.scopes.resolve(scope).key

    def work(session: Session, audit: AuditWriter) -> None:
        if not policy.drop_restriction(session, key):
            raise BadInputError(f"{key} has no restriction")
        audit.add("unrestrict", scope=key)

    return _restriction_write(rc, actor, as_user, key, work)
