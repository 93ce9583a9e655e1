"""The catalogue: plugins, permissions, roles (plugin and custom) and scope types.

It is the same for everyone, yet not public: the caller must hold a role somewhere
(:func:`rolecall.webapp.authz.is_staff`).
"""

from __future__ import annotations

from rolecall.core import Role, Rolecall
from rolecall.core.reads import CustomRoleRow, custom_roles

from .. import authz
from ..context import service
from .errors import forbidden, not_found
from .pagination import paginate
from .routes import route
from .schemas import (
    PageQuery,
    PermissionList,
    PermissionOut,
    PermissionsQuery,
    PluginList,
    PluginOut,
    RoleDetail,
    RoleList,
    RoleOut,
    ScopeTypeList,
    ScopeTypeOut,
)

STAFF = "Anyone holding at least one role somewhere (the catalogue is the same for everyone)."


def require_staff(rc: Rolecall, caller: str) -> None:
    if not authz.is_staff(rc, caller):
        raise forbidden(f"{caller} holds no role anywhere: the catalogue is for staff")


def role_out(rc: Rolecall, role: Role, *, custom: bool, retired: bool = False) -> RoleOut:
    return RoleOut(
        id=role.id,
        title=role.title,
        description=role.description,
        scope_types=list(role.scope_types),
        permissions=list(role.permissions),
        includes=list(role.includes),
        aliases=list(role.aliases),
        grants_all=role.grants_all,
        admin=role.admin,
        revocable_by=list(role.revocable_by),
        plugin=None if custom else rc.registry.origin.get(f"role:{role.id}"),
        custom=custom,
        retired=retired,
    )


def custom_role_out(rc: Rolecall, row: CustomRoleRow) -> RoleOut:
    return role_out(rc, row.role, custom=True, retired=row.retired)


def custom_roles_out(rc: Rolecall) -> list[RoleOut]:
    """Every custom role, retired ones included."""
    return [custom_role_out(rc, row) for row in custom_roles(rc)]


def all_roles(rc: Rolecall) -> list[RoleOut]:
    plugin = [role_out(rc, r, custom=False) for r in rc.registry.roles.values()]
    return plugin + custom_roles_out(rc)


@route(
    "GET",
    "/plugins",
    response=PluginList,
    query=PageQuery,
    summary="The loaded plugins: version, origin, hooks, contributions, errors",
    authorization=STAFF,
    tag="catalogue",
)
def list_plugins(caller: str, query: PageQuery) -> PluginList:
    rc = service()
    require_staff(rc, caller)
    items = [PluginOut(**info.as_dict()) for info in rc.plugins.plugins]
    page = paginate(query, items, lambda p: (p.name, p.module), name="plugins", width=2)
    return PluginList(items=page.items, next_cursor=page.next_cursor)


@route(
    "GET",
    "/permissions",
    response=PermissionList,
    query=PermissionsQuery,
    summary="The registered permissions",
    authorization=STAFF,
    tag="catalogue",
    example_query={"plugin": "platform"},
)
def list_permissions(caller: str, query: PermissionsQuery) -> PermissionList:
    rc = service()
    require_staff(rc, caller)
    registry = rc.registry
    if query.plugin is not None and rc.plugins.info(query.plugin) is None:
        raise not_found(f"no plugin named {query.plugin!r}")
    items = [
        PermissionOut(
            id=p.id,
            title=p.title,
            description=p.description,
            area=p.area,
            scope_types=list(p.scope_types),
            implies=list(p.implies),
            implies_closed=sorted(registry.implied[p.id] - {p.id}),
            risks=sorted(r.value for r in p.risks),
            plugin=registry.origin[f"permission:{p.id}"],
        )
        for p in registry.permissions.values()
        if query.plugin is None or registry.origin[f"permission:{p.id}"] == query.plugin
    ]
    page = paginate(query, items, lambda p: (p.id,), name="permissions")
    return PermissionList(items=page.items, next_cursor=page.next_cursor)


@route(
    "GET",
    "/roles",
    response=RoleList,
    query=PageQuery,
    summary="Every role: the plugins' and the custom ones",
    authorization=STAFF,
    tag="catalogue",
)
def list_roles(caller: str, query: PageQuery) -> RoleList:
    rc = service()
    require_staff(rc, caller)
    page = paginate(query, all_roles(rc), lambda r: (r.id,), name="roles")
    return RoleList(items=page.items, next_cursor=page.next_cursor)


@route(
    "GET",
    "/roles/<role_id>",
    response=RoleDetail,
    summary="One role (by id or legacy name) and every permission it holds",
    authorization=STAFF,
    tag="catalogue",
    example_path={"role_id": "course_staff"},
)
def get_role(caller: str, role_id: str) -> RoleDetail:
    rc = service()
    require_staff(rc, caller)
    custom = {c.role.id: c for c in custom_roles(rc)}
    registry = rc.registry
    if role_id in custom:
        row = custom[role_id]
        out = custom_role_out(rc, row)
        closed = row.permissions
    elif registry.aliases.get(role_id, role_id) in registry.roles:
        role = registry.role(role_id)
        out = role_out(rc, role, custom=False)
        closed = registry.role_permissions[role.id]
    else:
        raise not_found(f"no role {role_id!r}")
    return RoleDetail(**out.model_dump(), closed_permissions=sorted(closed))


@route(
    "GET",
    "/scope-types",
    response=ScopeTypeList,
    query=PageQuery,
    summary="The scope types: key namespace, pattern and example",
    authorization=STAFF,
    tag="catalogue",
)
def list_scope_types(caller: str, query: PageQuery) -> ScopeTypeList:
    rc = service()
    require_staff(rc, caller)
    items = [
        ScopeTypeOut(
            id=t.id,
            title=t.title,
            description=t.description,
            namespace=t.namespace,
            pattern=t.pattern,
            example=t.example,
            plugin=rc.registry.origin[f"scope_type:{t.id}"],
        )
        for t in rc.registry.scope_types.values()
    ]
    page = paginate(query, items, lambda t: (t.id,), name="scope-types")
    return ScopeTypeList(items=page.items, next_cursor=page.next_cursor)
