"""The user page at ``/console/users/<username>``: every role on every scope, assigned there or
inherited and from where, with what it allows; and the lookup the wizard's script uses."""

from __future__ import annotations

from flask import abort, jsonify, render_template, request
from werkzeug.wrappers import Response

from rolecall.core.reads import scope_hit, user_hit

from .. import authz
from . import blueprint
from .common import allow, rc, role_areas, split_names, viewer

ACCESS_LIMIT = 1000


@blueprint.get("/users/<username>")
def user(username: str) -> str:
    service, me = rc(), viewer()
    sees = authz.access_seen_by(service, me, username)
    allow(sees is not None)
    assert sees is not None
    hit = user_hit(service, username)
    if hit is None or hit.username != username:
        abort(404, description=f"There is no user {username!r}.")
    grants = [g for g in service.grants(username) if sees(g.scope)]
    entries = [e for e in service.access(username) if sees(e.scope)]
    roles = sorted({g.role for g in grants})
    return render_template(
        "console/user.html",
        person=hit,
        grants=grants,
        entries=entries[:ACCESS_LIMIT],
        more=len(entries) > ACCESS_LIMIT,
        scopes={e.scope: scope_hit(service, e.scope) for e in entries[:ACCESS_LIMIT]}
        | {g.scope: scope_hit(service, g.scope) for g in grants},
        areas={role: role_areas(service, role) for role in roles},
        viewable={
            key
            for key in {g.scope for g in grants} | {e.scope for e in entries[:ACCESS_LIMIT]}
            if authz.can_view_team(service, me, key)
        },
    )


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
