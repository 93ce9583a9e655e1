"""Assignments: list and search them, grant, revoke, and bulk operations.

Changes are made as the caller (``as_user``), so the delegation rules and their guards decide;
a refusal is a 403 whose message is the refusal's own words.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rolecall.core.governance.bulk import BulkResult
from rolecall.core.reads import (
    AssignmentRow,
    find_assignment,
    find_grant,
    list_assignments,
    require_revision,
)

from .. import authz
from ..context import service
from .catalogue import require_staff
from .errors import changing, forbidden, not_found
from .routes import route
from .schemas import (
    AssignmentCreate,
    AssignmentList,
    AssignmentOut,
    AssignmentsQuery,
    AssignmentWritten,
    BulkIn,
    Revoked,
    RevokeQuery,
)

COURSE = "course-v1:MITx+6.002x+2026_T1"

LIST_RULE = (
    "Anyone holding a role somewhere. The listing holds only the assignments the caller may "
    "see: those on scopes whose team it may view, and its own; the filters narrow that."
)
CHANGE_RULE = (
    "The delegation rules, as the caller: a rule must let a role the caller holds on the scope "
    "(or above) assign/revoke this role, and every guard must pass (no escalation, last admin, "
    "own admin role, sensitive roles, lower scope)."
)


def assignment_out(row: AssignmentRow) -> AssignmentOut:
    now = datetime.now(UTC)
    return AssignmentOut(
        id=row.id,
        user=row.user,
        email=row.email,
        display_name=row.display_name,
        role=row.role,
        scope=row.scope,
        granted_by=row.granted_by,
        granted_at=row.granted_at,
        expires_at=row.expires_at,
        reason=row.reason,
        expired=row.expires_at is not None and row.expires_at <= now,
    )


@route(
    "GET",
    "/assignments",
    response=AssignmentList,
    query=AssignmentsQuery,
    summary="Assignments, filtered, searched and sorted, a page at a time",
    authorization=LIST_RULE,
    tag="assignments",
    example_query={"scope": COURSE, "sort": "user", "limit": 2},
)
def get_assignments(caller: str, query: AssignmentsQuery) -> AssignmentList:
    rc = service()
    require_staff(rc, caller)
    revision = require_revision(rc, query.at_least)
    page = list_assignments(
        rc,
        user=query.user,
        role=query.role,
        scope=query.scope,
        scope_type=query.scope_type,
        org=query.org,
        q=query.q,
        who=query.who,
        granted_by=query.granted_by,
        scope_text=query.scope_text,
        seen=authz.assignments_seen_by(rc, caller),
        sort=query.sort,
        limit=query.limit,
        cursor=query.cursor,
    )
    return AssignmentList(
        items=[assignment_out(r) for r in page.items],
        next_cursor=page.next_cursor,
        revision=revision,
    )


@route(
    "POST",
    "/assignments",
    response=AssignmentWritten,
    body=AssignmentCreate,
    status=201,
    summary="Grant a role to a user on a scope (201; 200 when it was already held)",
    authorization=CHANGE_RULE,
    tag="assignments",
    example_body={"user": "ada", "role": "course_staff", "scope": COURSE, "reason": "new term"},
)
def post_assignment(caller: str, body: AssignmentCreate) -> tuple[AssignmentWritten, int]:
    rc = service()
    changing(body.scope)
    before = find_grant(rc, body.user, body.role, body.scope)
    revision = rc.assign(
        body.user,
        body.role,
        body.scope,
        as_user=caller,
        reason=body.reason,
        expires_at=body.expires_at,
        known_only=True,
    )
    after = find_grant(rc, body.user, body.role, body.scope)
    changed = after is not None and after != before
    written = AssignmentWritten(
        assignment=assignment_out(after) if after else None, changed=changed, revision=revision
    )
    return written, 201 if changed else 200


@route(
    "DELETE",
    "/assignments/<int:grant_id>",
    response=Revoked,
    query=RevokeQuery,
    summary="Revoke an assignment, by its id",
    authorization=CHANGE_RULE + " Anyone may leave a non-admin role of their own.",
    tag="assignments",
    example_path={"grant_id": 1},
)
def delete_assignment(caller: str, grant_id: int, query: RevokeQuery) -> Revoked:
    rc = service()
    row = find_assignment(rc, grant_id)
    if row is None:
        raise not_found(f"no assignment {grant_id}")
    if row.user != caller and not authz.can_view_team(rc, caller, row.scope):
        raise forbidden(f"assignment {grant_id} is on a scope whose team {caller} may not view")
    changing(row.scope)
    revision = rc.revoke(row.user, row.role, row.scope, as_user=caller, reason=query.reason)
    return Revoked(id=grant_id, revision=revision)


@route(
    "POST",
    "/assignments/bulk",
    response=BulkResult,
    body=BulkIn,
    summary="One role to (or from) many users on many scopes, with a result per row",
    authorization="Anyone holding a role somewhere may ask; the delegation rules decide each "
    "row (status not_allowed with the refusal; unknown_scope for a scope nobody created, "
    'with "did you mean" when a known key differs only in case). All or nothing unless '
    "partial; dry_run writes nothing and adds the what-if impact.",
    tag="assignments",
    example_body={
        "action": "assign",
        "role": "course_auditor",
        "users": ["ada", "grace@example.org"],
        "scopes": [COURSE, "course-v1:MITx+*"],
        "dry_run": True,
    },
)
def post_bulk(caller: str, body: BulkIn) -> BulkResult:
    rc = service()
    require_staff(rc, caller)
    result = rc.bulk(
        body.action,
        body.role,
        body.users,
        body.scopes,
        as_user=caller,
        dry_run=body.dry_run,
        partial=body.partial,
        reason=body.reason,
        expires_at=body.expires_at,
        known_only=True,
    )
    return authz.bulk_seen_by(rc, caller, result)
