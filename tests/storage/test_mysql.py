"""What MySQL and MariaDB need beyond the rest of the suite (which runs on MariaDB too).

- ``mysql://`` and ``mariadb://`` URLs open with PyMySQL and utf8mb4.
- Names and keys compare exactly on every backend: ``Ada`` and ``ada``, ``José`` and ``Jose``,
  ``course-v1:MITx+X+1`` and ``course-v1:mitx+x+1`` are different users and scopes, in the
  tables and in the index rebuilt from them.
- The longest keys rolecall accepts fit (a 255-character scope key, a 150-character username
  of four-byte characters), and times keep their microseconds.
- Each connection is strict whatever the server's SQL mode: a value too long for its column
  is refused, never stored cut short.
- A server or tables that would lose or confuse data are refused when the database is opened,
  with what to change.
- Times read back as UTC whatever the process's time zone.
- Sign-in lock times keep their precision (a double, not MySQL's single-precision FLOAT), and
  failures recorded by several threads at once all count.
- ``verify_audit`` reads the state row and the events in one snapshot: a write committed
  between the two reads is not reported as tampering.

Every test here that runs on MariaDB runs with both drivers: PyMySQL (rolecall's default) and
mysqlclient (``mysql+mysqldb://``, Open edX's), whose values, errors and session set-up are
the driver's own. The rest of the suite runs on PyMySQL only: above the driver, rolecall's
SQL is the same.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import SERVERS, make_plugins
from sqlalchemy import create_engine, event, make_url, select, text
from sqlalchemy.pool import NullPool

from rolecall.core import BadInputError, DatabaseSetupError, Rolecall, StorageError
from rolecall.core.accounts import FIRST_LOCK, FREE_FAILURES
from rolecall.core.storage.database import database_url as url_of  # "database_url": a fixture
from rolecall.core.storage.database import make_engine
from rolecall.core.storage.models import Assignment, Restriction, SignInFailures, User
from rolecall.core.storage.mysql import MIN_MARIADB, MIN_MYSQL, server_problems

from support import run_cli

C1 = "course-v1:MITx+X+1"
C1_LOWER = "course-v1:mitx+x+1"
GOOD = {
    "innodb": "DEFAULT",
    "innodb_default_row_format": "dynamic",
    "sql_mode": "STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION",
    "transaction_isolation": "READ-COMMITTED",
}


def _open(url: str) -> Rolecall:
    return Rolecall.open(url, plugins=make_plugins(), background_sync=False, staleness=0)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb", "mysqldb"])
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database: an SQLite file, a brand-new PostgreSQL database, then a brand-new
    MariaDB database through PyMySQL and through mysqlclient."""
    return str(request.getfixturevalue(SERVERS[request.param]))


@pytest.fixture(params=["pymysql", "mysqldb"])
def mysql_url(request: pytest.FixtureRequest) -> str:
    """A brand-new MariaDB database, through PyMySQL, then through mysqlclient."""
    return str(
        request.getfixturevalue(SERVERS["mariadb" if request.param == "pymysql" else "mysqldb"])
    )


# --- URLs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("mysql://u:p@db.example/rc", "mysql+pymysql://u:p@db.example/rc?charset=utf8mb4"),
        ("mariadb://u:p@db.example/rc", "mariadb+pymysql://u:p@db.example/rc?charset=utf8mb4"),
        ("mysql+mysqldb://u:p@db.example/rc", "mysql+mysqldb://u:p@db.example/rc?charset=utf8mb4"),
        (
            "mysql://u:p@db.example/rc?charset=utf8mb3",
            "mysql+pymysql://u:p@db.example/rc?charset=utf8mb3",
        ),
    ],
)
def test_mysql_urls_get_pymysql_and_utf8mb4(given: str, expected: str) -> None:
    assert url_of(given) == expected


def test_a_mysqldb_url_opens_with_mysqlclient(mysqldb_url: str) -> None:
    with _open(url_of(mysqldb_url)) as rc:
        assert rc.engine.dialect.driver == "mysqldb"
        with rc.engine.connect() as connection:
            assert connection.scalar(text("SELECT @@character_set_client")) == "utf8mb4"
        rc.add_users(["\U0001d518da"])
        assert rc.check("\U0001d518da", "t.edit", C1) is False


def test_a_bare_mysql_url_opens_a_mariadb_database(mariadb_url: str) -> None:
    bare = make_url(mariadb_url).set(drivername="mysql").render_as_string(hide_password=False)
    assert bare.startswith("mysql://")
    with _open(url_of(bare)) as rc:
        assert rc.engine.dialect.driver == "pymysql"
        rc.add_users(["ada"])
        rc.assign("ada", "editor", C1)
        assert rc.check("ada", "t.edit", C1)
        assert rc.verify_audit().ok


# --- exact comparison, long keys, exact times ----------------------------------------------------


def test_names_and_keys_compare_exactly(database_url: str) -> None:
    users = ["Ada", "ada", "José", "Jose", "ß", "ss"]
    with _open(database_url) as rc:
        rc.add_users(["Ada", "José", "Jose", "ß"])
        # The service refuses look-alikes of known users (tests/engine/test_usernames.py); a
        # platform may hold both all the same: they are rows of their own, under a unique index
        # that a case-insensitive collation would refuse them under.
        with rc.engine.begin() as connection:
            for name in ("ada", "ss"):
                connection.execute(
                    User.__table__.insert().values(
                        username=name,
                        email=None,
                        display_name=None,
                        active=True,
                        created_at=datetime.now(UTC),
                    )
                )
    with _open(database_url) as rc:
        rc.add_scopes([C1, C1_LOWER])
        rc.assign("Ada", "editor", C1)
        rc.assign("ada", "viewer", C1_LOWER)
        rc.assign("José", "publisher", C1)
        rc.assign("ß", "viewer", C1)
        rc.revoke("ada", "viewer", C1_LOWER)
        rc.assign("ada", "grader", C1_LOWER)
    with _open(database_url) as rc:  # the index rebuilt from the tables
        assert sorted(rc.index.users) == sorted(users)
        assert {(g.role, g.scope) for g in rc.grants("Ada")} == {("editor", C1)}
        assert {(g.role, g.scope) for g in rc.grants("ada")} == {("grader", C1_LOWER)}
        assert {(g.role, g.scope) for g in rc.grants("José")} == {("publisher", C1)}
        assert rc.grants("Jose") == []
        assert rc.grants("ss") == []
        assert rc.check("Ada", "t.edit", C1)
        assert not rc.check("Ada", "t.edit", C1_LOWER)
        assert not rc.check("ada", "t.view", C1)
        assert rc.verify_audit().ok
        with rc.engine.connect() as connection:
            found = connection.scalars(select(User.username).where(User.username == "ada")).all()
            assert found == ["ada"]
            scopes = connection.scalars(
                select(Assignment.scope).where(Assignment.scope == C1_LOWER)
            ).all()
            assert scopes == [C1_LOWER]


def test_the_longest_keys_fit_and_times_keep_their_microseconds(database_url: str) -> None:
    name = "\U0001d518" * 150  # four bytes each in utf8mb4
    key = "course-v1:MITx+" + "c" * (255 - len("course-v1:MITx++2026")) + "+2026"
    assert len(key) == 255
    expires = datetime(2099, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    with _open(database_url) as rc:
        rc.add_users([name])
        rc.assign(name, "editor", key, expires_at=expires)
        with pytest.raises(BadInputError):
            rc.assign(name, "editor", key + "x")
        written = rc.grants(name)[0].granted_at
    with _open(database_url) as rc:
        (grant,) = rc.grants(name)
        assert (grant.user, grant.scope) == (name, key)
        assert grant.expires_at == expires
        assert grant.granted_at == written
        assert written.microsecond == rc.audit()[-1].at.microsecond
        assert rc.verify_audit().ok


def test_json_columns_read_back_as_written(database_url: str) -> None:
    reason = 'quotes " and \\ and ünïcode ✓'
    with _open(database_url) as rc:
        rc.add_users(["ada", "bob"])
        rc.restrict(C1, ["t.publish", "t.edit"], exempt_roles=["publisher"], reason="Lock")
        rc.assign("ada", "editor", C1, reason=reason)
        rc.assign("bob", "publisher", C1)
    with _open(database_url) as rc:
        with rc.engine.connect() as connection:
            row = connection.execute(
                select(Restriction.permissions, Restriction.exempt_roles)
            ).one()
        assert (sorted(row.permissions), row.exempt_roles) == (
            ["t.edit", "t.publish"],
            ["publisher"],
        )
        assert not rc.check("ada", "t.edit", C1)  # the restriction, rebuilt from its JSON
        assert rc.check("bob", "t.publish", C1)
        assert rc.audit(user="ada")[-1].details["reason"] == reason
        assert rc.verify_audit().ok


# --- MariaDB: a strict session, the checks at start, time zones, isolation -----------------------


def test_a_lax_server_mode_does_not_cut_values_short(mysql_url: str) -> None:
    # The server (here: the connection's own init command) would truncate silently.
    lax = make_url(mysql_url).update_query_dict({"init_command": "SET SESSION sql_mode=''"})
    with _open(lax.render_as_string(hide_password=False)) as rc:
        with rc.engine.connect() as connection:
            assert "STRICT_ALL_TABLES" in connection.scalar(text("SELECT @@SESSION.sql_mode"))
        # A column narrower than validation allows (as a hand-altered table may be): a lax
        # server would keep the first 10 characters of 30.
        with rc.engine.begin() as connection:
            connection.execute(text("ALTER TABLE rolecall_users MODIFY display_name VARCHAR(10)"))
        with pytest.raises(StorageError, match="nothing of it was applied"):
            rc.add_users([("ada", None, "d" * 30)])
        assert "ada" not in rc.index.users
        with rc.engine.connect() as connection:
            assert connection.scalar(select(User.display_name)) is None


def test_the_connections_read_committed_and_the_index_builds_in_one_snapshot(
    mysql_url: str,
) -> None:
    engine = make_engine(url_of(mysql_url))
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT @@tx_isolation")) == "READ-COMMITTED"
            assert connection.scalar(text("SELECT @@SESSION.time_zone")) == "+00:00"
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            "ALTER TABLE rolecall_users MODIFY username VARCHAR(150) "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL",
            "rolecall_users.username is utf8mb4 with collation utf8mb4_general_ci",
        ),
        (
            "ALTER TABLE rolecall_audit MODIFY `at` DATETIME NOT NULL",
            "rolecall_audit.at is DATETIME(0)",
        ),
        ("ALTER TABLE rolecall_state ENGINE=MyISAM", "rolecall_state uses the MyISAM storage"),
        (
            "ALTER TABLE rolecall_signin_failures MODIFY `last` FLOAT NOT NULL",
            "rolecall_signin_failures.last is a single-precision FLOAT",
        ),
    ],
)
def test_tables_that_would_lose_data_are_refused_at_start(
    mysql_url: str, change: str, named: str
) -> None:
    with _open(mysql_url) as rc:
        rc.add_users(["ada"])
    engine = create_engine(mysql_url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(text(change))
    finally:
        engine.dispose()
    with pytest.raises(DatabaseSetupError, match="would lose or confuse data") as refused:
        _open(mysql_url)
    assert named in str(refused.value)
    result = run_cli("--database", mysql_url, "users", "list")
    assert result.returncode == 4, result.stderr
    assert result.stderr.startswith("rolecall: database error: rolecall's tables")
    assert named in result.stderr
    assert "Traceback" not in result.stderr


def test_what_the_server_check_refuses() -> None:
    assert server_problems("10.11.9-MariaDB", (10, 11, 9), True, GOOD) == []
    assert server_problems("8.0.36", (8, 0, 36), False, GOOD) == []
    old = server_problems("10.5.2-MariaDB", (10, 5, 2), True, GOOD)
    assert old == [
        f"MariaDB 10.5.2-MariaDB is too old: rolecall needs MariaDB {MIN_MARIADB[0]}.6 or later"
    ]
    assert "MySQL 8.0.17 or later" in server_problems("5.7.44", (5, 7, 44), False, GOOD)[0]
    assert MIN_MYSQL == (8, 0, 17)
    bad = {
        "innodb": "NO",
        "innodb_default_row_format": "compact",
        "sql_mode": "NO_ENGINE_SUBSTITUTION",
        "transaction_isolation": "REPEATABLE-READ",
    }
    problems = server_problems("10.11.9-MariaDB", (10, 11, 9), True, bad)
    assert len(problems) == 4
    assert "InnoDB storage engine is not available" in problems[0]
    assert "innodb_default_row_format is compact" in problems[1]
    assert "not strict" in problems[2]
    assert "REPEATABLE-READ" in problems[3]


@pytest.fixture
def tokyo() -> Iterator[None]:
    """The process's local time zone is Tokyo's (UTC+9) inside the test."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.mark.usefixtures("tokyo")
def test_times_read_back_as_utc_in_any_local_time_zone(database_url: str) -> None:
    soon = datetime.now(UTC) + timedelta(minutes=30)
    with _open(database_url) as rc:
        rc.add_users(["ada"])
        rc.assign("ada", "editor", C1, expires_at=soon)
    with _open(database_url) as rc:  # the index built from the rows
        assert rc.check("ada", "t.edit", C1)
        (grant,) = rc.grants("ada")
        assert grant.expires_at == soon


def test_sign_in_lock_times_are_stored_exactly(database_url: str) -> None:
    # Epoch seconds need a double: MySQL's FLOAT would keep them to about two minutes.
    now = 1_767_225_600.25
    with _open(database_url) as rc:
        throttle = rc.accounts.sign_in_throttle(clock=lambda: now)
        for _ in range(FREE_FAILURES):  # the last one locks the key for FIRST_LOCK
            throttle.failed(["ada"])
        assert throttle.retry_after(["ada"]) == int(FIRST_LOCK)
        with rc.engine.connect() as connection:
            row = connection.execute(select(SignInFailures.locked_until, SignInFailures.last)).one()
        assert (row.locked_until, row.last) == (now + FIRST_LOCK, now)


def test_sign_in_failures_recorded_at_once_all_count(mysql_url: str) -> None:
    rounds, threads = 10, 4
    with _open(mysql_url) as rc:
        throttle = rc.accounts.sign_in_throttle()
        errors: list[BaseException] = []
        for round_ in range(rounds):
            start = threading.Barrier(threads)

            def fail(n: int, round_: int = round_, start: threading.Barrier = start) -> None:
                start.wait(timeout=30)
                try:
                    throttle.failed([f"user{round_}-{n}", "203.0.113.1"])
                except StorageError as exc:
                    errors.append(exc)

            running = [threading.Thread(target=fail, args=(n,)) for n in range(threads)]
            for thread in running:
                thread.start()
            for thread in running:
                thread.join(timeout=60)
        assert errors == []
        with rc.engine.connect() as connection:
            counted = connection.scalar(
                select(SignInFailures.failures).where(SignInFailures.key == "203.0.113.1")
            )
        assert counted == rounds * threads
        assert throttle.retry_after(["203.0.113.1"]) > 0


def test_verify_audit_reads_one_snapshot_while_others_write(database_url: str) -> None:
    # A write commits between verify's first read (the state row's hash) and its read of the
    # events: the chain must still verify as it stood, not report its newest event as extra.
    with _open(database_url) as rc, _open(database_url) as other:
        rc.add_users(["ada"])
        written: list[int] = []

        def between(connection: Any, cursor: Any, statement: str, *_: Any) -> None:
            if "FROM rolecall_audit" in statement and not written:
                written.append(other.add_users(["bob"]))

        event.listen(rc.engine, "before_cursor_execute", between)
        try:
            result = rc.verify_audit()
        finally:
            event.remove(rc.engine, "before_cursor_execute", between)
        assert written, "no write was made between the two reads"
        assert result.ok, result.message
        assert rc.verify_audit().events == 2


def test_an_index_built_from_the_rows_shares_one_float_per_time(database_url: str) -> None:
    # A bulk write gives its rows one time: the index keeps one float for it, whatever type
    # the driver returns times as (text, an aware or a naive datetime).
    with _open(database_url) as rc:
        rc.add_users(["ada", "bob"])
        rc.assign_many([("ada", "editor", C1), ("bob", "viewer", C1_LOWER)])
    with _open(database_url) as rc:
        (ada,) = rc.index.cells_of("ada").values()
        (bob,) = rc.index.cells_of("bob").values()
        assert ada.grants[0].granted_at == bob.grants[0].granted_at
        assert ada.grants[0].granted_at is bob.grants[0].granted_at
