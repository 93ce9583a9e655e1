"""The load benchmark's parts (benchmarks/load.py), on a real PostgreSQL and real sockets.

The benchmark itself (granian, gunicorn, timings) is not run here: this checks that what it
calls "every acknowledged write is in the database" finds a missing grant, a revocation that
did not happen and a write without its audit event, and passes a log that matches the
database; that its client reads HTTP responses right and verifies every answer it gets; and
that the servers' factory answers with and without the check endpoint's fast path.
"""

from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from rolecall.core import Rolecall
from rolecall.core.reads import find_grant
from rolecall.webapp.api.fastpath import CheckFastPath
from rolecall.webapp.app import create_app

from pg import postgres_url  # noqa: F401

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
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


def test_the_client_checks_answers_over_real_http(postgres_url: str) -> None:  # noqa: F811
    """The benchmark's client against the application served on 127.0.0.1 (werkzeug's
    threaded server, keep-alive): single checks, batches and team listings arrive, and every
    answer matches the data set's."""
    data = dataset.build(1000)
    token, _ = load.load(postgres_url, data, clients=1)
    with Rolecall.open(postgres_url, plugins=load.make_plugins()) as rc:
        server = make_server("127.0.0.1", 0, create_app(rc), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            plan = load.make_plan(data, token, server.server_port, clients=1)
            outcome = load.Outcome()
            client = load.Client(plan, 0, outcome)
            for _ in range(20):
                client.single()
                client.counter += 1
            for _ in range(3):
                client.batch()
                client.team()
                client.counter += 1
            client.wire.close()
        finally:
            server.shutdown()
            thread.join(timeout=10)
    assert outcome.errors == {}, outcome.messages
    assert outcome.verified == 20 + 3 * load.BATCH
    assert outcome.wrong == 0
    assert len(outcome.latencies["team"]) == 3


@pytest.mark.parametrize("fast_path", [True, False])
def test_the_factory_serves_checks_with_and_without_the_fast_path(
    postgres_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    fast_path: bool,
) -> None:
    """``make_app()``, the servers' factory, answers single checks through the check
    endpoint's fast path (Flask never sees them); ``make_app(fast_path=False)``, the peer's,
    through Flask. Both answer right."""
    data = dataset.build(1000)
    token, _ = load.load(postgres_url, data, clients=1)
    monkeypatch.setenv("ROLECALL_DATABASE_URL", postgres_url)
    app = load.make_app(fast_path=fast_path)
    rc = app.extensions["rolecall"]
    flask_calls = []
    if fast_path:
        assert isinstance(app.wsgi_app, CheckFastPath)
        inner = app.wsgi_app.inner

        def counted(environ: Any, start_response: Any) -> Any:
            flask_calls.append(environ["PATH_INFO"])
            return inner(environ, start_response)

        app.wsgi_app.inner = counted
    else:
        assert not isinstance(app.wsgi_app, CheckFastPath)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        plan = load.make_plan(data, token, server.server_port, clients=1)
        outcome = load.Outcome()
        client = load.Client(plan, 0, outcome)
        for _ in range(20):
            client.single()
            client.counter += 1
        client.wire.close()
    finally:
        server.shutdown()
        thread.join(timeout=10)
        rc.close()
    assert outcome.errors == {}, outcome.messages
    assert (outcome.verified, outcome.wrong) == (20, 0)
    assert flask_calls == []


def test_the_servers_command_lines() -> None:
    """granian serves the factory ``make_app`` (called without arguments, in each worker);
    gunicorn the factory expression it is given (the peer's: without the fast path)."""
    granian = load.server_command("granian", 8123, 2, 1, "sync", "make_app()")
    assert granian[1:3] == ["-m", "granian"]
    assert granian[-1] == "load:make_app"
    assert "--factory" in granian
    assert granian[granian.index("--interface") + 1] == "wsgi"
    assert granian[granian.index("--workers") + 1] == "2"
    peer = load.server_command("gunicorn", 8123, 2, 1, "sync", "make_app(fast_path=False)")
    assert peer[1:3] == ["-m", "gunicorn"]
    assert peer[-1] == "load:make_app(fast_path=False)"
    assert peer[peer.index("--worker-class") + 1] == "sync"


def test_merged_rounds_add_up() -> None:
    """The single phase's rounds on one server, reported as one phase."""
    parts = [
        load.PhaseResult(
            "single",
            10.0,
            [load.Outcome(latencies={"single": [0.001] * n})],
            server_cpu=cpu,
            client_cpu=1.0,
            postgres_cpu=0.0,
            machine_cpu=5.0,
            load_before=f"{n}",
            load_after=f"{n}.5",
        )
        for n, cpu in ((100, 0.5), (300, 1.0))
    ]
    whole = load.merged(load.PEER, parts)
    assert (whole.phase, whole.wall, whole.requests()) == (load.PEER, 20.0, 400)
    assert (whole.server_cpu, whole.client_cpu, whole.machine_cpu) == (1.5, 2.0, 10.0)
    assert (whole.load_before, whole.load_after) == ("100", "300.5")
    assert load.server_ms(whole, whole.requests()) == pytest.approx(3.75)


class Canned:
    """A loopback server answering each request with the next canned reply, in pieces."""

    def __init__(self, replies: list[bytes]) -> None:
        self.replies = replies
        self.accepted = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        replies = iter(self.replies)
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            with connection:
                for reply in replies:
                    if not connection.recv(65536):
                        break
                    for start in range(0, len(reply), 7):  # many small segments
                        connection.sendall(reply[start : start + 7])
                    if b"Connection: close" in reply:
                        break

    def close(self) -> None:
        self.listener.close()


def test_the_wire_reads_by_length_and_reconnects_after_a_close() -> None:
    body = b'{"ok":true}'
    keep = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    close = b"HTTP/1.1 201 Created\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi"
    bare = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
    server = Canned([keep, close, keep, bare])
    wire = load.Wire(server.port, timeout=10)
    try:
        assert wire.exchange(b"GET /a HTTP/1.1\r\n\r\n") == (200, body)
        assert wire.exchange(b"GET /b HTTP/1.1\r\n\r\n") == (201, b"hi")
        assert wire.sock is None  # closed after "Connection: close"
        assert wire.exchange(b"GET /c HTTP/1.1\r\n\r\n") == (200, body)
        assert server.accepted == 2
        with pytest.raises(load.ProtocolError, match="without Content-Length"):
            wire.exchange(b"GET /d HTTP/1.1\r\n\r\n")
    finally:
        wire.close()
        server.close()
