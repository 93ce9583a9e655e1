"""The ``postgres_url`` fixture of ``tests/pg.py`` against the real PostgreSQL server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from pg import POSTGRES_URL, postgres_url  # noqa: F401

TESTS = Path(__file__).resolve().parent

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
