"""A database that cannot be opened: a server refusing the connection (a closed port on
127.0.0.1, with PostgreSQL's and MariaDB's drivers) and an SQLite file that is not a database.

Every step of opening raises :class:`StorageError` in the driver's words (one line, at most 300
characters), with the driver's error as its cause, never the driver's error itself: the schema's
upgrade (and MySQL's checks), the migration's revision, the index's first fill, the revision the
key file records, the new audit chain's signature, the plugins' memory, and so
``Rolecall.open``. The CLI says ``database error:`` and those words on one line and exits 4,
without a traceback. No server is needed: nothing listens on the port.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import make_plugins
from sqlalchemy.exc import DBAPIError

from rolecall.core import Plugins, Rolecall, StorageError
from rolecall.core.engine import Index
from rolecall.core.reads.stored import stored_grants, stored_lookalikes, stored_users
from rolecall.core.storage.audit import sign_new_chain
from rolecall.core.storage.contributions import remembered
from rolecall.core.storage.database import current_revision, database_url, make_engine, upgrade
from rolecall.core.storage.feed import fill_index
from rolecall.core.storage.keys import AUDIT_KEY, KeyRing
from rolecall.core.storage.mysql import check_server, check_tables
from rolecall.core.storage.sessions import Engine

from support import run_cli


def _closed_port() -> int:
    """A port of 127.0.0.1 nothing listens on (just bound and let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(params=["postgresql", "mysql", "sqlite"])
def broken_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL that cannot be opened: refused (PostgreSQL, MariaDB) or not a database
    (an SQLite file of text)."""
    if request.param == "sqlite":
        path = tmp_path / "notes.db"
        path.write_bytes(b"these are notes, not a database\n" * 512)
        return f"sqlite:///{path}"
    return f"{request.param}://rolecall:rolecall@127.0.0.1:{_closed_port()}/rolecall_test"


@pytest.fixture
def engine(broken_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url(broken_url))
    yield engine
    engine.dispose()


def _driver_words(url: str) -> str:
    """What the driver says when the database is opened, on one line as the CLI shows it."""
    engine = make_engine(database_url(url))
    try:
        with pytest.raises(DBAPIError) as failed:
            engine.connect().close()
    finally:
        engine.dispose()
    return " ".join(str(failed.value.orig or failed.value).split())[:300]


def _refused(action: Callable[[], object], words: str) -> StorageError:
    with pytest.raises(StorageError) as raised:
        action()
    assert isinstance(raised.value.__cause__, DBAPIError)
    assert str(raised.value) == words
    return raised.value


def test_opening_the_service_raises_a_storage_error(broken_url: str) -> None:
    words = _driver_words(broken_url)
    assert words  # the driver says why
    _refused(
        lambda: Rolecall.open(broken_url, plugins=make_plugins(), background_sync=False), words
    )


def test_every_step_of_opening_raises_a_storage_error(
    engine: Engine, broken_url: str, plugins: Plugins, tmp_path: Path
) -> None:
    words = _driver_words(broken_url)
    _refused(lambda: upgrade(engine), words)
    _refused(lambda: current_revision(engine), words)
    _refused(lambda: fill_index(engine, Index(plugins.registry)), words)
    _refused(lambda: remembered(engine), words)
    # A key file made on first use records the database's revision.
    keys = KeyRing.for_database(engine, {"ROLECALL_KEY_FILE": str(tmp_path / "keys")})
    _refused(lambda: keys.current(AUDIT_KEY), words)
    assert not (tmp_path / "keys").exists()
    _refused(lambda: sign_new_chain(engine, KeyRing()), words)
    # A service built on an engine of the host's: the index's first fill fails.
    _refused(lambda: Rolecall(engine, plugins, background_sync=False, notices=None), words)
    if engine.dialect.name == "mysql":
        _refused(lambda: check_server(engine), words)
        _refused(lambda: check_tables(engine), words)


@pytest.mark.parametrize("command", [["users", "list"], ["db", "upgrade"]])
def test_the_cli_exits_4_in_the_drivers_words(broken_url: str, command: list[str]) -> None:
    result = run_cli("--database", broken_url, *command)
    assert result.returncode == 4, result.stderr
    assert result.stderr == f"rolecall: database error: {_driver_words(broken_url)}\n"
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_a_loaders_reads_of_the_tables_raise_a_storage_error(tmp_path: Path) -> None:
    """What a loader reads from the tables instead of its index (the legacy import asks it of
    every slice) fails as any read does when the database goes bad under it, so the command
    says ``database error:`` and exits 4 rather than reporting an internal error."""
    path = tmp_path / "rolecall.db"
    rc = Rolecall.open(
        f"sqlite:///{path}", plugins=make_plugins(), keep_grants=False, background_sync=False
    )
    try:
        rc.engine.dispose()  # no connection kept open on the good file
        path.write_bytes(b"these are notes, not a database\n" * 512)
        for read in (stored_grants, stored_users, stored_lookalikes):
            with pytest.raises(StorageError) as raised:
                read(rc, ["ada"])
            assert isinstance(raised.value.__cause__, DBAPIError), read.__name__
    finally:
        rc.close()
