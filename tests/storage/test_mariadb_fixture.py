"""The ``mariadb_url`` fixture of ``tests/mariadb.py`` against the real MariaDB server, and its
relay that takes the server away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from mariadb import CONFIGURED, MYSQL_URL, SKIP_REASON, Relay, mariadb_url  # noqa: F401
from support import inner_pytest

TESTS = Path(__file__).resolve().parents[1]

TWO_USES = """
from pathlib import Path

from mariadb import mariadb_url  # noqa: F401

RECORD = Path(__file__).with_name("urls.txt")


def test_first(mariadb_url):
    with RECORD.open("a") as record:
        record.write(mariadb_url + "\\n")


def test_second(mariadb_url):
    with RECORD.open("a") as record:
        record.write(mariadb_url + "\\n")
"""


def test_round_trip_in_a_database_of_its_own(mariadb_url: str) -> None:  # noqa: F811
    engine = create_engine(mariadb_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE role (id integer PRIMARY KEY, name text NOT NULL)"))
            conn.execute(
                text("INSERT INTO role (id, name) VALUES (:id, :name)"),
                [{"id": 1, "name": "staff"}, {"id": 2, "name": "élève \U0001d518"}],
            )
        with engine.begin() as conn:
            rows = conn.execute(text("SELECT id, name FROM role ORDER BY id")).all()
            database = conn.execute(text("SELECT DATABASE()")).scalar_one()
            charset = conn.execute(text("SELECT @@character_set_database")).scalar_one()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [(1, "staff"), (2, "élève \U0001d518")]
    assert database == make_url(mariadb_url).database != make_url(MYSQL_URL).database
    assert charset == "utf8mb4"


def test_each_use_gets_its_own_database_dropped_afterwards(tmp_path: Path) -> None:
    if not CONFIGURED:
        pytest.skip(SKIP_REASON)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_two_uses.py").write_text(TWO_USES)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        "ROLECALL_TEST_MYSQL_URL": MYSQL_URL,
    }
    quick = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *quick, "-W", "error"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    names = [make_url(url).database for url in (tmp_path / "urls.txt").read_text().split()]
    assert len(set(names)) == 2
    assert all(name and name.startswith("rolecall_test_") for name in names)
    engine = create_engine(MYSQL_URL, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            left = conn.scalars(
                text(
                    "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA "
                    "WHERE SCHEMA_NAME IN (:a, :b)"
                ),
                {"a": names[0], "b": names[1]},
            ).all()
    finally:
        engine.dispose()
    assert left == []


def test_the_relay_cuts_connections_and_lets_them_in_again(mariadb_url: str) -> None:  # noqa: F811
    parsed = make_url(mariadb_url)
    relay = Relay(str(parsed.host), int(parsed.port or 3306))
    relay.open()
    engine = create_engine(
        relay.url(mariadb_url), pool_pre_ping=True, connect_args={"connect_timeout": 3}
    )
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT 1")) == 1
            relay.close()
            with pytest.raises(OperationalError):
                conn.execute(text("SELECT 1"))
        with pytest.raises(OperationalError, match="Can't connect"):
            engine.connect().close()
        relay.open()
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT 2")) == 2
    finally:
        engine.dispose()
        relay.close()


def _inner_pytest(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The two tests of TWO_USES in a pytest session of their own, with ``env``."""
    return inner_pytest(tmp_path, TWO_USES, env, "mariadb")


def test_without_the_variable_the_mariadb_tests_are_skipped_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ROLECALL_TEST_MYSQL_URL"}
    result = _inner_pytest(tmp_path, env)
    assert result.returncode == 0, result.stdout + result.stderr
    skipped = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1, result.stdout
    assert skipped[0].startswith("SKIPPED [2] ")
    assert skipped[0].endswith(SKIP_REASON)
    assert not (tmp_path / "urls.txt").exists()


def test_with_the_variable_an_unreachable_server_fails(tmp_path: Path) -> None:
    nowhere = "mysql+pymysql://rolecall:rolecall@127.0.0.1:1/rolecall_test"
    result = _inner_pytest(tmp_path, {**os.environ, "ROLECALL_TEST_MYSQL_URL": nowhere})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 errors" in result.stdout
    assert "MariaDB is not reachable at" in result.stdout
    assert "skipped" not in result.stdout
