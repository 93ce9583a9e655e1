"""The scope page, deep-linkable at ``/console/scopes/<key>``: the team (add members, change a
role, remove), the other users with access from the org and the platform, and a way back to
Studio. Both lists are paged (``?team=N``, ``?others=N``), so an org with thousands of staff
opens as fast as a course. ``?permission=P`` answers "who can do P here, and why": each user
allowed, with the grants that give it and where they are held, paged (``?can=N``), each
linking to its explanation (``/console/explain``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from rolecall.core import BadInputError, Decision, Rolecall, TeamMember
from rolecall.core.governance import NotAllowedError
from rolecall.core.reads import restrictions, scope_hit

from .. import authz
from . import blueprint
from .common import all_roles, allow, parse_expiry, rc, split_names, viewer

MAX_TEXT = 1000
PAGE_SIZE = 50
"""Users shown per page of the team and of the other users with access."""


@dataclass(frozen=True)
class Listing:
    """One page of a list of users, each with their grants, and what the whole list holds."""

    rows: Sequence[Any]
    users: int
    grants: int
    page: int
    pages: int
    param: str
    """The query parameter that carries this list's page number."""

    @property
    def first(self) -> int:
        return (self.page - 1) * PAGE_SIZE + 1 if self.users else 0

    @property
    def last(self) -> int:
        return min(self.page * PAGE_SIZE, self.users)

    def href(self, page: int) -> str:
        """This page's address with page ``page`` of this list (the other lists' kept)."""
        values: dict[str, Any] = {**(request.view_args or {}), **request.args.to_dict()}
        values[self.param] = str(page)
        return url_for(str(request.endpoint), **values)


def page_number(param: str) -> int:
    text = request.args.get(param, "1")
    return int(text) if text.isdigit() and 0 < len(text) < 9 else 1


def by_user(members: Sequence[TeamMember]) -> list[TeamMember]:
    """One entry per user, by username, with their grants from every ancestor (nearest
    first)."""
    grants: dict[str, list[Any]] = {}
    for member in members:
        grants.setdefault(member.user, []).extend(member.grants)
    return [
        TeamMember.model_construct(user=user, grants=tuple(found))
        for user, found in sorted(grants.items())
    ]


def listing(members: Sequence[Any], param: str, *, count_grants: bool = True) -> Listing:
    """The page of ``members`` asked for in ``param`` (the last one when past the end)."""
    pages = max(1, -(-len(members) // PAGE_SIZE))
    page = min(max(1, page_number(param)), pages)
    start = (page - 1) * PAGE_SIZE
    return Listing(
        rows=members[start : start + PAGE_SIZE],
        users=len(members),
        grants=sum(len(m.grants) for m in members) if count_grants else 0,
        page=page,
        pages=pages,
        param=param,
    )


def _scope_or_404(key: str) -> Any:
    try:
        return scope_hit(rc(), key)
    except BadInputError as exc:
        abort(404, description=f"{key!r} is not a scope key: {exc}")


def studio_link(key: str, kind: str) -> str | None:
    template = current_app.config.get("ROLECALL_STUDIO_URL")
    if not template or kind != "course":
        return None
    return str(template).replace("{key}", key)


def refusal_words(exc: NotAllowedError, scope: str | None = None) -> str:
    """A refusal in words: why, and who could make the change instead, naming only the users
    the viewer may be told hold a role on ``scope`` (the change's, when known) or above it."""
    refusal = authz.refusal_seen_by(rc(), viewer(), exc.refusal, scope)
    text = refusal.message[:1].upper() + refusal.message[1:] + "."
    if refusal.could:
        text += f" It could be done by: {', '.join(refusal.could)}."
    return text


def allow_team(key: str) -> None:
    """403 unless the viewer may view ``key``'s team; the page says which permission it takes
    and who can help."""
    service = rc()
    permission, where = authz.team_view_permission(service, key)
    found = service.registry.permissions.get(permission)
    title = found.title if found is not None else permission
    allowed = authz.can_view_team(service, viewer(), key)
    allow(
        allowed,
        why=f"Seeing the team of {key} takes “{title}” ({permission}) on {where} or above it, "
        "and you do not hold it there.",
        scope=key,
        permission=permission if where == key else None,
        # a mistyped key (another case, one character off): the scopes the viewer may see
        suggestions=[] if allowed else authz.scope_suggestions(service, viewer(), key),
    )


def team_actions(
    key: str, team: Any, roles: list[Any]
) -> tuple[list[Any], dict[tuple[str, str], dict[str, Any]]]:
    """(the roles the viewer may add here, {(member, role): {"remove": bool, "change": [roles
    it may give instead]}}): the buttons shown are those the delegation rules and guards would
    accept now (the service decides each change again)."""
    service, user = rc(), viewer()
    delegation = service.delegation()
    addable = [r for r in roles if delegation.allows_assign(user, r.id, key)]
    actions: dict[tuple[str, str], dict[str, Any]] = {}
    for member in team.members:
        for grant in member.grants:
            try:
                definition = service.role(grant.role)
                admin, revocable_by = definition.admin, definition.revocable_by
            except BadInputError:  # a role whose plugin is gone: removable by the rules
                admin, revocable_by = False, ()
            refusal = delegation.may_revoke(
                user,
                member.user,
                grant.role,
                key,
                is_admin=admin,
                revocable_by=revocable_by,
                name_others=False,
            )
            removable = refusal is None
            change = [r for r in addable if r.id != grant.role] if removable else []
            actions[(member.user, grant.role)] = {"remove": removable, "change": change}
    return addable, actions


@dataclass(frozen=True)
class Allowed:
    """One user allowed the asked permission here, and why (the engine's explanation)."""

    user: str
    decision: Decision

    @property
    def grants(self) -> tuple[Any, ...]:
        return self.decision.contributions


@dataclass(frozen=True)
class WhoCan:
    """The answer to "who can do ``permission`` here?": a page of the users allowed, each with
    the grants that give it; ``exempt``, the roles a lock on the scope denying it spares."""

    permission: Any
    users: Listing
    not_listed: tuple[str, ...]
    exempt: frozenset[str] | None
    kinds: dict[str, str]
    """The scope type of each grant's scope on the page (course, org, platform...)."""


def permissions_at(service: Rolecall, kind: str) -> list[Any]:
    """The permissions that mean something on a scope of type ``kind``, by area then title."""
    found = [p for p in service.registry.permissions.values() if kind in p.scope_types]
    return sorted(found, key=lambda p: (p.area, p.title, p.id))


def who_can_here(service: Rolecall, key: str, permission: Any, restriction: Any) -> WhoCan:
    """Who may do ``permission`` at ``key`` (restrictions included, as :meth:`Rolecall.who_can`
    decides), a page of them explained."""
    users = listing(service.who_can(permission.id, key), "can", count_grants=False)
    rows = [Allowed(user, service.explain(user, permission.id, key)) for user in users.rows]
    kinds = {
        c.grant.scope: service.registry.scopes.resolve(c.grant.scope).type
        for row in rows
        for c in row.grants
    }
    exempt = None
    if restriction is not None and (
        permission.id in restriction.permissions or "*" in restriction.permissions
    ):
        exempt = frozenset(restriction.exempt_roles)
    return WhoCan(
        permission=permission,
        users=Listing(
            rows=rows,
            users=users.users,
            grants=0,
            page=users.page,
            pages=users.pages,
            param=users.param,
        ),
        not_listed=service.not_listed(key, permission.id),
        exempt=exempt,
        kinds=kinds,
    )


def still_allowed(team: Any, restriction: Any) -> list[tuple[str, Any]]:
    """(user, grant) for each live grant on the scope or above it whose role a lock exempts:
    who the lock still lets act, and why."""
    exempt = set(restriction.exempt_roles)
    return [
        (member.user, grant)
        for member in (*team.members, *team.inherited)
        for grant in member.grants
        if grant.role in exempt and not grant.expired
    ]


def render_scope(
    key: str,
    *,
    form: dict[str, str] | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    service, user = rc(), viewer()
    scope = _scope_or_404(key)
    allow_team(scope.key)
    chain = service.registry.scopes.resolve(scope.key).chain
    ancestors = [scope_hit(service, k) for k in reversed(chain[1:])]
    viewable = {a.key for a in ancestors if authz.can_view_team(service, user, a.key)}
    unknown = service.unknown_scope(scope.key)
    if unknown is not None:
        body = render_template(
            "console/scope_unknown.html",
            scope=scope,
            ancestors=ancestors,
            viewable=viewable,
            suggestions=authz.scope_suggestions(service, user, scope.key),
            can_create=authz.can_add_scope(service, user, scope.key),
            errors=errors or [],
        )
        return body, 404 if status == 200 else status
    team = service.who(scope.key)
    restriction = next((r for r in restrictions(service) if r.scope in chain), None)
    roles = all_roles(service, assignable_at=scope.type)
    addable, actions = team_actions(scope.key, team, roles)
    offered = permissions_at(service, scope.type)
    asked = request.args.get("permission", "").strip()[:MAX_TEXT]
    chosen = next((p for p in offered if p.id == asked), None)
    can = who_can_here(service, scope.key, chosen, restriction) if chosen else None
    exempt = still_allowed(team, restriction) if restriction is not None else []
    body = render_template(
        "console/scope.html",
        scope=scope,
        team=team,
        members=listing(team.members, "team"),
        others=listing(by_user(team.inherited), "others"),
        ancestors=ancestors,
        roles=addable,
        actions=actions,
        restriction=restriction,
        exempt=exempt[:PAGE_SIZE],
        exempt_count=len(exempt),
        permissions=offered,
        asked=asked,
        can=can,
        studio=studio_link(scope.key, scope.type),
        form=form or {},
        errors=errors or [],
        viewable=viewable,
    )
    return body, status


@blueprint.get("/scopes/<path:key>")
def scope(key: str) -> tuple[str, int]:
    return render_scope(key)


@blueprint.get("/explain")
def explain() -> str:
    """Why ``user`` may or may not do ``permission`` at ``scope``: the engine's explanation,
    for the user themselves or for a viewer of the scope's team (as ``GET /api/v1/explain``);
    its closest misses name grants elsewhere only on scopes whose team the viewer may view."""
    service, me = rc(), viewer()
    asked = {
        name: request.args.get(name, "").strip()[:MAX_TEXT]
        for name in ("user", "permission", "scope")
    }
    decision = None
    error = None
    if all(asked.values()):
        hit = _scope_or_404(asked["scope"])
        if asked["user"] != me:
            allow_team(hit.key)
        try:
            decision = service.explain(asked["user"], asked["permission"], hit.key)
        except BadInputError as exc:
            error = str(exc)[:1].upper() + str(exc)[1:] + "."
        else:
            decision = authz.decision_seen_by(service, me, decision)
    elif any(asked.values()):
        error = "Give a user, a permission and a scope."
    return render_template(
        "console/explain.html",
        asked=asked,
        decision=decision,
        error=error,
        may_view=authz.can_view_team(service, me, decision.scope) if decision else False,
    )


@blueprint.post("/scopes/<path:key>/members")
def add_members(key: str) -> Response | tuple[str, int]:
    service, user = rc(), viewer()
    scope = _scope_or_404(key)
    allow_team(scope.key)
    form = {
        name: request.form.get(name, "")[: MAX_TEXT * 10]
        for name in ("users", "role", "expires", "reason")
    }
    names = split_names(form["users"])
    errors: list[str] = []
    if not names:
        errors.append("Give at least one username or e-mail address.")
    if not form["role"]:
        errors.append("Choose a role.")
    expires = None
    try:
        expires = parse_expiry(form["expires"])
    except BadInputError as exc:
        errors.append(str(exc)[:1].upper() + str(exc)[1:] + ".")
    if errors:
        return render_scope(scope.key, form=form, errors=errors, status=422)
    try:
        result = service.bulk(
            "assign",
            form["role"],
            names,
            [scope.key],
            as_user=user,
            reason=form["reason"].strip()[:MAX_TEXT] or None,
            expires_at=expires,
            known_only=True,
        )
    except NotAllowedError as exc:
        return render_scope(
            scope.key, form=form, errors=[refusal_words(exc, scope.key)], status=403
        )
    except BadInputError as exc:
        return render_scope(scope.key, form=form, errors=[f"{exc}."], status=422)
    failed = result.failed
    if failed:
        errors = [f"{row.user}: {row.message or row.status.replace('_', ' ')}" for row in failed]
        errors.insert(0, "Nothing was changed. Fix these and try again:")
        return render_scope(scope.key, form=form, errors=errors, status=422)
    added = [r.user for r in result.rows if r.status == "ok"]
    already = [r.user for r in result.rows if r.status == "already_has_role"]
    title = service.role(result.role).title
    if added:
        flash(f"{title} ({result.role}) given to {', '.join(added)}.", "success")
    if already:
        flash(f"{', '.join(already)} already held {title} here: unchanged.", "info")
    return redirect(url_for("console.scope", key=scope.key))


@blueprint.post("/scopes/<path:key>/create")
def create_scope(key: str) -> Response:
    """Record a scope rolecall and the platform do not know yet, so roles can be given on it:
    it takes ``platform.add_scopes`` there (platform admins, org admins in their org)."""
    service, user = rc(), viewer()
    scope = _scope_or_404(key)
    title = request.form.get("title", "").strip()[:MAX_TEXT] or None
    try:
        service.add_scopes([(scope.key, title)], as_user=user)
    except NotAllowedError as exc:
        flash(f"{scope.key} was not created: {refusal_words(exc, scope.key)}", "error")
    except BadInputError as exc:
        flash(f"{scope.key} was not created: {exc}.", "error")
    else:
        flash(f"{scope.key} created: roles can now be given on it.", "success")
    return redirect(url_for("console.scope", key=scope.key))


@blueprint.post("/scopes/<path:key>/remove")
def remove_member(key: str) -> Response:
    service, user = rc(), viewer()
    scope = _scope_or_404(key)
    allow_team(scope.key)
    member, role = request.form.get("user", ""), request.form.get("role", "")
    remove_as(service, user, member, role, scope.key)
    return redirect(url_for("console.scope", key=scope.key))


def remove_as(service: Rolecall, viewer: str, member: str, role: str, scope: str) -> None:
    """Remove ``role`` from ``member`` on ``scope`` as ``viewer`` (the guarded write decides),
    saying in a flash message what happened (the scope page's and the user page's Remove)."""
    try:
        service.revoke(member, role, scope, as_user=viewer)
    except NotAllowedError as exc:
        flash(f"{member} keeps {role}: {refusal_words(exc, scope)}", "error")
    except BadInputError as exc:
        flash(f"Nothing was removed: {exc}.", "error")
    else:
        flash(f"{role} removed from {member} on {scope}.", "success")


def change_as(service: Rolecall, viewer: str, member: str, old: str, new: str, scope: str) -> None:
    """``new`` in place of ``old`` for ``member`` on ``scope``, in one change made as
    ``viewer``, saying what happened (the scope page's and the user page's Change)."""
    if not new or new == old:
        flash(f"Choose a different role for {member} on {scope}.", "error")
        return
    try:
        service.change_role(member, old, new, scope, as_user=viewer)
    except NotAllowedError as exc:
        flash(f"{member} keeps {old}: {refusal_words(exc, scope)}", "error")
    except BadInputError as exc:
        flash(f"Nothing was changed: {exc}.", "error")
    else:
        flash(f"{member} now holds {new} instead of {old} on {scope}.", "success")


@blueprint.post("/scopes/<path:key>/change")
def change_role(key: str) -> Response:
    """A new role in place of the old, in one change: a refusal of either the grant or the
    removal leaves the member as they were."""
    service, user = rc(), viewer()
    scope = _scope_or_404(key)
    allow_team(scope.key)
    member = request.form.get("user", "")
    old, new = request.form.get("role", ""), request.form.get("new_role", "")
    change_as(service, user, member, old, new, scope.key)
    return redirect(url_for("console.scope", key=scope.key))
