"""The ``postgres_url`` fixture of ``tests/pg.py`` against the real PostgreSQL server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from pg import POSTGRES_URL, SKIP_REASON, postgres_url, require_postgres  # noqa: F401
from support import inner_pytest

TESTS = Path(__file__).resolve().parents[1]

# Two tests that each use the fixture once and record the URL they were given.
TWO_USES = """
from pathlib import Path

from pg import postgres_url  # noqa: F401

RECORD = Path(__file__).with_name("urls.txt")


def test_first(postgres_url):
    with RECORD.open("a") as record:
        record.write(postgres_url + "\\n")


def test_second(postgres_url):
    with RECORD.open("a") as record:
        record.write(postgres_url + "\\n")
"""


def test_round_trip(postgres_url: str) -> None:  # noqa: F811
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE role (id integer PRIMARY KEY, name text NOT NULL)"))
            conn.execute(
                text("INSERT INTO role (id, name) VALUES (:id, :name)"),
                [{"id": 1, "name": "staff"}, {"id": 2, "name": "élève"}],
            )
        with engine.begin() as conn:
            rows = conn.execute(text("SELECT id, name FROM role ORDER BY id")).all()
            database = conn.execute(text("SELECT current_database()")).scalar_one()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [(1, "staff"), (2, "élève")]
    assert database == make_url(postgres_url).database
    assert database != make_url(POSTGRES_URL).database


def test_each_use_gets_its_own_database_dropped_afterwards(tmp_path: Path) -> None:
    require_postgres()
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_two_uses.py").write_text(TWO_USES)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
    }
    env["ROLECALL_TEST_POSTGRES_URL"] = POSTGRES_URL
    # Without the cache and hypothesis plugins the inner session starts in a fraction of the time.
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

    urls = (tmp_path / "urls.txt").read_text().split()
    names = [make_url(url).database for url in urls]
    assert len(names) == 2
    assert names[0] != names[1]
    assert all(name and name.startswith("rolecall_test_") for name in names)

    engine = create_engine(POSTGRES_URL, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            left = conn.execute(
                text("SELECT datname FROM pg_database WHERE datname IN (:a, :b)"),
                {"a": names[0], "b": names[1]},
            ).all()
    finally:
        engine.dispose()
    assert left == []


def _inner_pytest(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The two tests of TWO_USES in a pytest session of their own, with ``env``."""
    return inner_pytest(tmp_path, TWO_USES, env, "pg")


def test_without_the_variable_the_postgresql_tests_are_skipped_with_one_line(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ROLECALL_TEST_POSTGRES_URL"}
    result = _inner_pytest(tmp_path, env)
    assert result.returncode == 0, result.stdout + result.stderr
    skipped = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1, result.stdout
    assert skipped[0].startswith("SKIPPED [2] ")
    assert skipped[0].endswith(SKIP_REASON)
    assert "2 skipped" in result.stdout
    assert not (tmp_path / "urls.txt").exists()


def test_with_the_variable_an_unreachable_server_fails(tmp_path: Path) -> None:
    nowhere = "postgresql+psycopg://rolecall:rolecall@127.0.0.1:1/rolecall_test"
    result = _inner_pytest(tmp_path, {**os.environ, "ROLECALL_TEST_POSTGRES_URL": nowhere})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 errors" in result.stdout
    assert "PostgreSQL is not reachable at" in result.stdout
    assert "skipped" not in result.stdout
