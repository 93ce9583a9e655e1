"""Notices: a change committed by one process is heard by the others at once, without a
revision token (PostgreSQL's NOTIFY; Redis pub/sub beside MariaDB), and polling stays the
fallback whatever happens to the channel.

The services under test run their sync thread with an hour of staleness where a test must show
that the notice, not the poll, brought a change: then nothing but the notice can. Where the
fallback is the point, the staleness is short and the test waits for the change with a
deadline. Timings are not asserted here: ``benchmarks/propagation.py`` measures them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from conftest import make_plugins
from elsewhere import wait_for, write_elsewhere
from redis_server import host_port
from redis_server import redis_url as redis_url
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from rolecall.core import Rolecall
from rolecall.core.storage.notices import PG_CHANNEL

import pg
from mariadb import Relay

C1 = "course-v1:MITx+c1+2026"
C2 = "course-v1:MITx+c2+2026"
HOUR = 3600.0


@pytest.fixture(params=["postgresql", "mariadb+redis"])
def noticed(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """A brand-new database with its notice channel: PostgreSQL's own, or MariaDB with
    Redis; (database URL, Redis URL or None)."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url")), None
    return str(request.getfixturevalue("mariadb_url")), str(request.getfixturevalue("redis_url"))


def _open(url: str, redis: str | None, staleness: float, **options: object) -> Rolecall:
    return Rolecall.open(
        url,
        plugins=make_plugins(),
        staleness=staleness,
        redis_url=redis,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def users(noticed: tuple[str, str | None]) -> tuple[str, str | None]:
    url, redis = noticed
    with _open(url, redis, 1.0, background_sync=False) as rc:
        rc.add_users(["ada", "bob"])
    return noticed


def test_a_change_is_heard_at_once_without_a_token(users: tuple[str, str | None]) -> None:
    url, redis = users
    # An hour of staleness: only a notice can bring the other process's writes in time.
    with _open(url, redis, HOUR) as rc:
        wait_for(lambda: rc.hearing)
        granted = write_elsewhere(url, "assign", "ada", "editor", C1, redis_url=redis)
        wait_for(lambda: rc.check("ada", "t.edit", C1))
        revoked = write_elsewhere(url, "revoke", "ada", "editor", C1, redis_url=redis)
        wait_for(lambda: not rc.check("ada", "t.edit", C1))
        assert rc.revision == revoked > granted
        assert rc.sync_error is None


def test_a_revoked_token_is_refused_on_hearing_it_without_a_query_per_request(
    users: tuple[str, str | None],
) -> None:
    url, redis = users
    with _open(url, redis, HOUR) as owner:
        _, token = owner.accounts.create_token("ada")
        tokens = owner.accounts.tokens("ada")
    with _open(url, redis, HOUR) as rc:
        wait_for(lambda: rc.hearing)
        assert rc.accounts.user_for_token(token) == "ada"
        statements: list[str] = []
        event.listen(rc.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        for _ in range(50):
            assert rc.accounts.user_for_token(token) == "ada"
        assert statements == []  # the revision is the index's, kept by the notices
        write_elsewhere(url, "add_user", "carol", redis_url=redis)  # any write: one look-up
        wait_for(lambda: "carol" in rc.index.users)
        assert rc.accounts.user_for_token(token) == "ada"
        # The catch-up the notice set off, then one look-up of the token at the new revision.
        assert len([s for s in statements if "rolecall_tokens" in s]) == 1
        with _open(url, redis, HOUR, background_sync=False) as other:  # announces its writes
            other.accounts.revoke_token(tokens[0].id)
        wait_for(lambda: rc.accounts.user_for_token(token) is None)


def test_an_idle_process_polls_with_one_statement_a_period(postgres_url: str) -> None:
    """On PostgreSQL the poll reads the revision on the listening connection: one statement
    each ``staleness`` seconds, none through the engine's pool."""
    with _open(postgres_url, None, 1.0, background_sync=False) as rc:
        rc.add_users(["ada"])
    staleness = 0.2
    with _open(postgres_url, None, staleness) as rc:
        wait_for(lambda: rc.hearing)
        listener = rc._listener
        assert listener is not None
        polls: list[float] = []
        read = listener.revision

        def counted() -> int | None:
            polls.append(time.monotonic())
            return read()

        listener.revision = counted  # type: ignore[method-assign]
        pooled: list[str] = []
        event.listen(rc.engine, "before_cursor_execute", lambda *a: pooled.append(a[2]))
        start = time.monotonic()
        wait_for(lambda: len(polls) >= 5, timeout=60)
        elapsed = time.monotonic() - start
        assert pooled == []
        assert len(polls) <= elapsed / staleness + 2


def _listener_backends(url: str) -> list[int]:
    name = make_url(url).database
    engine = pg._admin_engine()
    try:
        with engine.connect() as connection:
            return list(
                connection.scalars(
                    text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = :name AND "
                        "(query LIKE 'LISTEN %' OR query LIKE 'SELECT revision FROM %')"
                    ),
                    {"name": name},
                )
            )
    finally:
        engine.dispose()


def _terminate(pids: list[int]) -> None:
    engine = pg._admin_engine()
    try:
        with engine.connect() as connection:
            for pid in pids:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        engine.dispose()


def test_a_listener_cut_off_is_logged_replaced_and_nothing_is_missed(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with _open(postgres_url, None, 1.0, background_sync=False) as rc:
        rc.add_users(["ada"])
    caplog.set_level(logging.INFO, logger="rolecall")
    with _open(postgres_url, None, HOUR) as rc:
        wait_for(lambda: rc.hearing)
        first = rc._listener
        cut = _listener_backends(postgres_url)
        assert len(cut) == 1
        _terminate(cut)
        # The thread sees the connection end, says so, listens again and catches up.
        wait_for(lambda: rc.hearing and rc._listener is not first)
        assert "the notice channel (postgresql) failed" in caplog.text
        assert _listener_backends(postgres_url) != cut
        write_elsewhere(postgres_url, "assign", "ada", "editor", C1)
        wait_for(lambda: rc.check("ada", "t.edit", C1))


def test_a_notice_before_its_change_is_visible_is_tried_again(
    users: tuple[str, str | None],
) -> None:
    """A notice of a revision the database does not show yet (a replica behind, a publish
    racing the commit) is tried again shortly, not dropped: here the write comes 0.2 s after
    its notice, from a process that announces nothing, and the reader polls once an hour."""
    url, redis = users
    with _open(url, redis, HOUR) as rc, _open(url, None, HOUR, notices=False) as quiet:
        wait_for(lambda: rc.hearing)
        _announce(url, redis, rc.revision + 1)
        time.sleep(0.2)
        quiet.assign("ada", "editor", C1)
        wait_for(lambda: rc.check("ada", "t.edit", C1))


def _announce(url: str, redis: str | None, revision: int) -> None:
    if redis is None:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(
                    text("SELECT pg_notify(:channel, :revision)"),
                    {"channel": PG_CHANNEL, "revision": str(revision)},
                )
        finally:
            engine.dispose()
        return
    import redis as redis_py

    client = redis_py.Redis.from_url(redis)
    try:
        client.publish(f"rolecall:changes:{make_url(url).database}", str(revision))
    finally:
        client.close()


# ---------------------------------------------------------------- Redis lost and found


@pytest.fixture
def relayed_redis(redis_url: str) -> Iterator[tuple[Relay, str]]:
    """A relay in front of the test Redis: closing it is Redis going away."""
    relay = Relay(*host_port(redis_url))
    relay.open()
    try:
        yield relay, relay.url(redis_url)
    finally:
        relay.close()


def test_a_notice_lost_is_made_up_for_by_the_poll(mariadb_url: str, redis_url: str) -> None:
    """The writer cannot reach Redis (its publish fails, and is logged there): the reader,
    listening all along, sees the change at its next poll."""
    with _open(mariadb_url, redis_url, 1.0, background_sync=False) as rc:
        rc.add_users(["ada"])
    with _open(mariadb_url, redis_url, 0.5) as rc:
        wait_for(lambda: rc.hearing)
        nowhere = "redis://127.0.0.1:9/0"  # the discard port: nothing listens there
        revision = write_elsewhere(mariadb_url, "assign", "ada", "editor", C1, redis_url=nowhere)
        wait_for(lambda: rc.revision >= revision)
        assert rc.check("ada", "t.edit", C1)
        assert rc.hearing


def test_redis_down_then_back(
    mariadb_url: str, relayed_redis: tuple[Relay, str], caplog: pytest.LogCaptureFixture
) -> None:
    relay, through_relay = relayed_redis
    with _open(mariadb_url, None, 1.0, background_sync=False) as rc:
        rc.add_users(["ada"])
    caplog.set_level(logging.INFO, logger="rolecall")
    with _open(mariadb_url, through_relay, 0.5) as rc:
        wait_for(lambda: rc.hearing)
        relay.close()
        wait_for(lambda: not rc.hearing)
        # Down: polling as before, every 0.5 s; each write is still seen, without a token.
        revision = write_elsewhere(mariadb_url, "assign", "ada", "editor", C1)
        wait_for(lambda: rc.revision >= revision and rc.check("ada", "t.edit", C1))
        assert "the notice channel (redis) failed" in caplog.text
        relay.open()
        wait_for(lambda: rc.hearing)
        assert "the notice channel (redis) is back" in caplog.text
        # Back: heard at once again (the poll is moved an hour away to show it).
        moved = time.monotonic()
        rc.staleness = HOUR
        wait_for(lambda: rc.last_sync > moved)  # the next poll is an hour away now
        write_elsewhere(mariadb_url, "assign", "ada", "editor", C2, redis_url=through_relay)
        wait_for(lambda: rc.check("ada", "t.edit", C2))


def test_without_redis_mariadb_polls_and_says_so(
    mariadb_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rolecall")
    with _open(mariadb_url, None, 0.3) as rc:
        assert rc.notices is None
        assert "no notice channel" in caplog.text
        assert not rc.hearing
        with _open(mariadb_url, None, 1.0, background_sync=False) as writer:
            writer.add_users(["ada"])
            writer.assign("ada", "editor", C1)
        wait_for(lambda: rc.check("ada", "t.edit", C1))
