"""The home page: the scopes the viewer holds roles on, and search over users, courses and
libraries, both narrowed by resource type and scope level."""

from __future__ import annotations

from typing import cast

from flask import render_template, request

from rolecall.core.reads import LEVELS, RESOURCES, Level, Resource, managed_scopes, search

from .. import authz
from . import blueprint
from .common import rc, viewer

MANAGED_LIMIT = 200


def _choice(name: str, allowed: tuple[str, ...]) -> str:
    value = request.args.get(name, "all")
    return value if value in allowed else "all"


@blueprint.get("/")
def home() -> str:
    service, user = rc(), viewer()
    resource = cast(Resource, _choice("resource", RESOURCES))
    level = cast(Level, _choice("level", LEVELS))
    query = request.args.get("q", "").strip()[:200]
    found = search(service, query, resource=resource, level=level) if query else None
    mine = managed_scopes(service, user, resource=resource, level=level, limit=MANAGED_LIMIT + 1)
    visible = {m.scope.key for m in mine if authz.can_view_team(service, user, m.scope.key)}
    if found is not None:
        visible |= {s.key for s in found.scopes if authz.can_view_team(service, user, s.key)}
    may_view_users = authz.can_view_user(service, user, "")
    return render_template(
        "console/home.html",
        query=query,
        resource=resource,
        level=level,
        found=found,
        mine=mine[:MANAGED_LIMIT],
        more_mine=len(mine) > MANAGED_LIMIT,
        visible=visible,
        may_view_users=may_view_users,
        filtered=resource != "all" or level != "all",
    )
