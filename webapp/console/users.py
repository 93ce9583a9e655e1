"""The user page at ``/console/users/<username>``: every role on every scope, assigned there or
inherited and from where, with what it allows; change or remove an assigned role where the
delegation rules would accept it from the viewer; and the lookup the wizard's script uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from rolecall.core import BadInputError, GrantInfo, Role, Rolecall
from rolecall.core.reads import restrictions, scope_hit, user_hit

from .. import authz
from . import blueprint
from .common import all_roles, allow, rc, role_areas, split_names, viewer
from .scopes import change_as, remove_as

ACCESS_LIMIT = 1000


def offers(
    service: Rolecall, me: str, person: str, grants: list[GrantInfo]
) -> dict[tuple[str, str], list[Role]]:
    """(role, scope) of each of ``person``'s ``grants`` that ``me`` may remove -> the roles
    ``me`` may give in its place there (a change needs both). The same decisions as the
    guarded writes make (:mod:`rolecall.core.governance.delegation`), which still decide."""
    # Yes or no only: offering an action needs no list of who could make it instead.
    deciding = service.delegation()
    defined = service.registry.roles
    out: dict[tuple[str, str], list[Role]] = {}
    kinds: dict[str, list[Role]] = {}
    for grant in grants:
        definition = defined.get(grant.role)
        try:
            refused = deciding.may_revoke(
                me,
                person,
                grant.role,
                grant.scope,
                is_admin=bool(definition and definition.admin),
                revocable_by=definition.revocable_by if definition else (),
                name_others=False,
            )
        except BadInputError:
            continue  # a scope type whose plugin is gone
        if refused is not None:
            continue
        kind = service.registry.scopes.resolve(grant.scope).type
        if kind not in kinds:
            kinds[kind] = all_roles(service, assignable_at=kind)
        out[(grant.role, grant.scope)] = [
            role
            for role in kinds[kind]
            if role.id != grant.role and deciding.allows_assign(me, role.id, grant.scope, person)
        ]
    return out


def locked_for(
    service: Rolecall,
    person: str,
    grants: list[GrantInfo],
    areas: dict[str, list[tuple[str, list[Any], list[Any]]]],
) -> dict[tuple[str, str], dict[str, str]]:
    """(role, scope) of each grant on or below a lock -> {permission its role gives that a lock
    denies ``person`` there: the locked scope}, so the page does not say the role "can" do it."""
    locked_scopes = {r.scope for r in restrictions(service)}
    out: dict[tuple[str, str], dict[str, str]] = {}
    if not locked_scopes:
        return out
    for grant in grants:
        try:
            chain = service.registry.scopes.resolve(grant.scope).chain
        except BadInputError:
            continue
        if locked_scopes.isdisjoint(chain):
            continue
        denied: dict[str, str] = {}
        for _, can, _ in areas.get(grant.role, []):
            for permission in can:
                try:
                    decision = service.explain(person, permission.id, grant.scope)
                except BadInputError:
                    continue
                if decision.denied_by is not None:
                    denied[permission.id] = decision.denied_by.scope
        out[(grant.role, grant.scope)] = denied
    return out


def _seen_grant(username: str) -> tuple[Rolecall, str, str, str]:
    """The service, the viewer, and the (role, scope) of the form, refused with 403 unless
    the viewer may see ``username``'s roles on that scope."""
    service, me = rc(), viewer()
    sees: Callable[[str], bool] | None = authz.access_seen_by(service, me, username)
    role, scope = request.form.get("role", ""), request.form.get("scope", "")
    allow(
        sees is not None and bool(scope) and sees(scope),
        f"Changing a role of {username} on {scope or 'a scope'} takes seeing its team, and you "
        "may not.",
        scope or None,
    )
    return service, me, role, scope


@blueprint.get("/users/<username>")
def user(username: str) -> str:
    service, me = rc(), viewer()
    sees = authz.access_seen_by(service, me, username)
    allow(
        sees is not None,
        f"Seeing the roles of {username} takes the view-team permission of a scope where they "
        "hold one, or of the platform, and you hold none of these.",
    )
    assert sees is not None
    hit = user_hit(service, username)
    if hit is None or hit.username != username:
        abort(404, description=f"There is no user {username!r}.")
    grants = [g for g in service.grants(username) if sees(g.scope)]
    entries = [e for e in service.access(username) if sees(e.scope)]
    roles = sorted({g.role for g in grants})
    areas = {role: role_areas(service, role) for role in roles}
    return render_template(
        "console/user.html",
        person=hit,
        grants=grants,
        offers=offers(service, me, username, grants),
        entries=entries[:ACCESS_LIMIT],
        more=len(entries) > ACCESS_LIMIT,
        scopes={e.scope: scope_hit(service, e.scope) for e in entries[:ACCESS_LIMIT]}
        | {g.scope: scope_hit(service, g.scope) for g in grants},
        areas=areas,
        locked=locked_for(service, username, grants, areas),
        viewable={
            key
            for key in {g.scope for g in grants} | {e.scope for e in entries[:ACCESS_LIMIT]}
            if authz.can_view_team(service, me, key)
        },
    )


@blueprint.post("/users/<username>/remove")
def remove_grant(username: str) -> Response:
    service, me, role, scope = _seen_grant(username)
    remove_as(service, me, username, role, scope)
    return redirect(url_for("console.user", username=username))


@blueprint.post("/users/<username>/change")
def change_grant(username: str) -> Response:
    """A new role in place of the old on one scope, in one change (as on the scope page)."""
    service, me, role, scope = _seen_grant(username)
    change_as(service, me, username, role, request.form.get("new_role", ""), scope)
    return redirect(url_for("console.user", username=username))


@blueprint.get("/users/lookup")
def lookup() -> Response:
    """Which of ``names`` are known users (for validating as you type)."""
    service = rc()
    out = []
    for name in split_names(request.args.get("names", ""))[:200]:
        hit = user_hit(service, name)
        out.append(
            {
                "name": name,
                "username": hit.username if hit else None,
                "display_name": hit.display_name if hit else None,
                "active": bool(hit and hit.active),
            }
        )
    return jsonify(out)
