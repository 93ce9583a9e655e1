"""What every console page shares: the signed-in viewer, authorization, flash helpers, the
template filters (human dates, role titles) and the plugins' console pages."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from flask import current_app, g
from markupsafe import Markup, escape
from werkzeug.exceptions import Forbidden

from rolecall.core import BadInputError, ConsolePage, Permission, Role, Rolecall
from rolecall.core.catalogue import permissions_by_area, role_summary
from rolecall.core.reads import custom_roles

from .. import authz
from ..context import service

log = logging.getLogger("rolecall.console")

PAGES = "rolecall.console_pages"
THROTTLE = "rolecall.console_throttle"
SESSIONS = "rolecall.console_sessions"


def rc() -> Rolecall:
    return service()


def viewer() -> str:
    """The signed-in username (the blueprint's guard has made sure there is one)."""
    name: str = g.viewer
    return name


class Refused(Forbidden):
    """A 403 that says why (one line) and, with ``scope``, lets the page name who can help
    there (:func:`..authz.who_can_help`): with ``permission``, only those who could give it
    there."""

    def __init__(
        self,
        why: str | None = None,
        scope: str | None = None,
        permission: str | None = None,
        suggestions: list[str] | None = None,
    ) -> None:
        super().__init__(why)
        self.why = why
        self.scope = scope
        self.permission = permission
        self.suggestions = suggestions or []
        """Known scopes near an unknown ``scope`` that the viewer may see ("did you mean")."""


def allow(
    condition: bool,
    why: str | None = None,
    scope: str | None = None,
    permission: str | None = None,
    suggestions: list[str] | None = None,
) -> None:
    """403 unless ``condition``: every page calls this with an :mod:`..authz` decision;
    ``why``, ``scope`` and the ``permission`` missing there make the 403 page say why and
    who can help, ``suggestions`` the known scopes it may have meant."""
    if not condition:
        raise Refused(why, scope, permission, suggestions)


# ---------------------------------------------------------------- roles in words


def all_roles(rolecall: Rolecall, *, assignable_at: str | None = None) -> list[Role]:
    """The plugins' roles then the custom ones (retired custom roles left out), optionally only
    those assignable at a scope type."""
    roles = list(rolecall.registry.roles.values())
    roles += [row.role for row in custom_roles(rolecall) if not row.retired]
    if assignable_at is not None:
        roles = [r for r in roles if assignable_at in r.scope_types]
    return roles


def role_title(rolecall: Rolecall, role_id: str) -> str:
    try:
        return rolecall.role(role_id).title
    except BadInputError:
        return role_id  # a role whose plugin is gone


def role_areas(
    rolecall: Rolecall, role_id: str
) -> list[tuple[str, list[Permission], list[Permission]]]:
    """(area, can, cannot) for a plugin's or a custom role."""
    registry = rolecall.registry
    if role_id in registry.roles:
        summary = role_summary(registry, role_id)
        return [(a.area, list(a.can), list(a.cannot)) for a in summary.areas]
    try:
        role = rolecall.role(role_id)
    except BadInputError:
        return []
    held: set[str] = set()
    for p in role.permissions:
        held |= registry.implied.get(p, {p})
    types = set(role.scope_types)
    out = []
    for area, permissions in permissions_by_area(registry).items():
        can = [p for p in permissions if p.id in held]
        cannot = [p for p in permissions if p.id not in held and types & set(p.scope_types)]
        if can or cannot:
            out.append((area, can, cannot))
    return out


# ---------------------------------------------------------------- dates


def human_date(value: datetime | None, *, empty: str = "never") -> Markup:
    """``12 Mar 2026 (3 days ago)`` in a ``<time>`` element carrying the exact UTC time."""
    if value is None:
        return Markup("<span class='muted'>{}</span>").format(empty)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    days = (value.date() - datetime.now(UTC).date()).days
    if days == 0:
        relative = "today"
    elif days == -1:
        relative = "yesterday"
    elif days == 1:
        relative = "tomorrow"
    elif -60 < days < 0:
        relative = f"{-days} days ago"
    elif 0 < days < 60:
        relative = f"in {days} days"
    else:
        relative = ""
    text = f"{value.day} {value:%b %Y}" + (f" ({relative})" if relative else "")
    exact = value.strftime("%Y-%m-%d %H:%M UTC")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(value.isoformat(), exact, text)


def parse_expiry(text: str) -> datetime | None:
    """A date from a form (``YYYY-MM-DD``): the expiry at 00:00 UTC that day."""
    text = text.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise BadInputError(f"{text!r} is not a date (YYYY-MM-DD)") from None
    when = datetime.combine(day, time(), tzinfo=UTC)
    if when <= datetime.now(UTC):
        raise BadInputError(f"the expiry {day.isoformat()} is not in the future")
    return when


def split_names(text: str) -> list[str]:
    """Usernames or e-mails separated by commas, semicolons, spaces or new lines."""
    for sep in ",;\n\r\t":
        text = text.replace(sep, " ")
    return list(dict.fromkeys(name for name in text.split(" ") if name))


def safe_next(target: str | None) -> str | None:
    """A redirect target only if it stays inside the console."""
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return None


# ---------------------------------------------------------------- plugin pages


def collect_pages(rolecall: Rolecall) -> dict[str, tuple[str, ConsolePage]]:
    """page id -> (plugin name, page), from the registry: the pages were collected and checked
    (their permission registered, their scope valid) when the plugins were loaded."""
    registry = rolecall.registry
    return {
        page_id: (registry.origin[f"console_page:{page_id}"], page)
        for page_id, page in registry.console_pages.items()
    }


def plugin_pages() -> dict[str, tuple[str, ConsolePage]]:
    pages: dict[str, tuple[str, ConsolePage]] = current_app.extensions[PAGES]
    return pages


def may_open(rolecall: Rolecall, user: str, page: ConsolePage) -> bool:
    if page.permission not in rolecall.registry.permissions:
        return False
    try:
        if page.scope is not None:
            return rolecall.check(user, page.permission, page.scope)
        return bool(rolecall.scopes_where(user, page.permission))
    except BadInputError:
        return False


def navigation(rolecall: Rolecall, user: str) -> list[dict[str, Any]]:
    """The navigation entries this viewer may open."""
    items: list[dict[str, Any]] = [
        {"endpoint": "console.home", "label": "Home"},
        {"endpoint": "console.assignments", "label": "Assignments"},
        {"endpoint": "console.wizard", "label": "Assign roles", "prefix": True},
        {"endpoint": "console.roles", "label": "Roles", "prefix": True},
    ]
    if authz.can_view_audit(rolecall, user):
        items.append({"endpoint": "console.audit", "label": "Audit log"})
    if authz.can_manage_restrictions(rolecall, user):
        items.append({"endpoint": "console.restrictions_page", "label": "Restrictions"})
    items.append({"endpoint": "console.plugins", "label": "Plugins"})
    for page_id, (_, page) in plugin_pages().items():
        if may_open(rolecall, user, page):
            items.append(
                {"endpoint": "console.plugin_page", "label": page.title, "args": {"page": page_id}}
            )
    return items


def as_text(content: object) -> Markup:
    """Plain text as escaped paragraphs."""
    paragraphs = [p.strip() for p in str(content).split("\n\n") if p.strip()]
    return Markup("").join(Markup("<p>{}</p>").format(p) for p in paragraphs)


def page_content(content: object) -> dict[str, Any]:
    """A plugin page's result in the shape the template shows (everything escaped there)."""
    if isinstance(content, str):
        return {"text": as_text(content), "tables": []}
    if not isinstance(content, Mapping):
        raise TypeError(f"a console page returned {type(content).__name__}")
    tables = []
    for table in content.get("tables") or ():
        tables.append(
            {
                "caption": str(table.get("caption", "")),
                "headers": [str(h) for h in table.get("headers", ())],
                "rows": [[str(c) for c in row] for row in table.get("rows", ())],
                "empty": str(table.get("empty", "Nothing to show.")),
            }
        )
    text = content.get("text")
    return {"text": as_text(text) if text else Markup(""), "tables": tables}


__all__ = ["escape"]
