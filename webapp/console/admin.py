"""The plugins installed, and restrictions (lock a course, unlock it)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from rolecall.core import BadInputError
from rolecall.core.governance import NotAllowedError
from rolecall.core.reads import dormant, known_scopes, restrictions

from .. import authz
from . import blueprint
from .common import all_roles, allow, rc, viewer

ALL = "*"


@blueprint.get("/plugins")
def plugins() -> str:
    service = rc()
    # Dormant rows name users and scopes anywhere: only the platform team's viewers see them.
    waiting = dormant(service) if authz.can_view_team(service, viewer(), "platform") else []
    return render_template("console/plugins.html", plugins=service.plugins.plugins, dormant=waiting)


def _render_restrictions(
    form: dict[str, object], errors: list[str], status: int = 200
) -> tuple[str, int]:
    service = rc()
    return render_template(
        "console/restrictions.html",
        restrictions=restrictions(service),
        form=form,
        errors=errors,
        permissions=list(service.registry.permissions.values()),
        roles=all_roles(service),
        scopes=[s for s in known_scopes(service) if s.type != "platform"][:500],
    ), status


RESTRICTERS = (
    f"Locking and unlocking scopes takes {authz.MANAGE_RESTRICTIONS} on the platform, and you "
    "do not hold it.",
    "platform",
    authz.MANAGE_RESTRICTIONS,
)
"""Why the restrictions page is refused, where to look for who can help, and what they could
give."""


@blueprint.get("/restrictions")
def restrictions_page() -> tuple[str, int]:
    allow(authz.can_manage_restrictions(rc(), viewer()), *RESTRICTERS)
    return _render_restrictions({"permissions": [], "exempt": []}, [])


@blueprint.post("/restrictions")
def restrict() -> Response | tuple[str, int]:
    service, user = rc(), viewer()
    allow(authz.can_manage_restrictions(service, user), *RESTRICTERS)
    form: dict[str, object] = {
        "scope": request.form.get("scope", "").strip(),
        "permissions": request.form.getlist("permission"),
        "exempt": request.form.getlist("exempt"),
        "reason": request.form.get("reason", "").strip()[:1000],
        "everything": request.form.get("everything") == "1",
    }
    chosen = [ALL] if form["everything"] else list(form["permissions"])  # type: ignore[call-overload]
    if not form["scope"]:
        return _render_restrictions(form, ["Choose the scope to lock."], 422)
    if not chosen:
        return _render_restrictions(form, ["Choose what to deny, or everything."], 422)
    try:
        service.restrict(
            str(form["scope"]),
            chosen,
            exempt_roles=list(form["exempt"]),  # type: ignore[call-overload]
            reason=str(form["reason"]) or None,
            as_user=user,
        )
    except (BadInputError, NotAllowedError) as exc:
        return _render_restrictions(form, [f"{exc}."], 422)
    flash(f"{form['scope']} is locked.", "success")
    return redirect(url_for("console.restrictions_page"))


@blueprint.post("/restrictions/remove")
def unrestrict() -> Response:
    service, user = rc(), viewer()
    allow(authz.can_manage_restrictions(service, user), *RESTRICTERS)
    scope = request.form.get("scope", "")
    try:
        service.unrestrict(scope, as_user=user)
    except (BadInputError, NotAllowedError) as exc:
        flash(f"Nothing was unlocked: {exc}.", "error")
    else:
        flash(f"{scope} is unlocked.", "success")
    return redirect(url_for("console.restrictions_page"))
