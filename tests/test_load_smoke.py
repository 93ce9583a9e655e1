"""The load benchmark's verification of writes (benchmarks/load.py), on a real PostgreSQL.

The benchmark itself (gunicorn, timings) is not run here: this checks that what it calls
"every acknowledged write is in the database" finds a missing grant, a revocation that did not
happen and a write without its audit event, and passes a log that matches the database.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rolecall.core import Rolecall
from rolecall.core.listing import find_grant

from pg import postgres_url  # noqa: F401

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))

import dataset  # noqa: E402
import load  # noqa: E402


def test_verify_writes_finds_what_the_database_lacks(postgres_url: str) -> None:  # noqa: F811
    data = dataset.build(1000)
    token, _ = load.load(postgres_url, data, clients=1)
    assert token.startswith("rc_")
    users = load.writers(1)[0]
    user_a, user_b, user_c = users[:3]
    course = data.courses[0]
    role = load.WRITE_ROLE
    writes = []
    with Rolecall.open(postgres_url, plugins=load.make_plugins(), background_sync=False) as rc:
        for seq, user in enumerate((user_a, user_b)):
            revision = rc.assign(user, role, course, as_user=load.ADMIN)
            found = find_grant(rc, user, role, course)
            assert found is not None
            key = (user, role, course)
            writes.append(load.write("assign", key, found.id, revision, True, 0, seq))
        revision = rc.revoke(user_b, role, course, as_user=load.ADMIN)
        writes.append(load.write("revoke", (user_b, role, course), found.id, revision, True, 0, 2))
        assert rc.verify_audit().ok

    assert load.verify_writes(postgres_url, writes, users) == []

    # A grant acknowledged but never written, and its audit event absent.
    ghost = load.write("assign", (user_c, role, course), 10**9, revision + 1, True, 0, 3)
    problems = load.verify_writes(postgres_url, [*writes, ghost], users)
    assert any("missing" in p and user_c in p for p in problems)
    assert any(p.startswith("no audit event assign " + user_c) for p in problems)

    # A revocation acknowledged while the row is still there.
    undone = load.write("revoke", (user_a, role, course), writes[0]["id"], revision, False, 0, 4)
    problems = load.verify_writes(postgres_url, [*writes, undone], users)
    assert problems == [
        f"{user_a}, {role}, {course} revoked at revision {revision} is still there "
        f"(id {writes[0]['id']})"
    ]

    # A row nobody acknowledged.
    problems = load.verify_writes(postgres_url, writes[1:], users)
    assert problems == [f"unacknowledged assignment {user_a}, {role}, {course}"]
