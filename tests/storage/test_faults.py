"""Faults: the database failing during a write, or away for a while.

- A constraint the database enforces refuses row 5,000 of a 10,000-row bulk write: nothing of
  it is applied and the caller is told so (``StorageError``; the CLI exits 4).
- The connection of a bulk write is killed on the server while it runs (PostgreSQL's
  ``pg_terminate_backend``, MariaDB's ``KILL``): the same.
- The server refuses every connection to the database for a while (PostgreSQL: the database's
  ``ALLOW_CONNECTIONS``; MariaDB: a TCP relay in front of it is closed, cutting the open
  connections): the web application keeps answering checks from its index (and tokens it has
  seen), ``/healthz`` says ``degraded``, and both come back once the database does.

Every test runs on PostgreSQL and MariaDB; the first also on SQLite.

(A plugin raising in the ``assignment_changed`` hook is tested in ``test_service.py``.)
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import make_plugins
from sqlalchemy import Connection, Engine, create_engine, func, make_url, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from rolecall.core import Plugins, Rolecall, StorageError
from rolecall.core.storage.models import Assignment, AuditEvent
from rolecall.webapp import create_app
from rolecall.webapp import plugin as web_plugin

from mariadb import MYSQL_URL, Relay
from pg import POSTGRES_URL
from support import run_cli

C1 = "course-v1:MITx+c1+2026"
BAD_SCOPE = "course-v1:Refused+row+5000"


def _counts(engine: Engine) -> tuple[int, int]:
    with Session(engine) as session:
        return (
            int(session.scalar(select(func.count()).select_from(Assignment)) or 0),
            int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0),
        )


def _refuse_row_5000(engine: Engine) -> None:
    """A rule the database itself enforces, hit by one row of the batch."""
    with engine.begin() as connection:
        if engine.dialect.name in ("postgresql", "mysql", "mariadb"):
            connection.execute(
                text(
                    "ALTER TABLE rolecall_assignments ADD CONSTRAINT refuse_one "
                    f"CHECK (scope <> '{BAD_SCOPE}')"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_one BEFORE INSERT ON rolecall_assignments "
                    f"WHEN NEW.scope = '{BAD_SCOPE}' "
                    "BEGIN SELECT RAISE(ABORT, 'row refused by refuse_one'); END"
                )
            )


def test_a_constraint_refusing_row_5000_applies_nothing(rc: Rolecall) -> None:
    users = [f"user{i}" for i in range(100)]
    rc.add_users(users)
    rc.assign("user0", "viewer", C1)
    before_revision = rc.revision
    before = _counts(rc.engine)
    _refuse_row_5000(rc.engine)
    rows = [(u, "editor", f"course-v1:MITx+n{i}+2026") for i in range(100) for u in users]
    rows[4999] = (rows[4999][0], "editor", BAD_SCOPE)
    assert len(rows) == 10_000
    with pytest.raises(StorageError, match="nothing of it was applied") as failure:
        rc.assign_many(rows)
    assert "refuse_one" in str(failure.value)
    assert _counts(rc.engine) == before  # no assignment, no audit event
    rc.sync()
    assert rc.revision == before_revision
    assert not rc.check("user1", "t.edit", "course-v1:MITx+n1+2026")
    assert rc.check("user0", "t.view", C1)
    assert rc.verify_audit().ok
    # The rows the database accepts go in afterwards, once.
    rc.assign_many(rows[:4999])
    assert _counts(rc.engine)[0] == before[0] + 4999
    assert rc.verify_audit().ok


def test_the_cli_says_a_refused_write_applied_nothing(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    assert run_cli("--database", db, "users", "add", "ada").returncode == 0
    engine = create_engine(db, poolclass=NullPool)
    try:
        _refuse_row_5000(engine)
    finally:
        engine.dispose()
    result = run_cli("--database", db, "assign", "ada", "course_staff", BAD_SCOPE)
    assert result.returncode == 4, result.stderr
    assert result.stderr.startswith("rolecall: database error: ")
    assert "nothing of it was applied" in result.stderr
    assert "Traceback" not in result.stderr


def _kill_inserting(connection: Connection, database: str) -> int:
    """End the connections to ``database`` that are inside a transaction and inserting;
    return how many."""
    if connection.dialect.name == "postgresql":
        return len(
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid() "
                    "AND xact_start IS NOT NULL AND query ILIKE 'INSERT%'"
                ),
                {"db": database},
            ).all()
        )
    threads = connection.scalars(
        text(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = :db "
            "AND ID <> CONNECTION_ID() AND INFO LIKE 'INSERT%'"
        ),
        {"db": database},
    ).all()
    for thread in threads:
        connection.execute(text(f"KILL {int(thread)}"))
    return len(threads)


def test_a_killed_connection_mid_bulk_applies_nothing(server_url: str) -> None:
    users = [f"user{i}" for i in range(400)]
    scopes = [f"course-v1:MITx+k{i}+2026" for i in range(500)]
    with Rolecall.open(server_url, plugins=make_plugins(), background_sync=False) as rc:
        rc.add_users(users)
        before_revision = rc.revision
        before = _counts(rc.engine)
        database = rc.engine.url.database
        outcome: dict[str, Any] = {}

        def bulk() -> None:
            try:
                rc.assign_many((u, "editor", s) for s in scopes for u in users)
                outcome["result"] = "applied"
            except Exception as exc:  # what the caller sees is the point of the test
                outcome["error"] = exc

        writer = threading.Thread(target=bulk)
        admin_url = POSTGRES_URL if rc.engine.dialect.name == "postgresql" else MYSQL_URL
        admin = create_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        killed = 0
        try:
            writer.start()
            deadline = time.monotonic() + 60
            with admin.connect() as connection:
                while writer.is_alive() and time.monotonic() < deadline and not killed:
                    # The writer's backend, once it is inside its transaction and writing.
                    killed = _kill_inserting(connection, str(database))
                    time.sleep(0.005)
            writer.join(timeout=120)
        finally:
            admin.dispose()
        assert not writer.is_alive()
        assert killed, f"the bulk write finished before its connection could be killed: {outcome}"
        assert isinstance(outcome.get("error"), StorageError), outcome
        assert "nothing of it was applied" in str(outcome["error"])
        assert _counts(rc.engine) == before
        rc.sync()
        assert rc.revision == before_revision
        assert rc.verify_audit().ok
        # The pool replaces the dead connection: the next write works.
        rc.assign("user1", "editor", C1)
        assert rc.check("user1", "t.edit", C1)


def _web_plugins() -> Plugins:
    return make_plugins(console=web_plugin)


def _set_connections(database: str, allowed: bool) -> None:
    """Let connections to ``database`` in, or refuse them and end the open ones."""
    admin = create_engine(POSTGRES_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            flag = "true" if allowed else "false"
            connection.execute(text(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS {flag}'))
            if not allowed:
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :db AND pid <> pg_backend_pid()"
                    ),
                    {"db": database},
                )
    finally:
        admin.dispose()


def _wait_for(predicate: Any, limit: float = 20.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


class _Away:
    """Takes the database of ``url`` away and brings it back; :attr:`url` is the one to open."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.database = str(parsed.database)
        self.relay: Relay | None = None
        self.url = url
        if parsed.get_backend_name() != "postgresql":
            self.relay = Relay(str(parsed.host), int(parsed.port or 3306))
            self.relay.open()
            self.url = self.relay.url(url)

    def set(self, allowed: bool) -> None:
        if self.relay is None:
            _set_connections(self.database, allowed)
        elif allowed:
            self.relay.open()
        else:
            self.relay.close()

    def end(self) -> None:
        if self.relay is not None:
            self.relay.close()


def test_checks_go_on_while_the_database_is_away(server_url: str) -> None:
    away = _Away(server_url)
    try:
        _checks_go_on(away)
    finally:
        away.end()


def _checks_go_on(away: _Away) -> None:
    rc = Rolecall.open(away.url, plugins=_web_plugins(), staleness=0.2)
    try:
        rc.add_users(["root", "ada"])
        rc.assign("root", "admin", "platform")
        rc.assign("ada", "editor", C1)
        _, token = rc.accounts.create_token("root")
        app = create_app(rc, config={"TESTING": True, "ROLECALL_TRUSTED_HEADER": "X-User"})
        client = app.test_client()
        as_root = {"X-User": "root"}
        auth = {"Authorization": f"Bearer {token}"}
        body = {
            "checks": [
                {"user": "ada", "permission": "t.edit", "scope": C1},
                {"user": "ada", "permission": "t.publish", "scope": C1},
            ]
        }
        answered = client.post("/api/v1/check", json=body, headers=auth)
        assert answered.status_code == 200, answered.get_json()
        expected = [r["allowed"] for r in answered.get_json()["results"]]
        assert expected == [True, False]
        assert client.get("/healthz").get_json()["status"] == "ok"

        away.set(allowed=False)
        try:
            assert _wait_for(lambda: client.get("/healthz").status_code == 503)
            health = client.get("/healthz").get_json()
            assert health["status"] == "degraded"
            assert health["error"]
            during = client.post("/api/v1/check", json=body, headers=auth)
            assert during.status_code == 200, during.get_json()
            assert [r["allowed"] for r in during.get_json()["results"]] == expected
            # A write cannot be made: it is refused with the error shape, not a 500.
            write = client.post(
                "/api/v1/assignments",
                json={"user": "ada", "role": "viewer", "scope": C1},
                headers=auth,
            )
            assert write.status_code == 503, write.get_json()
            assert write.get_json()["error"]["code"] == "storage_unavailable"
            # The console still shows the team, from the index.
            page = client.get(f"/console/scopes/{C1}", headers=as_root)
            assert page.status_code == 200
            html = page.get_data(as_text=True)
            assert "ada" in html
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', html)
            assert csrf is not None
            removal = client.post(
                f"/console/scopes/{C1}/remove",
                data={"csrf_token": csrf.group(1), "user": "ada", "role": "editor"},
                headers=as_root,
            )
            assert removal.status_code == 503
            assert "nothing was changed" in removal.get_data(as_text=True)
        finally:
            away.set(allowed=True)
        assert _wait_for(lambda: client.get("/healthz").status_code == 200)
        assert client.get("/healthz").get_json()["status"] == "ok"
        again = client.post("/api/v1/check", json=body, headers=auth)
        assert [r["allowed"] for r in again.get_json()["results"]] == expected
    finally:
        rc.close()
