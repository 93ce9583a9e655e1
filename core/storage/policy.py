"""The rows of restrictions, delegation rules and custom roles: the SQL of ``rc.restrict``,
``rc.unrestrict``, ``rc.set_rule``, ``rc.disable_rule``, ``rc.create_role``, ``rc.edit_role``,
``rc.retire_role`` (:func:`rolecall.core.governance.custom_roles.define_role`) and
``rc.delete_role``.
Each function runs inside a change of the unit of work (:mod:`rolecall.core.writes`), on its
session; the change writes the audit events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..records import DelegationRule, Role
from .models import Assignment, CustomRole, Restriction, StoredRule


def put_restriction(
    session: Session,
    key: str,
    *,
    permissions: list[str],
    exempt_roles: list[str],
    reason: str | None,
    by: str | None,
    at: datetime,
) -> None:
    """The restriction on ``key``, in place of any earlier one there."""
    session.execute(delete(Restriction).where(Restriction.scope == key))
    session.add(
        Restriction(
            scope=key,
            permissions=permissions,
            exempt_roles=exempt_roles,
            reason=reason,
            created_by=by,
            created_at=at,
        )
    )


def drop_restriction(session: Session, key: str) -> bool:
    """Remove the restriction on ``key``; False when there was none."""
    gone = session.execute(delete(Restriction).where(Restriction.scope == key))
    return bool(gone.rowcount)  # type: ignore[attr-defined]  # (no RETURNING on MySQL)


def put_rule(
    session: Session,
    rule_id: str,
    rule: DelegationRule,
    *,
    disabled: bool,
    by: str | None,
    at: datetime,
) -> None:
    """Store delegation rule ``rule_id`` as ``rule`` says (switched off with ``disabled``)."""
    row = session.get(StoredRule, rule_id)
    if row is None:
        row = StoredRule(id=rule_id)
        session.add(row)
    row.description, row.holders = rule.description, list(rule.holders)
    row.assign, row.revoke = list(rule.assign), list(rule.revoke)
    row.scope_types, row.disabled = list(rule.scope_types), disabled
    row.changed_by, row.changed_at = by, at


def assignments_of_role(session: Session, role_id: str) -> int:
    """How many assignments hold ``role_id``."""
    return int(
        session.scalar(
            select(func.count()).select_from(Assignment).where(Assignment.role == role_id)
        )
        or 0
    )


def put_custom_role(
    session: Session,
    role: Role,
    *,
    base: str | None,
    retired: bool,
    by: str | None,
    at: datetime,
) -> None:
    """Store the custom role ``role`` (made from ``base``; ``retired`` or not): a new row made
    by ``by``, or the existing one changed."""
    row = session.get(CustomRole, role.id)
    if row is None:
        row = CustomRole(id=role.id, created_by=by, created_at=at)
        session.add(row)
    row.title, row.description = role.title, role.description
    row.permissions, row.scope_types = list(role.permissions), list(role.scope_types)
    row.base_role, row.retired, row.updated_at = base, retired, at


def drop_custom_role(session: Session, role_id: str) -> None:
    session.execute(delete(CustomRole).where(CustomRole.id == role_id))
