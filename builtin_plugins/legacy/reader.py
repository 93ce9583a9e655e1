"""Reading the legacy tables, from a live edx-platform database or from a CSV export.

The tables and the columns read (``_sdc_deleted_at``, the soft-delete mark of replicated
exports, is optional):

- ``auth_user``: ``id, username, email, first_name, last_name, is_staff, is_active``
- ``student_courseaccessrole``: ``id, user_id, org, course_id, role``
- ``django_comment_client_role``: ``id, name, course_id``
- ``django_comment_client_role_users``: ``id, role_id, user_id``

A CSV export is a folder holding one ``<table>.csv`` per table, with a header row naming the
columns (extra columns are ignored).
"""

from __future__ import annotations

import contextlib
import csv
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, func, make_url, select
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from rolecall.core import BadInputError, database_url

DELETED = "_sdc_deleted_at"
COLUMNS: dict[str, tuple[str, ...]] = {
    "auth_user": ("id", "username", "email", "first_name", "last_name", "is_staff", "is_active"),
    "student_courseaccessrole": ("id", "user_id", "org", "course_id", "role"),
    "django_comment_client_role": ("id", "name", "course_id"),
    "django_comment_client_role_users": ("id", "role_id", "user_id"),
}


@dataclass(frozen=True)
class LegacyUser:
    id: int
    username: str
    email: str | None
    first_name: str
    last_name: str
    is_staff: bool
    is_active: bool

    @property
    def display_name(self) -> str | None:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or None


@dataclass(frozen=True)
class AccessRow:
    """A ``student_courseaccessrole`` row."""

    id: int
    user_id: int | None
    org: str
    course_id: str
    role: str
    deleted: bool = False


@dataclass(frozen=True)
class ForumRole:
    """A ``django_comment_client_role`` row: one forum role of one course."""

    id: int
    name: str
    course_id: str


@dataclass(frozen=True)
class ForumMember:
    """A ``django_comment_client_role_users`` row."""

    id: int
    role_id: int | None
    user_id: int | None
    deleted: bool = False


@dataclass
class LegacyData:
    users: dict[int, LegacyUser] = field(default_factory=dict)
    access: list[AccessRow] = field(default_factory=list)
    forum_roles: dict[int, ForumRole] = field(default_factory=dict)
    forum_members: list[ForumMember] = field(default_factory=list)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _int(value: Any, where: str, *, required: bool = True) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadInputError(f"{where}: a whole number is required")
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        if required:
            raise BadInputError(f"{where}: {value!r} is not a whole number") from None
        return None


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "t", "true", "y", "yes")
    return bool(value)


def _build(tables: Mapping[str, Iterator[tuple[str, Mapping[str, Any]]]]) -> LegacyData:
    """Turn raw rows (each with a place for error messages) into :class:`LegacyData`."""
    data = LegacyData()
    for where, row in tables["auth_user"]:
        uid = _int(row["id"], where)
        assert uid is not None
        data.users[uid] = LegacyUser(
            id=uid,
            username=_text(row["username"]),
            email=_text(row["email"]) or None,
            first_name=_text(row["first_name"]),
            last_name=_text(row["last_name"]),
            is_staff=_flag(row["is_staff"]),
            is_active=_flag(row["is_active"]),
        )
    for where, row in tables["student_courseaccessrole"]:
        rid = _int(row["id"], where)
        assert rid is not None
        data.access.append(
            AccessRow(
                id=rid,
                user_id=_int(row["user_id"], where, required=False),
                org=_text(row["org"]),
                course_id=_text(row["course_id"]),
                role=_text(row["role"]),
                deleted=bool(_text(row.get(DELETED))),
            )
        )
    for where, row in tables["django_comment_client_role"]:
        rid = _int(row["id"], where)
        assert rid is not None
        data.forum_roles[rid] = ForumRole(
            id=rid, name=_text(row["name"]), course_id=_text(row["course_id"])
        )
    for where, row in tables["django_comment_client_role_users"]:
        rid = _int(row["id"], where)
        assert rid is not None
        data.forum_members.append(
            ForumMember(
                id=rid,
                role_id=_int(row["role_id"], where, required=False),
                user_id=_int(row["user_id"], where, required=False),
                deleted=bool(_text(row.get(DELETED))),
            )
        )
    return data


def legacy_engine(url: str) -> Engine:
    """An engine on a legacy database URL, with errors about the URL as one-line bad input.
    ``mysql://`` (edx-platform's own database) uses PyMySQL, the driver of ``rolecall[mysql]``,
    with utf8mb4, as rolecall's own database URLs do."""
    try:
        return create_engine(make_url(database_url(url)))
    except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as exc:
        raise BadInputError(f"cannot use the database URL: {exc}".splitlines()[0]) from None


def hide_password(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<malformed URL>"


def reflect(engine: Engine, tables: Sequence[str]) -> MetaData:
    """The legacy tables' definitions, read from the database; missing tables or columns are
    bad input naming them."""
    metadata = MetaData()
    try:
        metadata.reflect(engine, only=list(tables))
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0]
        raise BadInputError(f"cannot read the legacy tables: {first}") from None
    for name in tables:
        columns = set(metadata.tables[name].columns.keys())
        missing = [c for c in COLUMNS[name] if c not in columns]
        if missing:
            raise BadInputError(f"table {name} has no column(s) {', '.join(missing)}")
    return metadata


def read_database(url: str) -> LegacyData:
    """Read the four legacy tables from the database at ``url`` (MySQL, PostgreSQL, SQLite:
    any URL SQLAlchemy opens with an installed driver)."""
    engine = legacy_engine(url)
    try:
        metadata = reflect(engine, tuple(COLUMNS))
        with engine.connect() as connection:
            raw: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
            for name, columns in COLUMNS.items():
                table = metadata.tables[name]
                wanted = [table.c[c] for c in columns]
                if DELETED in table.c:
                    wanted.append(table.c[DELETED])
                rows = connection.execute(select(*wanted).order_by(table.c.id))
                raw[name] = [(f"{name} id {r.id}", dict(r._mapping)) for r in rows]
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0]
        raise BadInputError(f"cannot read {hide_password(url)}: {first}") from None
    finally:
        engine.dispose()
    return _build({name: iter(rows) for name, rows in raw.items()})


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula when a text begins with it."""


def formula_escaped(value: str) -> str:
    """``value`` made safe to open in a spreadsheet: a text that begins with a formula
    character (after any single quotes) gets one more single quote in front, which the
    spreadsheet shows as text. :func:`formula_unescaped` gives ``value`` back."""
    bare = value.lstrip("'")
    return "'" + value if bare[:1] and bare[0] in FORMULA_STARTS else value


def formula_unescaped(value: str) -> str:
    """The text :func:`formula_escaped` was given: one single quote in front of a formula
    character (after any further single quotes) is removed; anything else is kept as is."""
    bare = value.lstrip("'")
    if value.startswith("'") and bare[:1] and bare[0] in FORMULA_STARTS:
        return value[1:]
    return value


def _csv_rows(path: Path, table: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in COLUMNS[table] if c not in header]
        if missing:
            raise BadInputError(f"{path} has no column(s) {', '.join(missing)}")
        for row in reader:
            # A CSV export escapes formula-looking cells (:func:`formula_escaped`): undone.
            cells = {k: formula_unescaped(v) if isinstance(v, str) else v for k, v in row.items()}
            yield f"{path.name} line {reader.line_num}", cells


def read_csv(folder: Path) -> LegacyData:
    """Read ``<table>.csv`` for each of the four legacy tables from ``folder``."""
    if not folder.is_dir():
        raise BadInputError(f"{folder} is not a folder")
    paths = {name: folder / f"{name}.csv" for name in COLUMNS}
    missing = [p.name for p in paths.values() if not p.is_file()]
    if missing:
        raise BadInputError(f"{folder} has no {', '.join(missing)}")
    try:
        return _build({name: _csv_rows(path, name) for name, path in paths.items()})
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BadInputError(f"cannot read the CSV export in {folder}: {exc}") from None


# --- streaming: the rows of one user at a time, a slice of users at a time ------------------


@dataclass(frozen=True)
class UserRows:
    """One ``auth_user`` id's rows, in the order the import reads them: its course access rows,
    then its forum memberships, each by id. ``user`` is None when ``auth_user`` has no such id
    (or the rows have no user id)."""

    user_id: int | None
    user: LegacyUser | None
    access: list[AccessRow]
    forum: list[ForumMember]

    @property
    def rows(self) -> int:
        return len(self.access) + len(self.forum)


def _user_order(user_id: int | None) -> tuple[int, int]:
    return (0, 0) if user_id is None else (1, user_id)


def _slices(groups: Iterator[UserRows], size: int) -> Iterator[list[UserRows]]:
    """Whole users, about ``size`` rows per slice (one user is never split)."""
    current: list[UserRows] = []
    rows = 0
    for group in groups:
        current.append(group)
        rows += max(group.rows, 1)
        if rows >= size:
            yield current
            current, rows = [], 0
    if current:
        yield current


class LegacySource:
    """The legacy tables read a slice at a time: every user's rows together, in user id order,
    so that the import never holds more than a slice of the source (plus the forum roles, one
    row per role of a course). Close it when done (``with``)."""

    forum_roles: dict[int, ForumRole]

    def total(self) -> int:
        """How many rows the import reads: course access rows and forum memberships."""
        raise NotImplementedError

    def key_counts(self) -> dict[str, int]:
        """How many rows name each course key (course access rows not deleted, and forum
        roles), exactly as written."""
        raise NotImplementedError

    def groups(self, page: int, *, staff: bool) -> Iterator[UserRows]:
        """Each user id with rows, in id order (rows with no user id first); with ``staff``,
        also every ``is_staff`` account without rows."""
        raise NotImplementedError

    def slices(self, size: int, *, staff: bool = False) -> Iterator[list[UserRows]]:
        return _slices(self.groups(size, staff=staff), size)

    def close(self) -> None:
        return None

    def __enter__(self) -> LegacySource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MemorySource(LegacySource):
    """:class:`LegacyData` read as a source (the tables are in memory already)."""

    def __init__(self, data: LegacyData) -> None:
        self.data = data
        self.forum_roles = data.forum_roles

    def total(self) -> int:
        return len(self.data.access) + len(self.data.forum_members)

    def key_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.data.access:
            if row.course_id and not row.deleted:
                counts[row.course_id] = counts.get(row.course_id, 0) + 1
        for forum in self.forum_roles.values():
            if forum.course_id:
                counts[forum.course_id] = counts.get(forum.course_id, 0) + 1
        return counts

    def groups(self, page: int, *, staff: bool) -> Iterator[UserRows]:
        access: dict[int | None, list[AccessRow]] = {}
        forum: dict[int | None, list[ForumMember]] = {}
        for row in sorted(self.data.access, key=lambda r: r.id):
            access.setdefault(row.user_id, []).append(row)
        for member in sorted(self.data.forum_members, key=lambda r: r.id):
            forum.setdefault(member.user_id, []).append(member)
        ids = set(access) | set(forum)
        if staff:
            ids |= {uid for uid, user in self.data.users.items() if user.is_staff}
        for uid in sorted(ids, key=_user_order):
            user = self.data.users.get(uid) if uid is not None else None
            yield UserRows(uid, user, access.get(uid, []), forum.get(uid, []))


def _user_of(row: Mapping[str, Any], where: str) -> LegacyUser:
    uid = _int(row["id"], where)
    assert uid is not None
    return LegacyUser(
        id=uid,
        username=_text(row["username"]),
        email=_text(row["email"]) or None,
        first_name=_text(row["first_name"]),
        last_name=_text(row["last_name"]),
        is_staff=_flag(row["is_staff"]),
        is_active=_flag(row["is_active"]),
    )


def _access_of(row: Mapping[str, Any], where: str) -> AccessRow:
    rid = _int(row["id"], where)
    assert rid is not None
    return AccessRow(
        id=rid,
        user_id=_int(row["user_id"], where, required=False),
        org=_text(row["org"]),
        course_id=_text(row["course_id"]),
        role=_text(row["role"]),
        deleted=bool(_text(row.get(DELETED))),
    )


def _member_of(row: Mapping[str, Any], where: str) -> ForumMember:
    rid = _int(row["id"], where)
    assert rid is not None
    return ForumMember(
        id=rid,
        role_id=_int(row["role_id"], where, required=False),
        user_id=_int(row["user_id"], where, required=False),
        deleted=bool(_text(row.get(DELETED))),
    )


def _merged(
    users: Iterator[LegacyUser],
    access: Iterator[list[AccessRow]],
    forum: Iterator[list[ForumMember]],
    *,
    staff: bool,
) -> Iterator[UserRows]:
    """Three streams in user id order (users by id; access rows and memberships in lists of
    one user id each) merged into one group per user id."""
    user = next(users, None)
    a = next(access, None)
    f = next(forum, None)
    while a is not None or f is not None:
        key = min(_user_order(rows[0].user_id) for rows in (a, f) if rows is not None)
        uid = None if key == (0, 0) else key[1]
        owner = None
        if uid is not None:
            while user is not None and user.id < uid:
                if staff and user.is_staff:  # a staff account with no rows
                    yield UserRows(user.id, user, [], [])
                user = next(users, None)
            if user is not None and user.id == uid:
                owner, user = user, next(users, None)
        rows_a: list[AccessRow] = []
        rows_f: list[ForumMember] = []
        if a is not None and _user_order(a[0].user_id) == key:
            rows_a, a = a, next(access, None)
        if f is not None and _user_order(f[0].user_id) == key:
            rows_f, f = f, next(forum, None)
        yield UserRows(uid, owner, rows_a, rows_f)
    while staff and user is not None:
        if user.is_staff:
            yield UserRows(user.id, user, [], [])
        user = next(users, None)


class DatabaseSource(LegacySource):
    """The legacy tables of a live database, read in pages of whole users (keyset pagination
    on ``user_id``, which edx-platform's tables index), on one connection."""

    def __init__(self, url: str, *, shown: str | None = None) -> None:
        self.url = url
        self.shown = shown or hide_password(url)
        self.engine = legacy_engine(url)
        try:
            self.tables = reflect(self.engine, tuple(COLUMNS)).tables
            self.connection = self.engine.connect()
            forum_roles = self.tables["django_comment_client_role"]
            self.forum_roles = {}
            for r in self._run(select(*[forum_roles.c[c] for c in COLUMNS[forum_roles.name]])):
                where = f"django_comment_client_role id {r.id}"
                rid = _int(r.id, where)
                assert rid is not None
                self.forum_roles[rid] = ForumRole(rid, _text(r.name), _text(r.course_id))
        except BaseException:
            self.engine.dispose()
            raise

    def _run(self, query: Any) -> list[Any]:
        try:
            return list(self.connection.execute(query))
        except SQLAlchemyError as exc:
            first = str(exc).splitlines()[0]
            raise BadInputError(f"cannot read {self.shown}: {first}") from None

    def _columns(self, name: str) -> list[Any]:
        table = self.tables[name]
        wanted = [table.c[c] for c in COLUMNS[name]]
        if DELETED in table.c:
            wanted.append(table.c[DELETED])
        return wanted

    def total(self) -> int:
        access = self.tables["student_courseaccessrole"]
        members = self.tables["django_comment_client_role_users"]
        return sum(
            int(self._run(select(func.count()).select_from(t))[0][0]) for t in (access, members)
        )

    def key_counts(self) -> dict[str, int]:
        table = self.tables["student_courseaccessrole"]
        columns = [table.c.id, table.c.course_id]
        if DELETED in table.c:
            columns.append(table.c[DELETED])
        counts: dict[str, int] = {}
        last = None
        while True:
            query = select(*columns).order_by(table.c.id).limit(PAGE)
            if last is not None:
                query = query.where(table.c.id > last)
            rows = self._run(query)
            for row in rows:
                key = _text(row.course_id)
                if key and not (DELETED in table.c and _text(row[2])):
                    counts[key] = counts.get(key, 0) + 1
            if len(rows) < PAGE:
                break
            last = rows[-1].id
        for forum in self.forum_roles.values():
            if forum.course_id:
                counts[forum.course_id] = counts.get(forum.course_id, 0) + 1
        return counts

    def _users(self, page: int) -> Iterator[LegacyUser]:
        table = self.tables["auth_user"]
        last = None
        while True:
            query = select(*self._columns("auth_user")).order_by(table.c.id).limit(page)
            if last is not None:
                query = query.where(table.c.id > last)
            rows = self._run(query)
            for row in rows:
                yield _user_of(row._mapping, f"auth_user id {row.id}")
            if len(rows) < page:
                return
            last = rows[-1].id

    def _by_user(self, name: str, page: int) -> Iterator[list[Any]]:
        """The rows of ``name``, one list per user id (by row id), in user id order. A page
        ends before its last user, whose rows are read again with the next page (or all at
        once, when they fill a page alone)."""
        table = self.tables[name]
        columns = self._columns(name)
        user_id = table.c.user_id
        orphans = self._run(select(*columns).where(user_id.is_(None)).order_by(table.c.id))
        if orphans:
            yield orphans
        last = None
        while True:
            query = select(*columns).where(user_id.is_not(None)).order_by(user_id).limit(page)
            if last is not None:
                query = query.where(user_id > last)
            rows = self._run(query)
            full = len(rows) == page
            if full:
                top = rows[-1].user_id
                rows = [r for r in rows if r.user_id != top] or self._run(
                    select(*columns).where(user_id == top)
                )
            group: list[Any] = []
            for row in rows:
                if group and row.user_id != group[0].user_id:
                    yield sorted(group, key=lambda r: r.id)
                    group = []
                group.append(row)
            if group:
                yield sorted(group, key=lambda r: r.id)
            if not full:
                return
            last = rows[-1].user_id

    def groups(self, page: int, *, staff: bool) -> Iterator[UserRows]:
        table_a, table_f = "student_courseaccessrole", "django_comment_client_role_users"
        access = (
            [_access_of(r._mapping, f"{table_a} id {r.id}") for r in rows]
            for rows in self._by_user(table_a, page)
        )
        forum = (
            [_member_of(r._mapping, f"{table_f} id {r.id}") for r in rows]
            for rows in self._by_user(table_f, page)
        )
        return _merged(self._users(page), access, forum, staff=staff)

    def close(self) -> None:
        self.connection.close()
        self.engine.dispose()


PAGE = 10_000
"""Rows per page when the source is read a page at a time."""


_CSV_SCHEMA = (
    "CREATE TABLE auth_user (id INTEGER PRIMARY KEY, username TEXT, email TEXT, "
    "first_name TEXT, last_name TEXT, is_staff INTEGER, is_active INTEGER)",
    "CREATE TABLE student_courseaccessrole (id INTEGER, user_id INTEGER, org TEXT, "
    "course_id TEXT, role TEXT, _sdc_deleted_at TEXT)",
    "CREATE TABLE django_comment_client_role (id INTEGER PRIMARY KEY, name TEXT, course_id TEXT)",
    "CREATE TABLE django_comment_client_role_users (id INTEGER, role_id INTEGER, "
    "user_id INTEGER, _sdc_deleted_at TEXT)",
)
_CSV_INDEXES = (
    "CREATE INDEX access_user ON student_courseaccessrole (user_id, id)",
    "CREATE INDEX access_id ON student_courseaccessrole (id)",
    "CREATE INDEX members_user ON django_comment_client_role_users (user_id, id)",
)


def _csv_values(table: str, where: str, row: Mapping[str, Any]) -> tuple[Any, ...]:
    """One CSV row as the typed values of the temporary table (checked as read_csv does)."""
    if table == "auth_user":
        u = _user_of(row, where)
        return (u.id, u.username, u.email, u.first_name, u.last_name, u.is_staff, u.is_active)
    if table == "student_courseaccessrole":
        a = _access_of(row, where)
        return (a.id, a.user_id, a.org, a.course_id, a.role, "1" if a.deleted else None)
    if table == "django_comment_client_role":
        rid = _int(row["id"], where)
        return (rid, _text(row["name"]), _text(row["course_id"]))
    m = _member_of(row, where)
    return (m.id, m.role_id, m.user_id, "1" if m.deleted else None)


class CsvSource(DatabaseSource):
    """A CSV export read as a source: its four files are copied, a few thousand rows at a
    time, into a temporary SQLite database (removed on close), which is then read like a
    live one."""

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise BadInputError(f"{folder} is not a folder")
        paths = {name: folder / f"{name}.csv" for name in COLUMNS}
        missing = [p.name for p in paths.values() if not p.is_file()]
        if missing:
            raise BadInputError(f"{folder} has no {', '.join(missing)}")
        self.folder = tempfile.mkdtemp(prefix="rolecall-legacy-")
        path = Path(self.folder) / "legacy.db"
        try:
            with contextlib.closing(sqlite3.connect(path)) as db:
                db.execute("PRAGMA journal_mode = OFF")
                db.execute("PRAGMA synchronous = OFF")
                for statement in _CSV_SCHEMA:
                    db.execute(statement)
                for name, csv_path in paths.items():
                    marks = ", ".join("?" * (len(COLUMNS[name]) + (name in _SOFT_DELETED)))
                    verb = "INSERT OR REPLACE" if name in _KEYED else "INSERT"
                    statement = f"{verb} INTO {name} VALUES ({marks})"
                    chunk: list[tuple[Any, ...]] = []
                    for where, row in _csv_rows(csv_path, name):
                        chunk.append(_csv_values(name, where, row))
                        if len(chunk) >= PAGE:
                            db.executemany(statement, chunk)
                            chunk = []
                    db.executemany(statement, chunk)
                for statement in _CSV_INDEXES:
                    db.execute(statement)
                db.commit()
            super().__init__(f"sqlite:///{path}", shown=str(folder))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise BadInputError(f"cannot read the CSV export in {folder}: {exc}") from None
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise

    def close(self) -> None:
        super().close()
        shutil.rmtree(self.folder, ignore_errors=True)


_SOFT_DELETED = ("student_courseaccessrole", "django_comment_client_role_users")
_KEYED = ("auth_user", "django_comment_client_role")


def open_source(url: str | None, folder: Path | None) -> LegacySource:
    """The source to stream: the database at ``url``, or the CSV export in ``folder``."""
    return DatabaseSource(url) if url is not None else CsvSource(folder or Path())
