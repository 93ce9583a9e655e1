"""The permission catalogue: what each role can and cannot do, in words, and the generated
``docs/permissions.md``.

Everything here is a pure function of a :class:`~rolecall.core.registry.Registry`: a role's
"can" and "cannot" are computed from its closed permission set and the functional areas of the
registered permissions, never kept by hand, so they cannot drift from what the engine decides.

- A role **can** do every permission in its closed set (its own, its included roles', and all
  they imply); a ``grants_all`` role can do every registered permission.
- A role **cannot** do the registered permissions it lacks that apply at one of the scope types
  where the role may be assigned (a library role's "cannot" lists no course permission: such a
  permission means nothing where the role is given).

Both are grouped by functional area (areas in alphabetical order, permissions in registration
order inside an area: the order their plugin wrote them, usually view, edit, manage).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .records import Permission, Risk, Role
from .registry import Registry

RISK_MEANINGS: Mapping[Risk, str] = {
    Risk.LEARNER_DATA: "shows or exports learners' personal data, answers or grades",
    Risk.GRADES: "grades learners or changes their scores",
    Risk.PUBLISHING: "makes something visible to learners at once (publishing, release dates, "
    "settings that apply to the running course, messages to learners, issued certificates)",
    Risk.TEAM_MANAGEMENT: "gives or removes roles",
    Risk.PLATFORM_CONFIGURATION: "changes configuration shared beyond one course or library",
}
"""What each risk flag warns about, as the docs and the console explain it."""


@dataclass(frozen=True)
class AreaSummary:
    """What a role can and cannot do in one functional area."""

    area: str
    can: tuple[Permission, ...]
    cannot: tuple[Permission, ...]


@dataclass(frozen=True)
class RoleSummary:
    """A role in words: its definition, its closed permission set and, per area, can/cannot."""

    role: Role
    plugin: str
    permissions: frozenset[str]
    areas: tuple[AreaSummary, ...]

    @property
    def can(self) -> tuple[Permission, ...]:
        return tuple(p for a in self.areas for p in a.can)

    @property
    def cannot(self) -> tuple[Permission, ...]:
        return tuple(p for a in self.areas for p in a.cannot)


def areas(registry: Registry) -> list[str]:
    """Every functional area of the registered permissions, in alphabetical order."""
    return sorted({p.area for p in registry.permissions.values()}, key=lambda a: (a.casefold(), a))


def permissions_by_area(registry: Registry) -> dict[str, list[Permission]]:
    """Area -> its permissions in registration order; areas in alphabetical order."""
    grouped: dict[str, list[Permission]] = {area: [] for area in areas(registry)}
    for permission in registry.permissions.values():
        grouped[permission.area].append(permission)
    return grouped


def closed_permissions(registry: Registry, role_id: str) -> frozenset[str]:
    """The role's closed permission set (every registered permission for ``grants_all``)."""
    return registry.role_permissions[role_id]


def role_summary(registry: Registry, role: str) -> RoleSummary:
    """What ``role`` (an id or an alias) can and cannot do, per functional area.

    Raises :class:`~rolecall.core.errors.BadInputError` for an unknown role.
    """
    definition = registry.role(role)
    held = closed_permissions(registry, definition.id)
    assignable = set(definition.scope_types)
    summaries = []
    for area, permissions in permissions_by_area(registry).items():
        can = tuple(p for p in permissions if p.id in held)
        cannot = tuple(
            p for p in permissions if p.id not in held and assignable & set(p.scope_types)
        )
        if can or cannot:
            summaries.append(AreaSummary(area=area, can=can, cannot=cannot))
    return RoleSummary(
        role=definition,
        plugin=registry.origin[f"role:{definition.id}"],
        permissions=held,
        areas=tuple(summaries),
    )


def _risks(permission: Permission) -> list[str]:
    return sorted(r.value for r in permission.risks)


def _permission_dict(permission: Permission) -> dict[str, Any]:
    return {"id": permission.id, "title": permission.title, "risks": _risks(permission)}


def summary_as_dict(summary: RoleSummary, registry: Registry) -> dict[str, Any]:
    """The summary as JSON-ready data (``rolecall roles ROLE --json``)."""
    role = summary.role
    return {
        "id": role.id,
        "title": role.title,
        "description": role.description,
        "plugin": summary.plugin,
        "scope_types": list(role.scope_types),
        "aliases": list(role.aliases),
        "includes": list(role.includes),
        "grants_all": role.grants_all,
        "permission_count": len(summary.permissions),
        "registered_permission_count": len(registry.permissions),
        "permissions": sorted(summary.permissions),
        "areas": [
            {
                "area": a.area,
                "can": [_permission_dict(p) for p in a.can],
                "cannot": [_permission_dict(p) for p in a.cannot],
            }
            for a in summary.areas
        ],
    }


def _joined(values: Iterable[str]) -> str:
    items = list(values)
    return ", ".join(items) if items else "-"


def _line(permission: Permission) -> str:
    risks = _risks(permission)
    flags = f" [risk: {', '.join(risks)}]" if risks else ""
    return f"{permission.title} ({permission.id}){flags}"


def summary_lines(summary: RoleSummary, registry: Registry) -> list[str]:
    """The summary in words, one line each (``rolecall roles ROLE``)."""
    role = summary.role
    total = len(registry.permissions)
    count = (
        f"all {total} (it grants every permission)"
        if role.grants_all
        else f"{len(summary.permissions)} of {total}"
    )
    lines = [
        f"{role.id}: {role.title} (plugin {summary.plugin})",
        *textwrap.wrap(role.description, width=100),
        "",
        f"assignable at: {_joined(role.scope_types)}",
        f"aliases:       {_joined(role.aliases)}",
        f"includes:      {_joined(role.includes)}",
        f"permissions:   {count}",
    ]
    for area in summary.areas:
        lines.append("")
        lines.append(area.area)
        lines.append("  can:")
        lines.extend(f"    + {_line(p)}" for p in area.can)
        if not area.can:
            lines.append("    nothing")
        lines.append("  cannot:")
        lines.extend(f"    - {_line(p)}" for p in area.cannot)
        if not area.cannot:
            lines.append("    nothing: it can do everything here")
    return lines


# ----------------------------------------------------------------------------- the docs page

DOCS_COMMAND = "rolecall docs permissions --builtins-only --output docs/permissions.md"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _code(values: Iterable[str]) -> str:
    items = [f"`{v}`" for v in values]
    return ", ".join(items) if items else "-"


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    head = list(headers)
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" for _ in head) + "|",
    ]
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return lines


def _anchor(text: str) -> str:
    kept = "".join(c for c in text.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def permissions_markdown(registry: Registry) -> str:
    """The whole catalogue as Markdown: roles, risk flags, the permissions of each functional
    area, the role x permission matrix, and what each role can and cannot do."""
    roles = list(registry.roles.values())
    grouped = permissions_by_area(registry)
    plugins = list(dict.fromkeys(registry.origin.values()))
    out: list[str] = [
        "# Permissions and roles",
        "",
        "<!-- Generated from the plugin registries; do not edit by hand. Regenerate with",
        f"     `{DOCS_COMMAND}`;",
        "     tests/plugins/test_catalogue.py fails when this file is stale. -->",
        "",
        f"This is the catalogue of the plugins {_code(plugins)}: "
        f"{len(registry.permissions)} permissions in {len(grouped)} functional areas, and "
        f"{len(roles)} roles. `rolecall docs permissions` writes the same page for the plugins "
        "installed where it runs; `rolecall roles ROLE` shows one role in words.",
        "",
        "How to read it:",
        "",
        "- A permission applies to the scope types listed with it; a check on another kind of "
        "scope is denied. A permission **implies** others: holding it grants them too (manage "
        "implies edit implies view).",
        "- A role holds its own permissions, those of the roles it **includes**, and everything "
        "they imply. A role assigned on an org or the platform covers every course and library "
        "below it where its permissions apply.",
        "- What a role **cannot** do is computed: the registered permissions it lacks that apply "
        "at a scope type where the role may be assigned.",
        "",
        "## Roles",
        "",
    ]
    out += _table(
        ("role", "title", "plugin", "assignable at", "aliases", "includes", "permissions"),
        (
            (
                f"[`{r.id}`](#role-{_anchor(r.id)})",
                r.title,
                registry.origin[f"role:{r.id}"],
                ", ".join(r.scope_types),
                _code(r.aliases),
                _code(r.includes),
                "all" if r.grants_all else str(len(registry.role_permissions[r.id])),
            )
            for r in roles
        ),
    )
    out += ["", "## Risk flags", ""]
    out += _table(("flag", "meaning"), ((f"`{r.value}`", RISK_MEANINGS[r]) for r in Risk))
    out += ["", "## Permissions by functional area", ""]
    for area, permissions in grouped.items():
        out += [f"### {area}", ""]
        out += _table(
            ("permission", "title", "description", "applies to", "implies", "risks", "plugin"),
            (
                (
                    f"`{p.id}`",
                    p.title,
                    p.description,
                    ", ".join(p.scope_types),
                    _code(p.implies),
                    ", ".join(_risks(p)) or "-",
                    registry.origin[f"permission:{p.id}"],
                )
                for p in permissions
            ),
        )
        out.append("")
    out += [
        "## Role x permission matrix",
        "",
        "`x`: the role holds the permission (directly, through an included role, or implied).",
        "",
    ]
    for area, permissions in grouped.items():
        out += [f"### Matrix: {area}", ""]
        out += _table(
            ("permission", *(f"`{r.id}`" for r in roles)),
            (
                (
                    f"`{p.id}`",
                    *("x" if p.id in registry.role_permissions[r.id] else "" for r in roles),
                )
                for p in permissions
            ),
        )
        out.append("")
    out += ["## What each role can and cannot do", ""]
    for r in roles:
        summary = role_summary(registry, r.id)
        out += [
            f'<a id="role-{_anchor(r.id)}"></a>',
            "",
            f"### `{r.id}`: {r.title}",
            "",
            _cell(r.description),
            "",
            f"- plugin: {summary.plugin}",
            f"- assignable at: {', '.join(r.scope_types)}",
            f"- aliases: {_code(r.aliases)}",
            f"- includes: {_code(r.includes)}",
            "- permissions: "
            + (
                f"all {len(registry.permissions)}"
                if r.grants_all
                else f"{len(summary.permissions)} of {len(registry.permissions)}"
            ),
            "",
        ]
        out += _table(
            ("area", "can", "cannot"),
            (
                (
                    a.area,
                    "; ".join(p.title for p in a.can) or "-",
                    "; ".join(p.title for p in a.cannot) or "-",
                )
                for a in summary.areas
            ),
        )
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


__all__ = [
    "DOCS_COMMAND",
    "RISK_MEANINGS",
    "AreaSummary",
    "RoleSummary",
    "areas",
    "closed_permissions",
    "permissions_by_area",
    "permissions_markdown",
    "role_summary",
    "summary_as_dict",
    "summary_lines",
]
