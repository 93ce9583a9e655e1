"""A real PostgreSQL server for the tests: one brand-new database per test, dropped afterwards.

``scripts/test-services.sh`` (which ``make test`` runs before pytest) installs and starts
PostgreSQL and creates the role and database behind :data:`POSTGRES_URL`. That role may create
databases, so each test gets its own, named after a prefix and a random suffix.

Without ``ROLECALL_TEST_POSTGRES_URL`` in the environment, every test that needs PostgreSQL is
skipped with the one reason :data:`SKIP_REASON`, and ``pytest -ra`` shows one line for all of
them; ``make test`` always sets it. When it is set and the server cannot be reached, they fail.
Its hooks (``conftest.py`` imports them; ``-p pg`` loads them elsewhere) mark those tests skipped
at collection, before any fixture runs.

Use the fixture by importing it into a test module (or into ``conftest.py``)::

    from pg import postgres_url  # noqa: F401

    def test_something(postgres_url: str) -> None:
        engine = sqlalchemy.create_engine(postgres_url)
        ...
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Generator, Iterator

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

DEFAULT_POSTGRES_URL = "postgresql+psycopg://rolecall:rolecall@127.0.0.1:5432/rolecall_test"

#: Whether ``ROLECALL_TEST_POSTGRES_URL`` is set: without it the PostgreSQL tests are skipped.
CONFIGURED = bool(os.environ.get("ROLECALL_TEST_POSTGRES_URL"))
#: The admin URL: a role that may create databases, connected to the ``rolecall_test`` database.
POSTGRES_URL = os.environ.get("ROLECALL_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL

SKIP_REASON = (
    "PostgreSQL tests skipped: ROLECALL_TEST_POSTGRES_URL is not set "
    "(make test sets it and starts the server)"
)

HINT = "run scripts/test-services.sh (make test runs it) to install and start PostgreSQL"

# PostgreSQL identifiers are at most 63 bytes; the random suffix takes 10.
_PREFIX = re.compile(r"[a-z_][a-z0-9_]{0,52}")


def _admin_engine() -> Engine:
    """An engine on :data:`POSTGRES_URL` that keeps no connection open once disposed, in
    AUTOCOMMIT mode since CREATE/DROP DATABASE cannot run inside a transaction."""
    return create_engine(
        POSTGRES_URL,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": 5},
    )


def _quote(engine: Engine, name: str) -> str:
    return engine.dialect.identifier_preparer.quote_identifier(name)


def postgres_available() -> str | None:
    """None when :data:`POSTGRES_URL` accepts a connection, otherwise why it does not."""
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:  # any failure to connect is the answer, not a crash
        return f"{type(error).__name__}: {error}".strip()
    finally:
        engine.dispose()
    return None


def fresh_database(name_prefix: str) -> str:
    """Create a brand-new, empty UTF-8 database named ``name_prefix`` + 10 random hex digits
    (lowercase) and return its URL (same role, password, host and port as the admin URL)."""
    prefix = name_prefix.lower()
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"database name prefix {name_prefix!r} is not a short SQL identifier")
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            # template0, so the encoding does not depend on how the cluster was initialised.
            conn.execute(
                text(f"CREATE DATABASE {_quote(engine, name)} TEMPLATE template0 ENCODING 'UTF8'")
            )
    finally:
        engine.dispose()
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop the database of ``url`` (if it still exists), ending its open connections first."""
    name = make_url(url).database
    if not name:
        raise ValueError(f"{make_url(url).render_as_string(hide_password=True)} names no database")
    if name == make_url(POSTGRES_URL).database:
        raise ValueError(f"refusing to drop the admin database {name!r}")
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(
                text(
                    # Only our own client connections: an autovacuum worker runs as a superuser
                    # (terminating it is refused) and DROP DATABASE stops it by itself.
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                    " AND usename = current_user AND backend_type = 'client backend'"
                ),
                {"name": name},
            )
            conn.execute(text(f"DROP DATABASE IF EXISTS {_quote(engine, name)}"))
    finally:
        engine.dispose()


def require_postgres() -> str:
    """The admin URL of the PostgreSQL server the tests use, for a test that needs it.

    Skips the test when ``ROLECALL_TEST_POSTGRES_URL`` is not set (always with
    :data:`SKIP_REASON`, raised from this one place, so ``pytest -ra`` folds every such skip
    into one line); fails when it is set and the server is not reachable: ``make test`` always
    starts it."""
    if not CONFIGURED:
        pytest.skip(SKIP_REASON)
    error = postgres_available()
    if error is not None:
        where = make_url(POSTGRES_URL).render_as_string(hide_password=True)
        pytest.fail(f"PostgreSQL is not reachable at {where}: {error}\n{HINT}", pytrace=False)
    return POSTGRES_URL


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of a brand-new, empty PostgreSQL database, dropped after the test (skipped or
    failing as :func:`require_postgres` says)."""
    require_postgres()
    url = fresh_database("rolecall_test_")
    try:
        yield url
    finally:
        drop_database(url)


# ------------------------------------------------------------------- the hooks of the plugin


def needs_server(item: pytest.Item, fixture: str, param: str) -> bool:
    """Whether a test uses a database server: its fixture (``postgres_url``), or that server's
    parameter (``postgresql``) of ``database_url``, ``server_url`` or ``legacy_url``."""
    if fixture in getattr(item, "fixturenames", ()):
        return True
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    return any(params.get(name) == param for name in ("database_url", "server_url", "legacy_url"))


def needs_postgres(item: pytest.Item) -> bool:
    return needs_server(item, "postgres_url", "postgresql")


def skip_unconfigured(
    items: list[pytest.Item], needs: Callable[[pytest.Item], bool], reason: str
) -> None:
    """Mark the tests that ``needs`` a server that is not configured skipped, with ``reason``."""
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if needs(item):
            item.add_marker(skip)


def fold_skip(report: pytest.TestReport, reason: str, where: str) -> None:
    """A skip for ``reason`` reported at ``where``, so ``-ra`` folds them into one line instead
    of one per test module."""
    longrepr = report.longrepr
    if report.skipped and isinstance(longrepr, tuple) and longrepr[2].endswith(reason):
        report.longrepr = (where, None, longrepr[2])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not CONFIGURED:
        skip_unconfigured(items, needs_postgres, SKIP_REASON)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Every skip for want of PostgreSQL reported at one place, so ``-ra`` folds them into one
    line instead of one per test module."""
    report = yield
    fold_skip(report, SKIP_REASON, __file__)
    return report
