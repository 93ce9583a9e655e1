"""Each test gets its own rolecall database (SQLite, or a brand-new PostgreSQL database when the
platform's database is PostgreSQL) and the service the app opens from the settings. When the
platform's database is MariaDB, rolecall keeps its tables in the platform's own (Django's test
database, where ``migrate``'s post_migrate made them), emptied before each test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings
from sqlalchemy import create_engine, insert, inspect, make_url, text
from sqlalchemy.pool import NullPool

from rolecall.core import Rolecall, database_url
from rolecall_openedx.database import database_url as platform_database_url
from rolecall_openedx.service import get_rolecall, reset

POSTGRES = os.environ.get("ROLECALL_OPENEDX_TEST_DATABASE") == "postgresql"
MYSQL = os.environ.get("ROLECALL_OPENEDX_TEST_DATABASE") == "mysql"
# A server database keeps rolecall's signing keys outside it (docs/security.md): the tests give
# one secret to every service they open, as a deployment sets ROLECALL_SECRET_KEY or
# ROLECALL_KEY_FILE for LMS and Studio.
os.environ.setdefault("ROLECALL_SECRET_KEY", "rolecall-openedx-tests-only-secret-not-for-real-use")
ADMIN_URL = os.environ.get(
    "ROLECALL_TEST_POSTGRES_URL",
    "postgresql+psycopg://rolecall:rolecall@127.0.0.1:5432/rolecall_test",
)


def _fresh_postgres() -> tuple[str, str]:
    name = f"rolecall_oedx_{uuid.uuid4().hex[:10]}"
    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
    engine.dispose()
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False), name


def _drop_postgres(name: str) -> None:
    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with engine.connect() as conn:
        # Our own connections only, as tests/pg.py drops its databases: WITH (FORCE) would also
        # try to end an autovacuum worker there, which this role may not.
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = :name AND pid <> pg_backend_pid()"
                " AND usename = current_user AND backend_type = 'client backend'"
            ),
            {"name": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    engine.dispose()


def empty_rolecall_tables(url: str) -> None:
    """rolecall's tables in the database at ``url`` as a new database has them: empty, the
    state row at revision 0 with its empty chain signed (MariaDB and PostgreSQL)."""
    from rolecall.core.storage.audit import sign_new_chain
    from rolecall.core.storage.database import GENESIS_HASH, VERSION_TABLE, make_engine
    from rolecall.core.storage.keys import KeyRing
    from rolecall.core.storage.models import State
    from rolecall_openedx.service import environ

    engine = make_engine(database_url(url))
    try:
        tables = [
            t
            for t in inspect(engine).get_table_names()
            if t.startswith("rolecall_") and t != VERSION_TABLE
        ]
        assert tables, "rolecall's tables are not in the database"
        with engine.begin() as connection:
            quote = connection.dialect.identifier_preparer.quote
            if connection.dialect.name == "postgresql":
                names = ", ".join(quote(t) for t in tables)
                connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                connection.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
                for table in tables:
                    connection.execute(text(f"TRUNCATE TABLE {quote(table)}"))
                connection.execute(text("SET FOREIGN_KEY_CHECKS = 1"))
            connection.execute(insert(State).values(id=1, revision=0, last_hash=GENESIS_HASH))
        sign_new_chain(engine, KeyRing.for_database(engine, environ=environ()))
    finally:
        engine.dispose()


@pytest.fixture
def platform_rc(request: pytest.FixtureRequest) -> Iterator[Rolecall]:
    """The app's rolecall service with ``ROLECALL_DATABASE_URL`` unset: on the platform's own
    database (Django's test database), its tables emptied first. Skipped when the platform's
    database is SQLite in memory, which rolecall cannot share."""
    if not (MYSQL or POSTGRES):
        pytest.skip(PLATFORM_SKIP)
    request.getfixturevalue("django_db_setup")  # the test database, migrated
    with override_settings(ROLECALL_DATABASE_URL=None):
        empty_rolecall_tables(platform_database_url())
        yield get_rolecall()
        reset()


PLATFORM_SKIP = (
    "the platform's test database is SQLite in memory, which rolecall cannot share: the "
    "PostgreSQL and MariaDB runs (ROLECALL_OPENEDX_TEST_DATABASE) test the platform's database"
)


@pytest.fixture
def rc(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rolecall]:
    """The app's rolecall service on an empty database of its own (on MariaDB: rolecall's
    tables, emptied, in the platform's database)."""
    if MYSQL:
        yield request.getfixturevalue("platform_rc")
        return
    name = None
    if POSTGRES:
        url, name = _fresh_postgres()
    else:
        url = f"sqlite:///{tmp_path / 'rolecall.db'}"
    try:
        with override_settings(ROLECALL_DATABASE_URL=url):
            yield get_rolecall()
            reset()
    finally:
        if name is not None:
            _drop_postgres(name)
