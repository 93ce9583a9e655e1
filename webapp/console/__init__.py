"""The administrative console, mounted at ``/console``: server-rendered pages that work without
JavaScript (``static/console.js`` only adds conveniences).

Every request goes through :func:`guard`: anonymous visitors are sent to the sign-in page, a
signed-in user with no role anywhere gets the 403 page, and every POST must carry the session's
CSRF token. Each page then authorizes what it shows with :mod:`rolecall.webapp.authz` (deny by
default), and every change is made ``as_user=`` the viewer, so the delegation rules apply.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask.sansio.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from rolecall.core import StorageError

from .. import authz
from ..context import EXTENSION
from . import csrf
from .common import (
    PAGES,
    SESSIONS,
    THROTTLE,
    Refused,
    collect_pages,
    human_date,
    navigation,
    rc,
    role_title,
)

blueprint = Blueprint(
    "console",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

log = logging.getLogger("rolecall.webapp.console")

PUBLIC = frozenset({"console.login", "console.static"})


@blueprint.record_once
def _setup(state: BlueprintSetupState) -> None:
    app = state.app
    app.extensions[PAGES] = collect_pages(app.extensions[EXTENSION])
    app.extensions.setdefault(THROTTLE, app.extensions[EXTENSION].accounts.sign_in_throttle())
    app.extensions.setdefault(SESSIONS, app.extensions[EXTENSION].accounts.console_sessions())


@blueprint.before_request
def guard() -> Response | None:
    from .auth import signed_in_user

    csrf.protect()
    g.viewer = signed_in_user()
    if request.endpoint in PUBLIC:
        return None
    if g.viewer is None:
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    if request.endpoint != "console.logout" and not authz.is_staff(rc(), g.viewer):
        return _error(403, "no_role")
    return None


@blueprint.context_processor
def _globals() -> dict[str, Any]:
    user = g.get("viewer")
    return {
        "csrf_token": csrf.token,
        "viewer": user,
        "nav": navigation(rc(), user) if user and authz.is_staff(rc(), user) else [],
        "role_title": lambda role_id: role_title(rc(), role_id),
    }


blueprint.add_app_template_filter(human_date, "when")

MESSAGES = {
    400: ("Bad request", "The request could not be understood."),
    403: ("Not allowed", "You do not have access to this page."),
    404: ("Not found", "There is nothing at this address."),
    405: ("Method not allowed", "This address does not accept that kind of request."),
    413: ("Too large", "The form was too large to accept."),
    429: ("Too many attempts", "Too many attempts; wait and try again."),
    503: (
        "Database unavailable",
        "The database cannot be reached just now, so nothing was changed. The pages show what "
        "rolecall knew when it last reached it; try the change again in a moment.",
    ),
}


def _error(
    code: int,
    detail: str | None = None,
    *,
    why: str | None = None,
    helpers: list[tuple[str, str, str]] | None = None,
    scope: str | None = None,
    suggestions: list[str] | None = None,
) -> Response:
    title, text = MESSAGES.get(code, ("Error", "Something went wrong."))
    if detail == "csrf":
        text = (
            "This form expired or came from another site, so nothing was changed. Go back, "
            "reload the page and try again."
        )
    elif detail == "no_role":
        text = (
            "You are signed in, but you hold no role in rolecall, so there is nothing here for "
            "you yet. Ask an administrator of your course, library or organization to give you "
            "a role."
        )
    elif detail:
        text = detail
    body = render_template(
        "console/error.html",
        code=code,
        title=title,
        text=text,
        why=why,
        helpers=helpers or [],
        scope=scope,
        suggestions=suggestions or [],
    )
    return Response(body, status=code, mimetype="text/html")


@blueprint.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    code = exc.code or 500
    detail = exc.description if exc.description in ("csrf",) else None
    if code == 404 and exc.description and not exc.description.startswith("The requested URL"):
        detail = exc.description
    if code == 403 and g.get("viewer") is None:
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    if isinstance(exc, Refused) and exc.why:
        helpers = authz.who_can_help(rc(), g.viewer, exc.scope, exc.permission) if exc.scope else []
        return _error(
            code, why=exc.why, helpers=helpers, scope=exc.scope, suggestions=exc.suggestions
        )
    return _error(code, detail)


@blueprint.errorhandler(StorageError)
def _database_error(exc: StorageError) -> Response:
    cause = f" ({exc.__cause__})" if exc.__cause__ is not None else ""
    log.warning("%s %s: the database failed: %s%s", request.method, request.path, exc, cause)
    return _error(503)


from . import (  # noqa: E402 - the routes register themselves on the blueprint
    admin,
    assignments,
    audit,
    auth,
    contents,
    home,
    pages,
    roles,
    scopes,
    users,
    wizard,
)

__all__ = [
    "admin",
    "assignments",
    "audit",
    "auth",
    "blueprint",
    "contents",
    "home",
    "pages",
    "roles",
    "scopes",
    "users",
    "wizard",
]
