"""The benchmark's floor under ``assign_many`` (benchmarks/driver_floor.py) writes the rows the
service writes: the same grants, and columns of the same sizes, or its time would not be the
database's share of the load."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))

from rolecall.core import Rolecall  # noqa: E402
from rolecall.core.storage.audit import COLUMNS  # noqa: E402

import dataset  # noqa: E402
import driver_floor  # noqa: E402
from run import make_plugins  # noqa: E402

CHUNK = 400


def column_sizes(path: str, table: str, columns: tuple[str, ...]) -> dict[str, int]:
    """Total stored text length of each column (numbers as their decimal text)."""
    with sqlite3.connect(path) as connection:
        return {
            c: int(
                connection.execute(
                    f'SELECT coalesce(sum(length(CAST("{c}" AS TEXT))), 0) FROM {table}'  # noqa: S608
                ).fetchone()[0]
            )
            for c in columns
        }


def test_the_driver_alone_writes_what_assign_many_writes(tmp_path: Path) -> None:
    data = dataset.build(1000)
    path = str(tmp_path / "bench.db")
    with Rolecall.open(f"sqlite:///{path}", plugins=make_plugins(), background_sync=False) as rc:
        rc.add_users(data.users, actor=driver_floor.ACTOR)
        rc.add_scopes(data.scopes, actor=driver_floor.ACTOR)
        copy = driver_floor.snapshot(path)
        for start in range(0, len(data.grants), CHUNK):
            rc.assign_many(
                data.grants[start : start + CHUNK],
                actor=driver_floor.ACTOR,
                reason=driver_floor.REASON,
            )
    floor = driver_floor.DriverAlone(copy, data.grants, CHUNK)
    for start in range(0, len(data.grants), CHUNK):
        wall, cpu = floor.write(start)
        assert wall > 0
        assert cpu > 0

    grants = (
        "SELECT u.username, a.role, a.scope FROM rolecall_assignments a "
        "JOIN rolecall_users u ON u.id = a.user_id"
    )
    with sqlite3.connect(path) as service, sqlite3.connect(copy) as written:
        assert sorted(written.execute(grants)) == sorted(service.execute(grants))
        events = (
            "SELECT user, role, scope, action, actor FROM rolecall_audit WHERE action = 'assign'"
        )
        assert sorted(written.execute(events)) == sorted(service.execute(events))
    service.close()
    written.close()

    for table, columns in (
        ("rolecall_assignments", driver_floor.ASSIGNMENT_COLUMNS),
        ("rolecall_audit", COLUMNS),
    ):
        expected = column_sizes(path, table, columns)
        found = column_sizes(copy, table, columns)
        for column in columns:
            # Equal but for the odd time whose microseconds end in zeros (shorter text).
            assert abs(found[column] - expected[column]) <= expected[column] // 100, (
                table,
                column,
                found[column],
                expected[column],
            )
    floor.close()
    assert not Path(copy).exists()
