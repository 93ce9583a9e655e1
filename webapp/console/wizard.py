"""The assign wizard: who, which role, where, a what-if preview, then confirm.

Without JavaScript it is a multi-step form: each step posts every earlier answer back in
hidden fields, so nothing is kept on the server between steps. The change is made with
``rc.bulk(..., as_user=viewer, known_only=True)``: the delegation rules decide every row, the
preview shows their refusals before anything is written, and a scope nobody created is refused
("did you mean ..." when a known key differs only in case), with a button to create it for
those who may.

What it offers is what the viewer may do: the roles the delegation rules let it give somewhere
(grouped by the type of scope they are given on, the common course roles first), and places
found by a search (``/console/assign/scopes``, a page of matches where the viewer may give the
role) instead of a list of every course; ``static/console.js`` turns the search field into a
combobox. Many users may be pasted at once (new lines, commas, spaces): unknown users and
repeats are reported by line.
"""

from __future__ import annotations

from typing import Any

from flask import flash, jsonify, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from rolecall.core import BadInputError, Role, Rolecall, UnknownScopeError, org_wide
from rolecall.core.governance import NotAllowedError
from rolecall.core.governance.bulk import glob_of
from rolecall.core.governance.whatif import Impact
from rolecall.core.known_scopes import find as catalogue_find
from rolecall.core.reads import count_below, known_scopes, scope_hit, user_hit

from .. import authz
from . import blueprint
from .common import all_roles, parse_expiry, rc, role_areas, split_names, viewer
from .scopes import refusal_words

STEPS = ("who", "role", "where", "preview")
MAX_USERS = 500
MAX_SCOPES = 500
MATCHES = 20
"""Places a search shows at a time."""
MAX_QUERY = 200

COMMON_ROLES = (
    "course_staff",
    "course_admin",
    "course_editor",
    "course_auditor",
    "course_limited_staff",
    "course_data_researcher",
    "course_beta_tester",
)
"""The course roles admins give most, first in their group."""
GROUP_ORDER = ("course", "library", "org", "platform")


def _state() -> dict[str, Any]:
    source = request.form if request.method == "POST" else request.args
    scopes = list(dict.fromkeys(s.strip() for s in source.getlist("scope") if s.strip()))
    scopes += [s for s in split_names(source.get("more_scopes", "")) if s not in scopes]
    return {
        "users": source.get("users", "")[:50_000],
        "role": source.get("role", ""),
        "scopes": scopes[: MAX_SCOPES + 1],
        "expires": source.get("expires", ""),
        "reason": source.get("reason", "")[:1000],
        "partial": source.get("partial") == "1",
        "find": source.get("find", "")[:MAX_QUERY],
    }


def _check_who(state: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """(usernames, errors, notes), reading the pasted text line by line: an unknown or
    retired user is an error on its line, a repeat (the same user again, by username or
    e-mail) a note naming both lines."""
    service = rc()
    errors: list[str] = []
    notes: list[str] = []
    first: dict[str, int] = {}
    lines = state["users"].splitlines() or [""]
    several = len([line for line in lines if line.strip()]) > 1
    count = 0
    for number, line in enumerate(lines, start=1):
        where = f"Line {number}: " if several else ""
        for name in split_names(line):
            count += 1
            hit = user_hit(service, name)
            if hit is None:
                errors.append(f"{where}{name}: no user has this username or e-mail address.")
            elif not hit.active:
                errors.append(f"{where}{name}: this user is retired and cannot be given a role.")
            elif hit.username in first:
                again = "" if name == hit.username else f" ({hit.username})"
                notes.append(
                    f"{where}{name}{again} is listed again (first on line {first[hit.username]}): "
                    "given once."
                )
            else:
                first[hit.username] = number
    if not count:
        errors.insert(0, "Give at least one username or e-mail address.")
    if len(first) > MAX_USERS:
        errors.insert(0, f"At most {MAX_USERS} users at a time ({len(first)} given).")
    return list(first), errors, notes


def role_groups(service: Rolecall, roles: list[Role]) -> list[tuple[str, list[Role]]]:
    """(heading, roles) by the type of scope each role is first given on (course, library,
    organization, platform, then the plugins' types), the common course roles first."""
    groups: dict[str, list[Role]] = {}
    for role in roles:
        groups.setdefault(role.scope_types[0] if role.scope_types else "other", []).append(role)
    order = {kind: i for i, kind in enumerate(GROUP_ORDER)}
    common = {role: i for i, role in enumerate(COMMON_ROLES)}
    types = service.registry.scope_types
    out = []
    for kind in sorted(groups, key=lambda k: (order.get(k, len(order)), k)):
        members = sorted(groups[kind], key=lambda r: common.get(r.id, len(common)))
        title = types[kind].title if kind in types else kind.capitalize()
        out.append((f"{title} roles", members))
    return out


def _offered(service: Rolecall) -> list[Role]:
    return authz.offered_roles(service, viewer(), all_roles(service))


def _check_role(state: dict[str, Any]) -> list[str]:
    if not state["role"]:
        return ["Choose a role."]
    service = rc()
    try:
        role = service.role(state["role"])
    except BadInputError as exc:
        return [f"{exc}."]
    if role.id not in {r.id for r in all_roles(service)}:
        return [f"{role.id} is retired: it cannot be assigned."]
    if role.id not in {r.id for r in _offered(service)}:
        return [f"You may not give {role.title} ({role.id}) anywhere: choose a role listed here."]
    return []


def _resolved(key: str) -> str:
    """A place as the service takes it: an org wildcard (``course-v1:MITx+*``) is its org."""
    service = rc()
    return service.registry.scopes.resolve(org_wide(key, service.registry)).key


def _check_where(state: dict[str, Any]) -> tuple[list[str], list[UnknownScopeError]]:
    """(errors, the unknown scopes among them: each offers "did you mean" or creating it)."""
    service = rc()
    if not state["scopes"]:
        return ["Choose at least one place."], []
    if len(state["scopes"]) > MAX_SCOPES:
        return [f"At most {MAX_SCOPES} places at a time."], []
    role = service.role(state["role"])
    errors: list[str] = []
    unknown: list[UnknownScopeError] = []
    for key in state["scopes"]:
        try:
            resolved = _resolved(key)
            hit = scope_hit(service, resolved)
        except BadInputError as exc:
            errors.append(f"{key}: {exc}.")
            continue
        if hit.type not in role.scope_types:
            errors.append(
                f"{key}: {role.title} cannot be given on a {hit.type}; it can be given on: "
                f"{', '.join(role.scope_types)}."
            )
            continue
        problem = service.unknown_scope(resolved)
        if problem is not None:
            # "did you mean": a near key (another case, one character off) the viewer may see
            near = authz.scope_suggestions(service, viewer(), resolved)
            problem = UnknownScopeError(problem.key, near[0] if near else None)
            unknown.append(problem)
            errors.append(f"{key}: {problem}")
    try:
        parse_expiry(state["expires"])
    except BadInputError as exc:
        errors.append(f"{exc}.")
    return errors, unknown


def _rank(needle: str, key: str, title: str | None) -> int | None:
    """0 exact (the key, its part after the type, as an org's name, or the title), 1 prefix,
    2 substring (of the key or the title, ignoring case), else None."""
    best = None
    for value in (key, title):
        if not value:
            continue
        folded = value.casefold()
        if folded == needle or folded.partition(":")[2] == needle:
            return 0
        if folded.startswith(needle) or folded.partition(":")[2].startswith(needle):
            best = 1
        elif needle in folded and best is None:
            best = 2
    return best


def place_matches(role: Role, text: str, limit: int = MATCHES) -> tuple[list[dict[str, Any]], bool]:
    """(up to ``limit`` places matching ``text`` where the viewer may give ``role``, whether
    there are more): the scopes rolecall knows and the platform's scope catalogue, best
    matches first; each is asked of the delegation rules, lazily, until the page is full."""
    service, user = rc(), viewer()
    needle = text.strip().casefold()[:MAX_QUERY]
    kinds = set(role.scope_types)
    candidates: dict[str, tuple[int, str, str | None, str]] = {}
    for hit in known_scopes(service):
        if hit.type not in kinds:
            continue
        rank = _rank(needle, hit.key, hit.title) if needle else 1
        if rank is not None:
            candidates[hit.key] = (rank, hit.key, hit.title, hit.type)
    if needle:
        for key, title in catalogue_find(service.plugins, needle, limit * 5):
            kind = service.registry.scopes.resolve(key).type
            rank = _rank(needle, key, title)
            if key not in candidates and kind in kinds and rank is not None:
                candidates[key] = (rank, key, title, kind)
    delegation = service.delegation()
    found: list[dict[str, Any]] = []
    more = False
    for _score, key, title, kind in sorted(candidates.values(), key=lambda c: c[:2]):
        if not delegation.allows_assign(user, role.id, key):
            continue
        if len(found) == limit:
            more = True
            break
        label = title or key
        if kind == "org":
            label = f"Every course and library of {key[4:]}" + (f" ({title})" if title else "")
        elif kind == "platform":
            label = "Everywhere (the whole platform)"
        found.append({"key": key, "title": title, "type": kind, "label": label})
    return found, more


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


PLURALS = {"course": "courses", "library": "libraries"}


def wildcards(service: Rolecall, keys: list[str]) -> list[dict[str, Any]]:
    """For each org wildcard among ``keys`` (``course-v1:MITx+*``), what it becomes: one grant
    on the org (``org:MITx``) covering the org's ``count`` known scopes of ``kind`` today and
    every one it has later."""
    found = []
    for key in keys:
        glob = glob_of(key, service.registry)
        if glob is None:
            continue
        org, kind = glob
        count = count_below(service, org, kind)
        found.append(
            {"key": key, "org": org, "count": count, "kind": kind, "plural": PLURALS.get(kind)}
        )
    return found


def _render(
    step: str, state: dict[str, Any], errors: list[str], status: int = 200, **extra: Any
) -> tuple[str, int]:
    service, user = rc(), viewer()
    context: dict[str, Any] = {"step": step, "steps": STEPS, "state": state, "errors": errors}
    # After a step is sent, the script moves the focus to the new step's heading.
    context["moved"] = request.method == "POST"
    if step == "role":
        roles = _offered(service)
        context["groups"] = role_groups(service, roles)
        context["areas"] = {r.id: role_areas(service, r.id) for r in roles}
    if step in ("where", "preview"):
        role = service.role(state["role"])
        context["role"] = role
        chosen = []
        for key in state["scopes"]:
            try:
                chosen.append(scope_hit(service, _resolved(key)))
            except BadInputError:
                continue
        context["chosen"] = chosen
        context["chosen_keys"] = {hit.key for hit in chosen}
        context["platform"] = "platform" in role.scope_types and service.delegation().allows_assign(
            user, role.id, "platform"
        )
        if state["find"].strip():
            context["matches"], context["more_matches"] = place_matches(role, state["find"])
    if step == "preview":
        context["wildcards"] = wildcards(service, state["scopes"])
    context.update(extra)
    result = extra.get("result")
    context["impact_groups"] = impact_groups(getattr(result, "impact", None))
    if result is not None:
        counts = result.counts()
        context["nothing_given"] = not counts.get("ok")
    return render_template("console/wizard.html", **context), status


def _create_scope(state: dict[str, Any], key: str) -> tuple[str, int]:
    """The "create it" button next to an unknown scope: ``add_scopes`` as the viewer (it takes
    ``platform.add_scopes`` there), then the same step again."""
    service, user = rc(), viewer()
    try:
        resolved = _resolved(key)
        service.add_scopes([resolved], as_user=user)
    except NotAllowedError as exc:
        return _render("where", state, [refusal_words(exc, None)], 403)
    except BadInputError as exc:
        return _render("where", state, [f"{key}: {exc}."], 422)
    flash(f"{resolved} created: roles can now be given on it.", "success")
    return _render("where", state, [])


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
    users, errors, notes = _check_who(state)
    if errors:
        return _render("who", state, errors, 422)
    if step == "who":
        return _render("role", state, [], notes=notes)
    errors = _check_role(state)
    if errors:
        return _render("role", state, errors, 422)
    if step == "role":
        return _render("where", state, [])
    creating = request.form.get("create_scope", "")
    if step == "where" and creating:
        return _create_scope(state, creating)
    if step == "where" and go == "search":
        return _render("where", state, [])
    errors, unknown = _check_where(state)
    if errors:
        service, user = rc(), viewer()
        creatable = {u.key for u in unknown if authz.can_add_scope(service, user, u.key)}
        return _render("where", state, errors, 422, unknown=unknown, creatable=creatable)
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
            known_only=True,
        )
    except NotAllowedError as exc:
        return _render("where", state, [refusal_words(exc)], 403)
    except BadInputError as exc:
        return _render("where", state, [f"{exc}."], 422)
    # Rows on scopes whose team the viewer may not view tell nothing of who holds what there.
    result = authz.bulk_seen_by(service, user, result)
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


@blueprint.get("/assign/scopes")
def wizard_scopes() -> Response:
    """A page of places matching ``q`` where the viewer may give ``role`` (JSON, for the
    scope picker): ``{"results": [{"key", "title", "type", "label"}], "more": bool}``."""
    service = rc()
    try:
        role = service.role(request.args.get("role", ""))
    except BadInputError as exc:
        return Response(f"{exc}", status=422, mimetype="text/plain")
    limit = min(max(request.args.get("limit", MATCHES, type=int) or MATCHES, 1), 50)
    found, more = place_matches(role, request.args.get("q", "")[:MAX_QUERY], limit)
    return jsonify({"results": found, "more": more})


@blueprint.get("/assign/done")
def wizard_done() -> Response | str:
    done = session.get("wizard_done")
    if not isinstance(done, dict):
        return redirect(url_for("console.wizard"))
    service = rc()
    scopes = [scope_hit(service, key) for key in done.get("scopes", [])]
    return render_template("console/wizard_done.html", done=done, scopes=scopes)
