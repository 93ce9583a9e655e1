"""Custom roles: built by administrators at run time from registered permissions.

A custom role is validated like a plugin role (its id free, its permissions and scope types
registered) and may start from a built-in role's permissions. Every change is audit-logged and
reaches every process through the change feed. A role in use can be retired (no new
assignments; the existing ones keep working until revoked), not deleted.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError

from ..engine.index import Index
from ..errors import BadInputError
from ..plugins import one_line
from ..records import Role
from ..registry import Registry


def role_of(index: Index, registry: Registry, name: str) -> Role:
    """A role by id or alias: a custom role, else a plugin role."""
    custom = index.custom_roles.get(name)
    return custom if custom is not None else registry.role(name)


def build_role(
    index: Index,
    registry: Registry,
    role_id: str,
    *,
    title: str,
    description: str,
    scope_types: Iterable[str],
    permissions: Iterable[str] = (),
    base: str | None = None,
    existing: bool = False,
) -> Role:
    """A validated custom role record; ``base`` contributes its whole permission set."""
    if not existing and (
        role_id in registry.roles or role_id in registry.aliases or role_id in index.custom_roles
    ):
        raise BadInputError(f"a role called {role_id!r} exists already")
    if existing and role_id not in index.custom_roles:
        if role_id in registry.roles:
            raise BadInputError(f"{role_id} comes from a plugin: plugin roles cannot be changed")
        raise BadInputError(f"no custom role {role_id!r}")
    wanted = list(dict.fromkeys(permissions))
    if base is not None:
        base_role = role_of(index, registry, base)
        wanted = sorted(set(wanted) | index.role_permissions(base_role.id))
    for permission in wanted:
        registry.permission(permission)
    types = list(dict.fromkeys(scope_types))
    for kind in types:
        if kind not in registry.scope_types:
            raise BadInputError(
                f"unknown scope type {kind!r}; known: {', '.join(sorted(registry.scope_types))}"
            )
    if not wanted:
        raise BadInputError("a role needs at least one permission")
    try:
        return Role(
            id=role_id,
            title=title,
            description=description,
            scope_types=tuple(types),
            permissions=tuple(sorted(wanted)),
        )
    except ValidationError as exc:
        raise BadInputError(one_line(exc)) from None
