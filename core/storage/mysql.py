"""MySQL and MariaDB: what rolecall sets on each connection, and what it checks at start.

The same holds with either driver, PyMySQL (``mysql+pymysql://``, rolecall's default) or
mysqlclient (``mysql+mysqldb://``, Open edX's): the session is set with the driver's own cursor
and the checks are SQL.

Every connection gets a strict SQL mode (a value too long for its column is an error, never
cut short silently), UTC as its time zone and READ COMMITTED (set by
:func:`~rolecall.core.storage.database.make_engine`): each statement sees every write committed
before it, as on PostgreSQL. Writers queue on the state row (an ``UPDATE``, which reads the
newest row whatever the isolation), the catch-up reads the audit log above the index's
revision in a transaction that starts after the caller's write lock or revision token, and the
index is built in one REPEATABLE READ snapshot.

When a database is opened, :func:`check_server` refuses a server rolecall cannot use safely
(too old, no InnoDB, a row format whose index keys are too short for rolecall's keys), and once
the migrations ran, :func:`check_tables` refuses tables that would lose or confuse data: a
case-insensitive or accent-insensitive collation (``Ada`` and ``ada`` one user), times without
their microseconds (the audit chain hashes them), a storage engine without transactions, a
single-precision float. The migration ``0005`` makes rolecall's own tables right; the check
catches a table changed afterwards (a dump restored into other defaults, a DBA's ``ALTER``).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, text

from ..errors import DatabaseSetupError
from .database import VERSION_TABLE
from .sessions import driver_errors

MIN_MYSQL = (8, 0, 17)
"""utf8mb4_0900_bin, the binary collation without trailing-space padding, is 8.0.17's."""
MIN_MARIADB = (10, 6)
"""The oldest MariaDB release series still maintained; 10.11 is the one tested."""
SQL_MODE = (
    "STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,"
    "NO_ENGINE_SUBSTITUTION"
)
"""Each connection's SQL mode, whatever the server's default: errors instead of truncated
values, and no table silently made with another storage engine than the one asked for."""
TABLES = "rolecall\\_%"
SERVER_MYSQL = (
    "SELECT @@innodb_default_row_format, @@SESSION.sql_mode, @@transaction_isolation, "
    "(SELECT SUPPORT FROM information_schema.ENGINES WHERE ENGINE = 'InnoDB')"
)
SERVER_MARIADB = SERVER_MYSQL.replace("@@transaction_isolation", "@@tx_isolation")
"""What :func:`check_server` reads (MariaDB 10.11 knows the isolation only as tx_isolation)."""
"""rolecall's tables, as a LIKE pattern (``_`` escaped)."""


def binary_collation(dialect: Dialect) -> str:
    """The utf8mb4 collation that compares code points exactly (case, accents and trailing
    spaces count) on the server ``dialect`` is connected to."""
    return "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_0900_bin"


def session_settings(dbapi_connection: Any, _record: Any) -> None:
    """The session every connection starts with (a ``connect`` event)."""
    cursor = dbapi_connection.cursor()
    cursor.execute(f"SET SESSION sql_mode = '{SQL_MODE}', time_zone = '+00:00'")
    cursor.close()


def _version(connection: Connection) -> tuple[str, tuple[int, ...], bool]:
    raw = str(connection.scalar(text("SELECT VERSION()")))
    mariadb = "mariadb" in raw.lower()
    numbers = tuple(int(n) for n in re.findall(r"\d+", raw.split("-")[0])[:3])
    return raw, numbers, mariadb


def server_problems(
    version: str, numbers: tuple[int, ...], mariadb: bool, variables: dict[str, str]
) -> list[str]:
    """What keeps rolecall from using a server with this version and these variables (lower
    case names: ``innodb``, ``innodb_default_row_format``, ``sql_mode``,
    ``transaction_isolation``, as this connection sees them)."""
    problems = []
    name, least = ("MariaDB", MIN_MARIADB) if mariadb else ("MySQL", MIN_MYSQL)
    if numbers < least:
        problems.append(
            f"{name} {version} is too old: rolecall needs {name} "
            f"{'.'.join(map(str, least))} or later"
        )
    if variables.get("innodb", "").upper() not in ("YES", "DEFAULT"):
        problems.append("the InnoDB storage engine is not available (rolecall needs transactions)")
    row_format = variables.get("innodb_default_row_format", "").lower()
    if row_format not in ("dynamic", "compressed"):
        problems.append(
            f"innodb_default_row_format is {row_format or 'unknown'}: set it to DYNAMIC "
            "(an index on a 255-character utf8mb4 scope key takes 1,020 bytes, more than the "
            "767 that the COMPACT and REDUNDANT row formats allow)"
        )
    modes = set(variables.get("sql_mode", "").upper().split(","))
    if "STRICT_ALL_TABLES" not in modes:
        problems.append(
            "the connection's SQL mode is not strict (STRICT_ALL_TABLES): too long values "
            "would be cut short silently"
        )
    isolation = variables.get("transaction_isolation", "").upper().replace("_", "-")
    if isolation != "READ-COMMITTED":
        problems.append(f"the connection's isolation is {isolation}, not READ COMMITTED")
    return problems


def check_server(engine: Engine) -> None:
    """Raise :class:`DatabaseSetupError` naming every problem of the server ``engine`` opens,
    before anything is created or migrated."""
    with driver_errors(None), engine.connect() as connection:
        version, numbers, mariadb = _version(connection)
        row = connection.execute(text(SERVER_MARIADB if mariadb else SERVER_MYSQL)).one()
    variables = {
        "innodb_default_row_format": str(row[0] or ""),
        "sql_mode": str(row[1] or ""),
        "transaction_isolation": str(row[2] or ""),
        "innodb": str(row[3] or ""),
    }
    problems = server_problems(version, numbers, mariadb, variables)
    if problems:
        raise DatabaseSetupError(
            f"cannot use this {'MariaDB' if mariadb else 'MySQL'} server: {'; '.join(problems)}"
        )


def table_problems(dialect: Dialect, rows: list[tuple[Any, ...]]) -> list[str]:
    """What is wrong with rolecall's tables, from rows of (table, engine, column, data type,
    character set, collation, datetime precision)."""
    problems: list[str] = []
    collation = binary_collation(dialect)
    engines: dict[str, str] = {}
    for table, engine, column, data_type, charset, collation_name, precision in rows:
        engines[table] = str(engine or "")
        where = f"{table}.{column}"
        if collation_name is not None and (
            charset != "utf8mb4" or not str(collation_name).endswith("_bin")
        ):
            problems.append(
                f"{where} is {charset} with collation {collation_name}, which does not compare "
                f"exactly (ALTER TABLE {table} CONVERT TO CHARACTER SET utf8mb4 COLLATE "
                f"{collation})"
            )
        if data_type == "datetime" and precision != 6:
            problems.append(
                f"{where} is DATETIME({precision or 0}), which drops microseconds the audit chain "
                f"hashes (ALTER TABLE {table} MODIFY {column} DATETIME(6) ...)"
            )
        if data_type == "float":
            problems.append(
                f"{where} is a single-precision FLOAT (ALTER TABLE {table} MODIFY "
                f"{column} DOUBLE ...)"
            )
    for table, engine in sorted(engines.items()):
        if engine.lower() != "innodb":
            problems.append(
                f"table {table} uses the {engine} storage engine, without transactions "
                f"(ALTER TABLE {table} ENGINE=InnoDB)"
            )
    return problems


def check_tables(engine: Engine) -> None:
    """Raise :class:`DatabaseSetupError` naming every column or table of rolecall's that would
    lose or confuse data (see the module's doc). Alembic's version table is Alembic's: it holds
    a revision id of digits, made in the database's default collation."""
    with driver_errors(None), engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT c.TABLE_NAME, t.ENGINE, c.COLUMN_NAME, c.DATA_TYPE, "
                "c.CHARACTER_SET_NAME, c.COLLATION_NAME, c.DATETIME_PRECISION "
                "FROM information_schema.COLUMNS c JOIN information_schema.TABLES t "
                "ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME "
                "WHERE c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME LIKE :tables "
                "AND c.TABLE_NAME <> :version ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION"
            ),
            {"tables": TABLES, "version": VERSION_TABLE},
        ).all()
    problems = table_problems(engine.dialect, [tuple(r) for r in rows])
    if problems:
        shown = "; ".join(problems[:5])
        more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise DatabaseSetupError(f"rolecall's tables would lose or confuse data: {shown}{more}")
