"""A real MariaDB server for the tests: one brand-new database per test, dropped afterwards.

``scripts/test-mariadb.sh`` (which ``make test`` runs before pytest) installs and starts
Debian's MariaDB and creates the login behind :data:`MYSQL_URL`, which may create and drop the
databases whose names start with ``rolecall_test``. Each test gets its own, in the server's
default collation for utf8mb4 (case-insensitive, as most servers have it): rolecall must make
its own tables exact whatever the database's defaults are.

Without ``ROLECALL_TEST_MYSQL_URL`` in the environment, every test that needs MariaDB is skipped
with the one reason :data:`SKIP_REASON` (``make test`` always sets it); when it is set and the
server cannot be reached, they fail.

Use the fixture like ``postgres_url`` (``tests/pg.py``)::

    from mariadb import mariadb_url  # noqa: F401

    def test_something(mariadb_url: str) -> None:
        ...

``mysqldb_url`` is the same with mysqlclient (``mysql+mysqldb://``), Open edX's driver, beside
the PyMySQL of :data:`MYSQL_URL` (``make test`` builds it after this server's script).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import uuid
from collections.abc import Generator, Iterator

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from pg import fold_skip, needs_server, skip_unconfigured

DEFAULT_MYSQL_URL = "mysql+pymysql://rolecall:rolecall@127.0.0.1:3306/rolecall_test"

#: Whether ``ROLECALL_TEST_MYSQL_URL`` is set: without it the MariaDB tests are skipped.
CONFIGURED = bool(os.environ.get("ROLECALL_TEST_MYSQL_URL"))
#: The admin URL: a login that may create the databases named rolecall_test*.
MYSQL_URL = os.environ.get("ROLECALL_TEST_MYSQL_URL") or DEFAULT_MYSQL_URL

SKIP_REASON = (
    "MariaDB tests skipped: ROLECALL_TEST_MYSQL_URL is not set (make test sets it and starts "
    "the server)"
)

HINT = "run scripts/test-mariadb.sh (make test runs it) to install and start MariaDB"

# MariaDB identifiers are at most 64 characters; the random suffix takes 10. The login may
# only create databases whose names start with rolecall_test.
_PREFIX = re.compile(r"rolecall_test[a-z0-9_]{0,40}")


def admin_engine() -> Engine:
    """An engine on :data:`MYSQL_URL` that keeps no connection open once disposed."""
    return create_engine(
        MYSQL_URL,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"connect_timeout": 5},
    )


def mariadb_available() -> str | None:
    """None when :data:`MYSQL_URL` accepts a connection, otherwise why it does not."""
    engine = admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:  # any failure to connect is the answer, not a crash
        return f"{type(error).__name__}: {error}".strip()
    finally:
        engine.dispose()
    return None


def fresh_database(name_prefix: str = "rolecall_test_") -> str:
    """Create a brand-new, empty utf8mb4 database named ``name_prefix`` + 10 random hex digits
    and return its URL (same login, host and port as the admin URL)."""
    if not _PREFIX.fullmatch(name_prefix):
        raise ValueError(f"database name prefix {name_prefix!r} must start with rolecall_test")
    name = f"{name_prefix}{uuid.uuid4().hex[:10]}"
    engine = admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    finally:
        engine.dispose()
    return make_url(MYSQL_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop the database of ``url`` (if it still exists), ending the login's own connections
    to it first."""
    name = make_url(url).database
    if not name or not name.startswith("rolecall_test_"):
        raise ValueError(f"refusing to drop {name!r}: not a database made by fresh_database")
    engine = admin_engine()
    try:
        with engine.connect() as conn:
            ids = conn.scalars(
                text(
                    "SELECT ID FROM information_schema.PROCESSLIST "
                    "WHERE DB = :name AND ID <> CONNECTION_ID()"
                ),
                {"name": name},
            ).all()
            for thread in ids:
                try:
                    conn.execute(text(f"KILL {int(thread)}"))
                except Exception:  # noqa: S112 - it ended by itself meanwhile
                    continue
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    finally:
        engine.dispose()


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """The URL of a brand-new, empty MariaDB database, dropped after the test.

    Skipped when ``ROLECALL_TEST_MYSQL_URL`` is not set; fails when it is set and MariaDB is
    not reachable: ``make test`` always starts it."""
    if not CONFIGURED:
        pytest.skip(SKIP_REASON)
    error = mariadb_available()
    if error is not None:
        where = make_url(MYSQL_URL).render_as_string(hide_password=True)
        pytest.fail(f"MariaDB is not reachable at {where}: {error}\n{HINT}", pytrace=False)
    url = fresh_database()
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture
def mysqldb_url(mariadb_url: str) -> str:
    """:func:`mariadb_url` through mysqlclient (``mysql+mysqldb://``): a brand-new database,
    dropped after the test. Fails when mysqlclient is not installed (``make test`` builds it)."""
    try:
        import MySQLdb  # noqa: F401
    except ImportError as exc:
        pytest.fail(
            f"mysqlclient is not installed ({exc}): pip install -e '.[mysqlclient]' "
            "(make test does, after scripts/test-mariadb.sh installs its headers)",
            pytrace=False,
        )
    return (
        make_url(mariadb_url).set(drivername="mysql+mysqldb").render_as_string(hide_password=False)
    )


def needs_mariadb(item: pytest.Item) -> bool:
    return needs_server(item, "mariadb_url", "mariadb") or needs_server(
        item, "mysqldb_url", "mysqldb"
    )


# The hooks for ``-p mariadb`` (``conftest.py`` has its own for both servers).


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not CONFIGURED:
        skip_unconfigured(items, needs_mariadb, SKIP_REASON)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    fold_skip(report, SKIP_REASON, __file__)
    return report


class Relay:
    """A TCP relay on 127.0.0.1 in front of a server, to take the server away and bring it
    back: :meth:`close` cuts every connection through it and refuses new ones (as a server
    that is down does), :meth:`open` lets connections in again on the same port."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        probe = socket.create_server(("127.0.0.1", 0))
        self.port = int(probe.getsockname()[1])
        probe.close()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def url(self, url: str) -> str:
        """``url`` with its host and port replaced by the relay's."""
        return (
            make_url(url)
            .set(host="127.0.0.1", port=self.port)
            .render_as_string(hide_password=False)
        )

    def open(self) -> None:
        self._stop.clear()
        listener = socket.create_server(("127.0.0.1", self.port))
        listener.settimeout(0.05)
        self._listener = listener
        thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._threads.append(thread)
        thread.start()

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            open_sockets, self._sockets = self._sockets, set()
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
