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

import csv
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, make_url, select
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
