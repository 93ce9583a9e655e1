"""What administrators set at run time, as the index holds it: custom roles, restrictions and
delegation rules. Each read copies what it needs while :meth:`Rolecall.reading` holds the index
steady, so a listing never mixes two revisions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..engine.decisions import RestrictionInfo
from ..records import DelegationRule, Role

if TYPE_CHECKING:
    from ..service import Rolecall


@dataclass(frozen=True)
class CustomRoleRow:
    """A custom role, whether it is retired, and its closed permission set (its permissions
    and everything they imply)."""

    role: Role
    retired: bool
    permissions: frozenset[str]


@dataclass(frozen=True)
class RuleRow:
    """A delegation rule: ``source`` is ``plugin`` (a plugin's default, unchanged) or
    ``stored`` (set or switched off at run time); a switched-off rule has ``enabled`` False."""

    rule: DelegationRule
    source: Literal["plugin", "stored"]
    enabled: bool


def custom_roles(rc: Rolecall) -> list[CustomRoleRow]:
    """The custom roles, by id, retired ones included."""
    with rc.reading() as index:
        return [
            CustomRoleRow(role, role_id in index.retired_roles, index.role_permissions(role_id))
            for role_id, role in sorted(index.custom_roles.items())
        ]


def restrictions(rc: Rolecall) -> list[RestrictionInfo]:
    """Every restriction, by scope."""
    with rc.reading() as index:
        return index.restrictions()


def restriction(rc: Rolecall, scope: str) -> RestrictionInfo | None:
    """The restriction placed at exactly ``scope``, if any; a malformed key is bad input."""
    key = rc.registry.scopes.resolve(scope).key
    with rc.reading() as index:
        return index.restriction(key)


def delegation_rules(rc: Rolecall) -> list[RuleRow]:
    """The plugins' rules and the stored ones, by id, each with whether it is in force."""
    with rc.reading() as index:
        stored = dict(index.stored_rules)
    rows: dict[str, RuleRow] = {}
    for rule_id, rule in rc.registry.rules.items():
        if rule_id not in stored:
            rows[rule_id] = RuleRow(rule, "plugin", True)
    for rule_id, maybe in stored.items():
        if maybe is not None:
            rows[rule_id] = RuleRow(maybe, "stored", True)
        elif rule_id in rc.registry.rules:
            rows[rule_id] = RuleRow(rc.registry.rules[rule_id], "stored", False)
    return [rows[k] for k in sorted(rows)]
