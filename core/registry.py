"""The registry: every scope type, permission and role contributed by the loaded plugins.

It is built once, when plugins are loaded, and is immutable afterwards. Building it validates how
the contributions of all plugins fit together and fails with one :class:`RegistryError` naming
the plugin(s) and the offending id:

- a duplicate id (or scope key namespace, or role alias) across plugins names both plugins;
- a permission that implies an unknown permission, or an implication cycle;
- a role that uses an unknown permission, includes an unknown role, or an inclusion cycle;
- a permission or role naming an unknown scope type;
- a console page needing an unknown permission, or shown at a scope that does not parse.

Implications are closed transitively here, so the engine never walks them at check time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from .errors import BadInputError, RegistryError
from .records import ConsolePage, DelegationRule, DerivedRole, Permission, Role, ScopeType
from .scopes import ScopeResolver, show


@dataclass(frozen=True)
class Contribution:
    """What one plugin contributed, in the plugin's own order."""

    plugin: str
    scope_types: tuple[ScopeType, ...] = ()
    permissions: tuple[Permission, ...] = ()
    roles: tuple[Role, ...] = ()
    rules: tuple[DelegationRule, ...] = ()
    console_pages: tuple[ConsolePage, ...] = ()
    derived_roles: tuple[DerivedRole, ...] = ()


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
    role_authority: Mapping[str, frozenset[str]]
    """Role id -> what its holder counts as holding when the delegation rules judge a grant:
    its permission set and the ``not_inherited`` permissions of the roles it includes (a course
    admin may give course staff, whose legacy permission id it does not hold itself)."""
    rules: Mapping[str, DelegationRule]
    """The plugins' default delegation rules, by id."""
    scopes: ScopeResolver = field(compare=False)
    console_pages: Mapping[str, ConsolePage] = field(default_factory=dict)
    """The pages plugins add to the console, by id (``origin["console_page:<id>"]`` names the
    plugin)."""
    derived_roles: Mapping[str, DerivedRole] = field(
        default_factory=lambda: MappingProxyType({}), compare=False
    )
    """Role id -> the source that says who holds it (see :class:`DerivedRole`)."""

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
            "console_pages": [],
            "derived_roles": [],
        }
        for key, owner in self.origin.items():
            if owner == plugin:
                kind, _, item = key.partition(":")
                found[kind + "s"].append(item)
        return found


def _plugins(*names: str, order: Mapping[str, int]) -> tuple[str, ...]:
    """Distinct plugin names in load order (the last one is the culprit to skip)."""
    return tuple(sorted(set(names), key=lambda n: order[n]))


class _Origins:
    """Which plugin gave each id, claimed in load order; a second claim is a duplicate."""

    def __init__(self, contributions: Sequence[Contribution]) -> None:
        self.order = {c.plugin: i for i, c in enumerate(contributions)}
        self.origin: dict[str, str] = {}

    def claim(self, kind: str, item: str, plugin: str, label: str | None = None) -> None:
        key = f"{kind}:{item}"
        first = self.origin.get(key)
        if first is not None:
            owners = _plugins(first, plugin, order=self.order)
            if len(owners) == 1:
                message = f"plugin {plugin!r} registers {label or kind} {item!r} twice"
            else:
                message = (
                    f"duplicate {label or kind.replace('_', ' ')} {item!r}: registered by "
                    f"plugins {owners[0]!r} and {owners[1]!r}"
                )
            raise RegistryError(message, plugins=owners, item=item)
        self.origin[key] = plugin

    def owner(self, kind: str, item: str) -> str:
        return self.origin[f"{kind}:{item}"]

    def public(self) -> dict[str, str]:
        return {k: v for k, v in self.origin.items() if not _internal(k)}


def _require_known(
    kind: str, item: str, plugin: str, relation: str, names: Iterable[str], known: Container[str]
) -> None:
    """The one "unknown reference" check: ``<kind> <item> (plugin P) <relation> <name>`` for
    the first of ``names`` that is not in ``known``."""
    for name in names:
        if name not in known:
            raise RegistryError(
                f"{kind} {item!r} (plugin {plugin!r}) {relation} {name!r}",
                plugins=(plugin,),
                item=item,
            )


def _claim_records(
    contributions: Sequence[Contribution], origins: _Origins
) -> tuple[dict[str, ScopeType], dict[str, Permission], dict[str, Role], dict[str, str]]:
    """Scope types, permissions, roles and role aliases by id; duplicates across plugins fail."""
    scope_types: dict[str, ScopeType] = {}
    permissions: dict[str, Permission] = {}
    roles: dict[str, Role] = {}
    for c in contributions:
        for st in c.scope_types:
            origins.claim("scope_type", st.id, c.plugin, "scope type")
            for namespace in st.namespaces:
                origins.claim("namespace", namespace, c.plugin, "scope key namespace")
            if st.slash_keys:
                origins.claim("namespace", "/", c.plugin, "claim on keys written with '/'")
            scope_types[st.id] = st
        for p in c.permissions:
            origins.claim("permission", p.id, c.plugin)
            permissions[p.id] = p
        for r in c.roles:
            origins.claim("role", r.id, c.plugin)
            roles[r.id] = r
    aliases: dict[str, str] = {}
    for c in contributions:
        for r in c.roles:
            for alias in r.aliases:
                if alias in roles:
                    holder = origins.owner("role", alias)
                    raise RegistryError(
                        f"role alias {alias!r} of role {r.id!r} (plugin {c.plugin!r}) is the id "
                        f"of role {alias!r} (plugin {holder!r})",
                        plugins=_plugins(holder, c.plugin, order=origins.order),
                        item=alias,
                    )
                origins.claim("alias", alias, c.plugin, "role alias")
                aliases[alias] = r.id
    return scope_types, permissions, roles, aliases


def _check_permissions(
    permissions: Mapping[str, Permission], scope_types: Container[str], origins: _Origins
) -> None:
    for p in permissions.values():
        plugin = origins.owner("permission", p.id)
        _require_known(
            "permission", p.id, plugin, "applies to unknown scope type", p.scope_types, scope_types
        )
        _require_known(
            "permission", p.id, plugin, "implies unknown permission", p.implies, permissions
        )
    _reject_cycle(
        {p.id: p.implies for p in permissions.values()},
        "implication cycle among permissions",
        lambda item: origins.owner("permission", item),
        origins.order,
    )


def _check_roles(
    roles: Mapping[str, Role],
    permissions: Container[str],
    scope_types: Container[str],
    origins: _Origins,
) -> None:
    for r in roles.values():
        plugin = origins.owner("role", r.id)
        _require_known(
            "role", r.id, plugin, "is assignable at unknown scope type", r.scope_types, scope_types
        )
        _require_known("role", r.id, plugin, "uses unknown permission", r.permissions, permissions)
        _require_known(
            "role", r.id, plugin, "uses unknown permission", r.not_inherited, permissions
        )
        _require_known("role", r.id, plugin, "includes unknown role", r.includes, roles)
    _reject_cycle(
        {r.id: r.includes for r in roles.values()},
        "inclusion cycle among roles",
        lambda item: origins.owner("role", item),
        origins.order,
    )


def _claim_rules(
    contributions: Sequence[Contribution],
    roles: Container[str],
    scope_types: Container[str],
    origins: _Origins,
) -> dict[str, DelegationRule]:
    rules: dict[str, DelegationRule] = {}
    for c in contributions:
        for rule in c.rules:
            origins.claim("rule", rule.id, c.plugin, "delegation rule")
            rules[rule.id] = rule
            named = [n for n in (*rule.holders, *rule.assign, *rule.revoke) if n != "*"]
            what = "delegation rule"
            _require_known(what, rule.id, c.plugin, "names unknown role", named, roles)
            kinds = [k for k in rule.scope_types if k != "*"]
            _require_known(what, rule.id, c.plugin, "names unknown scope type", kinds, scope_types)
    return rules


def _claim_pages(
    contributions: Sequence[Contribution],
    permissions: Container[str],
    scopes: ScopeResolver,
    origins: _Origins,
) -> dict[str, ConsolePage]:
    """Console pages by id: each needs a registered permission, and its scope, when it names
    one, must parse (a page nobody could ever open is refused, not shown as 403 to all)."""
    pages: dict[str, ConsolePage] = {}
    for c in contributions:
        for page in c.console_pages:
            origins.claim("console_page", page.id, c.plugin, "console page")
            pages[page.id] = page
            what = "console page"
            _require_known(
                what, page.id, c.plugin, "needs unknown permission", [page.permission], permissions
            )
            if page.scope is not None:
                try:
                    scopes.resolve(page.scope)
                except BadInputError as exc:
                    raise RegistryError(
                        f"console page {page.id!r} (plugin {c.plugin!r}) is shown at scope "
                        f"{show(page.scope)}, which does not parse: {exc}",
                        plugins=(c.plugin,),
                        item=page.id,
                    ) from None
    return pages


def _role_permissions(
    roles: Mapping[str, Role], implied: Mapping[str, frozenset[str]], everything: frozenset[str]
) -> dict[str, frozenset[str]]:
    """Each role's closed permission set: its own, its included roles', and what they imply;
    a role's ``not_inherited`` permissions are its own only, never its includers'."""
    role_closure = _close({r.id: r.includes for r in roles.values()})
    role_permissions: dict[str, frozenset[str]] = {}
    for r in roles.values():
        if any(roles[i].grants_all for i in role_closure[r.id]):
            role_permissions[r.id] = everything
            continue
        own = {pid for i in role_closure[r.id] for pid in roles[i].permissions}
        own.update(r.not_inherited)
        role_permissions[r.id] = frozenset().union(*(implied[pid] for pid in own))
    return role_permissions


def _role_authority(
    roles: Mapping[str, Role],
    role_permissions: Mapping[str, frozenset[str]],
    implied: Mapping[str, frozenset[str]],
) -> dict[str, frozenset[str]]:
    role_closure = _close({r.id: r.includes for r in roles.values()})
    return {
        r.id: role_permissions[r.id].union(
            *(implied[p] for i in role_closure[r.id] for p in roles[i].not_inherited)
        )
        for r in roles.values()
    }


def build_registry(contributions: Sequence[Contribution]) -> Registry:
    """Validate and merge the contributions of all plugins, in load order.

    The stages, each failing with one :class:`RegistryError`: claim every id (duplicates),
    check the permissions' references and implication cycles, the roles' references and
    inclusion cycles, the delegation rules, the roles' ``revocable_by``, the console pages'
    permissions and scopes; then close the implications and the roles' permission sets and
    build.
    """
    origins = _Origins(contributions)
    scope_types, permissions, roles, aliases = _claim_records(contributions, origins)
    _check_permissions(permissions, scope_types, origins)
    implied = _close({p.id: p.implies for p in permissions.values()})
    _check_roles(roles, permissions, scope_types, origins)
    rules = _claim_rules(contributions, roles, scope_types, origins)
    for r in roles.values():
        plugin = origins.owner("role", r.id)
        _require_known("role", r.id, plugin, "is revocable by unknown role", r.revocable_by, roles)
    role_permissions = _role_permissions(roles, implied, frozenset(permissions))
    derived: dict[str, DerivedRole] = {}
    for c in contributions:
        for d in c.derived_roles:
            origins.claim("derived_role", d.role, c.plugin, "derived role source")
            _require_known("derived role", d.role, c.plugin, "names unknown role", [d.role], roles)
            _require_known(
                "derived role",
                d.role,
                c.plugin,
                "names unknown scope type",
                d.scope_types,
                scope_types,
            )
            derived[d.role] = d
    scopes = ScopeResolver(
        scope_types.values(),
        plugins={t: origins.owner("scope_type", t) for t in scope_types},
    )
    pages = _claim_pages(contributions, permissions, scopes, origins)
    return Registry(
        scope_types=MappingProxyType(scope_types),
        permissions=MappingProxyType(permissions),
        roles=MappingProxyType(roles),
        origin=MappingProxyType(origins.public()),
        implied=MappingProxyType(implied),
        role_permissions=MappingProxyType(role_permissions),
        aliases=MappingProxyType(aliases),
        role_authority=MappingProxyType(_role_authority(roles, role_permissions, implied)),
        rules=MappingProxyType(rules),
        scopes=scopes,
        console_pages=MappingProxyType(pages),
        derived_roles=MappingProxyType(derived),
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
