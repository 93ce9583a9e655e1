"""A deterministic synthetic data set shaped like an Open edX installation.

Everything comes from one seeded ``random.Random``: the same ``size`` and ``seed`` give the same
orgs, courses, libraries, users, grants and queries on every machine and every run.

Shape (``size`` = the number of assignments):

- ``size // 5000`` orgs (at least 5), with Zipf-like weights: a few big orgs, a long tail;
- ``size // 50`` courses (at least 50), spread over the orgs by weight; a tenth as many libraries;
- users holding one to three roles (50 % / 30 % / 20 %), about 1.7 each, mostly in one home org;
- each grant is on one course or library (94 %: a course 95 % of the time, a library 5 %),
  org-wide (5 %) or platform-wide (1 %);
- the roles are openedx-authz's course roles (``course_auditor`` < ``course_editor`` <
  ``course_staff`` < ``course_admin``, reference section 4) and its library roles, with their
  ``courses.*`` / ``content_libraries.*`` permission sets and manage -> edit -> view implications.
  They are registered by :class:`BenchCatalogue`, a plugin object passed with ``extra=``, so the
  benchmark does not depend on the built-in catalogue.

:func:`queries` is the check mix: mostly hits on the user's own course, some org- and
platform-inherited hits, some misses; each query carries the answer computed here, independently
of rolecall, so every engine measured can be checked for correctness as well as speed.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeVar

from rolecall.core import Permission, Role, hookimpl

T = TypeVar("T")
SEED = 20260
ROLE_COUNTS = (1, 2, 3)
ROLE_COUNT_WEIGHTS = (50, 30, 20)
LOCAL, ORG_WIDE, PLATFORM_WIDE = 0.94, 0.05, 0.01
LIBRARY_SHARE = 0.05
"""Of the grants on one scope, the share on a library rather than a course."""
RUNS = ("2024_T1", "2025_T2", "2026_T1")

# ----------------------------------------------------------------------------- the catalogue

COURSE = "courses."
LIBRARY = "content_libraries."

COURSE_VIEWS = (
    "view_course",
    "view_course_updates",
    "view_pages_and_resources",
    "view_files",
    "view_grading_settings",
    "view_checklists",
    "view_course_team",
    "view_schedule_and_details",
    "view_advanced_settings",
    "view_certificates",
    "view_group_configurations",
    "view_library_updates",
)
COURSE_EDITS = (
    "edit_course_content",
    "manage_library_updates",
    "manage_course_updates",
    "manage_pages_and_resources",
    "create_files",
    "edit_files",
    "edit_grading_settings",
    "manage_group_configurations",
    "edit_details",
    "manage_tags",
)
COURSE_STAFF = (
    "publish_course_content",
    "delete_files",
    "edit_schedule",
    "manage_advanced_settings",
    "manage_certificates",
    "import_course",
    "export_course",
    "export_tags",
)
COURSE_ADMIN = ("manage_course_team", "manage_taxonomies")

COURSE_IMPLIES: dict[str, tuple[str, ...]] = {
    # view_* of a part implies seeing the course at all
    **{v: ("view_course",) for v in COURSE_VIEWS if v != "view_course"},
    "edit_course_content": ("view_course",),
    "publish_course_content": ("edit_course_content",),
    "manage_library_updates": ("view_library_updates",),
    "manage_course_updates": ("view_course_updates",),
    "manage_pages_and_resources": ("view_pages_and_resources",),
    "create_files": ("view_files",),
    "edit_files": ("view_files",),
    "delete_files": ("edit_files",),
    "edit_grading_settings": ("view_grading_settings",),
    "manage_group_configurations": ("view_group_configurations",),
    "edit_details": ("view_schedule_and_details",),
    "edit_schedule": ("view_schedule_and_details",),
    "manage_advanced_settings": ("view_advanced_settings",),
    "manage_certificates": ("view_certificates",),
    "import_course": ("edit_course_content",),
    "export_course": ("view_course",),
    "manage_tags": ("view_course",),
    "export_tags": ("manage_tags",),
    "manage_course_team": ("view_course_team",),
    "manage_taxonomies": ("manage_tags",),
}
COURSE_UNGRANTED = ("create_course",)
"""openedx-authz has ``courses.create_course`` but no role grants it (a known gap)."""

LIBRARY_PERMISSIONS = (
    "view_library",
    "manage_library_tags",
    "delete_library",
    "edit_library_content",
    "publish_library_content",
    "reuse_library_content",
    "view_library_team",
    "manage_library_team",
    "create_library_collection",
    "edit_library_collection",
    "delete_library_collection",
)
LIBRARY_IMPLIES: dict[str, tuple[str, ...]] = {
    "manage_library_tags": ("edit_library_content",),
    "delete_library": ("edit_library_content",),
    "publish_library_content": ("edit_library_content", "view_library"),
    "edit_library_content": ("view_library",),
    "reuse_library_content": ("view_library",),
    "edit_library_collection": ("view_library",),
    "manage_library_team": ("view_library_team",),
    "create_library_collection": ("edit_library_collection",),
    "delete_library_collection": ("edit_library_collection",),
}

ROLE_SCOPES = {
    "course": ("course", "org", "platform"),
    "library": ("library", "org", "platform"),
}


@dataclass(frozen=True)
class RoleSpec:
    id: str
    kind: str  # "course" or "library"
    own: tuple[str, ...]  # full permission ids the role lists itself
    includes: tuple[str, ...] = ()


def _c(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(COURSE + n for n in names)


def _lib(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(LIBRARY + n for n in names)


_LIB_ADMIN = LIBRARY_PERMISSIONS
_LIB_AUTHOR = tuple(p for p in _LIB_ADMIN if p not in ("delete_library", "manage_library_team"))
_LIB_CONTRIBUTOR = tuple(p for p in _LIB_AUTHOR if p != "publish_library_content")

ROLES: tuple[RoleSpec, ...] = (
    RoleSpec("course_auditor", "course", _c(COURSE_VIEWS)),
    RoleSpec("course_editor", "course", _c(COURSE_EDITS), ("course_auditor",)),
    RoleSpec("course_staff", "course", _c(COURSE_STAFF), ("course_editor",)),
    RoleSpec("course_admin", "course", _c(COURSE_ADMIN), ("course_staff",)),
    RoleSpec("library_admin", "library", _lib(_LIB_ADMIN)),
    RoleSpec("library_author", "library", _lib(_LIB_AUTHOR)),
    RoleSpec("library_contributor", "library", _lib(_LIB_CONTRIBUTOR)),
    RoleSpec(
        "library_user",
        "library",
        _lib(("view_library", "reuse_library_content", "view_library_team")),
    ),
)
ROLE_KIND = {r.id: r.kind for r in ROLES}


def _implications() -> dict[str, tuple[str, ...]]:
    edges: dict[str, tuple[str, ...]] = {}
    for name in (*COURSE_VIEWS, *COURSE_EDITS, *COURSE_STAFF, *COURSE_ADMIN, *COURSE_UNGRANTED):
        edges[COURSE + name] = _c(COURSE_IMPLIES.get(name, ()))
    for name in LIBRARY_PERMISSIONS:
        edges[LIBRARY + name] = _lib(LIBRARY_IMPLIES.get(name, ()))
    return edges


IMPLIES = _implications()
"""Every permission id -> the permissions it implies directly."""


def _closure(permission: str, seen: set[str]) -> set[str]:
    if permission not in seen:
        seen.add(permission)
        for implied in IMPLIES[permission]:
            _closure(implied, seen)
    return seen


def _role_closure() -> dict[str, frozenset[str]]:
    """Each role's closed permission set, computed here without rolecall."""
    by_id = {r.id: r for r in ROLES}
    closed: dict[str, frozenset[str]] = {}
    for role in ROLES:
        listed: set[str] = set()
        stack = [role.id]
        while stack:
            current = by_id[stack.pop()]
            listed.update(current.own)
            stack.extend(current.includes)
        found: set[str] = set()
        for permission in listed:
            _closure(permission, found)
        closed[role.id] = frozenset(found)
    return closed


ROLE_PERMISSIONS = _role_closure()
"""Role id -> closed permission set (own, included roles', implied), independent of rolecall."""
_SORTED = {role: sorted(perms) for role, perms in ROLE_PERMISSIONS.items()}


class BenchCatalogue:
    """The benchmark's plugin: the openedx-authz course and library roles and permissions.

    Passed to ``load_plugins(..., extra={"rolecall_bench": BenchCatalogue()})``.
    """

    @hookimpl
    def register_permissions(self) -> list[Permission]:
        found = []
        for pid, implies in IMPLIES.items():
            kind = "course" if pid.startswith(COURSE) else "library"
            action = pid.split(".", 1)[1]
            found.append(
                Permission(
                    id=pid,
                    title=action.replace("_", " ").capitalize(),
                    description=f"Benchmark permission {pid}.",
                    area="Courses" if kind == "course" else "Libraries",
                    scope_types=(kind,),
                    implies=implies,
                )
            )
        return found

    @hookimpl
    def register_roles(self) -> list[Role]:
        return [
            Role(
                id=r.id,
                title=r.id.replace("_", " ").capitalize(),
                description=f"Benchmark role {r.id} (openedx-authz shape).",
                scope_types=ROLE_SCOPES[r.kind],
                permissions=r.own,
                includes=r.includes,
            )
            for r in ROLES
        ]


# ----------------------------------------------------------------------------- the data


def org_key(org: str) -> str:
    return f"org:{org}"


def chain(scope: str) -> tuple[str, ...]:
    """``scope`` and its ancestors, nearest first, from the key alone (as rolecall does)."""
    if scope == "platform":
        return ("platform",)
    if scope.startswith("org:"):
        return (scope, "platform")
    if scope.startswith("course-v1:"):
        org = scope[len("course-v1:") :].split("+", 1)[0]
    else:  # lib:ORG:NAME
        org = scope.split(":", 2)[1]
    return (scope, org_key(org), "platform")


def scope_type(scope: str) -> str:
    if scope == "platform":
        return "platform"
    return {"org": "org", "course-v1": "course", "lib": "library"}[scope.split(":", 1)[0]]


@dataclass(frozen=True)
class Query:
    user: str
    permission: str
    scope: str
    expected: bool
    kind: str  # own | org | platform | other_course | other_permission | other_org


@dataclass
class Dataset:
    size: int
    seed: int
    orgs: list[str]
    courses: list[str]
    libraries: list[str]
    users: list[str]
    grants: list[tuple[str, str, str]]
    """(user, role, scope), in insertion order, unique."""
    courses_by_org: dict[str, list[str]] = field(repr=False)

    @property
    def scopes(self) -> list[str]:
        """Every course and library, the scopes the service is told about (``add_scopes``)."""
        return [*self.courses, *self.libraries]

    @cached_property
    def by_user(self) -> dict[str, list[tuple[str, str]]]:
        found: dict[str, list[tuple[str, str]]] = {}
        for user, role, scope in self.grants:
            found.setdefault(user, []).append((role, scope))
        return found

    def level_counts(self) -> dict[str, int]:
        counts = {"course": 0, "library": 0, "org": 0, "platform": 0}
        for _, _, scope in self.grants:
            counts[scope_type(scope)] += 1
        return counts

    def allowed(self, user: str, permission: str, scope: str) -> bool:
        """The decision rule without restrictions or expiry, computed from the raw grants."""
        if scope_type(scope) != ("course" if permission.startswith(COURSE) else "library"):
            return False
        ancestors = set(chain(scope))
        return any(
            s in ancestors and permission in ROLE_PERMISSIONS[r]
            for r, s in self.by_user.get(user, ())
        )


def _pick(rng: random.Random, items: Sequence[T], cum_weights: Sequence[float]) -> T:
    """``rng.choices(items, cum_weights=...)[0]``, the same draw without its overhead."""
    return items[bisect.bisect(cum_weights, rng.random() * cum_weights[-1], 0, len(items) - 1)]


def _weighted_orgs(rng: random.Random, count: int) -> tuple[list[str], list[float]]:
    """Org names and their cumulative weights (``random.choices(cum_weights=...)`` is O(log n)
    with them, O(n) with plain weights: it matters a million times over)."""
    orgs = [f"Org{i:03d}x" for i in range(count)]
    weights = [1.0 / (i + 1) ** 0.8 for i in range(count)]
    rng.shuffle(weights)
    return orgs, list(itertools.accumulate(weights))


def build(size: int, seed: int = SEED) -> Dataset:
    """The data set with exactly ``size`` assignments."""
    rng = random.Random(f"{seed}:{size}")
    n_orgs = max(5, size // 5000)
    n_courses = max(50, size // 50)
    n_libraries = max(5, n_courses // 10)
    orgs, org_cum = _weighted_orgs(rng, n_orgs)

    courses_by_org: dict[str, list[str]] = {o: [] for o in orgs}
    libraries_by_org: dict[str, list[str]] = {o: [] for o in orgs}
    courses: list[str] = []
    for i in range(n_courses):
        org = orgs[i] if i < n_orgs else _pick(rng, orgs, org_cum)
        key = f"course-v1:{org}+C{i:05d}+{rng.choice(RUNS)}"
        courses.append(key)
        courses_by_org[org].append(key)
    libraries: list[str] = []
    for i in range(n_libraries):
        org = _pick(rng, orgs, org_cum)
        key = f"lib:{org}:lib{i:05d}"
        libraries.append(key)
        libraries_by_org[org].append(key)

    course_roles = ["course_auditor", "course_editor", "course_staff", "course_admin"]
    course_cum = list(itertools.accumulate([30, 35, 25, 10]))
    library_roles = ["library_user", "library_contributor", "library_author", "library_admin"]
    library_cum = list(itertools.accumulate([40, 30, 20, 10]))
    wide_roles = ["course_auditor", "course_staff", "course_admin"]
    wide_cum = list(itertools.accumulate([30, 40, 30]))
    count_cum = list(itertools.accumulate(ROLE_COUNT_WEIGHTS))

    users: list[str] = []
    grants: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str, str]] = set()
    while len(grants) < size:
        user = f"user{len(users):07d}"
        users.append(user)
        home = _pick(rng, orgs, org_cum)
        held = _pick(rng, ROLE_COUNTS, count_cum)
        for _ in range(held):
            level = rng.random()
            if level < LOCAL:
                org = home if rng.random() < 0.8 else _pick(rng, orgs, org_cum)
                if rng.random() < LIBRARY_SHARE and libraries_by_org[org]:
                    scope = rng.choice(libraries_by_org[org])
                    role = _pick(rng, library_roles, library_cum)
                else:
                    scope = rng.choice(courses_by_org[org])
                    role = _pick(rng, course_roles, course_cum)
            elif level < LOCAL + ORG_WIDE:
                scope = org_key(home)
                role = _pick(rng, wide_roles, wide_cum)
            else:
                scope = "platform"
                role = rng.choice(("course_auditor", "course_admin"))
            grant = (user, role, scope)
            if grant not in seen and len(grants) < size:
                seen.add(grant)
                grants.append(grant)
    # A user whose only draws were duplicates holds nothing: keep them, the platform has such
    # users too (they are "known users without roles").
    return Dataset(
        size=size,
        seed=seed,
        orgs=orgs,
        courses=courses,
        libraries=libraries,
        users=users,
        grants=grants,
        courses_by_org=courses_by_org,
    )


# ----------------------------------------------------------------------------- the queries

QUERY_MIX: Mapping[str, int] = {
    "own": 75,  # a permission of the role, on the course or library the user holds it on
    "org": 8,  # a permission of an org-wide role, on a course of that org
    "platform": 2,  # a permission of a platform-wide role, on any course
    "other_course": 7,  # a permission the user has on one course, on another course
    "other_permission": 5,  # on the user's own course, a permission the role lacks
    "other_org": 3,  # on a course of another org
}


def queries(data: Dataset, count: int = 20_000, seed: int = SEED) -> list[Query]:
    """``count`` checks drawn by :data:`QUERY_MIX`, each with its expected answer."""
    rng = random.Random(f"queries:{seed}:{data.size}")
    course_local = [g for g in data.grants if g[2].startswith("course-v1:")]
    local = [*course_local, *(g for g in data.grants if g[2].startswith("lib:"))]
    org_wide = [g for g in data.grants if g[2].startswith("org:")]
    platform = [g for g in data.grants if g[2] == "platform"]
    every_permission = sorted(IMPLIES)
    kinds = list(QUERY_MIX)
    kind_cum = list(itertools.accumulate(QUERY_MIX.values()))
    found: list[Query] = []
    while len(found) < count:
        kind = _pick(rng, kinds, kind_cum)
        if kind == "own":
            user, role, scope = rng.choice(local)
            permission = rng.choice(_SORTED[role])
        elif kind == "org" and org_wide:
            user, role, scope = rng.choice(org_wide)
            scope = rng.choice(data.courses_by_org[scope.split(":", 1)[1]])
            permission = rng.choice(_SORTED[role])
        elif kind == "platform" and platform:
            user, role, _ = rng.choice(platform)
            scope = rng.choice(data.courses)
            permission = rng.choice(_SORTED[role])
        elif kind == "other_course":
            user, role, scope = rng.choice(course_local)
            org = chain(scope)[1].split(":", 1)[1]
            scope = rng.choice(data.courses_by_org[org])
            permission = rng.choice(_SORTED[role])
        elif kind == "other_permission":
            user, role, scope = rng.choice(course_local)
            lacking = [
                p
                for p in every_permission
                if p.startswith(COURSE) and p not in ROLE_PERMISSIONS[role]
            ]
            permission = rng.choice(lacking)
        else:  # other_org (or a level with no grants in a tiny data set)
            kind = "other_org"
            user, role, scope = rng.choice(course_local)
            scope = rng.choice(data.courses)
            permission = rng.choice(_SORTED[role])
        found.append(Query(user, permission, scope, data.allowed(user, permission, scope), kind))
    return found
