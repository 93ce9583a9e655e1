"""The roles catalogue (every role's description, can and cannot), the permission matrix by
functional area, and the custom role editor (create, edit with a what-if, retire, delete)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from rolecall.core import BadInputError
from rolecall.core.catalogue import permissions_by_area
from rolecall.core.governance import NotAllowedError
from rolecall.core.reads import CustomRoleRow, custom_roles

from .. import authz
from . import blueprint
from .common import allow, rc, role_areas, viewer
from .scopes import refusal_words


def _catalogue() -> list[dict[str, Any]]:
    service = rc()
    registry = service.registry
    out = [
        {"role": r, "origin": registry.origin[f"role:{r.id}"], "custom": False, "retired": False}
        for r in registry.roles.values()
    ]
    out += [
        {"role": row.role, "origin": "custom role", "custom": True, "retired": row.retired}
        for row in custom_roles(service)
    ]
    return out


@blueprint.get("/roles")
def roles() -> str:
    service = rc()
    catalogue = _catalogue()
    return render_template(
        "console/roles.html",
        catalogue=catalogue,
        areas={item["role"].id: role_areas(service, item["role"].id) for item in catalogue},
        may_define=authz.can_define_roles(service, viewer()),
    )


def allow_define() -> None:
    """403 unless the viewer may define custom roles: the editor is not offered to anyone the
    service would refuse on submit (it decides again then)."""
    allow(
        authz.can_define_roles(rc(), viewer()),
        why="Defining custom roles takes “Manage custom roles” (platform.manage_custom_roles), "
        "which platform admins hold and org admins hold in their org, and you do not hold it.",
    )


@blueprint.get("/roles/matrix")
def matrix() -> str:
    """Roles (columns, with titles) by permissions (rows, grouped by functional area), narrowed
    by a GET form to one plugin's permissions (``courses``, ``discussion``, ...) and/or one
    functional area; narrowed, only the roles holding one of the shown permissions are
    columns."""
    service = rc()
    catalogue = _catalogue()
    held = {}
    for item in catalogue:
        role_id = item["role"].id
        held[role_id] = {p.id for _, can, _ in role_areas(service, role_id) for p in can}
    everything = permissions_by_area(service.registry)
    plugins = sorted({p.id.split(".", 1)[0] for ps in everything.values() for p in ps})
    plugin = request.args.get("plugin", "")
    area = request.args.get("area", "")
    plugin = plugin if plugin in plugins else ""
    area = area if area in everything else ""
    grouped = {
        name: [p for p in permissions if not plugin or p.id.split(".", 1)[0] == plugin]
        for name, permissions in everything.items()
        if not area or name == area
    }
    grouped = {name: permissions for name, permissions in grouped.items() if permissions}
    shown = {p.id for permissions in grouped.values() for p in permissions}
    filtered = bool(plugin or area)
    columns = [item for item in catalogue if not filtered or held[item["role"].id] & shown]
    return render_template(
        "console/matrix.html",
        catalogue=catalogue,
        columns=columns,
        grouped=grouped,
        held=held,
        plugins=plugins,
        areas=list(everything),
        plugin=plugin,
        area=area,
        filtered=filtered,
        shown=len(shown),
    )


def _editor(
    role_id: str | None,
    form: dict[str, Any],
    errors: list[str],
    status: int = 200,
    impact: Any = None,
) -> tuple[str, int]:
    service = rc()
    bases = list(service.registry.roles.values())
    return render_template(
        "console/role_edit.html",
        role_id=role_id,
        form=form,
        errors=errors,
        grouped=permissions_by_area(service.registry),
        scope_types=sorted(service.registry.scope_types),
        bases=bases,
        impact=impact,
    ), status


def _words(exc: Exception) -> str:
    if isinstance(exc, NotAllowedError):
        return refusal_words(exc)
    text = str(exc)
    return text[:1].upper() + text[1:] + "."


@blueprint.route("/roles/new", methods=["GET", "POST"])
def new_role() -> Response | tuple[str, int]:
    allow_define()
    if request.method == "GET":
        return _editor(None, {"permissions": [], "scope_types": ["course"]}, [])
    form: dict[str, Any] = {
        "id": request.form.get("id", "").strip(),
        "title": request.form.get("title", "").strip(),
        "description": request.form.get("description", "").strip(),
        "base": request.form.get("base", ""),
        "permissions": request.form.getlist("permission"),
        "scope_types": request.form.getlist("scope_type"),
    }
    try:
        rc().create_role(
            form["id"],
            title=form["title"],
            description=form["description"],
            scope_types=form["scope_types"],
            permissions=form["permissions"],
            base=form["base"] or None,
            as_user=viewer(),
        )
    except (BadInputError, NotAllowedError, ValueError) as exc:
        return _editor(None, form, [_words(exc)], 403 if isinstance(exc, NotAllowedError) else 422)
    flash(f"Custom role {form['title']} ({form['id']}) created.", "success")
    return redirect(url_for("console.roles") + f"#role-{form['id']}")


def _custom(role_id: str) -> CustomRoleRow:
    for row in custom_roles(rc()):
        if row.role.id == role_id:
            return row
    abort(404, description=f"There is no custom role {role_id!r}.")


@blueprint.route("/roles/<role_id>/edit", methods=["GET", "POST"])
def edit_role(role_id: str) -> Response | tuple[str, int]:
    role = _custom(role_id).role
    if request.method == "GET":
        allow_define()
        form: dict[str, Any] = {
            "id": role.id,
            "title": role.title,
            "description": role.description,
            "permissions": list(role.permissions),
            "scope_types": list(role.scope_types),
        }
        return _editor(role_id, form, [])
    wanted = request.form.getlist("permission")
    form = {
        "id": role.id,
        "title": request.form.get("title", "").strip(),
        "description": request.form.get("description", "").strip(),
        "permissions": wanted,
        "scope_types": list(role.scope_types),
    }
    add = [p for p in wanted if p not in role.permissions]
    remove = [p for p in role.permissions if p not in wanted]
    preview = request.form.get("go") == "preview"
    try:
        impact, _ = rc().edit_role(
            role_id,
            add=add,
            remove=remove,
            title=form["title"] or None,
            description=form["description"] or None,
            dry_run=preview,
            as_user=viewer(),
        )
    except (BadInputError, NotAllowedError, ValueError) as exc:
        status = 403 if isinstance(exc, NotAllowedError) else 422
        return _editor(role_id, form, [_words(exc)], status)
    if preview:
        return _editor(role_id, form, [], impact=impact)
    flash(f"Custom role {role_id} saved. " + " ".join(impact.summary()[:3]), "success")
    return redirect(url_for("console.roles") + f"#role-{role_id}")


@blueprint.post("/roles/<role_id>/retire")
def retire_role(role_id: str) -> Response:
    _custom(role_id)
    try:
        rc().retire_role(role_id, as_user=viewer())
    except (BadInputError, NotAllowedError) as exc:
        flash(f"{role_id} was not retired: {_words(exc)}", "error")
    else:
        flash(f"{role_id} is retired: it can no longer be given; who holds it keeps it.", "success")
    return redirect(url_for("console.roles") + f"#role-{role_id}")


@blueprint.post("/roles/<role_id>/delete")
def delete_role(role_id: str) -> Response:
    _custom(role_id)
    try:
        rc().delete_role(role_id, as_user=viewer())
    except (BadInputError, NotAllowedError) as exc:
        flash(f"{role_id} was not deleted: {_words(exc)}", "error")
        return redirect(url_for("console.roles") + f"#role-{role_id}")
    flash(f"Custom role {role_id} deleted.", "success")
    return redirect(url_for("console.roles"))
