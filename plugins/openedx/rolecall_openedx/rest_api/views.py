"""The ``/api/authz/v1/`` views of the admin console, answered by rolecall.

Who may call: every endpoint needs a signed-in user (401 otherwise, as openedx-authz answers
through its JWT authentication class). The scope endpoints (``roles/``, ``roles/users/``) need
the scope type's team permission at the scope to read (``courses.view_course_team``,
``content_libraries.view_library_team``) and its manage permission to change
(``courses.manage_course_team``, ``content_libraries.manage_library_team``), else 403; the
listings (``assignments/``, ``users/<username>/assignments/``, ``orgs/``, ``scopes/``) need a
team permission somewhere and show only what the caller may see: an assignment on a scope whose
team the caller may view. Every decision is rolecall's check; Django's ``is_staff`` and
``is_superuser`` grant nothing here (rolecall's platform administrator is a visible role).

A scope endpoint parses and validates its request once (:class:`ScopeView`), before anything
is decided: the query string for GET and DELETE (a body is never read), the body for PUT. A
missing or malformed scope is a 400 then; the permission is decided on exactly the scopes the
handler acts on, so one request cannot be decided on one scope and act on another.

Changes are made as the calling user (``as_user``): rolecall's delegation rules and guards
decide each row, and a refused row is answered ``role_assignment_error`` or
``role_removal_error`` with nothing written for it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from rolecall.core import BadInputError, GrantInfo, NotAllowedError, Rolecall, RolecallError
from rolecall.core.governance.bulk import glob_of
from rolecall.core.reads import VIEW_PLATFORM_TEAM, allows, may_view_teams, team_permission

from .. import catalogue
from ..backends import username_of
from ..service import get_rolecall
from ..settings import course_authoring_flags
from . import serializers as s

log = logging.getLogger(__name__)

COURSE, LIBRARY = "course", "library"
MANAGE = {COURSE: "courses.manage_course_team", LIBRARY: "content_libraries.manage_library_team"}
"""The permission that lets a caller change a team through these endpoints, by scope type."""
VIEW_ANYWHERE = ("content_libraries.view_library_team", "courses.view_course_team")
MANAGE_ANYWHERE = (MANAGE[LIBRARY], MANAGE[COURSE])


# ------------------------------------------------------------------ authentication, paging


class SessionWith401(SessionAuthentication):
    """The platform's session, answering 401 to a request without one (as openedx-authz's
    views do, their first authentication class being JWT)."""

    def authenticate_header(self, request: Request) -> str:
        return 'Session realm="api"'


def _authentication() -> list[type]:
    """JWT and session, as openedx-authz's views take them, where edx-drf-extensions is
    installed (in LMS and Studio it always is); the session alone elsewhere."""
    try:
        from edx_rest_framework_extensions.auth.jwt.authentication import JwtAuthentication
        from edx_rest_framework_extensions.auth.session.authentication import (
            SessionAuthenticationAllowInactiveUser,
        )
    except ImportError:
        return [SessionWith401]
    return [JwtAuthentication, SessionAuthenticationAllowInactiveUser]


class Pages(PageNumberPagination):
    """``page`` and ``page_size`` (10 by default, at most 100), as openedx-authz pages."""

    page_size = 10
    page_size_query_param = "page_size"
    max_page_size = 100


class ConsoleView(APIView):
    authentication_classes = _authentication()

    def paged(self, rows: list[Any]) -> Response:
        pages = Pages()
        page = pages.paginate_queryset(rows, self.request, self)  # type: ignore[arg-type,var-annotated]
        return pages.get_paginated_response(page)


# ------------------------------------------------------------------ rolecall's answers


def _live(rc: Rolecall, user: str) -> list[GrantInfo]:
    with rc.reading() as index:
        if user not in index.users:
            return []
        return [g for g in index.grants_of(user) if not g.expired]


def _every_live_grant(rc: Rolecall) -> Iterator[GrantInfo]:
    with rc.reading() as index:
        grants = [g for user in index.users for g in index.grants_of(user) if not g.expired]
    yield from grants


def _role_permissions(rc: Rolecall, role: str) -> frozenset[str]:
    with rc.reading() as index:
        try:
            return index.role_permissions(role)
        except (BadInputError, KeyError):
            return frozenset()


def _place(rc: Rolecall, raw: object) -> tuple[str, str] | None:
    """(key, type) of a scope key rolecall reads, else None."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        scope = rc.registry.scopes.resolve(raw)
    except BadInputError:
        return None
    return scope.key, scope.type


def org_of(rc: Rolecall, scope: str) -> str:
    """The org a scope belongs to (``MITx``); ``*`` for the platform, ``""`` for none."""
    if scope == "platform":
        return "*"
    try:
        chain = rc.registry.scopes.chain(scope)
    except BadInputError:
        return ""
    return next((k.removeprefix("org:") for k in chain if k.startswith("org:")), "")


def _team_permission(rc: Rolecall, scope: str) -> tuple[str, str]:
    """(permission, where) to view the team of ``scope``: its type's team permission there,
    or, for a type declaring none (or a key rolecall cannot place), the platform team's."""
    try:
        return team_permission(rc.registry, scope)
    except BadInputError:
        return VIEW_PLATFORM_TEAM, "platform"


def visible_scopes(rc: Rolecall, viewer: str, scopes: Iterable[str]) -> set[str]:
    """The scopes among ``scopes`` whose team ``viewer`` may view (one batch of checks)."""
    seen = may_view_teams(rc, viewer, set(scopes), unplaced=True)
    return {scope for scope, yes in seen.items() if yes}


def holds_anywhere(rc: Rolecall, user: str, permissions: Iterable[str]) -> bool:
    """Whether one of the user's live grants gives one of ``permissions``."""
    wanted = set(permissions)
    return any(wanted & _role_permissions(rc, g.role) for g in _live(rc, user))


def _roles_at(rc: Rolecall, kind: str) -> list[str]:
    """The roles that may be assigned on a scope of type ``kind``, plugins' then custom ones."""
    with rc.reading() as index:
        custom = [r for r in index.custom_roles.values() if r.id not in index.retired_roles]
    roles = [*rc.registry.roles.values(), *custom]
    return [r.id for r in roles if kind in r.scope_types]


# ------------------------------------------------------------------ the platform's users

User = get_user_model()


def _full_name(user: Any) -> str:
    """The name openedx-authz shows: the platform profile's, else Django's first and last."""
    profile = getattr(user, "profile", None)
    if profile is not None:
        return str(getattr(profile, "name", "") or "")
    return str(user.get_full_name() or "")


def _platform_user(identifier: str) -> Any | None:
    """The platform user with this username or e-mail (not one being retired), else None."""
    found = list(User.objects.filter(Q(email=identifier) | Q(username=identifier))[:2])
    if len(found) != 1:
        return None
    if hasattr(found[0], "userretirementrequest"):
        return None
    return found[0]


def _user_map(usernames: Iterable[str], *, active_only: bool) -> dict[str, Any]:
    users = User.objects.filter(username__in=set(usernames))
    if active_only:
        users = users.filter(is_active=True)
    return {u.get_username(): u for u in users}


def _sorted(rows: list[dict[str, Any]], key: str, order: str) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: str(r.get(key) or "").lower(), reverse=order == "desc")


def _search(rows: list[dict[str, Any]], text: str | None) -> list[dict[str, Any]]:
    if not text:
        return rows
    fields = ("username", "full_name", "email")
    return [r for r in rows if any(text in str(r.get(f) or "").lower() for f in fields)]


# ------------------------------------------------------------------ one parsed request

BODY_METHODS = frozenset({"PUT", "POST", "PATCH"})


def _glob(rc: Rolecall, raw: str) -> tuple[str, str] | None:
    """(``org:ORG``, type) of an org-wide glob of a served type (``course-v1:ORG+*``,
    ``lib:ORG:*``: every course or library of the org), else None."""
    found = glob_of(raw, rc.registry)
    return found if found is not None and found[1] in MANAGE else None


class Target:
    """One scope a request acts on: its key as sent, rolecall's key and the served type, and
    whether it is an org-wide glob (then ``key`` is the org)."""

    __slots__ = ("glob", "key", "kind", "raw")

    def __init__(self, raw: str, key: str, kind: str, *, glob: bool) -> None:
        self.raw, self.key, self.kind, self.glob = raw, key, kind, glob


def _target(rc: Rolecall, raw: str, *, globs: bool) -> Target | None:
    place = _place(rc, raw)
    if place is not None:
        return Target(raw, place[0], place[1], glob=False) if place[1] in MANAGE else None
    found = _glob(rc, raw) if globs else None
    return Target(raw, found[0], found[1], glob=True) if found is not None else None


def parse(request: Request, form: type[Any], *, field: str) -> tuple[dict[str, Any], list[Target]]:
    """The request's parameters, validated once, and the scopes it acts on: from the body for
    PUT, from the query string otherwise (a body sent with GET or DELETE is never read, so it
    cannot name a scope other than the one acted on). A missing or malformed scope is a 400
    before anything is decided: the key's form says nothing about anyone's access. ``field``
    names the field a malformed scope is reported under (openedx-authz's answers)."""
    source = request.data if request.method in BODY_METHODS else request.query_params
    if not hasattr(source, "get"):
        raise ValidationError({"non_field_errors": ["Expected an object."]})
    body = form(data=source)
    body.is_valid(raise_exception=True)
    data = dict(body.validated_data)
    raws = data["scopes"] if data.get("scopes") else [data["scope"]]
    rc = get_rolecall()
    targets = []
    for raw in raws:
        found = _target(rc, raw, globs=request.method != "GET")
        if found is None:
            raise ValidationError({field: [f"Invalid scope format: '{raw}'"]})
        targets.append(found)
    return data, targets


class ScopeView(ConsoleView):
    """An endpoint acting on one scope (or a list of them, for PUT): the request is parsed
    once (:func:`parse`), and :class:`OnScope` and the handler read that one result."""

    forms: dict[str, type[Any]] = {}
    """The parameters' serializer of each method."""
    _parsed: tuple[dict[str, Any], list[Target]] | None = None

    def parsed(self) -> tuple[dict[str, Any], list[Target]]:
        if self._parsed is None:
            method = self.request.method or "GET"
            # Where openedx-authz reports a malformed scope: a listing's ``scope`` field, a
            # change's validation as a whole.
            field = "scope" if method == "GET" else "non_field_errors"
            self._parsed = parse(self.request, self.forms[method], field=field)
        return self._parsed


# ------------------------------------------------------------------ who may call


def _may(rc: Rolecall, user: str, permission: str, target: Target) -> bool:
    if target.glob:
        try:
            return rc.check_throughout(user, permission, target.key, target.kind)
        except BadInputError:
            return False
    return allows(rc, user, permission, target.key)


class OnScope(BasePermission):
    """The caller holds, at every scope the request acts on (as :meth:`ScopeView.parsed`
    reads it), the scope type's team permission to read or its manage permission to change;
    at an org-wide glob, throughout the org. Only course and library scopes are served, as
    openedx-authz serves them."""

    def has_permission(self, request: Request, view: Any) -> bool:
        viewer = username_of(request.user)
        if viewer is None:
            return False
        _, targets = view.parsed()
        rc = get_rolecall()
        read = request.method == "GET"
        for target in targets:
            permission = _team_permission(rc, target.key)[0] if read else MANAGE[target.kind]
            if not _may(rc, viewer, permission, target):
                return False
        return True


def somewhere(read: tuple[str, ...], write: tuple[str, ...] = ()) -> type[BasePermission]:
    """The caller holds one of the permissions (``read`` for GET, ``write`` otherwise) in
    some scope."""

    class Somewhere(BasePermission):
        def has_permission(self, request: Request, view: Any) -> bool:
            viewer = username_of(request.user)
            wanted = read if request.method == "GET" else write
            return viewer is not None and holds_anywhere(get_rolecall(), viewer, wanted)

    return Somewhere


# ------------------------------------------------------------------ the endpoints


def _allowed(rc: Rolecall, me: str | None, action: str, scope: str) -> bool | None:
    """Whether ``me`` may do ``action`` at ``scope``: a scope key, an org-wide glob
    (throughout the org, for its type) or ``*`` / ``global:...`` (throughout the platform, for
    every type the permission applies to); None for a key rolecall cannot read."""
    if me is None:
        return False
    if scope == "*" or scope.startswith("global:"):
        known = rc.registry.permissions.get(action)
        kinds = known.scope_types if known is not None else ()
        return any(rc.check_throughout(me, action, "platform", kind) for kind in kinds)
    place = _place(rc, scope)
    if place is not None:
        return allows(rc, me, action, place[0])
    found = _glob(rc, scope)
    if found is None:
        return None
    org, kind = found
    try:
        allowed = rc.check_throughout(me, action, org, kind)
    except BadInputError:  # an unknown action allows nothing
        return False
    if allowed and action == MANAGE.get(kind):
        # Managing the team of every course of the org through the glob is a grant on the
        # org: say yes only when the delegation rules let the caller give some role of the
        # type there, as PUT roles/users/ would (a course admin of the whole org manages each
        # course's team, but an org-wide grant is an org admin's).
        delegation = rc.delegation()
        derived = rc.registry.derived_roles
        return any(
            delegation.allows_assign(me, role, org)
            for role in _roles_at(rc, kind)
            if role not in derived
        )
    return allowed


class PermissionValidationMeView(ConsoleView):
    """POST ``[{"action", "scope"?}, ...]``: whether the caller holds each permission at the
    scope (an org-wide glob: throughout the org; without a scope: at some scope). Each item
    is answered on its own: a scope rolecall cannot read is that item's ``error``, not the
    batch's."""

    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        asked = s.PermissionQuery(data=request.data, many=True)
        asked.is_valid(raise_exception=True)
        rc = get_rolecall()
        me = username_of(request.user)
        answers = []
        for item in asked.validated_data:
            action, scope = item["action"], item.get("scope")
            if scope:
                allowed = _allowed(rc, me, action, scope)
                answer = {"action": action, "scope": scope, "allowed": bool(allowed)}
                if allowed is None:
                    answer["error"] = "Invalid scope format"
                answers.append(answer)
            else:
                allowed = me is not None and holds_anywhere(rc, me, [action])
                answers.append({"action": action, "allowed": allowed})
        return Response(answers)


def _role_error(rc: Rolecall, role: str, scope: str, kind: str) -> str | None:
    if role not in _roles_at(rc, kind):
        return f"Role '{role}' does not exist in scope '{scope}'"
    return None


class RolePages(Pages):
    """The roles of a scope type in one page at the console's default request (it reads page
    1 only): rolecall's course roles are more than openedx-authz's default page of 10."""

    page_size = 100


class RoleListView(ScopeView):
    """GET ``?scope=``: the roles an admin can assign there (no derived role: nobody is given
    one), each with its permissions and how many users hold it on that scope."""

    permission_classes = [IsAuthenticated, OnScope]
    forms = {"GET": s.ScopeQuery}

    def get(self, request: Request) -> Response:
        _, (target,) = self.parsed()
        rc = get_rolecall()
        holders: dict[str, set[str]] = {}
        for member in rc.who(target.key).members:
            for g in member.grants:
                if g.scope == target.key and not g.expired:
                    holders.setdefault(g.role, set()).add(g.user)
        derived = rc.registry.derived_roles
        rows = [
            {
                "role": role,
                "permissions": sorted(_role_permissions(rc, role)),
                "user_count": len(holders.get(role, ())),
            }
            for role in _roles_at(rc, target.kind)
            if role not in derived
        ]
        pages = RolePages()
        page = pages.paginate_queryset(rows, request, self)  # type: ignore[arg-type,var-annotated]
        return pages.get_paginated_response(page)


class RoleUserView(ScopeView):
    """GET the team of a scope; PUT users into a role there (or throughout an org, with an
    org-wide glob); DELETE them from it."""

    permission_classes = [IsAuthenticated, OnScope]
    forms = {"GET": s.TeamQuery, "PUT": s.AssignBody, "DELETE": s.RemoveQuery}

    def get(self, request: Request) -> Response:
        params, (target,) = self.parsed()
        rc = get_rolecall()
        roles: dict[str, list[str]] = {}
        for member in rc.who(target.key).members:
            for g in member.grants:
                if g.scope == target.key and not g.expired:
                    roles.setdefault(g.user, []).append(g.role)
        users = _user_map(roles, active_only=False)
        rows = []
        for name, held in roles.items():
            user = users.get(name)
            profile = getattr(user, "profile", None) if user is not None else None
            rows.append(
                {
                    "username": name,
                    "full_name": str(getattr(profile, "name", "") or "") if profile else "",
                    "email": (user.email or "") if user is not None else "",
                    "roles": held,
                }
            )
        wanted = params["roles"]
        if wanted:
            rows = [r for r in rows if any(role in r["roles"] for role in wanted)]
        rows = _sorted(_search(rows, params["search"]), params["sort_by"], params["order"])
        return self.paged(rows)

    def _checked(self, rc: Rolecall, role: str, targets: list[Target]) -> Response | None:
        """The 400 for a scope nobody created or a role the scope's type does not have (asked
        only of a caller who may manage every one of the scopes)."""
        for target in targets:
            # A well-formed key of a scope nobody created (rolecall does not know it and the
            # platform's course list does not have it) does not exist either: granting on it
            # would make an empty scope other admins then see.
            if rc.unknown_scope(target.key) is not None:
                return Response(
                    {"non_field_errors": [f"Scope '{target.raw}' does not exist"]}, status=400
                )
            problem = _role_error(rc, role, target.raw, target.kind)
            if problem:
                return Response({"non_field_errors": [problem]}, status=400)
        return None

    def put(self, request: Request) -> Response:
        data, targets = self.parsed()
        rc = get_rolecall()
        role = data["role"]
        refused = self._checked(rc, role, targets)
        if refused is not None:
            return refused
        me = username_of(request.user)
        completed: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for target in targets:
            for identifier in data["users"]:
                row: dict[str, Any] = {"user_identifier": identifier}
                if data["bulk"]:
                    row["scope"] = target.raw
                outcome = _assign(rc, me, identifier, role, target.key)
                (completed if outcome == "role_added" else errors).append(
                    {**row, "status" if outcome == "role_added" else "error": outcome}
                )
        return Response({"completed": completed, "errors": errors}, status=207)

    def delete(self, request: Request) -> Response:
        data, (target,) = self.parsed()
        rc = get_rolecall()
        refused = self._checked(rc, data["role"], [target])
        if refused is not None:
            return refused
        me = username_of(request.user)
        completed: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for identifier in data["users"]:
            outcome = _remove(rc, me, identifier, data["role"], target.key)
            key = "status" if outcome == "role_removed" else "error"
            (completed if key == "status" else errors).append(
                {"user_identifier": identifier, key: outcome}
            )
        return Response({"completed": completed, "errors": errors}, status=207)


def _assign(rc: Rolecall, me: str | None, identifier: str, role: str, scope: str) -> str:
    user = _platform_user(identifier)
    if user is None:
        return "user_not_found"
    name = user.get_username()
    if any(g.role == role and g.scope == scope for g in _live(rc, name)):
        return "user_already_has_role"
    try:
        with rc.reading() as index:
            known = name in index.users
        if not known:
            # The platform owns its users: one met here for the first time is recorded (which
            # grants nothing, and stays if the grant is refused); the grant is the caller's.
            email, display = user.email or None, _full_name(user) or None
            rc.add_user(name, email=email, display_name=display, actor=me)
        rc.assign(name, role, scope, as_user=me, known_only=True)
    except (NotAllowedError, RolecallError) as exc:
        log.info("rolecall refused %s %s on %s as %s: %s", name, role, scope, me, exc)
        return "role_assignment_error"
    return "role_added"


def _remove(rc: Rolecall, me: str | None, identifier: str, role: str, scope: str) -> str:
    user = _platform_user(identifier)
    if user is None:
        return "user_not_found"
    name = user.get_username()
    if not any(g.role == role and g.scope == scope for g in _live(rc, name)):
        return "user_does_not_have_role"
    try:
        rc.revoke(name, role, scope, as_user=me)
    except (NotAllowedError, RolecallError) as exc:
        log.info("rolecall refused removing %s %s on %s as %s: %s", name, role, scope, me, exc)
        return "role_removal_error"
    return "role_removed"


class ValidationThrottle(SimpleRateThrottle):
    """At most ``ROLECALL_USER_VALIDATION_RATE`` (default ``60/min``) calls of
    ``users/validate/`` per caller: the endpoint answers whether a username or e-mail exists
    on the platform, which a team manager needs for the wizard but not by the thousand."""

    scope = "rolecall_user_validation"

    def get_rate(self) -> str:
        return str(getattr(settings, "ROLECALL_USER_VALIDATION_RATE", "60/min"))

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class UserValidationView(ConsoleView):
    """POST ``{"users": [...]}``: which usernames or e-mails name active platform users. Who
    may ask is what openedx-authz allows: a holder of a team's manage permission somewhere
    (``courses.manage_course_team`` or ``content_libraries.manage_library_team``), throttled
    (:class:`ValidationThrottle`)."""

    permission_classes = [IsAuthenticated, somewhere(read=(), write=MANAGE_ANYWHERE)]
    throttle_classes = [ValidationThrottle]

    def post(self, request: Request) -> Response:
        body = s.UsersBody(data=request.data)
        body.is_valid(raise_exception=True)
        users = body.validated_data["users"]
        valid: list[str] = []
        invalid: list[str] = []
        for identifier in users:
            user = _platform_user(identifier)
            (valid if user is not None and user.is_active else invalid).append(identifier)
        return Response(
            {
                "valid_users": valid,
                "invalid_users": invalid,
                "summary": {
                    "total": len(users),
                    "valid_count": len(valid),
                    "invalid_count": len(invalid),
                },
            }
        )


def console_scope(rc: Rolecall, grant: GrantInfo) -> str:
    """The scope of a grant as the admin console names it: an org-level grant of a course or
    library role is that type's org-wide glob (``course-v1:ORG+*``, ``lib:ORG:*``), as
    openedx-authz records such an assignment; any other grant its own key."""
    if not grant.scope.startswith("org:"):
        return grant.scope
    kinds = [k for k in MANAGE if k in _role_scope_types(rc, grant.role)]
    pattern = rc.registry.scope_types[kinds[0]].org_wildcard if len(kinds) == 1 else None
    if not pattern:
        return grant.scope
    return pattern.replace("{org}", grant.scope.removeprefix("org:"))


def _role_scope_types(rc: Rolecall, role: str) -> tuple[str, ...]:
    try:
        return tuple(rc.role(role).scope_types)
    except (BadInputError, KeyError):
        return ()


def _assignment_row(rc: Rolecall, grant: GrantInfo) -> dict[str, Any]:
    return {
        "is_superadmin": False,
        "role": grant.role,
        "org": org_of(rc, grant.scope),
        "scope": console_scope(rc, grant),
        "permission_count": len(_role_permissions(rc, grant.role)),
    }


def _filtered(
    rc: Rolecall,
    grants: Iterable[GrantInfo],
    *,
    viewer: str,
    orgs: list[str],
    roles: list[str],
    scopes: Sequence[str] = (),
) -> list[GrantInfo]:
    rows = [
        g
        for g in grants
        if (not scopes or g.scope in scopes)
        and (not roles or g.role in roles)
        and (not orgs or org_of(rc, g.scope) in orgs)
    ]
    seen = visible_scopes(rc, viewer, (g.scope for g in rows))
    return [g for g in rows if g.scope in seen]


def _visible_grants(
    rc: Rolecall, request: Request, params: dict[str, Any], *, roles: list[str]
) -> list[GrantInfo]:
    """Every live grant the caller may see, in the listing's ``orgs`` and ``scopes``."""
    return _filtered(
        rc,
        _every_live_grant(rc),
        viewer=username_of(request.user) or "",
        orgs=params["orgs"],
        roles=roles,
        scopes=params["scopes"],
    )


class UserAssignmentsView(ConsoleView):
    """GET the assignments of one user that the caller may see."""

    permission_classes = [IsAuthenticated, somewhere(read=VIEW_ANYWHERE)]

    def get(self, request: Request, username: str) -> Response:
        query = s.UserAssignmentsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        rc = get_rolecall()
        viewer = username_of(request.user) or ""
        grants: list[GrantInfo] = []
        if _user_map([username], active_only=True):
            grants = _filtered(
                rc, _live(rc, username), viewer=viewer, orgs=params["orgs"], roles=params["roles"]
            )
        rows = [_assignment_row(rc, g) for g in grants]
        return self.paged(_sorted(rows, params["sort_by"], params["order"]))


class AssignmentsView(ConsoleView):
    """GET every assignment the caller may see, with its holder."""

    permission_classes = [IsAuthenticated, somewhere(read=VIEW_ANYWHERE)]

    def get(self, request: Request) -> Response:
        query = s.AssignmentsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        rc = get_rolecall()
        grants = _visible_grants(rc, request, params, roles=params["roles"])
        users = _user_map((g.user for g in grants), active_only=True)
        rows = []
        for g in grants:
            user = users.get(g.user)
            if user is None:
                continue
            rows.append(
                {
                    **_assignment_row(rc, g),
                    "full_name": user.get_full_name() or "",
                    "username": g.user,
                    "email": user.email or "",
                }
            )
        rows = _sorted(_search(rows, params["search"]), params["sort_by"], params["order"])
        return self.paged(rows)


class TeamMembersView(ConsoleView):
    """GET the users holding an assignment the caller may see (optionally on ``scopes`` or
    in ``orgs``), each with how many such assignments they hold, as newer openedx-authz's
    ``users/`` answers."""

    permission_classes = [IsAuthenticated, somewhere(read=VIEW_ANYWHERE)]

    def get(self, request: Request) -> Response:
        query = s.TeamMembersQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        rc = get_rolecall()
        grants = _visible_grants(rc, request, params, roles=[])
        counts: dict[str, int] = {}
        for g in grants:
            counts[g.user] = counts.get(g.user, 0) + 1
        users = _user_map(counts, active_only=True)
        rows = [
            {
                "username": name,
                "full_name": users[name].get_full_name() or "",
                "email": users[name].email or "",
                "assignation_count": count,
            }
            for name, count in counts.items()
            if name in users
        ]
        rows = _sorted(_search(rows, params["search"]), params["sort_by"], params["order"])
        return self.paged(rows)


class WaffleFlagStatesView(ConsoleView):
    """GET whether the admin console shows course authoring, as newer openedx-authz answers
    from its course-authoring waffle flag: ``global`` and the orgs and courses forced ``on``
    or ``off``. rolecall answers every course, so the default is on everywhere; the setting
    ``ROLECALL_COURSE_AUTHORING`` (see :mod:`rolecall_openedx.settings`) changes it."""

    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response(course_authoring_flags())


# ------------------------------------------------------------------ orgs and scopes


def _organizations() -> dict[str, dict[str, Any]] | None:
    """The platform's active organizations by short name, serialised as edx-organizations
    serialises them; None where that app is not installed."""
    if not apps.is_installed("organizations"):
        return None
    from organizations.models import Organization
    from organizations.serializers import OrganizationSerializer

    found = Organization.objects.filter(active=True).order_by("name")
    return {o.short_name: OrganizationSerializer(o).data for o in found}


def _org_record(short_name: str) -> dict[str, Any]:
    """An org rolecall knows, in the shape of edx-organizations' serializer (no platform
    organization record to read it from)."""
    return {
        "id": None,
        "created": None,
        "modified": None,
        "name": short_name,
        "short_name": short_name,
        "description": "",
        "logo": None,
        "active": True,
    }


def _known(rc: Rolecall) -> list[tuple[str, str, str | None]]:
    """(key, type, title) of every scope rolecall knows."""
    from rolecall.core.reads.lookup import known_scopes

    return [(h.key, h.type, h.title) for h in known_scopes(rc)]


class OrgsView(ConsoleView):
    """GET ``?search=``: the orgs of the scopes the caller holds roles on (every org for a
    role on the platform)."""

    permission_classes = [IsAuthenticated, somewhere(read=VIEW_ANYWHERE)]

    def get(self, request: Request) -> Response:
        rc = get_rolecall()
        viewer = username_of(request.user) or ""
        platform = _organizations()
        if platform is None:
            names = {org_of(rc, key) for key, _, _ in _known(rc)} - {"", "*"}
            platform = {n: _org_record(n) for n in sorted(names)}
        held = {org_of(rc, g.scope) for g in _live(rc, viewer)}
        rows = [o for n, o in platform.items() if "*" in held or n in held]
        for term in request.query_params.get("search", "").replace(",", " ").split():
            low = term.lower()
            rows = [o for o in rows if low in o["name"].lower() or low in o["short_name"].lower()]
        return self.paged(rows)


class ScopesView(ConsoleView):
    """GET the courses and libraries whose team the caller may view (with
    ``management_permission_only=true``: may manage), ordered by org, type and name."""

    permission_classes = [IsAuthenticated, somewhere(read=VIEW_ANYWHERE)]

    def get(self, request: Request) -> Response:
        query = s.ScopesQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        rc = get_rolecall()
        viewer = username_of(request.user) or ""
        candidates: dict[str, tuple[str, str, str, str]] = {}  # key: (kind, name, org, id)
        for key, title, org in catalogue.courses():
            place = _place(rc, key)
            if place is not None:
                candidates[place[0]] = (COURSE, title, org, place[0])
        for key, kind, known_title in _known(rc):
            if kind in MANAGE and key not in candidates:
                sort_id = key.rsplit(":", 1)[-1] if kind == LIBRARY else key
                candidates[key] = (kind, known_title or "", org_of(rc, key), sort_id)
        wanted_type = params["scope_type"]
        orgs = set(params["orgs"]) | ({params["org"]} if params.get("org") else set())
        search = params["search"].lower()
        keys = [
            k
            for k, (kind, title, org, _) in candidates.items()
            if (wanted_type is None or kind == wanted_type)
            and (not orgs or org in orgs)
            and (not search or search in title.lower())
        ]
        keys = _allowed_scopes(rc, viewer, keys, manage=params["management_permission_only"])
        platform = _organizations()
        rows = []
        for key in sorted(keys, key=lambda k: _scope_order(candidates[k])):
            kind, title, org, _ = candidates[key]
            record = platform.get(org) if platform is not None else _org_record(org)
            rows.append({"external_key": key, "display_name": title, "org": record})
        return self.paged(rows)


def _scope_order(candidate: tuple[str, str, str, str]) -> tuple[str, str, str, str]:
    kind, title, org, sort_id = candidate
    return org, kind, title, sort_id


def _allowed_scopes(rc: Rolecall, viewer: str, keys: list[str], *, manage: bool) -> list[str]:
    if not manage:
        seen = visible_scopes(rc, viewer, keys)
        return [k for k in keys if k in seen]
    asks: list[tuple[str, str, str]] = []
    for key in keys:
        place = _place(rc, key)
        if place is not None:
            asks.append((viewer, MANAGE[place[1]], key))
    try:
        answers = rc.check_many(asks)
    except BadInputError:
        return []
    return [ask[2] for ask, yes in zip(asks, answers, strict=True) if yes]
