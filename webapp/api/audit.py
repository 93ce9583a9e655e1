"""The audit log and history (who had which access at a past moment)."""

from __future__ import annotations

from rolecall.core.governance.history import access_at, who_had_access
from rolecall.core.reads import list_audit, require_revision

from .. import authz
from ..context import service
from .errors import ApiError, forbidden
from .pagination import paginate
from .routes import route
from .schemas import AuditList, AuditQuery, HistoryOut, HistoryQuery
from .teams import split_team

COURSE = "course-v1:MITx+6.002x+2026_T1"


@route(
    "GET",
    "/audit",
    response=AuditList,
    query=AuditQuery,
    summary="Audit events, newest first, filtered by user, scope, time and action",
    authorization="console.view_audit_log; or, with scope=S, the view-team permission on S "
    "(the events recorded on S itself).",
    tag="audit",
    example_query={"scope": COURSE, "action": "assign"},
)
def get_audit(caller: str, query: AuditQuery) -> AuditList:
    rc = service()
    allowed = authz.can_view_audit(rc, caller) or (
        query.scope is not None and authz.can_view_team(rc, caller, query.scope)
    )
    if not allowed:
        raise forbidden(
            f"{caller} may not read the audit log: it takes {authz.VIEW_AUDIT_LOG}, or the "
            "view-team permission on the scope= filter"
        )
    require_revision(rc, query.at_least)
    page = list_audit(
        rc,
        user=query.user,
        scope=query.scope,
        since=query.since,
        action=query.action,
        sort=query.sort,
        limit=query.limit,
        cursor=query.cursor,
    )
    return AuditList(items=page.items, next_cursor=page.next_cursor)


@route(
    "GET",
    "/history",
    response=HistoryOut,
    query=HistoryQuery,
    summary="The access of a user, or the team of a scope, at a past moment",
    authorization="console.view_audit_log; or, for scope=S, the view-team permission on S "
    "now; or, for user=U, being U.",
    tag="audit",
    example_query={"scope": COURSE, "at": "2026-03-01T12:00:00Z"},
)
def get_history(caller: str, query: HistoryQuery) -> HistoryOut:
    rc = service()
    if (query.user is None) == (query.scope is None):
        raise ApiError(400, "bad_input", "give exactly one of user= and scope=")
    auditor = authz.can_view_audit(rc, caller)
    if query.scope is not None:
        if not (auditor or authz.can_view_team(rc, caller, query.scope)):
            raise forbidden(f"{caller} may not view the history of {query.scope}")
        team = who_had_access(rc, query.scope, query.at)
        members, inherited, cursor = split_team(query, team.members, team.inherited, name="history")
        return HistoryOut(
            at=query.at,
            user=None,
            scope=team.scope,
            items=[],
            members=members,
            inherited=inherited,
            next_cursor=cursor,
        )
    assert query.user is not None
    if not (auditor or query.user == caller):
        raise forbidden(f"{caller} may not view the history of {query.user}")
    entries = access_at(rc, query.user, query.at)
    page = paginate(
        query, entries, lambda e: (e.scope, e.role, e.via), name="history-access", width=3
    )
    return HistoryOut(
        at=query.at,
        user=query.user,
        scope=None,
        items=page.items,
        members=[],
        inherited=[],
        next_cursor=page.next_cursor,
    )
