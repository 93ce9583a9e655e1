"""The registry: every scope type, permission and role contributed by the loaded plugins.

It is built once, when plugins are loaded, and is immutable afterwards. Building it validates how
the contributions of all plugins fit together and fails with one :class:`RegistryError` naming
the plugin(s) and the offending id:

- a duplicate id (or scope key namespace, or role alias) across plugins names both plugins;
- a permission that implies an unknown permission, or an implication cycle;
- a role that uses an unknown permission, includes an unknown role, or an inclusion cycle;
- a permission or role naming an unknown scope type.

Implications are closed transitively here, so the engine never walks them at check time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from .errors import BadInputError, RegistryError
from .records import DelegationRule, Permission, Role, ScopeType
from .scopes import ScopeResolver, show


@dataclass(frozen=True)
class Contribution:
    """What one plugin contributed, in the plugin's own order."""

    plugin: str
    scope_types: tuple[ScopeType, ...] = ()
    permissions: tuple[Permission, ...] = ()
    roles: tuple[Role, ...] = ()
    rules: tuple[DelegationRule, ...] = ()


@dataclass(frozen=True)
class Registry:
    """Immutable result of :func:`build_registry`."""

    scope_types: Mapping[str, ScopeType]
    permissions: Mapping[str, Permission]
    roles: Mapping[str, Role]
    origin: Mapping[str, str]
    """``"permission:<id>"``, ``"role:<id>"``, ``"scope_type:<id>"`` -> the plugin that gave it."""
    implied: Mapping[str, frozenset[str]]
    """Permission id -> itself and everything it implies, transitively."""
    role_permissions: Mapping[str, frozenset[str]]
    """Role id -> its closed permission set (own, included roles', implied)."""
    aliases: Mapping[str, str]
    """Legacy or alternative role name -> role id."""
    rules: Mapping[str, DelegationRule]
    """The plugins' default delegation rules, by id."""
    scopes: ScopeResolver = field(compare=False)

    def role(self, name: str) -> Role:
        """The role called ``name`` (its id or an alias); :class:`BadInputError` if none."""
        role = self.roles.get(name) or self.roles.get(self.aliases.get(name, ""))
        if role is None:
            raise BadInputError(f"unknown role {show(name)}; `rolecall roles` lists them")
        return role

    def permission(self, permission_id: str) -> Permission:
        """The permission ``permission_id``; :class:`BadInputError` if it is not registered."""
        permission = self.permissions.get(permission_id)
        if permission is None:
            raise BadInputError(
                f"unknown permission {show(permission_id)}; `rolecall permissions` lists them"
            )
        return permission

    def implication_path(self, held: str, wanted: str) -> tuple[str, ...] | None:
        """The shortest chain ``held -> ... -> wanted`` of implications, or ``None``."""
        if wanted not in self.implied.get(held, frozenset()):
            return None
        previous: dict[str, str] = {}
        queue = deque([held])
        while queue:
            current = queue.popleft()
            if current == wanted:
                path = [wanted]
                while path[-1] != held:
                    path.append(previous[path[-1]])
                return tuple(reversed(path))
            for nxt in self.permissions[current].implies:
                if nxt not in previous and nxt != held:
                    previous[nxt] = current
                    queue.append(nxt)
        return None  # pragma: no cover - unreachable: `implied` said there is a path

    def contributed_by(self, plugin: str) -> dict[str, list[str]]:
        """Ids of what ``plugin`` contributed, by kind."""
        found: dict[str, list[str]] = {
            "scope_types": [],
            "permissions": [],
            "roles": [],
            "rules": [],
        }
        for key, owner in self.origin.items():
            if owner == plugin:
                kind, _, item = key.partition(":")
                found[kind + "s"].append(item)
        return found


def _plugins(*names: str, order: Mapping[str, int]) -> tuple[str, ...]:
    """Distinct plugin names in load order (the last one is the culprit to skip)."""
    return tuple(sorted(set(names), key=lambda n: order[n]))


def build_registry(contributions: Sequence[Contribution]) -> Registry:
    """Validate and merge the contributions of all plugins, in load order."""
    order = {c.plugin: i for i, c in enumerate(contributions)}
    origin: dict[str, str] = {}

    def claim(kind: str, item: str, plugin: str, label: str | None = None) -> None:
        key = f"{kind}:{item}"
        first = origin.get(key)
        if first is not None:
            owners = _plugins(first, plugin, order=order)
            if len(owners) == 1:
                message = f"plugin {plugin!r} registers {label or kind} {item!r} twice"
            else:
                message = (
                    f"duplicate {label or kind.replace('_', ' ')} {item!r}: registered by "
                    f"plugins {owners[0]!r} and {owners[1]!r}"
                )
            raise RegistryError(message, plugins=owners, item=item)
        origin[key] = plugin

    scope_types: dict[str, ScopeType] = {}
    permissions: dict[str, Permission] = {}
    roles: dict[str, Role] = {}
    for c in contributions:
        for st in c.scope_types:
            claim("scope_type", st.id, c.plugin, "scope type")
            claim("namespace", st.namespace, c.plugin, "scope key namespace")
            scope_types[st.id] = st
        for p in c.permissions:
            claim("permission", p.id, c.plugin)
            permissions[p.id] = p
        for r in c.roles:
            claim("role", r.id, c.plugin)
            roles[r.id] = r
    aliases: dict[str, str] = {}
    for c in contributions:
        for r in c.roles:
            for alias in r.aliases:
                if alias in roles:
                    owners = _plugins(origin[f"role:{alias}"], c.plugin, order=order)
                    raise RegistryError(
                        f"role alias {alias!r} of role {r.id!r} (plugin {c.plugin!r}) is the id "
                        f"of role {alias!r} (plugin {origin[f'role:{alias}']!r})",
                        plugins=owners,
                        item=alias,
                    )
                claim("alias", alias, c.plugin, "role alias")
                aliases[alias] = r.id

    def owner(kind: str, item: str) -> str:
        return origin[f"{kind}:{item}"]

    for p in permissions.values():
        for type_id in p.scope_types:
            if type_id not in scope_types:
                raise RegistryError(
                    f"permission {p.id!r} (plugin {owner('permission', p.id)!r}) applies to "
                    f"unknown scope type {type_id!r}",
                    plugins=(owner("permission", p.id),),
                    item=p.id,
                )
        for target in p.implies:
            if target not in permissions:
                raise RegistryError(
                    f"permission {p.id!r} (plugin {owner('permission', p.id)!r}) implies "
                    f"unknown permission {target!r}",
                    plugins=(owner("permission", p.id),),
                    item=p.id,
                )
    _reject_cycle(
        {p.id: p.implies for p in permissions.values()},
        "implication cycle among permissions",
        lambda item: owner("permission", item),
        order,
    )
    implied = _close({p.id: p.implies for p in permissions.values()})

    for r in roles.values():
        plugin = owner("role", r.id)
        for type_id in r.scope_types:
            if type_id not in scope_types:
                raise RegistryError(
                    f"role {r.id!r} (plugin {plugin!r}) is assignable at unknown scope type "
                    f"{type_id!r}",
                    plugins=(plugin,),
                    item=r.id,
                )
        for pid in r.permissions:
            if pid not in permissions:
                raise RegistryError(
                    f"role {r.id!r} (plugin {plugin!r}) uses unknown permission {pid!r}",
                    plugins=(plugin,),
                    item=r.id,
                )
        for included in r.includes:
            if included not in roles:
                raise RegistryError(
                    f"role {r.id!r} (plugin {plugin!r}) includes unknown role {included!r}",
                    plugins=(plugin,),
                    item=r.id,
                )
    _reject_cycle(
        {r.id: r.includes for r in roles.values()},
        "inclusion cycle among roles",
        lambda item: owner("role", item),
        order,
    )
    rules: dict[str, DelegationRule] = {}
    for c in contributions:
        for rule in c.rules:
            claim("rule", rule.id, c.plugin, "delegation rule")
            rules[rule.id] = rule
            for name in (*rule.holders, *rule.assign, *rule.revoke):
                if name != "*" and name not in roles:
                    raise RegistryError(
                        f"delegation rule {rule.id!r} (plugin {c.plugin!r}) names unknown role "
                        f"{name!r}",
                        plugins=(c.plugin,),
                        item=rule.id,
                    )
            for type_id in rule.scope_types:
                if type_id not in scope_types:
                    raise RegistryError(
                        f"delegation rule {rule.id!r} (plugin {c.plugin!r}) names unknown scope "
                        f"type {type_id!r}",
                        plugins=(c.plugin,),
                        item=rule.id,
                    )
    for r in roles.values():
        for name in r.revocable_by:
            if name not in roles:
                raise RegistryError(
                    f"role {r.id!r} (plugin {owner('role', r.id)!r}) is revocable by unknown "
                    f"role {name!r}",
                    plugins=(owner("role", r.id),),
                    item=r.id,
                )
    everything = frozenset(permissions)
    role_closure = _close({r.id: r.includes for r in roles.values()})
    role_permissions: dict[str, frozenset[str]] = {}
    for r in roles.values():
        if any(roles[i].grants_all for i in role_closure[r.id]):
            role_permissions[r.id] = everything
            continue
        own = {pid for i in role_closure[r.id] for pid in roles[i].permissions}
        role_permissions[r.id] = frozenset().union(*(implied[pid] for pid in own))

    return Registry(
        scope_types=MappingProxyType(scope_types),
        permissions=MappingProxyType(permissions),
        roles=MappingProxyType(roles),
        origin=MappingProxyType({k: v for k, v in origin.items() if not _internal(k)}),
        implied=MappingProxyType(implied),
        role_permissions=MappingProxyType(role_permissions),
        aliases=MappingProxyType(aliases),
        rules=MappingProxyType(rules),
        scopes=ScopeResolver(scope_types.values()),
    )


def _internal(origin_key: str) -> bool:
    return origin_key.startswith(("namespace:", "alias:"))


def _reject_cycle(
    edges: Mapping[str, Iterable[str]],
    what: str,
    owner_of: Callable[[str], str],
    order: Mapping[str, int],
) -> None:
    """Raise :class:`RegistryError` on the first cycle found, naming its members and plugins."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in sorted(edges):
        if state.get(start):
            continue
        path: list[str] = []
        stack: list[tuple[str, Iterable[str]]] = [(start, iter(edges[start]))]
        state[start] = 1
        path.append(start)
        while stack:
            node, children = stack[-1]
            for child in children:
                if state.get(child) == 1:
                    cycle = [*path[path.index(child) :], child]
                    plugins = _plugins(*(owner_of(n) for n in cycle), order=order)
                    raise RegistryError(
                        f"{what} (plugin{'s' if len(plugins) > 1 else ''} "
                        f"{', '.join(repr(p) for p in plugins)}): {' -> '.join(cycle)}",
                        plugins=plugins,
                        item=child,
                    )
                if not state.get(child):
                    state[child] = 1
                    path.append(child)
                    stack.append((child, iter(edges[child])))
                    break
            else:
                state[node] = 2
                path.pop()
                stack.pop()


def _close(edges: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    """Each node with everything reachable from it (itself included); the graph is acyclic."""
    closed: dict[str, frozenset[str]] = {}

    def visit(node: str) -> frozenset[str]:
        done = closed.get(node)
        if done is None:
            done = frozenset({node}).union(*(visit(child) for child in edges[node]))
            closed[node] = done
        return done

    for node in edges:
        visit(node)
    return closed
