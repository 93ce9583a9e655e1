"""A legacy-shaped edx-platform database for the import and export tests.

The four tables keep their real names and columns (``auth_user`` with Django's columns;
``student_courseaccessrole`` and ``django_comment_client_role_users`` with the
``_sdc_deleted_at`` mark of replicated exports) and hold a realistic mix: course, org and
platform rows, forum roles on two courses, global staff, deleted rows, and rows that cannot be
mapped (an unknown role, malformed keys, a missing user, a missing forum role, an instructor
row at platform level, a role whose plugin is not installed, a retired e-commerce role).

``legacy_url`` is parametrized like ``database_url``: an SQLite file, a brand-new PostgreSQL
database, and a brand-new MariaDB database holding the tables as edx-platform's migrations make
them on MySQL (``MYSQL_DDL``). ``write_legacy_csv`` writes the same rows as a CSV export.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    func,
    insert,
    make_url,
    select,
    text,
)

C1 = "course-v1:MITx+6.002x+2026_T1"
C2 = "course-v1:MITx+18.01x+2026_T1"
H1 = "course-v1:HarvardX+CS50+2026"
COURSES = (C1, C2, H1)
DELETED_AT = datetime(2025, 3, 1, tzinfo=UTC)

metadata = MetaData()
AUTH_USER = Table(
    "auth_user",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("password", String(128), nullable=False),
    Column("last_login", DateTime(timezone=True)),
    Column("is_superuser", Boolean, nullable=False),
    Column("username", String(150), nullable=False, unique=True),
    Column("first_name", String(150), nullable=False),
    Column("last_name", String(150), nullable=False),
    Column("email", String(254), nullable=False),
    Column("is_staff", Boolean, nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("date_joined", DateTime(timezone=True), nullable=False),
)
ACCESS = Table(
    "student_courseaccessrole",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("org", String(64), nullable=False),
    Column("course_id", String(255), nullable=False),
    Column("role", String(64), nullable=False),
    Column("user_id", Integer, nullable=False),
    Column("_sdc_deleted_at", DateTime(timezone=True)),
)
FORUM_ROLE = Table(
    "django_comment_client_role",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(30), nullable=False),
    Column("course_id", String(255), nullable=False),
)
FORUM_USERS = Table(
    "django_comment_client_role_users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("role_id", Integer, nullable=False),
    Column("user_id", Integer, nullable=False),
    Column("_sdc_deleted_at", DateTime(timezone=True)),
)


@dataclass(frozen=True)
class U:
    id: int
    username: str
    first: str = ""
    last: str = ""
    is_staff: bool = False
    is_active: bool = True


USERS = (
    U(1, "ada", "Ada", "Lovelace"),
    U(2, "grace", "Grace", "Hopper"),
    U(3, "linus", "Linus"),
    U(4, "barbara", "Barbara", "Liskov"),
    U(5, "edsger", "Edsger", "Dijkstra"),
    U(6, "margaret", "Margaret", "Hamilton"),
    U(7, "alan", "Alan", "Turing"),
    U(8, "donald", "Donald", "Knuth", is_staff=True),
    U(9, "ken", "Ken", "Thompson"),
    U(10, "dennis", "Dennis", "Ritchie"),
    U(11, "niklaus", "Niklaus", "Wirth"),
    U(12, "frances", "Frances", "Allen"),
    U(13, "john", "John", "Backus"),
    U(14, "katherine", "Katherine", "Johnson"),
    U(15, "tim", "Tim"),
    U(16, "guido", "Guido"),
    U(17, "bjarne", "Bjarne"),
    U(18, "james", "James"),
    U(19, "sophie", "Sophie", "Wilson"),
    U(20, "larry", "Larry", is_staff=True, is_active=False),
    U(21, "radia", "Radia", "Perlman"),
    U(22, "learner"),  # enrolled, no role: never created in rolecall
)

# id, user id, org, course id, role, deleted
ACCESS_ROWS: tuple[tuple[int, int, str, str, str, bool], ...] = (
    (1, 1, "MITx", C1, "instructor", False),
    (2, 2, "MITx", C1, "staff", False),
    (3, 3, "MITx", C1, "limited_staff", False),
    (4, 4, "MITx", C1, "beta_testers", False),
    (5, 5, "HarvardX", "", "instructor", False),  # org-wide
    (6, 6, "MITx", "", "staff", False),  # org-wide
    (7, 7, "MITx", C2, "data_researcher", False),
    (8, 9, "", "", "course_creator_group", False),  # platform-wide
    (9, 10, "", "", "support", False),  # platform-wide
    (10, 11, "MITx", "", "org_course_creator_group", False),
    (11, 16, "MITx", C1, "staff", True),  # deleted: skipped
    (12, 17, "MITx", C1, "wizard", False),  # unknown role
    (13, 18, "MITx", "course-v1:MITx", "staff", False),  # malformed key
    (14, 999, "MITx", C1, "staff", False),  # no such user
    (15, 19, "MITx", C1, "finance_admin", False),  # no equivalent: ignored
    (16, 18, "", "", "instructor", False),  # instructor at platform level: not legacy
    (17, 21, "MITx", C2, "ccx_coach", False),  # the ccx plugin is not installed
    (18, 18, "MITx", "MITx/6.00x/2012_Fall", "staff", False),  # old-style key: kept as it is
    (19, 1, "MITx", C2, "instructor", False),
    (20, 4, "HarvardX", H1, "beta_testers", False),
    (21, 21, "MITx", "", "library_user", False),
    (22, 5, "MITx", "library-v1:MITx+physics", "library_user", False),  # a v1 library
    (23, 6, "MITx", "library-v1:MITx+physics", "instructor", False),
)
# id, name, course id
FORUM_ROLES = (
    (1, "Administrator", C1),
    (2, "Moderator", C1),
    (3, "Community TA", C1),
    (4, "Student", C1),
    (5, "Group Moderator", C1),
    (6, "Administrator", C2),
    (7, "Moderator", H1),
)
# id, role id, user id, deleted
FORUM_ROWS: tuple[tuple[int, int, int, bool], ...] = (
    (1, 1, 1, False),  # ada: Administrator of C1, as every course instructor
    (2, 2, 12, False),  # frances: Moderator
    (3, 3, 13, False),  # john: Community TA
    (4, 1, 14, False),  # katherine: Administrator
    (5, 4, 15, False),  # tim: Student
    (6, 2, 15, True),  # tim was a Moderator: deleted
    (7, 99, 15, False),  # no such forum role
    (8, 5, 3, False),  # linus: Group Moderator
    (9, 6, 1, False),  # ada: Administrator of C2
    (10, 7, 13, False),  # john: Moderator of H1
    (11, 2, 999, False),  # no such user
)

IMPORTED_ACCESS_ROWS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 18, 19, 20, 21, 22, 23)
IMPORTED_FORUM_ROWS = (1, 2, 3, 4, 5, 8, 9, 10)
PROBLEM_ROWS = {
    ("student_courseaccessrole", 12): "unknown_role",
    ("student_courseaccessrole", 13): "malformed_key",
    ("student_courseaccessrole", 14): "unknown_user",
    ("student_courseaccessrole", 16): "wrong_level",
    ("student_courseaccessrole", 17): "role_not_registered",
    ("django_comment_client_role_users", 7): "unknown_forum_role",
    ("django_comment_client_role_users", 11): "unknown_user",
}
IGNORED_ROWS = {("student_courseaccessrole", 15)}


def _users() -> list[dict[str, Any]]:
    joined = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        {
            "id": u.id,
            "password": "!",
            "last_login": None,
            "is_superuser": False,
            "username": u.username,
            "first_name": u.first,
            "last_name": u.last,
            "email": f"{u.username}@example.org",
            "is_staff": u.is_staff,
            "is_active": u.is_active,
            "date_joined": joined,
        }
        for u in USERS
    ]


def _access() -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "user_id": uid,
            "org": org,
            "course_id": course,
            "role": role,
            "_sdc_deleted_at": DELETED_AT if deleted else None,
        }
        for i, uid, org, course, role, deleted in ACCESS_ROWS
    ]


def _forum_roles() -> list[dict[str, Any]]:
    return [{"id": i, "name": name, "course_id": course} for i, name, course in FORUM_ROLES]


def _forum_users() -> list[dict[str, Any]]:
    return [
        {"id": i, "role_id": rid, "user_id": uid, "_sdc_deleted_at": DELETED_AT if d else None}
        for i, rid, uid, d in FORUM_ROWS
    ]


# The four tables on MySQL and MariaDB as Django's migrations make them in edx-platform's
# database (``utf8``, that is utf8mb3, with its case-insensitive collation: the default of many
# Open edX installations), with their unique keys, indexes and foreign keys; plus the
# ``_sdc_deleted_at`` mark of replicated copies.
MYSQL_DDL = (
    """CREATE TABLE `auth_user` (
      `id` int(11) NOT NULL AUTO_INCREMENT,
      `password` varchar(128) NOT NULL,
      `last_login` datetime(6) DEFAULT NULL,
      `is_superuser` tinyint(1) NOT NULL,
      `username` varchar(150) NOT NULL,
      `first_name` varchar(150) NOT NULL,
      `last_name` varchar(150) NOT NULL,
      `email` varchar(254) NOT NULL,
      `is_staff` tinyint(1) NOT NULL,
      `is_active` tinyint(1) NOT NULL,
      `date_joined` datetime(6) NOT NULL,
      PRIMARY KEY (`id`),
      UNIQUE KEY `username` (`username`)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3""",
    """CREATE TABLE `student_courseaccessrole` (
      `id` int(11) NOT NULL AUTO_INCREMENT,
      `org` varchar(64) NOT NULL,
      `course_id` varchar(255) NOT NULL,
      `role` varchar(64) NOT NULL,
      `user_id` int(11) NOT NULL,
      `_sdc_deleted_at` datetime(6) DEFAULT NULL,
      PRIMARY KEY (`id`),
      UNIQUE KEY `student_courseaccessrole_user_id_org_course_id_role_uniq`
        (`user_id`,`org`,`course_id`,`role`),
      KEY `student_courseaccessrole_org_idx` (`org`),
      KEY `student_courseaccessrole_course_id_idx` (`course_id`),
      KEY `student_courseaccessrole_role_idx` (`role`),
      CONSTRAINT `student_courseaccessrole_user_id_fk_auth_user_id`
        FOREIGN KEY (`user_id`) REFERENCES `auth_user` (`id`)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3""",
    """CREATE TABLE `django_comment_client_role` (
      `id` int(11) NOT NULL AUTO_INCREMENT,
      `name` varchar(30) NOT NULL,
      `course_id` varchar(255) NOT NULL,
      PRIMARY KEY (`id`),
      KEY `django_comment_client_role_course_id_idx` (`course_id`)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3""",
    """CREATE TABLE `django_comment_client_role_users` (
      `id` int(11) NOT NULL AUTO_INCREMENT,
      `role_id` int(11) NOT NULL,
      `user_id` int(11) NOT NULL,
      `_sdc_deleted_at` datetime(6) DEFAULT NULL,
      PRIMARY KEY (`id`),
      UNIQUE KEY `django_comment_client_role_users_role_id_user_id_uniq` (`role_id`,`user_id`),
      KEY `django_comment_client_role_users_user_id_idx` (`user_id`),
      CONSTRAINT `django_comment_client_role_users_role_id_fk`
        FOREIGN KEY (`role_id`) REFERENCES `django_comment_client_role` (`id`),
      CONSTRAINT `django_comment_client_role_users_user_id_fk_auth_user_id`
        FOREIGN KEY (`user_id`) REFERENCES `auth_user` (`id`)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3""",
)


def fill_legacy_database(url: str, *, rows: bool = True) -> None:
    """Create the four legacy tables at ``url`` and (unless ``rows`` is false) fill them."""
    engine = create_engine(url)
    try:
        if engine.dialect.name in ("mysql", "mariadb"):
            with engine.begin() as connection:
                for statement in MYSQL_DDL:
                    connection.execute(text(statement))
        else:
            metadata.create_all(engine)
        if not rows:
            return
        with engine.begin() as connection:
            if engine.dialect.name in ("mysql", "mariadb"):
                # The rows include ones a live database's foreign keys refuse (a missing user,
                # a missing forum role), as a replicated copy or an old database can hold.
                connection.execute(text("SET SESSION foreign_key_checks = 0"))
            connection.execute(insert(AUTH_USER), _users())
            connection.execute(insert(ACCESS), _access())
            connection.execute(insert(FORUM_ROLE), _forum_roles())
            connection.execute(insert(FORUM_USERS), _forum_users())
            if engine.dialect.name == "postgresql":
                # Explicit ids leave the sequences at 1: move them past the rows, as a real
                # database's would be.
                for table in (AUTH_USER, ACCESS, FORUM_ROLE, FORUM_USERS):
                    connection.execute(
                        select(
                            func.setval(
                                func.pg_get_serial_sequence(table.name, "id"),
                                select(func.max(table.c.id)).scalar_subquery(),
                            )
                        )
                    )
    finally:
        engine.dispose()


def write_legacy_csv(folder: Path) -> Path:
    """The same rows as a CSV export: one ``<table>.csv`` per table, with a header row."""
    folder.mkdir(parents=True, exist_ok=True)
    for table, rows in (
        (AUTH_USER, _users()),
        (ACCESS, _access()),
        (FORUM_ROLE, _forum_roles()),
        (FORUM_USERS, _forum_users()),
    ):
        with (folder / f"{table.name}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=[c.name for c in table.columns])
            writer.writeheader()
            for row in rows:
                writer.writerow(
                    {
                        k: "" if v is None else int(v) if isinstance(v, bool) else v
                        for k, v in row.items()
                    }
                )
    return folder


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def legacy_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A filled legacy database: an SQLite file, a brand-new PostgreSQL database, then a
    brand-new MariaDB database with edx-platform's MySQL tables, given as a bare ``mysql://``
    URL, as an Open edX operator would write it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'edxapp.db'}"
    elif request.param == "postgresql":
        url = str(request.getfixturevalue("postgres_url"))
    else:
        server = make_url(str(request.getfixturevalue("mariadb_url")))
        url = server.set(drivername="mysql", query={}).render_as_string(hide_password=False)
        fill_legacy_database(server.render_as_string(hide_password=False))
        return url
    fill_legacy_database(url)
    return url


def write_csv_tables(folder: Path, tables: dict[str, list[list[Any]]]) -> Path:
    """A CSV export of the given rows: ``tables`` maps each of the four tables to its rows, in
    the column order the import reads (``reader.COLUMNS``), with no ``_sdc_deleted_at``."""
    from rolecall.builtin_plugins.legacy.reader import COLUMNS

    folder.mkdir(parents=True, exist_ok=True)
    for table, columns in COLUMNS.items():
        with (folder / f"{table}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows(tables.get(table, []))
    return folder
