"""Planning and running an import of the legacy tables into rolecall.

:func:`plan_import` maps every legacy row and says, for each, what it becomes: a grant to
create, a grant that exists already, a row skipped on purpose, or a problem with its reason.
It writes nothing (``--dry-run`` stops there). :func:`run_import` writes the plan in batches,
each one transaction, all under one audit batch id; grants already present are left alone, so
running it again after a failure finishes the work without duplicates, and running it on an
imported state writes nothing at all.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from rolecall.core import (
    BadInputError,
    DerivedRole,
    GrantRow,
    Rolecall,
    Scope,
    ScopeKeyError,
    check_username,
    skeleton,
)
from rolecall.core.reads.stored import stored_grants, stored_lookalikes, stored_users

from .mapping import (
    ACCESS_TABLE,
    CCX_PREFIX,
    FORUM_TABLE,
    STAFF_ROLE,
    USER_TABLE,
    Level,
    RoleMapping,
)
from .reader import PAGE, ForumRole, LegacyData, LegacySource, LegacyUser, MemorySource, UserRows

ProblemKind = Literal[
    "unknown_role",
    "wrong_level",
    "malformed_key",
    "unknown_user",
    "invalid_username",
    "retired_user",
    "role_not_registered",
    "not_assignable_here",
    "unknown_forum_role",
    "case_variant",
]
_T = TypeVar("_T")
DEFAULT_BATCH = 1000
DEFAULT_SLICE = 10_000
"""Source rows read, mapped and written per slice of a streamed import."""


@dataclass(frozen=True)
class RowProblem:
    """A legacy row that is not imported, and why. Rows skipped on purpose have the ``kind``
    ``ignored`` (their role maps to nothing), ``derived`` (their role is a derived role, held
    through its source, never stored: forum ``Student`` rows under the Open edX integration)
    or ``inactive_user`` (the account is inactive, and the LMS gives it nothing); a problem has
    one of :data:`ProblemKind`."""

    table: str
    row_id: int
    kind: str
    reason: str


@dataclass(frozen=True)
class PlannedGrant:
    table: str
    row_id: int
    user: str
    role: str
    scope: str


@dataclass(frozen=True)
class DuplicateRow:
    """A legacy row meaning the same grant as a row read before it, which is the one kept (and
    named in the grant's audit reason)."""

    table: str
    row_id: int
    user: str
    role: str
    scope: str
    kept_table: str
    kept_row_id: int


@dataclass
class ImportPlan:
    create: list[PlannedGrant] = field(default_factory=list)
    exists: list[PlannedGrant] = field(default_factory=list)
    users: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    ignored: list[RowProblem] = field(default_factory=list)
    duplicates: list[DuplicateRow] = field(default_factory=list)
    deleted: int = 0

    @property
    def work(self) -> int:
        """How many writes the plan holds (users to add and grants to create)."""
        return len(self.users) + len(self.create)

    def summary(self) -> dict[str, int]:
        counts = {name: len(getattr(self, name)) for name in LISTS}
        inactive = sum(p.kind == "inactive_user" for p in self.ignored)
        return summary_of(counts, deleted=self.deleted, inactive=inactive)


LISTS = ("create", "exists", "users", "ignored", "problems", "duplicates")
"""The lists of a plan (and of the ``--json`` report), in the report's order."""


def summary_of(counts: Mapping[str, int], *, deleted: int, inactive: int) -> dict[str, int]:
    """The report's summary from the length of each list of :data:`LISTS`."""
    return {
        "grants_to_create": counts["create"],
        "grants_existing": counts["exists"],
        "users_to_create": counts["users"],
        "problems": counts["problems"],
        "ignored": counts["ignored"],
        "deleted_rows_skipped": deleted,
        "duplicate_rows": counts["duplicates"],
        "inactive_user_rows": inactive,
    }


@dataclass(frozen=True)
class ImportResult:
    batch_id: str
    users_created: int
    grants_created: int
    revision: int


def username_problem(name: str) -> str | None:
    """Why rolecall cannot take ``name`` as a username, or None."""
    if not name:
        return "the username is empty"
    try:
        check_username(name)
    except BadInputError:
        return (
            f"username {name!r} is not valid in rolecall (printable, no spaces, no '/', "
            "at most 150)"
        )
    return None


def case_variants(counts: Mapping[str, int]) -> dict[str, str]:
    """Of keys that differ only in case, each one but the most used (ties: the first in code
    point order) -> that most used one, from ``counts`` (key -> rows using it)."""
    groups: dict[str, list[str]] = {}
    for key in counts:
        groups.setdefault(key.casefold(), []).append(key)
    variants = {}
    for keys in groups.values():
        if len(keys) > 1:
            kept = min(keys, key=lambda k: (-counts[k], k))
            variants.update({k: kept for k in keys if k != kept})
    return variants


def _case_hint(name: str, names: Iterable[str]) -> str:
    """A hint naming the mapped name ``name`` differs from only in case, or ``""``."""
    same = sorted(n for n in names if n != name and n.casefold() == name.casefold())
    if not same:
        return ""
    return (
        f" (it differs only in case from {same[0]!r}; the LMS compares role names exactly, so "
        f"the row gives nothing there: fix the row, or map {name!r} in a settings file)"
    )


class _PlannedNames:
    """The new names planned so far in a run, by skeleton (for look-alikes), in a temporary
    SQLite file of their own, deleted when closed: a run may plan millions of new users, and a
    dry run writes none of them to rolecall's database, so neither memory nor that database
    can hold them."""

    def __init__(self) -> None:
        # "": a private temporary database on disk; only its page cache is in memory.
        self._db = sqlite3.connect("")
        self._db.execute("CREATE TABLE planned (shape TEXT PRIMARY KEY, name TEXT NOT NULL)")

    def first(self, name: str) -> str:
        """The name planned first with ``name``'s skeleton: ``name`` itself when there is
        none yet (then ``name`` is recorded)."""
        shape = skeleton(name)
        row = self._db.execute("SELECT name FROM planned WHERE shape = ?", (shape,)).fetchone()
        if row is not None:
            return str(row[0])
        self._db.execute("INSERT INTO planned (shape, name) VALUES (?, ?)", (shape, name))
        return name

    def close(self) -> None:
        self._db.close()


class _Planner:
    """Maps the rows of one user at a time (:meth:`user_rows`) into :attr:`plan`. Only what
    must outlive a user is kept across them: the course keys that differ only in case, the
    forum roles, and the new names planned (on disk: :class:`_PlannedNames`). What rolecall
    holds of the users of a slice (whether they exist and are active, the stored users their
    names look like, their grants) is read from the database once per slice
    (:meth:`read_slice`), never from the index: memory is that of one slice, whatever the
    number of users, and the service writing the import keeps no grant
    (``keep_grants=False``)."""

    def __init__(
        self,
        rc: Rolecall,
        mapping: RoleMapping,
        forum_roles: Mapping[int, ForumRole],
        variants: Mapping[str, str],
        plan: ImportPlan,
    ) -> None:
        self.rc = rc
        self.mapping = mapping
        self.forum_roles = forum_roles
        self.variants = variants
        self.plan = plan
        self.known: dict[str, bool] = {}  # of the slice's users: name -> active
        self._similar: dict[str, str] = {}  # a slice's new name -> a stored look-alike
        self._planned = _PlannedNames()
        self._checked: tuple[str, str | None] | None = None  # (name, look-alike) of the user
        # Of the user whose rows are being read (every row of a user is read together, so
        # a duplicate is always one of theirs).
        self.group = UserRows(None, None, [], [])
        self._held: set[tuple[str, str]] | None = None
        self._stored: dict[str, set[tuple[str, str]]] = {}  # of the slice's known users
        self._seen: dict[tuple[str, str, str], tuple[str, int]] = {}
        self._added = False  # the user is planned to be added

    def problem(self, table: str, row_id: int, kind: str, reason: str) -> None:
        skipped = kind in ("ignored", "derived", "inactive_user")
        target = self.plan.ignored if skipped else self.plan.problems
        target.append(RowProblem(table, row_id, kind, reason))

    def lookalike(self, name: str) -> str | None:
        """The user known (or already planned) whose name looks like ``name``, a new name;
        rolecall refuses to add such a look-alike. A stored user comes first (the first in
        code point order), then the name planned first."""
        if name in self.known:
            return None
        if self._checked is not None and self._checked[0] == name:
            return self._checked[1]
        other = self._similar.get(name) or self._planned.first(name)
        found = None if other == name else other
        self._checked = (name, found)
        return found

    def read_slice(self, piece: Iterable[UserRows]) -> None:
        """Read what rolecall holds of the users of ``piece`` (a slice, before it is mapped):
        which exist and are active, the stored users the new names look like, and the grants
        of the known ones. Three queries (in chunks of a few thousand names), whatever the
        number of users stored."""
        names = [
            g.user.username
            for g in piece
            if g.user is not None and g.user.is_active and username_problem(g.user.username) is None
        ]
        self.known = stored_users(self.rc, names)
        self._similar = stored_lookalikes(self.rc, (n for n in names if n not in self.known))
        self._stored = stored_grants(self.rc, (n for n in names if n in self.known))

    def close(self) -> None:
        self._planned.close()

    def held(self, user: str) -> set[tuple[str, str]]:
        if self._held is None:
            self._held = self._stored.get(user, set())
        return self._held

    def scope(self, table: str, row_id: int, key: str, level: Level) -> Scope | None:
        if key.startswith(CCX_PREFIX) and "ccx" not in self.rc.registry.scope_types:
            self.problem(
                table,
                row_id,
                "role_not_registered",
                "custom course keys (ccx-v1) need the ccx plugin (rolecall-ccx), which is not "
                "installed",
            )
            return None
        try:
            return self.rc.registry.scopes.resolve(key)
        except ScopeKeyError as exc:
            what = {"course": "course key", "org": "org", "platform": "scope"}[level]
            self.problem(table, row_id, "malformed_key", f"malformed {what}: {exc.reason}")
            return None

    def on_ccx(
        self, table: str, row_id: int, name: str, target: str, roles: Mapping[str, str]
    ) -> str | None:
        """The role a row naming ``name`` (mapped to ``target``) gives on a custom course:
        ``target`` itself where it can be held there, else the custom course's own role."""
        try:
            if "ccx" in self.rc.role(target).scope_types:
                return target
        except BadInputError:
            pass
        if name in roles:
            return roles[name]
        self.problem(
            table,
            row_id,
            "not_assignable_here",
            f"{name} on a custom course has no rolecall equivalent",
        )
        return None

    def _derived(self, target: str) -> DerivedRole | None:
        try:
            return self.rc.registry.derived_roles.get(self.rc.role(target).id)
        except BadInputError:
            return None

    def case_variant(self, table: str, row_id: int, key: str) -> bool:
        """Whether ``key`` differs only in case from a key more rows use (then reported)."""
        kept = self.variants.get(key)
        if kept is None:
            return False
        self.problem(
            table,
            row_id,
            "case_variant",
            f"course key {key!r} differs only in case from {kept!r}, which more rows use; the "
            "LMS compares keys exactly, so the row gives nothing on that course: fix the row",
        )
        return True

    def user(self, table: str, row_id: int) -> LegacyUser | None:
        user = self.group.user
        if user is None:
            self.problem(
                table, row_id, "unknown_user", f"no auth_user row with id {self.group.user_id}"
            )
            return None
        if not user.is_active:
            self.problem(
                table,
                row_id,
                "inactive_user",
                f"{user.username}'s account is inactive (auth_user.is_active): the LMS gives an "
                "inactive account nothing",
            )
            return None
        bad = username_problem(user.username)
        if bad is not None:
            self.problem(table, row_id, "invalid_username", bad)
            return None
        other = self.lookalike(user.username)
        if other is not None:
            self.problem(
                table,
                row_id,
                "invalid_username",
                f"username {user.username!r} looks like the user {other!r} (the same once case "
                "and Unicode compatibility forms are set aside)",
            )
            return None
        if self.known.get(user.username) is False:
            self.problem(table, row_id, "retired_user", f"{user.username} is retired in rolecall")
            return None
        return user

    def grant(self, table: str, row_id: int, target: str, scope: Scope) -> None:
        try:
            role = self.rc.role(target)
        except BadInputError:
            self.problem(
                table,
                row_id,
                "role_not_registered",
                f"role {target} is not registered (is the plugin that provides it installed?)",
            )
            return
        if scope.type not in role.scope_types:
            self.problem(
                table,
                row_id,
                "not_assignable_here",
                f"{role.id} cannot be assigned at a {scope.type} scope",
            )
            return
        user = self.user(table, row_id)
        if user is None:
            return
        key = (user.username, role.id, scope.key)
        kept = self._seen.get(key)
        if kept is not None:
            self.plan.duplicates.append(DuplicateRow(table, row_id, *key, *kept))
            return
        self._seen[key] = (table, row_id)
        planned = PlannedGrant(table, row_id, user.username, role.id, scope.key)
        if (role.id, scope.key) in self.held(user.username):
            self.plan.exists.append(planned)
            return
        self.plan.create.append(planned)
        if user.username not in self.known and not self._added:
            self._added = True
            self.plan.users.append((user.username, user.email, user.display_name))

    def user_rows(self, group: UserRows, *, staff_admins: bool = False) -> None:
        """Map one user's rows: course access rows, forum memberships, then (with
        ``staff_admins``) their ``is_staff`` flag."""
        self.group, self._held, self._seen, self._added = group, None, {}, False
        self._checked = None
        self.access_rows()
        self.forum_rows()
        if staff_admins:
            self.staff()

    def access_rows(self) -> None:
        for row in self.group.access:
            if row.deleted:
                self.plan.deleted += 1
                continue
            if row.role not in self.mapping.course_roles:
                hint = _case_hint(row.role, self.mapping.course_roles)
                self.problem(
                    ACCESS_TABLE,
                    row.id,
                    "unknown_role",
                    f"unknown legacy role {row.role!r}{hint}",
                )
                continue
            target, levels = self.mapping.course_roles[row.role]
            level: Level = "course" if row.course_id else "org" if row.org else "platform"
            if level == "course" and self.case_variant(ACCESS_TABLE, row.id, row.course_id):
                continue
            if level == "course" and row.course_id.startswith("library-v1:"):
                # A v1 library's row: the library's own roles, whatever the course table says.
                scope = self.scope(ACCESS_TABLE, row.id, row.course_id, level)
                if scope is None:
                    continue
                library_role = self.mapping.library_roles.get(row.role)
                if library_role is None:
                    self.problem(
                        ACCESS_TABLE,
                        row.id,
                        "not_assignable_here",
                        f"{row.role} on a v1 library has no rolecall equivalent",
                    )
                    continue
                self.grant(ACCESS_TABLE, row.id, library_role, scope)
                continue
            if target is None:
                self.problem(
                    ACCESS_TABLE,
                    row.id,
                    "ignored",
                    f"{row.role} has no rolecall equivalent (map it in a settings file)",
                )
                continue
            if level not in levels:
                self.problem(
                    ACCESS_TABLE,
                    row.id,
                    "wrong_level",
                    f"the legacy system reads {row.role} only at {' and '.join(levels)} level, "
                    f"not at {level} level",
                )
                continue
            key = {"course": row.course_id, "org": f"org:{row.org}", "platform": "platform"}
            scope = self.scope(ACCESS_TABLE, row.id, key[level], level)
            if scope is None:
                continue
            if scope.type == "ccx":
                on_ccx = self.on_ccx(ACCESS_TABLE, row.id, row.role, target, self.mapping.ccx_roles)
                if on_ccx is None:
                    continue
                target = on_ccx
            self.grant(ACCESS_TABLE, row.id, target, scope)

    def forum_rows(self) -> None:
        for row in self.group.forum:
            if row.deleted:
                self.plan.deleted += 1
                continue
            forum = self.forum_roles.get(row.role_id) if row.role_id is not None else None
            if forum is None:
                self.problem(
                    FORUM_TABLE,
                    row.id,
                    "unknown_forum_role",
                    f"no django_comment_client_role row with id {row.role_id}",
                )
                continue
            if forum.name not in self.mapping.forum_roles:
                hint = _case_hint(forum.name, self.mapping.forum_roles)
                self.problem(
                    FORUM_TABLE, row.id, "unknown_role", f"unknown forum role {forum.name!r}{hint}"
                )
                continue
            target = self.mapping.forum_roles[forum.name]
            if target is None:
                self.problem(FORUM_TABLE, row.id, "ignored", f"forum role {forum.name} is skipped")
                continue
            derived = self._derived(target)
            # A derived role is declared for courses; a custom course's rows are its own roles.
            if derived is not None and not forum.course_id.startswith(CCX_PREFIX):
                self.problem(
                    FORUM_TABLE,
                    row.id,
                    "derived",
                    f"{derived.role} is held through {derived.source} ({derived.description}): "
                    "not stored",
                )
                continue
            if not forum.course_id:
                self.problem(FORUM_TABLE, row.id, "malformed_key", "the forum role has no course")
                continue
            if self.case_variant(FORUM_TABLE, row.id, forum.course_id):
                continue
            scope = self.scope(FORUM_TABLE, row.id, forum.course_id, "course")
            if scope is None:
                continue
            if scope.type == "ccx":
                on_ccx = self.on_ccx(
                    FORUM_TABLE, row.id, forum.name, target, self.mapping.ccx_forum_roles
                )
                if on_ccx is None:
                    continue
                target = on_ccx
            self.grant(FORUM_TABLE, row.id, target, scope)

    def staff(self) -> None:
        user = self.group.user
        if user is None or not user.is_staff:
            return
        if not user.is_active:
            self.problem(USER_TABLE, user.id, "ignored", f"{user.username} is staff but inactive")
            return
        self.grant(USER_TABLE, user.id, STAFF_ROLE, self.rc.registry.scopes.resolve("platform"))


def plan_import(
    rc: Rolecall, data: LegacyData, mapping: RoleMapping, *, staff_admins: bool = False
) -> ImportPlan:
    """What importing ``data`` would do; writes nothing. With ``staff_admins``, every active
    ``is_staff`` account becomes a platform admin."""
    rc.sync()
    source = MemorySource(data)
    plan = ImportPlan()
    planner = _Planner(rc, mapping, source.forum_roles, case_variants(source.key_counts()), plan)
    try:
        for piece in source.slices(PAGE, staff=staff_admins):
            planner.read_slice(piece)
            for group in piece:
                planner.user_rows(group, staff_admins=staff_admins)
    finally:
        planner.close()
    return plan


def stream_import(
    rc: Rolecall,
    source: LegacySource,
    mapping: RoleMapping,
    report: Callable[[ImportPlan], None],
    *,
    staff_admins: bool = False,
    dry_run: bool = False,
    slice_size: int = DEFAULT_SLICE,
    batch_size: int = DEFAULT_BATCH,
    batch_id: str | None = None,
    actor: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult | None:
    """Plan and (unless ``dry_run``) write the import a slice of ``source`` at a time: each
    slice (whole users, about ``slice_size`` rows) is mapped, handed to ``report``, and its
    users and grants written in transactions of ``batch_size`` rows before the next slice is
    read; ``progress`` is told how many source rows each slice held. Memory stays that of one
    slice whatever the source's size and the number of users, the grants and users written
    included when ``rc`` is a loader (``Rolecall.open(keep_grants=False)``, as the command opens
    it): what rolecall holds of a slice's users is asked of the database, and the new names
    planned (for look-alikes) are kept on disk. The answers are those of :func:`plan_import`
    and :func:`run_import`: every row of a user is in one slice, so a slice written never
    changes how a later one is read (a new name planned earlier is found as a look-alike
    whether it was written or not). Returns None for a dry run."""
    if batch_size < 1 or slice_size < 1:
        raise BadInputError("the batch size and the slice size must be at least 1")
    rc.sync()
    variants = case_variants(source.key_counts())
    planner = _Planner(rc, mapping, source.forum_roles, variants, ImportPlan())
    batch_id = batch_id or str(uuid.uuid4())
    revision = rc.revision
    users = grants = 0
    try:
        for piece in source.slices(slice_size, staff=staff_admins):
            plan = planner.plan = ImportPlan()
            planner.read_slice(piece)
            for group in piece:
                planner.user_rows(group, staff_admins=staff_admins)
            report(plan)
            if not dry_run and plan.work:
                revision = run_import(
                    rc, plan, batch_size=batch_size, batch_id=batch_id, actor=actor
                ).revision
                users += len(plan.users)
                grants += len(plan.create)
            if progress is not None:
                progress(sum(group.rows for group in piece))
    finally:
        planner.close()
    if dry_run:
        return None
    return ImportResult(
        batch_id=batch_id, users_created=users, grants_created=grants, revision=revision
    )


def _chunks(items: list[_T], size: int) -> Iterable[list[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def run_import(
    rc: Rolecall,
    plan: ImportPlan,
    *,
    batch_size: int = DEFAULT_BATCH,
    batch_id: str | None = None,
    actor: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Write the plan: users first, then grants, ``batch_size`` rows per transaction. Every
    audit event has the action ``import`` and ``batch_id`` (a new one if not given; pass the
    batch id of an interrupted run to resume it under the same id)."""
    if batch_size < 1:
        raise BadInputError("the batch size must be at least 1")
    batch_id = batch_id or str(uuid.uuid4())
    revision = rc.revision
    for users in _chunks(plan.users, batch_size):
        revision = rc.import_users(users, actor=actor, batch_id=batch_id)
        if progress is not None:
            progress(len(users))
    for grants in _chunks(plan.create, batch_size):
        rows = [
            GrantRow(g.user, g.role, g.scope, reason=f"legacy {g.table} {g.row_id}") for g in grants
        ]
        revision = rc.import_grants(rows, actor=actor, batch_id=batch_id)
        if progress is not None:
            progress(len(grants))
    return ImportResult(
        batch_id=batch_id,
        users_created=len(plan.users),
        grants_created=len(plan.create),
        revision=revision,
    )
