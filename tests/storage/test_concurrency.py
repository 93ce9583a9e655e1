"""Several real processes writing to one database server at once (PostgreSQL, then MariaDB).

- Four processes assign and revoke the same and different grants as fast as they can: no grant
  is duplicated or lost, the audit log has exactly one event per effective change (replaying it
  gives the table), the hash chain is intact, and every process ends with the same answers.
- Two course admins remove each other at the same moment, many times: the delegation guards are
  decided again under the write lock, so exactly one of them succeeds and the course always
  keeps an admin. The same holds for two org admins removing each other with bulk operations,
  on SQLite, PostgreSQL and MariaDB: a bulk operation's rows are decided under the lock too.

Each child is a script run with ``sys.executable -c``; every wait is bounded and every child is
killed in a ``finally``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import make_plugins
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from rolecall.core import PluginSettings, Rolecall, load_plugins
from rolecall.core.storage.models import Assignment, User

from support import child_environment

TESTS = Path(__file__).resolve().parents[1]
USERS = [f"u{i}" for i in range(5)]
ROLES = ["viewer", "editor"]
SCOPES = ["course-v1:MITx+c1+2026", "course-v1:MITx+c2+2026", "org:MITx"]
OPS_PER_PROCESS = 120

WRITER = r"""
import json, random, sys
url, seed, ops, tests = sys.argv[1:5]
sys.path.insert(0, tests)
import pytest
from conftest import make_plugins
from rolecall.core import BadInputError, Rolecall

users = [f"u{i}" for i in range(5)]
roles = ["viewer", "editor"]
scopes = ["course-v1:MITx+c1+2026", "course-v1:MITx+c2+2026", "org:MITx"]
rng = random.Random(int(seed))
rc = Rolecall.open(url, plugins=make_plugins(), background_sync=False, staleness=0)
print(json.dumps({"ready": True}), flush=True)
sys.stdin.readline()  # every process starts together
done = {"assign": 0, "revoke": 0, "not_held": 0}
for _ in range(int(ops)):
    user, role, scope = rng.choice(users), rng.choice(roles), rng.choice(scopes)
    if rng.random() < 0.55:
        rc.assign(user, role, scope, actor=f"w{seed}")
        done["assign"] += 1
    else:
        try:
            rc.revoke(user, role, scope, actor=f"w{seed}")
            done["revoke"] += 1
        except BadInputError:
            done["not_held"] += 1
print(json.dumps({"finished": True}), flush=True)
sys.stdin.readline()  # report once every process has finished writing
rc.sync()
answers = {
    f"{u} {s}": [rc.check(u, p, s) for p in ("t.view", "t.edit")]
    for u in users for s in scopes[:2]
}
grants = sorted(f"{g.user} {g.role} {g.scope}" for u in users for g in rc.grants(u))
print(json.dumps({"done": done, "answers": answers, "grants": grants}), flush=True)
rc.close()
"""

ADMIN = r"""
import json, sys
url, me, other, scope, how = sys.argv[1:6]
from rolecall.core import BadInputError, PluginSettings, Rolecall, load_plugins
from rolecall.core.governance import NotAllowedError

rc = Rolecall.open(url, plugins=load_plugins(PluginSettings(), entry_points=[]),
                   background_sync=False, staleness=0)
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    if line.strip() != "go":
        break
    try:
        if how == "single":
            rc.revoke(other, "course_admin", scope, as_user=me)
            outcome = "revoked"
        else:
            result = rc.bulk("revoke", "org_admin", [other], [scope], as_user=me)
            statuses = sorted(row.status for row in result.rows)
            outcome = "revoked" if result.applied else "refused: " + ",".join(statuses)
    except NotAllowedError as exc:
        outcome = "refused: " + exc.refusal.rule
    except BadInputError as exc:
        outcome = "bad input: " + str(exc)
    print(json.dumps({"outcome": outcome}), flush=True)
rc.close()
"""


def _start(script: str, *args: str) -> subprocess.Popen[str]:
    env = child_environment()
    return subprocess.Popen(
        [sys.executable, "-W", "error", "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _answer(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        assert process.stderr is not None
        raise AssertionError(f"child exited: {process.stderr.read()[-3000:]}")
    answer: dict[str, Any] = json.loads(line)
    return answer


def _stop(processes: list[subprocess.Popen[str]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _replay(rc: Rolecall) -> set[tuple[str, str, str]]:
    """The grants the audit log describes, failing on any event that changed nothing."""
    held: set[tuple[str, str, str]] = set()
    for event in rc.audit():
        if event.action not in ("assign", "revoke"):
            continue
        grant = (str(event.user), str(event.role), str(event.scope))
        if event.action == "assign":
            assert grant not in held, f"event {event.id} assigns {grant}, already held"
            held.add(grant)
        else:
            assert grant in held, f"event {event.id} revokes {grant}, not held"
            held.remove(grant)
    return held


def test_concurrent_writers_lose_nothing_and_agree(server_url: str) -> None:
    with Rolecall.open(server_url, plugins=make_plugins(), background_sync=False) as rc:
        rc.add_users(USERS)
    processes = [
        _start(WRITER, server_url, str(seed), str(OPS_PER_PROCESS), str(TESTS)) for seed in range(4)
    ]
    try:
        for process in processes:
            assert _answer(process)["ready"] is True
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        for process in processes:
            assert _answer(process)["finished"] is True
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("report\n")
            process.stdin.flush()
        results = [_answer(process) for process in processes]
        for process in processes:
            process.wait(timeout=60)
    finally:
        _stop(processes)

    assert sum(r["done"]["assign"] + r["done"]["revoke"] for r in results) > 0
    engine = create_engine(server_url, poolclass=NullPool)
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(User.username, Assignment.role, Assignment.scope, func.count())
                .join(User, User.id == Assignment.user_id)
                .group_by(User.username, Assignment.role, Assignment.scope)
            ).all()
    finally:
        engine.dispose()
    assert all(count == 1 for *_, count in rows), "a grant is stored twice"
    in_table = {(u, r, s) for u, r, s, _ in rows}

    with Rolecall.open(server_url, plugins=make_plugins(), background_sync=False) as rc:
        assert _replay(rc) == in_table  # one event per effective change, none lost
        assert rc.verify_audit().ok
        fresh = sorted(f"{g.user} {g.role} {g.scope}" for u in USERS for g in rc.grants(u))
        expected = {
            f"{u} {s}": [rc.check(u, p, s) for p in ("t.view", "t.edit")]
            for u in USERS
            for s in SCOPES[:2]
        }
    assert fresh == sorted(f"{u} {r} {s}" for u, r, s in in_table)
    for result in results:  # every process converged on the same state and answers
        assert result["grants"] == fresh
        assert result["answers"] == expected


@pytest.mark.parametrize(
    ("how", "role", "scope"),
    [
        ("single", "course_admin", "course-v1:MITx+6.002x+2026_T1"),
        ("bulk", "org_admin", "org:MITx"),
    ],
)
def test_two_admins_removing_each_other_leave_one(
    database_url: str, how: str, role: str, scope: str
) -> None:
    plugins = load_plugins(PluginSettings(), entry_points=[])
    with Rolecall.open(database_url, plugins=plugins, background_sync=False) as rc:
        rc.add_users(["ada", "bob"])
        rc.add_scopes([scope])
        a = _start(ADMIN, database_url, "ada", "bob", scope, how)
        b = _start(ADMIN, database_url, "bob", "ada", scope, how)
        try:
            assert _answer(a)["ready"] is True
            assert _answer(b)["ready"] is True
            for _ in range(15):
                rc.assign("ada", role, scope)
                rc.assign("bob", role, scope)
                for child in (a, b):
                    assert child.stdin is not None
                    child.stdin.write("go\n")
                    child.stdin.flush()
                outcomes = sorted([_answer(a)["outcome"], _answer(b)["outcome"]])
                assert outcomes[1] == "revoked", outcomes
                assert outcomes[0].startswith("refused"), outcomes
                rc.sync()
                assert len(rc.who(scope).members) == 1
        finally:
            _stop([a, b])
        assert rc.verify_audit().ok
