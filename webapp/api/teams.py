"""Teams of scopes and the access of users, from the engine's index."""

from __future__ import annotations

from rolecall.core import BadInputError, TeamMember
from rolecall.core.governance import guards
from rolecall.core.reads import require_revision

from .. import authz
from ..context import service
from .catalogue import require_staff
from .errors import forbidden, not_found
from .pagination import paginate
from .routes import route
from .schemas import AccessOut, ListedQuery, PageQuery, ScopeCreate, ScopeCreated, TeamOut

COURSE = "course-v1:MITx+6.002x+2026_T1"


def split_team(
    query: PageQuery,
    members: tuple[TeamMember, ...],
    inherited: tuple[TeamMember, ...],
    *,
    name: str,
) -> tuple[list[TeamMember], list[TeamMember], str | None]:
    """One page through the members, then the inherited users."""
    tagged = [("0", m) for m in members] + [("1", m) for m in inherited]
    page = paginate(query, tagged, lambda t: (t[0], t[1].user), name=name, width=2)
    return (
        [m for part, m in page.items if part == "0"],
        [m for part, m in page.items if part == "1"],
        page.next_cursor,
    )


@route(
    "POST",
    "/scopes",
    response=ScopeCreated,
    body=ScopeCreate,
    status=201,
    summary="Create a scope rolecall and the platform do not know yet, so roles can be given "
    "on it (201; 200 when it was known already)",
    authorization="platform.add_scopes on the scope (platform admins; org admins in their "
    "org), whether it is new or known already: a caller without it gets the same 403 either "
    "way. Grants made through the API take known scopes only: an unknown one is refused with "
    "unknown_scope until it is created here.",
    tag="teams",
    example_body={"key": "course-v1:MITx+8.01x+2027_T1", "title": "Physics I"},
)
def post_scope(caller: str, body: ScopeCreate) -> tuple[ScopeCreated, int]:
    rc = service()
    require_staff(rc, caller)
    key = rc.registry.scopes.resolve(body.key).key
    created = rc.unknown_scope(key) is not None
    if created:
        revision = rc.add_scopes([(key, body.title)], as_user=caller)
    else:
        # Known already: a caller who may not create it is refused as its creation would be
        # (the same 403, by the same guard), so it learns neither that the scope exists nor
        # its title.
        with rc.reading() as index:
            guards.adding_scopes(caller, [key])(index)
        revision = rc.revision
    with rc.reading() as index:
        title = index.scope_titles.get(key)
    out = ScopeCreated(
        key=key, type=authz.scope_type(rc, key), title=title, created=created, revision=revision
    )
    return out, 201 if created else 200


@route(
    "GET",
    "/scopes/<path:key>/team",
    response=TeamOut,
    query=ListedQuery,
    summary="A scope's team, and separately the users with access from higher scopes",
    authorization="The view-team permission on the scope (courses.view_course_team on a "
    "course, platform.view_org_team on an org, console.view_platform_team on the platform...).",
    tag="teams",
    example_path={"key": COURSE},
)
def get_team(caller: str, key: str, query: ListedQuery) -> TeamOut:
    rc = service()
    if not authz.can_view_team(rc, caller, key):
        raise forbidden(f"{caller} may not view the team of {key}")
    team = rc.who(key, at_least=query.at_least)
    members, inherited, cursor = split_team(query, team.members, team.inherited, name="team")
    return TeamOut(
        scope=team.scope,
        members=members,
        inherited=inherited,
        next_cursor=cursor,
        revision=rc.revision,
    )


@route(
    "GET",
    "/users/<username>/access",
    response=AccessOut,
    query=ListedQuery,
    summary="Every role a user holds on every known scope, and where it comes from",
    authorization="Your own: any caller. Anyone else's: console.view_platform_team, or the "
    "view-team permission of a scope where they hold a role (then only the scopes whose team "
    "the caller may view).",
    tag="teams",
    example_path={"username": "ada"},
)
def get_access(caller: str, username: str, query: ListedQuery) -> AccessOut:
    rc = service()
    sees = authz.access_seen_by(rc, caller, username)
    if sees is None:
        raise forbidden(f"{caller} may not view the access of {username}")
    revision = require_revision(rc, query.at_least)
    try:
        entries = [e for e in rc.access(username) if sees(e.scope)]
    except BadInputError as exc:
        raise not_found(str(exc)) from exc
    page = paginate(query, entries, lambda e: (e.scope, e.role, e.via), name="access", width=3)
    return AccessOut(
        user=username, items=page.items, next_cursor=page.next_cursor, revision=revision
    )
