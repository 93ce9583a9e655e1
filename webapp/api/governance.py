"""Custom roles, restrictions and delegation rules.

Custom roles and rules are changed as the caller: the service itself refuses anyone but the
admins it names (custom roles: platform or org admins; rules: platform admins). Restrictions
take ``platform.manage_restrictions`` on the platform.
"""

from __future__ import annotations

from rolecall.core import DelegationRule, Rolecall
from rolecall.core.reads import (
    RuleRow,
    delegation_rules,
    require_revision,
    restriction,
    restrictions,
)

from .. import authz
from ..context import service
from .catalogue import STAFF, custom_roles_out, require_staff
from .errors import forbidden, not_found
from .pagination import paginate
from .routes import route
from .schemas import (
    CustomRoleCreate,
    CustomRoleEdit,
    CustomRoleList,
    ListedQuery,
    RestrictionIn,
    RestrictionList,
    RestrictionWritten,
    Revision,
    RoleEdited,
    RoleOut,
    RoleWritten,
    RuleIn,
    RuleList,
    RuleOut,
    RuleWritten,
)

COURSE = "course-v1:MITx+6.002x+2026_T1"
ROLE_ADMINS = "Platform admins and org admins (the service refuses anyone else)."
RULE_ADMINS = "Platform admins (the service refuses anyone else)."
RESTRICTERS = "platform.manage_restrictions on the platform."


def _custom(rc: Rolecall, role_id: str) -> RoleOut | None:
    return next((out for out in custom_roles_out(rc) if out.id == role_id), None)


def _existing_custom(rc: Rolecall, role_id: str) -> RoleOut:
    found = _custom(rc, role_id)
    if found is None:
        raise not_found(f"no custom role {role_id!r}")
    return found


# ---------------------------------------------------------------------- custom roles


@route(
    "GET",
    "/custom-roles",
    response=CustomRoleList,
    query=ListedQuery,
    summary="The custom roles, retired ones included",
    authorization=STAFF,
    tag="custom roles",
)
def list_custom_roles(caller: str, query: ListedQuery) -> CustomRoleList:
    rc = service()
    require_staff(rc, caller)
    require_revision(rc, query.at_least)
    items = custom_roles_out(rc)
    page = paginate(query, items, lambda r: (r.id,), name="custom-roles")
    return CustomRoleList(items=page.items, next_cursor=page.next_cursor)


@route(
    "POST",
    "/custom-roles",
    response=RoleWritten,
    body=CustomRoleCreate,
    status=201,
    summary="Create a custom role from registered permissions",
    authorization=ROLE_ADMINS,
    tag="custom roles",
    example_body={
        "id": "tutor",
        "title": "Tutor",
        "description": "Sees the course and its team.",
        "scope_types": ["course"],
        "permissions": ["courses.view_course_team"],
        "base": "course_auditor",
    },
)
def post_custom_role(caller: str, body: CustomRoleCreate) -> RoleWritten:
    rc = service()
    revision = rc.create_role(
        body.id,
        title=body.title,
        description=body.description,
        scope_types=body.scope_types,
        permissions=body.permissions,
        base=body.base,
        as_user=caller,
    )
    return RoleWritten(role=_custom(rc, body.id), revision=revision)


@route(
    "PATCH",
    "/custom-roles/<role_id>",
    response=RoleEdited,
    body=CustomRoleEdit,
    summary="Add or remove permissions, or reword; says who gains and loses what",
    authorization=ROLE_ADMINS,
    tag="custom roles",
    example_path={"role_id": "tutor"},
    example_body={"add": ["courses.view_files"], "dry_run": True},
)
def patch_custom_role(caller: str, role_id: str, body: CustomRoleEdit) -> RoleEdited:
    rc = service()
    _existing_custom(rc, role_id)
    impact, revision = rc.edit_role(
        role_id,
        add=body.add,
        remove=body.remove,
        title=body.title,
        description=body.description,
        dry_run=body.dry_run,
        as_user=caller,
    )
    return RoleEdited(
        role=_custom(rc, role_id), impact=impact, dry_run=body.dry_run, revision=revision
    )


@route(
    "POST",
    "/custom-roles/<role_id>/retire",
    response=RoleWritten,
    summary="Retire a custom role: no new assignments, existing ones keep working",
    authorization=ROLE_ADMINS,
    tag="custom roles",
    example_path={"role_id": "tutor"},
)
def retire_custom_role(caller: str, role_id: str) -> RoleWritten:
    rc = service()
    _existing_custom(rc, role_id)
    revision = rc.retire_role(role_id, as_user=caller)
    return RoleWritten(role=_custom(rc, role_id), revision=revision)


@route(
    "DELETE",
    "/custom-roles/<role_id>",
    response=Revision,
    summary="Delete a custom role no one holds (a role in use can only be retired)",
    authorization=ROLE_ADMINS,
    tag="custom roles",
    example_path={"role_id": "tutor"},
)
def delete_custom_role(caller: str, role_id: str) -> Revision:
    rc = service()
    _existing_custom(rc, role_id)
    return Revision(revision=rc.delete_role(role_id, as_user=caller))


# ---------------------------------------------------------------------- restrictions


def _require_restricter(caller: str) -> None:
    if not authz.can_manage_restrictions(service(), caller):
        raise forbidden(
            f"{caller} may not manage restrictions: it takes {authz.MANAGE_RESTRICTIONS}"
        )


@route(
    "GET",
    "/restrictions",
    response=RestrictionList,
    query=ListedQuery,
    summary="Every restriction (an explicit deny at a scope and below)",
    authorization=RESTRICTERS,
    tag="restrictions",
)
def list_restrictions(caller: str, query: ListedQuery) -> RestrictionList:
    _require_restricter(caller)
    rc = service()
    require_revision(rc, query.at_least)
    page = paginate(query, restrictions(rc), lambda r: (r.scope,), name="restrictions")
    return RestrictionList(items=page.items, next_cursor=page.next_cursor)


@route(
    "POST",
    "/restrictions",
    response=RestrictionWritten,
    body=RestrictionIn,
    status=201,
    summary="Restrict a scope (replacing its restriction, if any)",
    authorization=RESTRICTERS,
    tag="restrictions",
    example_body={
        "scope": COURSE,
        "permissions": ["courses.publish_course_content"],
        "exempt_roles": ["course_admin"],
        "reason": "exam week",
    },
)
def post_restriction(caller: str, body: RestrictionIn) -> RestrictionWritten:
    _require_restricter(caller)
    rc = service()
    revision = rc.restrict(
        body.scope,
        body.permissions,
        exempt_roles=body.exempt_roles,
        reason=body.reason,
        as_user=caller,
    )
    return RestrictionWritten(restriction=restriction(rc, body.scope), revision=revision)


@route(
    "DELETE",
    "/restrictions/<path:key>",
    response=Revision,
    summary="Lift the restriction placed on a scope",
    authorization=RESTRICTERS,
    tag="restrictions",
    example_path={"key": COURSE},
)
def delete_restriction(caller: str, key: str) -> Revision:
    _require_restricter(caller)
    rc = service()
    if restriction(rc, key) is None:
        raise not_found(f"{key} has no restriction")
    return Revision(revision=rc.unrestrict(key, as_user=caller))


# ---------------------------------------------------------------------- delegation rules


def rule_out(row: RuleRow) -> RuleOut:
    rule = row.rule
    return RuleOut(
        id=rule.id,
        description=rule.description,
        holders=list(rule.holders),
        assign=list(rule.assign),
        revoke=list(rule.revoke),
        scope_types=list(rule.scope_types),
        source=row.source,
        enabled=row.enabled,
    )


def _rule(rule_id: str) -> RuleOut | None:
    found = [r for r in delegation_rules(service()) if r.rule.id == rule_id]
    return rule_out(found[0]) if found else None


@route(
    "GET",
    "/rules",
    response=RuleList,
    query=ListedQuery,
    summary="The delegation rules: the plugins' defaults and those set at run time",
    authorization=STAFF,
    tag="rules",
)
def list_rules(caller: str, query: ListedQuery) -> RuleList:
    rc = service()
    require_staff(rc, caller)
    require_revision(rc, query.at_least)
    items = [rule_out(r) for r in delegation_rules(rc)]
    page = paginate(query, items, lambda r: (r.id,), name="rules")
    return RuleList(items=page.items, next_cursor=page.next_cursor)


@route(
    "PUT",
    "/rules/<rule_id>",
    response=RuleWritten,
    body=RuleIn,
    summary="Add a delegation rule, or replace the one with this id",
    authorization=RULE_ADMINS,
    tag="rules",
    example_path={"rule_id": "course_admins_add_auditors"},
    example_body={
        "description": "Course admins add and remove auditors.",
        "holders": ["course_admin"],
        "assign": ["course_auditor"],
        "revoke": ["course_auditor"],
        "scope_types": ["course"],
    },
)
def put_rule(caller: str, rule_id: str, body: RuleIn) -> RuleWritten:
    rc = service()
    # A malformed id or a repeated name fails here as a ValidationError: a 422.
    rule = DelegationRule(id=rule_id, **body.model_dump())
    revision = rc.set_rule(rule, as_user=caller)
    return RuleWritten(rule=_rule(rule_id), revision=revision)


@route(
    "POST",
    "/rules/<rule_id>/disable",
    response=RuleWritten,
    summary="Switch a delegation rule off",
    authorization=RULE_ADMINS,
    tag="rules",
    example_path={"rule_id": "course_admins_manage_course_team"},
)
def disable_rule(caller: str, rule_id: str) -> RuleWritten:
    rc = service()
    current = _rule(rule_id)
    if current is None:
        raise not_found(f"no delegation rule {rule_id!r}")
    revision = rc.disable_rule(rule_id, as_user=caller)
    return RuleWritten(rule=_rule(rule_id), revision=revision)
