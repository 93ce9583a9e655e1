"""The assign wizard: who, which role, where, a what-if preview, then confirm.

Without JavaScript it is a multi-step form: each step posts every earlier answer back in
hidden fields, so nothing is kept on the server between steps. The change is made with
``rc.bulk(..., as_user=viewer)``: the delegation rules decide every row, and the preview shows
their refusals before anything is written.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from rolecall.core import BadInputError
from rolecall.core.governance import NotAllowedError
from rolecall.core.governance.whatif import Impact
from rolecall.core.reads import known_scopes, managed_scopes, scope_hit, user_hit

from . import blueprint
from .common import all_roles, parse_expiry, rc, role_areas, split_names, viewer
from .scopes import refusal_words

STEPS = ("who", "role", "where", "preview")
MAX_USERS = 500
MAX_SCOPES = 500
CHOICES_LIMIT = 100


def _state() -> dict[str, Any]:
    source = request.form if request.method == "POST" else request.args
    scopes = list(dict.fromkeys(s for s in source.getlist("scope") if s))
    scopes += [s for s in split_names(source.get("more_scopes", "")) if s not in scopes]
    return {
        "users": source.get("users", "")[:20_000],
        "role": source.get("role", ""),
        "scopes": scopes[: MAX_SCOPES + 1],
        "expires": source.get("expires", ""),
        "reason": source.get("reason", "")[:1000],
        "partial": source.get("partial") == "1",
    }


def _check_who(state: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(usernames, errors)."""
    names = split_names(state["users"])
    service = rc()
    errors, found = [], []
    if not names:
        errors.append("Give at least one username or e-mail address.")
    if len(names) > MAX_USERS:
        errors.append(f"At most {MAX_USERS} users at a time.")
    for name in names:
        hit = user_hit(service, name)
        if hit is None:
            errors.append(f"{name}: no user has this username or e-mail address.")
        elif not hit.active:
            errors.append(f"{name}: this user is retired and cannot be given a role.")
        else:
            found.append(hit.username)
    return list(dict.fromkeys(found)), errors


def _check_role(state: dict[str, Any]) -> list[str]:
    if not state["role"]:
        return ["Choose a role."]
    try:
        role = rc().role(state["role"])
    except BadInputError as exc:
        return [f"{exc}."]
    if role.id not in {r.id for r in all_roles(rc())}:
        return [f"{role.id} is retired: it cannot be assigned."]
    return []


def _check_where(state: dict[str, Any]) -> list[str]:
    service = rc()
    if not state["scopes"]:
        return ["Choose at least one place."]
    if len(state["scopes"]) > MAX_SCOPES:
        return [f"At most {MAX_SCOPES} places at a time."]
    role = service.role(state["role"])
    errors = []
    for key in state["scopes"]:
        try:
            hit = scope_hit(service, key)
        except BadInputError as exc:
            errors.append(f"{key}: {exc}.")
            continue
        if hit.type not in role.scope_types:
            errors.append(
                f"{key}: {role.title} cannot be given on a {hit.type}; it can be given on: "
                f"{', '.join(role.scope_types)}."
            )
    try:
        parse_expiry(state["expires"])
    except BadInputError as exc:
        errors.append(f"{exc}.")
    return errors


def _where_choices(role_types: tuple[str, ...]) -> dict[str, list[Any]]:
    """Places to tick: the viewer's own courses and libraries, the orgs, the platform."""
    service, user = rc(), viewer()
    mine = [
        m.scope
        for m in managed_scopes(service, user, level="course", limit=CHOICES_LIMIT)
        if m.scope.type in role_types
    ]
    orgs = list(known_scopes(service, level="org"))[:CHOICES_LIMIT] if "org" in role_types else []
    platform = "platform" in role_types
    return {
        "resources": mine,
        "orgs": orgs,
        "platform": [scope_hit(service, "platform")] if platform else [],
    }


def impact_groups(impact: Impact | None) -> list[dict[str, Any]]:
    """The what-if grouped by identical change: which users, on which scopes, gain and lose
    which permissions (with their titles), so a change to many people reads as one line."""
    if impact is None:
        return []
    permissions = rc().registry.permissions
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], dict[str, Any]] = {}
    for change in impact.changes:
        group = groups.setdefault((change.gains, change.loses), {"users": {}, "scopes": {}})
        group["users"][change.user] = None
        group["scopes"][change.scope] = None
    return [
        {
            "users": list(group["users"]),
            "scopes": list(group["scopes"]),
            "gains": [(p, permissions[p].title if p in permissions else p) for p in gains],
            "loses": [(p, permissions[p].title if p in permissions else p) for p in loses],
        }
        for (gains, loses), group in groups.items()
    ]


def _render(
    step: str, state: dict[str, Any], errors: list[str], status: int = 200, **extra: Any
) -> tuple[str, int]:
    service = rc()
    context: dict[str, Any] = {"step": step, "steps": STEPS, "state": state, "errors": errors}
    if step == "role":
        roles = all_roles(service)
        context["roles"] = roles
        context["areas"] = {r.id: role_areas(service, r.id) for r in roles}
    if step in ("where", "preview"):
        role = service.role(state["role"])
        context["role"] = role
        context["choices"] = _where_choices(role.scope_types)
    context.update(extra)
    result = extra.get("result")
    context["impact_groups"] = impact_groups(getattr(result, "impact", None))
    return render_template("console/wizard.html", **context), status


@blueprint.route("/assign", methods=["GET", "POST"])
def wizard() -> Response | tuple[str, int]:
    state = _state()
    if request.method == "GET":
        return _render("who", state, [])
    step = request.form.get("step", "who")
    go = request.form.get("go", "next")
    if step not in STEPS:
        step = "who"
    if go == "back":
        return _render(STEPS[max(STEPS.index(step) - 1, 0)], state, [])
    users, errors = _check_who(state)
    if errors:
        return _render("who", state, errors, 422)
    if step == "who":
        return _render("role", state, [])
    errors = _check_role(state)
    if errors:
        return _render("role", state, errors, 422)
    if step == "role":
        return _render("where", state, [])
    errors = _check_where(state)
    if errors:
        return _render("where", state, errors, 422)
    service, user = rc(), viewer()
    expires = parse_expiry(state["expires"])
    dry_run = step == "where"
    try:
        result = service.bulk(
            "assign",
            state["role"],
            users,
            state["scopes"],
            as_user=user,
            dry_run=dry_run,
            partial=state["partial"],
            reason=state["reason"].strip() or None,
            expires_at=expires,
        )
    except NotAllowedError as exc:
        return _render("where", state, [refusal_words(exc)], 403)
    except BadInputError as exc:
        return _render("where", state, [f"{exc}."], 422)
    if dry_run:
        return _render("preview", state, [], result=result, users=users)
    if not result.applied:
        return _render("preview", state, ["Nothing was changed."], 409, result=result, users=users)
    done = [r for r in result.rows if r.status == "ok"]
    title = service.role(result.role).title
    flash(
        f"{title} ({result.role}) given: {len(done)} assignment(s) for "
        f"{len({r.user for r in done})} user(s) on {len({r.scope for r in done})} scope(s).",
        "success",
    )
    session["wizard_done"] = {
        "role": result.role,
        "users": sorted({r.user for r in done}),
        "scopes": sorted({r.scope for r in done}),
        "batch": result.batch_id,
    }
    return redirect(url_for("console.wizard_done"))


@blueprint.get("/assign/done")
def wizard_done() -> Response | str:
    done = session.get("wizard_done")
    if not isinstance(done, dict):
        return redirect(url_for("console.wizard"))
    service = rc()
    scopes = [scope_hit(service, key) for key in done.get("scopes", [])]
    return render_template("console/wizard_done.html", done=done, scopes=scopes)
