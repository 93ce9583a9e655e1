"""The assignments list at ``/console/assignments``: every assignment the viewer may see, across
scopes, filtered (by several roles at once, too), sorted by any column, a page at a time, and
exported as CSV; or, with ``?view=users``, the distinct users holding them ("which people"
rather than "which assignments"), paged by username and exported as CSV as well.

It is the console's landing view for cross-scope review (the home page and the navigation
link to it). What it lists is what :func:`rolecall.webapp.authz.assignments_seen_by` lets
the viewer see, in the page, its count and its export alike; the query runs in the database
(:func:`rolecall.core.reads.list_assignments`), a page of rows at a time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Response, render_template, request, stream_with_context, url_for

from rolecall.core import BadInputError, Rolecall
from rolecall.core.reads import (
    ASSIGNMENT_SORTS,
    MAX_QUERY,
    AssignedUser,
    AssignmentRow,
    ScopeHit,
    SeenScopes,
    count_assigned_users,
    count_assignments,
    iter_assigned_users,
    iter_assignments,
    list_assigned_users,
    list_assignments,
    scope_hit,
)

from .. import authz
from . import blueprint
from .common import all_roles, rc, viewer

PAGE = 50
FILTERS = ("org", "scope_type", "scope", "who", "granted_by", "permission")
MAX_ROLES = 50
"""The most roles the role filter takes at once."""
DEFAULT_SORT = "scope"
COLUMNS = (
    ("user", "User"),
    ("role", "Role"),
    ("scope", "Scope"),
    ("granted_by", "Granted by"),
    ("granted_at", "Since"),
    ("expires_at", "Expires"),
)
CSV_HEADER = (
    "user",
    "email",
    "display_name",
    "role",
    "scope",
    "scope_type",
    "granted_by",
    "granted_at",
    "expires_at",
    "expired",
    "reason",
)
USERS_CSV_HEADER = ("user", "email", "display_name", "assignments", "roles")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""The first characters a spreadsheet reads as a formula (as the legacy CSV export escapes)."""


def csv_cell(value: object) -> object:
    """``value`` safe to open in a spreadsheet: a text that begins with a formula character
    (after any single quotes) gets a single quote in front, which spreadsheets show as text;
    the same rule as ``rolecall legacy export --to-csv``."""
    if not isinstance(value, str):
        return value
    bare = value.lstrip("'")
    return "'" + value if bare[:1] and bare[0] in FORMULA_STARTS else value


@dataclass(frozen=True)
class Query:
    """The page's filters and sort as given in its address, and what the read layer takes."""

    filters: dict[str, str]
    sort: str
    cursor: str | None
    roles: tuple[str, ...] = ()
    """Any of these roles (``?role=A&role=B``)."""
    users: bool = False
    """The distinct users (``?view=users``) rather than the assignments."""

    @property
    def filtered(self) -> bool:
        return any(self.filters.values()) or bool(self.roles)

    @property
    def kept(self) -> dict[str, Any]:
        """The filters given, as ``url_for`` takes them (the roles repeated)."""
        kept: dict[str, Any] = {k: v for k, v in self.filters.items() if v}
        if self.roles:
            kept["role"] = list(self.roles)
        return kept

    def read(self, service: Rolecall) -> dict[str, Any]:
        """The filters as :func:`list_assignments` takes them. A scope that is a key is
        matched exactly; any other text is looked for in the keys."""
        f = self.filters
        scope, scope_text = None, None
        if f["scope"]:
            try:
                scope = service.registry.scopes.resolve(f["scope"]).key
            except BadInputError:
                scope_text = f["scope"]
        role: list[str] | None = list(self.roles) or None
        if f["permission"]:
            if f["permission"] not in service.registry.permissions:
                raise BadInputError(f"there is no permission {f['permission']!r}")
            # The assignments whose role gives the permission (implied ones included), of
            # the roles chosen when some are.
            with service.reading() as index:
                granting = {
                    r.id
                    for r in all_roles(service)
                    if f["permission"] in index.role_permissions(r.id)
                }
            role = sorted(r for r in (role or granting) if r in granting)
        return {
            "org": f["org"] or None,
            "scope_type": f["scope_type"] or None,
            "scope": scope,
            "scope_text": scope_text,
            "role": role,
            "who": f["who"] or None,
            "granted_by": f["granted_by"] or None,
        }


def _query() -> Query:
    filters = {name: request.args.get(name, "").strip()[:MAX_QUERY] for name in FILTERS}
    sort = request.args.get("sort", DEFAULT_SORT)
    if sort not in ASSIGNMENT_SORTS:
        sort = DEFAULT_SORT
    cursor = request.args.get("cursor") or None
    roles = tuple(
        dict.fromkeys(r.strip()[:MAX_QUERY] for r in request.args.getlist("role") if r.strip())
    )[:MAX_ROLES]
    return Query(filters, sort, cursor, roles, request.args.get("view") == "users")


def _orgs(service: Rolecall, seen: SeenScopes) -> list[str]:
    """The orgs to offer as a filter: those holding a scope whose assignments the viewer
    sees (every known org for the platform team's viewers)."""
    if seen.scopes is None:
        with service.reading() as index:
            keys: list[str] = index.known_scopes()
    else:
        keys = sorted(seen.scopes | seen.own)
    resolve = service.registry.scopes.resolve
    orgs = {k for key in keys for k in resolve(key).chain if k.startswith("org:")}
    return sorted(orgs)


def _hit(service: Rolecall, key: str) -> ScopeHit:
    try:
        return scope_hit(service, key)
    except BadInputError:  # a scope type whose plugin is gone: the key as it is
        return ScopeHit(key, "", None)


def _sort_links(query: Query) -> dict[str, dict[str, str]]:
    """For each column: the address that sorts by it (ascending, or descending when it is
    the ascending sort now) and its ``aria-sort`` (empty when the list is not sorted by it)."""
    links = {}
    kept = query.kept
    for name, _ in COLUMNS:
        if query.sort == name:
            state, target = "ascending", f"-{name}"
        elif query.sort == f"-{name}":
            state, target = "descending", name
        else:
            state, target = "", name
        links[name] = {
            "href": url_for("console.assignments", **kept, sort=target),
            "state": state,
        }
    return links


@blueprint.get("/assignments")
def assignments() -> tuple[str, int]:
    service, me = rc(), viewer()
    query = _query()
    seen = authz.assignments_seen_by(service, me)
    errors: list[str] = []
    rows: list[AssignmentRow] = []
    people: list[AssignedUser] = []
    next_cursor = None
    count, more = 0, False
    try:
        filters = query.read(service)
        if query.users:
            found = list_assigned_users(
                service, **filters, seen=seen, limit=PAGE, cursor=query.cursor
            )
            people, next_cursor = found.items, found.next_cursor
            count, more = count_assigned_users(service, **filters, seen=seen)
        else:
            page = list_assignments(
                service, **filters, seen=seen, sort=query.sort, limit=PAGE, cursor=query.cursor
            )
            rows, next_cursor = page.items, page.next_cursor
            count, more = count_assignments(service, **filters, seen=seen)
    except BadInputError as exc:
        errors.append(str(exc)[:1].upper() + str(exc)[1:] + ".")
    kept = query.kept
    if query.users:
        kept["view"] = "users"
    visible = seen.scopes
    hidden = seen.hidden
    may_view_users = authz.can_view_user(service, me, "")
    now = datetime.now(UTC)
    titles = {key: _hit(service, key) for key in {r.scope for r in rows}}
    permission = query.filters["permission"]
    # With a permission: whether each row's user may do it there now (a lock may deny it);
    # None where it does not apply to the row's scope type (an org's grant of a course
    # permission gives it on the org's courses).
    allowed: dict[int, bool | None] = {}
    if permission and not errors:
        applies = set(service.registry.permissions[permission].scope_types)
        for r in rows:
            kind = titles[r.scope].type
            allowed[r.id] = service.check(r.user, permission, r.scope) if kind in applies else None
    links = {
        r.id: {
            "scope": (r.scope not in hidden) if visible is None else (r.scope in visible),
            # The user's page opens to whoever may view a team where the user holds an
            # unexpired role: a visible row that has not expired is one.
            "user": r.user == me or may_view_users or r.expires_at is None or r.expires_at > now,
        }
        for r in rows
    }
    body = render_template(
        "console/assignments.html",
        query=query,
        rows=rows,
        people=people,
        allowed=allowed,
        permissions=sorted(
            service.registry.permissions.values(), key=lambda p: (p.area, p.title, p.id)
        ),
        titles=titles,
        links=links,
        now=now,
        count=count,
        more=more,
        errors=errors,
        orgs=_orgs(service, seen),
        scope_types=sorted(service.registry.scope_types.values(), key=lambda t: t.title),
        roles=sorted(all_roles(service), key=lambda r: r.title),
        columns=COLUMNS,
        sort_links=_sort_links(query),
        views={
            "assignments": url_for("console.assignments", **query.kept, sort=query.sort),
            "users": url_for("console.assignments", **query.kept, sort=query.sort, view="users"),
        },
        next_url=url_for("console.assignments", **kept, sort=query.sort, cursor=next_cursor)
        if next_cursor
        else None,
        first_url=url_for("console.assignments", **kept, sort=query.sort) if query.cursor else None,
        csv_url=url_for("console.assignments_csv", **kept, sort=query.sort),
    )
    return body, 400 if errors else 200


def _csv_lines(
    service: Rolecall, filters: dict[str, Any], seen: SeenScopes, sort: str
) -> Iterator[str]:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    resolve = service.registry.scopes.resolve
    now = datetime.now(UTC)

    def line(values: tuple[object, ...] | list[object]) -> str:
        writer.writerow([csv_cell(v) for v in values])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    def kind(key: str) -> str:
        try:
            return resolve(key).type
        except BadInputError:  # a scope type whose plugin is gone
            return ""

    yield line(CSV_HEADER)
    for r in iter_assignments(service, sort=sort, seen=seen, **filters):
        yield line(
            [
                r.user,
                r.email or "",
                r.display_name or "",
                r.role,
                r.scope,
                kind(r.scope),
                r.granted_by or "",
                r.granted_at.astimezone(UTC).isoformat(),
                r.expires_at.astimezone(UTC).isoformat() if r.expires_at else "",
                "yes" if r.expires_at is not None and r.expires_at <= now else "no",
                r.reason or "",
            ]
        )


def _users_csv_lines(service: Rolecall, filters: dict[str, Any], seen: SeenScopes) -> Iterator[str]:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)

    def line(values: tuple[object, ...] | list[object]) -> str:
        writer.writerow([csv_cell(v) for v in values])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(USERS_CSV_HEADER)
    for u in iter_assigned_users(service, seen=seen, **filters):
        yield line([u.user, u.email or "", u.display_name or "", u.assignments, " ".join(u.roles)])


@blueprint.get("/assignments.csv")
def assignments_csv() -> Response | tuple[str, int]:
    """The whole filtered list as CSV, in the page's sort, streamed a page of rows at a time;
    the same filters and the same visibility as the page."""
    service, me = rc(), viewer()
    query = _query()
    seen = authz.assignments_seen_by(service, me)
    try:
        filters = query.read(service)
        # Bad input is refused here, before the first line is sent.
        list_assignments(service, **filters, seen=seen, sort=query.sort, limit=1)
    except BadInputError:
        return assignments()
    if query.users:
        lines = _users_csv_lines(service, filters, seen)
    else:
        lines = _csv_lines(service, filters, seen, query.sort)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name = "users" if query.users else "assignments"
    return Response(
        stream_with_context(lines),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="rolecall-{name}-{stamp}.csv"'},
    )
