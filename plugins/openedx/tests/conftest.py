"""Each test gets its own rolecall database (SQLite, or a brand-new PostgreSQL database when the
platform's database is PostgreSQL) and the service the app opens from the settings."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from rolecall.core import Rolecall
from rolecall_openedx.service import get_rolecall, reset

POSTGRES = os.environ.get("ROLECALL_OPENEDX_TEST_DATABASE") == "postgresql"
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


@pytest.fixture
def rc(tmp_path: Path) -> Iterator[Rolecall]:
    """The app's rolecall service on an empty database of its own."""
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
