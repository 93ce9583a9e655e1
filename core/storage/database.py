"""Opening the database: the URL, the engine, and the schema brought up to date by Alembic."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from ..errors import BadInputError
from .models import Base, State
from .sessions import driver_errors

DEFAULT_URL = "sqlite:///rolecall.db"
"""The embedded default: an SQLite file in the working directory."""
GENESIS_HASH = "0" * 64
MYSQL = ("mysql", "mariadb")
"""SQLAlchemy's names for MySQL and MariaDB (``mysql://`` URLs name either server)."""
MIGRATIONS = Path(__file__).parent / "migrations"
SCHEMA_HEAD = "0011"
"""The newest migration; a test keeps it equal to Alembic's head. Knowing it here lets every
open skip importing Alembic (a fifth of the CLI's start-up) when the schema is current."""
VERSION_TABLE = "rolecall_alembic_version"
"""Where Alembic records the schema's revision: prefixed like every table of rolecall's, so
that rolecall can share a database (the platform's, inside Open edX) with anything else,
another user of Alembic's default ``alembic_version`` included."""
OLD_VERSION_TABLE = "alembic_version"
"""Where databases made before :data:`VERSION_TABLE` recorded it; moved on the next upgrade."""


def database_url(explicit: str | None = None) -> str:
    """``explicit``, else ``ROLECALL_DATABASE_URL``, else ``sqlite:///rolecall.db``."""
    url = explicit or os.environ.get("ROLECALL_DATABASE_URL") or DEFAULT_URL
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BadInputError(
            f"database URL {url!r} is not a URL; use for example sqlite:///rolecall.db or "
            "postgresql+psycopg://user:password@127.0.0.1/rolecall"
        ) from None
    if parsed.drivername == "postgresql":  # psycopg 3 is the PostgreSQL driver rolecall ships
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    elif parsed.get_backend_name() in MYSQL:
        # PyMySQL is the driver of rolecall[mysql]; mysqlclient, Open edX's, is named
        # (mysql+mysqldb://) and installed by rolecall[mysqlclient].
        if "+" not in parsed.drivername:
            parsed = parsed.set(drivername=f"{parsed.drivername}+pymysql")
        if "charset" not in parsed.query:  # every character, four-byte ones included
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
        url = parsed.render_as_string(hide_password=False)
    elif parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        # A database in memory exists once per connection: the index, the sync thread and the
        # audit chain's reads would each see a different one, and answers would be wrong.
        raise BadInputError(
            f"database URL {url!r} is an SQLite database in memory, which rolecall cannot use "
            "(each connection would see a database of its own); use a file, for example "
            "sqlite:///rolecall.db or sqlite:////tmp/rolecall.db"
        )
    return url


SQLITE_PAGE_SIZE = 16384
"""The page size of a new SQLite database (SQLite's default is 4096). Bulk writes fill
indexes in random order, and with 16 KiB pages a million assignments loaded 12 % faster,
measured in alternating runs (docs/performance.md). An existing database keeps its own: in
WAL mode the page size cannot change."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Before WAL is set, which fixes a new file's page size; ignored by an existing database.
    cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout; MySQL and
    MariaDB get READ COMMITTED and a strict SQL mode on every connection."""
    options: dict[str, Any] = {}
    mysql = make_url(url).get_backend_name() in MYSQL
    if mysql:
        # InnoDB's default is REPEATABLE READ; rolecall reads as on PostgreSQL (see .mysql).
        options["isolation_level"] = "READ COMMITTED"
    try:
        engine = create_engine(url, future=True, pool_pre_ping=True, **options)
    except Exception as exc:  # unknown dialect, missing driver...
        raise BadInputError(f"cannot use database URL {make_url(url)!r}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    elif mysql:
        from .mysql import session_settings

        # First, before SQLAlchemy's own first look at the connection (its SQL mode).
        event.listen(engine, "connect", session_settings, insert=True)
    return engine


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see the database as it stood at the first of them, for
    reads that take several statements and must agree (the audit chain and the state row's
    hash): REPEATABLE READ on PostgreSQL, MySQL and MariaDB, whose connections otherwise read
    committed; on SQLite an explicit read transaction (the driver opens none for reads)."""
    if engine.dialect.name != "sqlite":
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN")
        yield connection


def time_param(connection: Connection) -> Callable[[datetime], Any]:
    """How a bulk write hands a time to the driver, as the ``UTCDateTime`` columns would store
    it: on SQLite the naive UTC text SQLAlchemy writes (``2026-01-31 09:30:00.000000``), on
    MySQL and MariaDB the naive UTC datetime, on PostgreSQL the aware datetime itself. Naive
    times are refused, as the column type does."""
    sqlite = connection.dialect.name == "sqlite"
    naive = connection.dialect.name in MYSQL

    def convert(value: datetime) -> Any:
        if value.tzinfo is None:
            raise ValueError("naive datetime; rolecall stores UTC-aware datetimes only")
        value = value.astimezone(UTC)
        if sqlite:
            return value.replace(tzinfo=None).isoformat(" ", "microseconds")
        if naive:  # DATETIME(6) keeps no zone: the UTC wall clock, to the microsecond
            return value.replace(tzinfo=None)
        return value

    return convert


BULK_CACHE_KIB = 256 * 1024
"""SQLite's page cache during a bulk write (its default is 2 MiB)."""


@contextmanager
def bulk_cache(connection: Connection) -> Iterator[None]:
    """On SQLite, a large page cache for the duration of a bulk write, then the connection's
    own again (the pages beyond it are freed).

    A bulk write inserts into indexes on user and scope at random places; once they outgrow
    the default 2 MiB cache (a few hundred thousand rows), nearly every row reads index pages
    back from the file, and writes slow down four to five times."""
    if connection.dialect.name != "sqlite":
        yield
        return
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={int(before or -2000)}")


def insert_rows(
    connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (values in the order of ``columns``, already in the driver's types: see
    :func:`time_param`) with one driver ``executemany``, in slices of 10,000.

    Bulk writes of hundreds of thousands of rows spend more time in SQLAlchemy's per-row
    parameter processing than in the database; the values here need none. Column defaults are
    not applied: every column without a server default must be given."""
    if not rows:
        return
    quote = connection.dialect.identifier_preparer.quote
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    # Names from the models, quoted; values only through the driver's parameters.
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
        f"VALUES ({', '.join(mark for _ in columns)})"
    )
    for start in range(0, len(rows), 10_000):
        connection.exec_driver_sql(sql, list(rows[start : start + 10_000]))


def rows_in(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    column: str,
    values: Sequence[Any],
    *,
    chunk: int = 5_000,
) -> Iterator[tuple[Any, ...]]:
    """The ``columns`` of the rows of ``table`` whose ``column`` is one of ``values``, read
    with the driver in slices of ``chunk`` values, each converted by its column's type as a
    ``select`` would return it.

    For thousands of values, SQLAlchemy's expansion of an ``IN`` list (a named parameter
    made and processed per value) costs several times the query itself."""
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    converters = [
        table.c[c].type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
    ]
    convert = [(i, f) for i, f in enumerate(converters) if f is not None]
    head = (
        f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table.name)} "  # noqa: S608
        f"WHERE {quote(column)} IN "
    )
    for start in range(0, len(values), chunk):
        part = list(values[start : start + chunk])
        # Names from the models, quoted; values only through the driver's parameters.
        result = connection.exec_driver_sql(f"{head}({', '.join(mark for _ in part)})", tuple(part))
        for row in result.fetchall():
            if convert:
                found = list(row)
                for i, f in convert:
                    found[i] = f(found[i])
                yield tuple(found)
            else:
                yield tuple(row)


def _alembic_config() -> Any:
    from alembic.config import Config  # imported only when a migration runs

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["version_table"] = VERSION_TABLE  # read by migrations/env.py
    return config


def head_revision() -> str:
    """Alembic's head, read from the migration scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return str(head)


def _recorded(connection: Connection) -> tuple[str | None, bool]:
    """The revision the database records, and whether it is in :data:`OLD_VERSION_TABLE`.

    An ``alembic_version`` table counts as rolecall's only beside rolecall's state table and
    holding one of rolecall's revisions: in a shared database it may be another's."""
    found = inspect(connection)
    if found.has_table(VERSION_TABLE):
        value = connection.scalar(text(f"SELECT version_num FROM {VERSION_TABLE}"))  # noqa: S608
        return (None if value is None else str(value)), False
    if found.has_table(OLD_VERSION_TABLE) and found.has_table(State.__tablename__):
        value = connection.scalar(text(f"SELECT version_num FROM {OLD_VERSION_TABLE}"))  # noqa: S608
        if value is not None and len(str(value)) == 4 and "0001" <= str(value) <= SCHEMA_HEAD:
            return str(value), True
    return None, False


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or ``None`` for an empty database."""
    with driver_errors(None), engine.connect() as connection:
        return _recorded(connection)[0]


def upgrade(engine: Engine, *, created: Callable[[], None] | None = None) -> bool:
    """Create or upgrade the schema to the newest migration; ``True`` if anything ran.

    ``created``: called once the schema made here from nothing is committed (not after an
    upgrade): the service signs the new, empty audit chain's head with it.

    On MySQL and MariaDB the server is checked first, and rolecall's tables after (see
    :mod:`.mysql`): a server or a table that would lose data refuses to open.

    A database that cannot be reached or read (the first connection, a migration) raises
    :class:`~rolecall.core.errors.StorageError` in the driver's words."""
    if engine.dialect.name in MYSQL:
        from .mysql import check_server, check_tables

        check_server(engine)
        ran = _upgrade(engine, created)
        check_tables(engine)
        return ran
    return _upgrade(engine, created)


def _upgrade(engine: Engine, created: Callable[[], None] | None = None) -> bool:
    with driver_errors(None), engine.connect() as connection:
        found, old = _recorded(connection)
    if found == SCHEMA_HEAD and not old:
        return False
    from alembic import command

    config = _alembic_config()
    with driver_errors(None), engine.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["metadata"] = Base.metadata
        if old:  # recorded where databases made before VERSION_TABLE had it: moved there
            assert found is not None
            command.stamp(config, found)
            connection.execute(text(f"DROP TABLE {OLD_VERSION_TABLE}"))
        command.upgrade(config, "head")
        if connection.execute(select(State.id)).first() is None:
            connection.execute(insert(State).values(id=1, revision=0, last_hash=GENESIS_HASH))
    if found is None and created is not None:
        created()
    return True


def migrate_database(
    url: str, *, key_settings: Mapping[str, str] | None = None
) -> tuple[bool, str]:
    """Create or upgrade the schema of the database at ``url`` (a URL as
    :func:`database_url` gives it) without opening the service: whether anything ran, and the
    revision it is at. A database made here has its empty audit chain signed with the key
    found in ``key_settings`` (``ROLECALL_SECRET_KEY``, ``ROLECALL_KEY_FILE``; the
    environment by default), as :meth:`Rolecall.open <rolecall.core.Rolecall.open>` does."""
    from .audit import sign_new_chain
    from .keys import KeyRing

    engine = make_engine(url)
    try:
        keys = KeyRing.for_database(engine, environ=key_settings)
        ran = upgrade(engine, created=lambda: sign_new_chain(engine, keys))
        return ran, str(current_revision(engine))
    finally:
        engine.dispose()


def deadlocked(error: DBAPIError) -> bool:
    """Whether the server ended the transaction to break a deadlock (MySQL and MariaDB's
    1213, with PyMySQL and mysqlclient alike; PostgreSQL's 40P01): the whole transaction was
    rolled back and may be run again."""
    orig = error.orig
    if getattr(orig, "sqlstate", None) == "40P01":
        return True
    args: tuple[Any, ...] = getattr(orig, "args", ())
    return bool(args) and args[0] == 1213
