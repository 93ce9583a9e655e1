"""Forked workers: a process that opens the service and then forks (gunicorn ``--preload``,
``multiprocessing``'s fork, Celery's prefork pool, which is billiard's) gives each child a
service that drops the parent's connections, runs a sync thread of its own and catches up
before it answers.

In each, a revocation made by another OS process must be seen by every worker, waited for with
a deadline (the figures are the benchmark's: ``benchmarks/propagation.py``), and no worker
answers "allowed" again once it has answered "denied". Every child is ended in a ``finally``;
all traffic is to 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import make_plugins
from elsewhere import write_elsewhere

from rolecall.core import Rolecall

from support import child_environment

TESTS = Path(__file__).resolve().parents[1]
C1 = "course-v1:MITx+c1+2026"
WORKERS = 3
STALENESS = 1.0
DEADLINE = 30.0
"""Seconds allowed for every worker to see a revocation: many times the staleness bound, so
that a loaded machine does not fail the test (the bound itself is measured by the benchmark)."""

pytestmark = pytest.mark.filterwarnings(
    # Python 3.12+ warns about any fork of a process with threads; forking such a process is
    # what these tests are about.
    "ignore:This process .* is multi-threaded:DeprecationWarning"
)

FORK = multiprocessing.get_context("fork")


def _granted(url: str) -> None:
    with Rolecall.open(url, plugins=make_plugins(), background_sync=False) as rc:
        rc.add_users(["ada"])
        rc.assign("ada", "editor", C1)


class Answers:
    """Each worker's answers as they change: pid -> [(allowed, revision), ...]."""

    def __init__(self) -> None:
        self.seen: dict[int, list[tuple[bool, int]]] = {}

    def add(self, pid: int, allowed: bool, revision: int) -> None:
        history = self.seen.setdefault(pid, [])
        if not history or history[-1][0] != allowed:
            history.append((allowed, revision))

    def every(self, allowed: bool) -> bool:
        return len(self.seen) == WORKERS and all(h[-1][0] is allowed for h in self.seen.values())

    def check_order(self) -> None:
        """Allowed first, then denied for good: never allowed again after a denial."""
        for pid, history in self.seen.items():
            assert [a for a, _ in history] == [True, False], (pid, history)


# ---------------------------------------------------------------- multiprocessing (fork)

_service: Rolecall | None = None


def _watch_answers(queue: Any, stop: Any) -> None:
    """A forked worker: checks every few milliseconds and reports each change of answer."""
    assert _service is not None
    last = None
    while not stop.is_set():
        allowed = _service.check("ada", "t.edit", C1)
        if allowed != last:
            queue.put((os.getpid(), allowed, _service.revision, _service.sync_error))
            last = allowed
        time.sleep(0.005)
    queue.put((os.getpid(), None, _service.revision, _service.sync_error))


def test_multiprocessing_fork_workers_see_a_revocation_made_elsewhere(
    database_url: str,
) -> None:
    global _service
    _granted(database_url)
    _service = Rolecall.open(database_url, plugins=make_plugins(), staleness=STALENESS)
    queue, stop = FORK.Queue(), FORK.Event()
    workers = [FORK.Process(target=_watch_answers, args=(queue, stop)) for _ in range(WORKERS)]
    answers = Answers()

    def drain(condition: Any) -> None:
        deadline = time.monotonic() + DEADLINE
        while not condition():
            assert time.monotonic() < deadline, answers.seen
            try:
                pid, allowed, revision, error = queue.get(timeout=0.5)
            except Exception:  # noqa: S112 - nothing yet: look at the deadline again
                continue
            assert error is None, error
            if allowed is not None:
                answers.add(pid, allowed, revision)

    try:
        for worker in workers:
            worker.start()
        drain(lambda: answers.every(True))
        revoked = write_elsewhere(database_url, "revoke", "ada", "editor", C1)
        drain(lambda: answers.every(False))
        answers.check_order()
        assert all(h[-1][1] >= revoked for h in answers.seen.values())
        # The parent's sync thread goes on too: it sees the revocation at its next poll.
        deadline = time.monotonic() + DEADLINE
        while _service.check("ada", "t.edit", C1):
            assert time.monotonic() < deadline, (_service.revision, revoked)
            time.sleep(0.05)
        assert _service.revision >= revoked
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
                worker.join(timeout=5)
        _service.close()
        _service = None
    assert [w.exitcode for w in workers] == [0] * WORKERS


def test_a_forked_child_catches_up_before_its_first_answer(sqlite_url: str) -> None:
    """The parent's index misses a write (it polls once an hour and has no notice channel):
    the child, forked afterwards, must answer from the database's state, not the copy."""
    with Rolecall.open(sqlite_url, plugins=make_plugins(), background_sync=False) as rc:
        rc.add_users(["ada"])
    parent = Rolecall.open(sqlite_url, plugins=make_plugins(), staleness=3600)
    try:
        write_elsewhere(sqlite_url, "assign", "ada", "editor", C1)
        assert not parent.check("ada", "t.edit", C1)  # stale, as promised for an hour
        queue = FORK.Queue()
        child = FORK.Process(target=_first_answer, args=(queue,))
        global _service
        _service = parent
        child.start()
        allowed, thread_alive = queue.get(timeout=60)
        child.join(timeout=30)
        assert child.exitcode == 0
        assert allowed is True
        assert thread_alive
    finally:
        _service = None
        parent.close()


def _first_answer(queue: Any) -> None:
    assert _service is not None
    allowed = _service.check("ada", "t.edit", C1)
    runner = _service._runner
    queue.put((allowed, runner is not None and runner.is_alive()))


def test_a_fork_waits_for_the_index_to_be_whole(sqlite_url: str) -> None:
    """The fork handlers hold the service's lock across the fork: a child never gets an
    index that a catch-up or a write was half-way through changing."""
    with Rolecall.open(sqlite_url, plugins=make_plugins(), staleness=3600) as rc:
        halfway = threading.Event()
        entered = threading.Event()

        def change() -> None:
            with rc.reading():
                halfway.set()
                entered.set()
                time.sleep(0.3)
                halfway.clear()

        changer = threading.Thread(target=change)
        changer.start()
        entered.wait(10)
        pid = os.fork()
        if pid == 0:  # the child: was the change whole when it was copied?
            os._exit(1 if halfway.is_set() else 0)
        _, status = os.waitpid(pid, 0)
        changer.join(10)
        assert os.waitstatus_to_exitcode(status) == 0


# ---------------------------------------------------------------- billiard (Celery's prefork)


def _task(_: int) -> tuple[int, bool, int]:
    assert _service is not None
    time.sleep(0.01)  # long enough for the pool to hand the others to the other workers
    return os.getpid(), _service.check("ada", "t.edit", C1), _service.revision


def test_a_celery_prefork_pool_sees_a_revocation_made_elsewhere(server_url: str) -> None:
    billiard_pool = pytest.importorskip("billiard.pool")
    global _service
    _granted(server_url)
    _service = Rolecall.open(server_url, plugins=make_plugins(), staleness=STALENESS)
    pool = billiard_pool.Pool(WORKERS)
    answers = Answers()

    def rounds(allowed: bool) -> None:
        deadline = time.monotonic() + DEADLINE
        while not answers.every(allowed):
            assert time.monotonic() < deadline, answers.seen
            for pid, got, revision in pool.map(_task, range(6 * WORKERS), chunksize=1):
                answers.add(pid, got, revision)

    try:
        rounds(True)
        revoked = write_elsewhere(server_url, "revoke", "ada", "editor", C1)
        rounds(False)
        answers.check_order()
        assert all(h[-1][1] >= revoked for h in answers.seen.values())
    finally:
        pool.terminate()
        pool.join()
        _service.close()
        _service = None


# ---------------------------------------------------------------- gunicorn --preload

APP = TESTS / "fork_app.py"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def preloaded(server_url: str) -> Iterator[int]:
    """gunicorn ``--preload`` with 3 sync workers serving ``fork_app``; its port."""
    pytest.importorskip("gunicorn")
    _granted(server_url)
    port = _free_port()
    env = {**child_environment(), "ROLECALL_DATABASE_URL": server_url}
    env["ROLECALL_TEST_STALENESS"] = str(STALENESS)
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--preload",
        "--workers",
        str(WORKERS),
        "--bind",
        f"127.0.0.1:{port}",
        "--pythonpath",
        str(TESTS),
        "fork_app:app",
    ]
    server = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        yield port
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        assert server.stderr is not None
        log = server.stderr.read().decode(errors="replace")
        server.stderr.close()
        assert "Traceback" not in log, log[-3000:]


def _ask(port: int) -> dict[str, Any] | None:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/")
        answer = connection.getresponse()
        body = answer.read()
        connection.close()
    except OSError:
        return None  # not listening yet
    assert answer.status == 200, body
    return dict(json.loads(body))


def test_gunicorn_preload_workers_see_a_revocation_made_elsewhere(
    preloaded: int, server_url: str
) -> None:
    answers = Answers()
    sent = 0

    def until(allowed: bool) -> None:
        nonlocal sent
        deadline = time.monotonic() + DEADLINE
        with ThreadPoolExecutor(WORKERS) as clients:
            while not answers.every(allowed):
                assert time.monotonic() < deadline, answers.seen
                assert sent < 20_000, answers.seen
                # Concurrent requests, each holding its worker 20 ms: every worker gets some.
                got = list(clients.map(_ask, [preloaded] * 2 * WORKERS))
                sent += len(got)
                if None in got:
                    time.sleep(0.1)  # not listening yet
                for answer in filter(None, got):
                    assert answer["sync_error"] is None, answer
                    answers.add(answer["pid"], answer["allowed"], answer["revision"])

    until(True)
    revoked = write_elsewhere(server_url, "revoke", "ada", "editor", C1)
    until(False)
    answers.check_order()
    assert all(h[-1][1] >= revoked for h in answers.seen.values())
