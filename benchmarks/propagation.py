"""How soon a change committed in one process is allowed in the others, without tokens.

    .venv/bin/python benchmarks/propagation.py [--backends sqlite,postgresql,mariadb+redis]
                                               [--readers 4] [--writes 100] [--idle 10]

Per backend: a fresh database (``run.py``'s), ``--readers`` reader processes (spawned, each
with its own service, sync thread and notice channel, staleness 1 s) and the writer, this
process. For each write the readers are first told which course to watch and say they are
ready; the writer then grants ``course_auditor`` there and notes the moment its transaction
committed (SQLAlchemy's ``after_commit``); each reader checks every millisecond and notes the
first moment ``check`` says allowed. The delay is the difference (``CLOCK_MONOTONIC`` is one
clock for every process of the machine). Printed: p50, p99 and max over every (write, reader)
pair, and the goal (p50 at most 50 ms, p99 at most 200 ms).

Then the idle cost: one service, left alone for ``--idle`` seconds, counting what it sends to
the database: statements through the engine, the pool's pings on checkout and its rollbacks on
checkin, and the polls made on the listening connection (PostgreSQL).

The backends: ``sqlite`` (polling: no notice channel), ``postgresql`` (``NOTIFY``) on the
server of ``ROLECALL_TEST_POSTGRES_URL``, and ``mariadb+redis`` on the server of
``ROLECALL_TEST_MYSQL_URL`` with the Redis of ``ROLECALL_TEST_REDIS_URL`` (default
``redis://127.0.0.1:6390/0``, what ``make services`` starts). A benchmark, not a test: it exits
0 whatever the figures. Every process it starts is ended before it returns; all traffic is to
127.0.0.1.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from rolecall.core import Rolecall

from load import keys
from run import database, load_average, make_plugins, say

REDIS_URL = os.environ.get("ROLECALL_TEST_REDIS_URL") or "redis://127.0.0.1:6390/0"
PERMISSION = "courses.view_course"
ROLE = "course_auditor"
USER = "prop_user"
TIMEOUT = 10.0
"""Seconds a reader waits for one write before counting it as missed."""
GOAL_P50, GOAL_P99 = 0.050, 0.200


def course(i: int) -> str:
    return f"course-v1:Prop+c{i}+2026"


def open_service(url: str, redis: str | None, **options: Any) -> Rolecall:
    return Rolecall.open(url, plugins=make_plugins(), redis_url=redis, **options)


def reader(url: str, redis: str | None, orders: Any, answers: Any) -> None:
    """A reader process: for each order (a course), say ready, check every millisecond until
    allowed, then say when."""
    with open_service(url, redis, staleness=1.0) as rc:
        while not rc.hearing and rc.notices is not None:
            time.sleep(0.01)
        answers.put(("up", os.getpid(), 0.0))
        while True:
            scope = orders.get()
            if scope is None:
                return
            answers.put(("ready", os.getpid(), 0.0))
            deadline = time.monotonic() + TIMEOUT
            seen = float("nan")
            while time.monotonic() < deadline:
                if rc.check(USER, PERMISSION, scope):
                    seen = time.monotonic()
                    break
                time.sleep(0.001)
            answers.put(("seen", os.getpid(), seen))


def expect(answers: Any, kind: str, count: int) -> list[float]:
    got: list[float] = []
    while len(got) < count:
        what, _, at = answers.get(timeout=TIMEOUT + 60)
        if what == kind:
            got.append(at)
    return got


def propagation(url: str, redis: str | None, readers: int, writes: int) -> list[float]:
    with open_service(url, redis, background_sync=False) as rc:
        rc.add_users([USER])
    spawn = multiprocessing.get_context("spawn")
    answers = spawn.Queue()
    orders = [spawn.Queue() for _ in range(readers)]
    procs = [
        spawn.Process(target=reader, args=(url, redis, orders[i], answers)) for i in range(readers)
    ]
    committed: list[float] = []

    def note(_session: Session) -> None:
        committed.append(time.monotonic())

    event.listen(Session, "after_commit", note)
    delays: list[float] = []
    try:
        for p in procs:
            p.start()
        expect(answers, "up", readers)
        with open_service(url, redis, background_sync=False) as rc:
            for i in range(writes):
                for q in orders:
                    q.put(course(i))
                expect(answers, "ready", readers)
                committed.clear()
                rc.assign(USER, ROLE, course(i))
                at = committed[-1]
                delays.extend(seen - at for seen in expect(answers, "seen", readers))
    finally:
        event.remove(Session, "after_commit", note)
        for q in orders:
            q.put(None)
        for p in procs:
            p.join(timeout=20)
            if p.is_alive():
                p.kill()
                p.join(timeout=5)
    return delays


def idle_cost(url: str, redis: str | None, seconds: float) -> dict[str, float]:
    counts = {"statements": 0, "pings": 0, "rollbacks": 0, "listener polls": 0}

    def bump(name: str) -> Any:
        def count(*_: Any) -> None:
            counts[name] += 1

        return count

    with open_service(url, redis, staleness=1.0) as rc:
        time.sleep(1.5)  # started, listening, first catch-up done
        event.listen(rc.engine, "before_cursor_execute", bump("statements"))
        event.listen(rc.engine, "reset", bump("rollbacks"))
        ping = rc.engine.dialect.do_ping

        def counted_ping(connection: Any) -> bool:
            counts["pings"] += 1
            return bool(ping(connection))

        rc.engine.dialect.do_ping = counted_ping  # type: ignore[method-assign]
        listener: Any = rc._listener
        if listener is not None:
            poll = listener.revision

            def counted_poll() -> int | None:
                value: int | None = poll()
                if value is not None:  # a read of the database (PostgreSQL), not Redis's None
                    counts["listener polls"] += 1
                return value

            listener.revision = counted_poll
        start = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - start
    return {name: value / elapsed for name, value in counts.items()}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql,mariadb+redis")
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--writes", type=int, default=100)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of the idle count")
    args = parser.parse_args(argv)
    say(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; load average "
        f"{load_average()}"
    )
    with keys() as where:
        say(f"keys: {where}")
        for backend in [b for b in args.backends.split(",") if b]:
            measure(backend, args)
    say(f"load average after: {load_average()}")
    return 0


def measure(backend: str, args: argparse.Namespace) -> None:
    """Propagation and idle cost on one backend, printed."""
    redis = REDIS_URL if backend == "mariadb+redis" else None
    kind = {"mariadb+redis": "mysql"}.get(backend, backend)
    with database(kind, 0) as url:
        delays = propagation(url, redis, args.readers, args.writes)
        idle = idle_cost(url, redis, args.idle)
    missed = [d for d in delays if d != d]  # NaN: not seen within TIMEOUT
    seen = [d for d in delays if d == d]
    say(f"{backend}: {args.writes} writes x {args.readers} readers, {len(missed)} missed")
    if seen:
        p50, p99, worst = pct(seen, 0.5), pct(seen, 0.99), max(seen)
        say(
            f"  commit -> allowed: p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms, max "
            f"{worst * 1e3:.1f} ms, mean {statistics.fmean(seen) * 1e3:.1f} ms"
        )
        verdict = "PASS" if p50 <= GOAL_P50 and p99 <= GOAL_P99 and not missed else "MISS"
        say(f"  {verdict}  p50 <= 50 ms and p99 <= 200 ms")
    say("  idle, per second: " + ", ".join(f"{k} {v:.2f}" for k, v in idle.items()))


if __name__ == "__main__":
    raise SystemExit(main())
