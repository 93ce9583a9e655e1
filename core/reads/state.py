"""What administrators set at run time, as the index holds it: custom roles, restrictions and
delegation rules; and the stored rows that wait for an absent plugin (:func:`dormant`). Each
read copies what it needs while the service's ``reading`` holds the index steady, so a listing
never mixes two revisions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..engine.decisions import RestrictionInfo
from ..governance.custom_roles import CustomRoleRow, rows_of
from ..records import DelegationRule

if TYPE_CHECKING:
    from .source import DormantSource, IndexSource, ScopeSource


@dataclass(frozen=True)
class RuleRow:
    """A delegation rule: ``source`` is ``plugin`` (a plugin's default, unchanged) or
    ``stored`` (set or switched off at run time); a switched-off rule has ``enabled`` False."""

    rule: DelegationRule
    source: Literal["plugin", "stored"]
    enabled: bool


def custom_roles(rc: IndexSource) -> list[CustomRoleRow]:
    """The custom roles, by id, retired ones included
    (:func:`rolecall.core.governance.custom_roles.rows_of`)."""
    with rc.reading() as index:
        return rows_of(index)


def restrictions(rc: IndexSource) -> list[RestrictionInfo]:
    """Every restriction, by scope."""
    with rc.reading() as index:
        return index.restrictions()


def restriction(rc: ScopeSource, scope: str) -> RestrictionInfo | None:
    """The restriction placed at exactly ``scope``, if any; a malformed key is bad input."""
    key = rc.registry.scopes.resolve(scope).key
    with rc.reading() as index:
        return index.restriction(key)


def delegation_rules(rc: ScopeSource) -> list[RuleRow]:
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


@dataclass(frozen=True)
class DormantRow:
    """A stored row naming a scope type, role or permission that no loaded plugin registers:
    kept as it is in the database, granting and denying nothing until its plugin returns.

    ``kind``: ``assignment``, ``restriction``, ``known_scope`` or ``custom_role`` (a custom
    role that keeps its other permissions). ``needs``: what is missing (``scope_type:<key
    namespace>``, ``role:<id>``, ``permission:<id>``). ``plugins``: the plugins that last
    registered those, as the database remembers them (empty when it never saw them)."""

    kind: str
    user: str | None
    role: str | None
    scope: str | None
    needs: tuple[str, ...]
    plugins: tuple[str, ...]

    def describe(self) -> str:
        """One line: what the row is and what it waits for."""
        what = {
            "assignment": f"{self.user} holds {self.role} on {self.scope}",
            "restriction": f"the restriction on {self.scope}",
            "known_scope": f"the scope {self.scope}",
            "custom_role": f"the custom role {self.role}",
        }.get(self.kind, self.kind)
        needs = ", ".join(n.replace(":", " ", 1) for n in self.needs)
        by = f" (plugin {', '.join(self.plugins)})" if self.plugins else " (no plugin on record)"
        return f"{what}: waits for {needs}{by}"


def dormant(rc: DormantSource, *, user: str | None = None) -> list[DormantRow]:
    """The rows waiting for an absent plugin (of ``user`` only, if given), sorted."""
    with rc.reading() as index:
        found = [d for d in index.dormant.values() if user is None or d.user == user]
    if not found:
        return []
    memory = rc.contributions()
    rows = []
    for d in found:
        plugins = []
        for need in d.needs:
            kind, _, ident = need.partition(":")
            plugin = memory.get((kind, ident))
            if plugin is not None and plugin not in plugins:
                plugins.append(plugin)
        rows.append(DormantRow(d.kind, d.user, d.role, d.scope, d.needs, tuple(plugins)))
    return sorted(rows, key=lambda r: (r.kind, r.scope or "", r.user or "", r.role or ""))
