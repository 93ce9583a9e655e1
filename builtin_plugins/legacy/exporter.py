"""Writing rolecall's state back as rows of the legacy tables, to return to the legacy system.

:func:`build_export` turns every unexpired grant into the legacy row that means the same thing
(the mapping read backwards) and lists what has no legacy equivalent (a role the legacy system
does not have, a forum role above a course...). :func:`write_csv` writes the rows as a CSV export
(the format ``legacy import --from-csv`` reads, so the round trip is exact);
:func:`write_database` brings a live legacy database in line with rolecall: rows for grants made
in rolecall are added, and rows rolecall would import but no longer holds (revoked since) are
removed. Legacy rows rolecall does not manage (unknown roles, malformed keys...) are left alone.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, insert, update
from sqlalchemy.exc import SQLAlchemyError

from rolecall.core import BadInputError, Rolecall, Scope, ScopeKeyError

from .importer import plan_import
from .mapping import ACCESS_TABLE, FORUM_TABLE, STAFF_ROLE, USER_TABLE, Level, RoleMapping
from .reader import (
    COLUMNS,
    ForumRole,
    formula_escaped,
    hide_password,
    legacy_engine,
    read_database,
    reflect,
)

GrantKey = tuple[str, str, str]


@dataclass(frozen=True)
class Unexported:
    """A grant with no legacy row, and why."""

    user: str
    role: str
    scope: str
    reason: str


@dataclass(frozen=True)
class AccessOut:
    grant: GrantKey
    org: str
    course_id: str
    role: str


@dataclass(frozen=True)
class ForumOut:
    grant: GrantKey
    name: str
    course_id: str


@dataclass
class LegacyExport:
    users: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    access: list[AccessOut] = field(default_factory=list)
    forum: list[ForumOut] = field(default_factory=list)
    staff: dict[str, GrantKey] = field(default_factory=dict)
    unexported: list[Unexported] = field(default_factory=list)
    expired: int = 0


@dataclass
class DatabaseChanges:
    """What :func:`write_database` changed (or, on a dry run, would change)."""

    added_access: list[AccessOut] = field(default_factory=list)
    removed_access: list[int] = field(default_factory=list)
    added_forum: list[ForumOut] = field(default_factory=list)
    removed_forum: list[int] = field(default_factory=list)
    forum_roles_created: list[tuple[str, str]] = field(default_factory=list)
    staff_set: list[str] = field(default_factory=list)
    staff_cleared: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {
            f"{ACCESS_TABLE}_added": len(self.added_access),
            f"{ACCESS_TABLE}_removed": len(self.removed_access),
            f"{FORUM_TABLE}_added": len(self.added_forum),
            f"{FORUM_TABLE}_removed": len(self.removed_forum),
            "django_comment_client_role_added": len(self.forum_roles_created),
            "is_staff_set": len(self.staff_set),
            "is_staff_cleared": len(self.staff_cleared),
        }


def _level(scope: Scope) -> Level | None:
    if scope.type == "platform":
        return "platform"
    if scope.type == "org":
        return "org"
    # The legacy course_id column holds course keys (and CCX keys, which are course keys too).
    if scope.type in ("course", "ccx"):
        return "course"
    # And v1 library keys (library-v1:ORG+LIBRARY); v2 libraries keep their own tables.
    if scope.type == "library" and scope.key.startswith("library-v1:"):
        return "course"
    return None


def _org_of(scope: Scope) -> str:
    org = next((key for key in scope.chain if key.startswith("org:")), "org:")
    return org.removeprefix("org:")


def build_export(rc: Rolecall, mapping: RoleMapping, *, staff_admins: bool = False) -> LegacyExport:
    """The legacy rows for every unexpired grant; with ``staff_admins``, platform admins become
    ``is_staff`` accounts."""
    rc.sync()
    out = LegacyExport()
    for username, email, display, _active in rc.users():
        for grant in rc.grants(username):
            if grant.expired:
                out.expired += 1
                continue
            key = (username, grant.role, grant.scope)
            try:
                scope = rc.registry.scopes.resolve(grant.scope)
            except ScopeKeyError as exc:  # its scope type's plugin is gone
                out.unexported.append(Unexported(*key, exc.reason))
                continue
            level = _level(scope)
            if grant.role == STAFF_ROLE and level == "platform" and staff_admins:
                out.staff[username] = key
            elif (forum := mapping.forum_legacy_name(grant.role)) is not None:
                if scope.type != "course":
                    out.unexported.append(
                        Unexported(*key, f"legacy forum roles are per course, not per {scope.type}")
                    )
                    continue
                out.forum.append(ForumOut(key, forum, scope.key))
            elif scope.type == "ccx" and (name := mapping.ccx_forum_legacy_name(grant.role)):
                out.forum.append(ForumOut(key, name, scope.key))
            elif scope.type == "ccx" and (name := mapping.ccx_legacy_name(grant.role)):
                out.access.append(AccessOut(key, _org_of(scope), scope.key, name))
            elif scope.type == "library" and level == "course":
                name = mapping.library_legacy_name(grant.role)
                if name is None:
                    out.unexported.append(
                        Unexported(*key, f"no legacy role means {grant.role} on a v1 library")
                    )
                    continue
                out.access.append(AccessOut(key, _org_of(scope), scope.key, name))
            elif level is not None and (name := mapping.course_legacy_name(grant.role, level)):
                org = "" if level == "platform" else _org_of(scope)
                course_id = scope.key if level == "course" else ""
                out.access.append(AccessOut(key, org, course_id, name))
            else:
                hint = " (use --staff-admins for is_staff)" if grant.role == STAFF_ROLE else ""
                out.unexported.append(
                    Unexported(
                        *key, f"no legacy role means {grant.role} at a {scope.type} scope{hint}"
                    )
                )
                continue
            out.users.setdefault(username, (email, display))
    return out


def _names(display: str | None) -> tuple[str, str]:
    first, _, last = (display or "").partition(" ")
    return first, last


CSV_MODE = 0o600
"""The mode of the files ``write_csv`` creates: they name users and their e-mail addresses."""


def _cell(value: object) -> object:
    return formula_escaped(value) if isinstance(value, str) else value


def _render(header: tuple[str, ...], rows: list[list[object]]) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return text.getvalue().encode("utf-8")


def _write_new(folder: int, name: str, data: bytes) -> None:
    """Create ``name`` in the folder open as ``folder`` and write ``data`` into it; refuses a
    name that exists, a symbolic link included (it is never followed)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(name, flags, CSV_MODE, dir_fd=folder)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _open_folder(folder: Path) -> int:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(f"cannot create {folder}: {exc}") from None
    try:
        return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        if folder.is_symlink():
            raise BadInputError(f"{folder} is a symbolic link: give the folder itself") from None
        raise BadInputError(f"cannot open {folder}: {exc}") from None


def write_csv(export: LegacyExport, folder: Path, *, replace: bool = False) -> dict[str, int]:
    """Write the four tables as ``<table>.csv`` into ``folder`` (created if needed); user ids
    are numbered in username order. Returns the number of rows per file.

    The files are created new (mode 0600): a file of that name already there, or a symbolic
    link, is refused before anything is written, so the export never writes through a link
    nor over a file it did not create. With ``replace``, existing regular files are replaced
    whole (each written beside it under a new name, then renamed over it); links are still
    refused. Text cells that begin with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return get a single quote in front (:func:`.reader.formula_escaped`), so a spreadsheet
    shows them as text; ``legacy import --from-csv`` removes it again."""
    ids = {name: n for n, name in enumerate(sorted(export.users), start=1)}
    users: list[list[object]] = []
    for name, uid in ids.items():
        email, display = export.users[name]
        first, last = _names(display)
        users.append([uid, name, email or "", first, last, int(name in export.staff), 1])
    access: list[list[object]] = [
        [n, ids[row.grant[0]], row.org, row.course_id, row.role]
        for n, row in enumerate(export.access, start=1)
    ]
    forum_ids: dict[tuple[str, str], int] = {}
    for row in sorted(export.forum, key=lambda r: (r.course_id, r.name)):
        forum_ids.setdefault((row.name, row.course_id), len(forum_ids) + 1)
    roles: list[list[object]] = [[rid, name, course] for (name, course), rid in forum_ids.items()]
    members: list[list[object]] = [
        [n, forum_ids[(row.name, row.course_id)], ids[row.grant[0]]]
        for n, row in enumerate(export.forum, start=1)
    ]
    tables: dict[str, list[list[object]]] = {
        "auth_user": users,
        ACCESS_TABLE: access,
        "django_comment_client_role": roles,
        FORUM_TABLE: members,
    }
    files = {f"{table}.csv": _render(COLUMNS[table], rows) for table, rows in tables.items()}
    fd = _open_folder(folder)
    try:
        _write_files(fd, folder, files, replace=replace)
    finally:
        os.close(fd)
    return {f"{table}.csv": len(rows) for table, rows in tables.items()}


def _write_files(fd: int, folder: Path, files: dict[str, bytes], *, replace: bool) -> None:
    present = {}
    for name in files:
        try:
            present[name] = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise BadInputError(f"cannot write into {folder}: {exc}") from None
    links = [n for n, mode in present.items() if stat.S_ISLNK(mode)]
    if links:
        raise BadInputError(
            f"{folder / links[0]} is a symbolic link: the export does not follow links; "
            "nothing was written"
        )
    if present and not replace:
        raise BadInputError(
            f"{folder / sorted(present)[0]} exists: the export writes only new files (give "
            "an empty folder, or --replace to replace the files of an earlier export); "
            "nothing was written"
        )
    others = [n for n, mode in present.items() if not stat.S_ISREG(mode)]
    if others:
        raise BadInputError(f"{folder / others[0]} is not a regular file; nothing was written")
    made: list[str] = []
    try:
        for name, data in files.items():
            if name in present:
                temporary = f".{name}.{secrets.token_hex(8)}.tmp"
                _write_new(fd, temporary, data)
                made.append(temporary)
                os.replace(temporary, name, src_dir_fd=fd, dst_dir_fd=fd)
                made.remove(temporary)
            else:
                _write_new(fd, name, data)
                made.append(name)
    except OSError as exc:
        for name in made:  # only files this export created: an unfinished export leaves none
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=fd)
        raise BadInputError(f"cannot write into {folder}: {exc}") from None


def write_database(
    rc: Rolecall,
    export: LegacyExport,
    url: str,
    mapping: RoleMapping,
    *,
    staff_admins: bool = False,
    dry_run: bool = False,
) -> DatabaseChanges:
    """Bring the legacy tables at ``url`` in line with ``export``, in one transaction. Users
    are matched by username; a grant whose user has no ``auth_user`` row is added to
    ``export.unexported``."""
    legacy = read_database(url)
    # Each legacy row rolecall would import, and whether rolecall holds its grant now.
    plan = plan_import(rc, legacy, mapping, staff_admins=staff_admins)
    covered = {(g.user, g.role, g.scope) for g in plan.exists}
    by_name = {user.username: user for user in legacy.users.values()}
    changes = DatabaseChanges()
    for row in export.access:
        if row.grant not in covered:
            changes.added_access.append(row)
    for forum_row in export.forum:
        if forum_row.grant not in covered:
            changes.added_forum.append(forum_row)
    for stale in plan.create:
        if stale.table == ACCESS_TABLE:
            changes.removed_access.append(stale.row_id)
        elif stale.table == FORUM_TABLE:
            changes.removed_forum.append(stale.row_id)
        elif stale.table == USER_TABLE:
            changes.staff_cleared.append(stale.user)
    for name, key in export.staff.items():
        if key not in covered:
            changes.staff_set.append(name)
    missing = {
        g[0]
        for g in [r.grant for r in changes.added_access]
        + [r.grant for r in changes.added_forum]
        + [export.staff[n] for n in changes.staff_set]
    } - set(by_name)
    for grant in [r.grant for r in changes.added_access] + [r.grant for r in changes.added_forum]:
        if grant[0] in missing:
            export.unexported.append(Unexported(*grant, "no auth_user account by that name"))
    for name in changes.staff_set:
        if name in missing:
            export.unexported.append(Unexported(*export.staff[name], "no auth_user account"))
    changes.added_access = [r for r in changes.added_access if r.grant[0] not in missing]
    changes.added_forum = [r for r in changes.added_forum if r.grant[0] not in missing]
    changes.staff_set = [n for n in changes.staff_set if n not in missing]
    forum_roles: dict[tuple[str, str], ForumRole] = {
        (r.name, r.course_id): r for r in legacy.forum_roles.values()
    }
    for forum_row in changes.added_forum:
        wanted = (forum_row.name, forum_row.course_id)
        if wanted not in forum_roles and wanted not in changes.forum_roles_created:
            changes.forum_roles_created.append(wanted)
    if dry_run:
        return changes
    engine = legacy_engine(url)
    try:
        tables = reflect(engine, tuple(COLUMNS)).tables
        with engine.begin() as connection:
            access, members = tables[ACCESS_TABLE], tables[FORUM_TABLE]
            roles, users = tables["django_comment_client_role"], tables["auth_user"]
            if changes.removed_access:
                connection.execute(delete(access).where(access.c.id.in_(changes.removed_access)))
            if changes.removed_forum:
                connection.execute(delete(members).where(members.c.id.in_(changes.removed_forum)))
            for names, flag in ((changes.staff_cleared, False), (changes.staff_set, True)):
                if names:
                    connection.execute(
                        update(users).where(users.c.username.in_(names)).values(is_staff=flag)
                    )
            for row in changes.added_access:
                connection.execute(
                    insert(access).values(
                        user_id=by_name[row.grant[0]].id,
                        org=row.org,
                        course_id=row.course_id,
                        role=row.role,
                    )
                )
            role_ids = {key: r.id for key, r in forum_roles.items()}
            for name, course_id in changes.forum_roles_created:
                created = connection.execute(
                    insert(roles).values(name=name, course_id=course_id)
                ).inserted_primary_key
                assert created is not None
                role_ids[(name, course_id)] = int(created[0])
            for forum_row in changes.added_forum:
                connection.execute(
                    insert(members).values(
                        role_id=role_ids[(forum_row.name, forum_row.course_id)],
                        user_id=by_name[forum_row.grant[0]].id,
                    )
                )
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0]
        raise BadInputError(f"cannot write into {hide_password(url)}: {first}") from None
    finally:
        engine.dispose()
    return changes
