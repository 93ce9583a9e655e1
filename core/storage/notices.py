"""Notices: every committed change is announced, so that other processes catch up at once.

The change feed (:mod:`.feed`) is the truth; a notice only says "the revision is now N", so
that a process that hears it catches up with the feed at once instead of at its next poll.
The channel depends on the database:

- **PostgreSQL**: ``NOTIFY rolecall_changes`` with the revision, sent inside the writing
  transaction, so it is delivered when, and only when, the write commits. Each process's sync
  thread holds one listening connection of its own (psycopg 3, autocommit).
- **MySQL, MariaDB and SQLite**: Redis pub/sub (``rolecall[redis]``, redis-py), when
  ``ROLECALL_REDIS_URL`` names a server: the revision is published right after the commit on
  the channel ``rolecall:changes:<database name>`` (``ROLECALL_REDIS_CHANNEL`` to choose
  another).
- Otherwise none: processes catch up every ``staleness`` seconds, as they always do.

Notices are never trusted for correctness. A process keeps polling every ``staleness``
seconds whatever the channel does, so a notice lost (Redis down while a write is published, a
listener reconnecting) delays a change by at most that; a notice that arrives before its
change is visible is retried shortly; a channel that fails is logged and reopened while the
polling goes on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import time
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from ..errors import BadInputError
from .models import State

if TYPE_CHECKING:
    from collections.abc import Mapping

log = logging.getLogger("rolecall.notices")

PG_CHANNEL = "rolecall_changes"
"""The PostgreSQL channel (``NOTIFY`` is per database already)."""
REDIS_URL = "ROLECALL_REDIS_URL"
"""The setting naming the Redis server of the notices (MySQL, MariaDB, SQLite)."""
REDIS_CHANNEL = "ROLECALL_REDIS_CHANNEL"
"""The setting naming the Redis channel; ``rolecall:changes:<database name>`` by default."""
REDIS_SLICE = 0.05
"""Seconds a Redis listener waits at a time, so that closing the service stops it soon."""
PUBLISH_PAUSE = 1.0
"""After a failed publish, seconds without trying again (the others poll meanwhile)."""
_REVISION = f"SELECT revision FROM {State.__tablename__} WHERE id = 1"  # noqa: S608 - a constant


def _revision(payload: object) -> int:
    """The revision a notice carries (0 when it carries none: catch up anyway)."""
    if isinstance(payload, bytes):
        payload = payload.decode("ascii", "replace")
    try:
        return max(int(str(payload)), 0)
    except ValueError:
        return 0


class Listener(Protocol):
    """One process's subscription, owned by its sync thread."""

    def wait(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` seconds: the newest revision announced meanwhile, or None
        when nothing came (or :meth:`wake` was called). Raises when the channel fails."""

    def revision(self) -> int | None:
        """The database's revision, read on the listener's own connection; None when the
        channel has no connection to the database (Redis)."""

    def wake(self) -> None:
        """Make a :meth:`wait` in progress return now (from another thread)."""

    def close(self) -> None: ...


class Channel:
    """How the writes of one service announce themselves and how its sync thread hears the
    others'. ``name`` is what the logs and ``Rolecall.notices`` show."""

    name = "none"

    def within(self, session: Session, revision: int) -> None:
        """Inside the writing transaction, once the revision is bumped."""

    def committed(self, revision: int) -> None:
        """Right after the writing transaction committed. Never raises."""

    def listen(self) -> Listener:
        """A new subscription; raises when the channel cannot be reached."""
        raise NotImplementedError

    def forked(self) -> None:
        """In a child process just forked: forget connections made by the parent."""


class PostgresChannel(Channel):
    """``NOTIFY`` in the writing transaction; ``LISTEN`` on a connection of the listener's."""

    name = "postgresql"

    def __init__(self, engine: Engine, connect_timeout: int = 2) -> None:
        self.engine = engine
        self.connect_timeout = connect_timeout

    def within(self, session: Session, revision: int) -> None:
        session.execute(
            text("SELECT pg_notify(:channel, :revision)"),
            {"channel": PG_CHANNEL, "revision": str(revision)},
        )

    def listen(self) -> Listener:
        return PostgresListener(self.engine, self.connect_timeout)


class PostgresListener:
    """A psycopg connection of its own (not from the engine's pool), in autocommit mode,
    listening on :data:`PG_CHANNEL`; it also answers the sync thread's polls, one statement
    each."""

    def __init__(self, engine: Engine, connect_timeout: int) -> None:
        cargs, cparams = engine.dialect.create_connect_args(engine.url)
        cparams.setdefault("connect_timeout", connect_timeout)
        self._conn: Any = engine.dialect.connect(*cargs, **cparams)
        self._newest: int | None = None
        try:
            self._conn.autocommit = True
            # Notices read while a poll runs come through the handler.
            self._conn.add_notify_handler(lambda n: self._heard(n.channel, n.payload))
            self._conn.execute(f"LISTEN {PG_CHANNEL}")
        except BaseException:
            self._conn.close()
            raise
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)

    def _heard(self, channel: str, payload: object) -> None:
        if channel == PG_CHANNEL:
            self._newest = max(self._newest or 0, _revision(payload))

    def _take(self) -> int | None:
        newest, self._newest = self._newest, None
        return newest

    def wait(self, timeout: float) -> int | None:
        if self._newest is not None:
            return self._take()
        ready, _, _ = select.select([self._conn.fileno(), self._wake_r], [], [], timeout)
        if self._wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(self._wake_r, 512)
        if self._conn.fileno() in ready:
            pgconn = self._conn.pgconn
            pgconn.consume_input()  # raises when the connection is lost
            while (notice := pgconn.notifies()) is not None:
                self._heard(notice.relname.decode(), notice.extra)
        return self._take()

    def revision(self) -> int | None:
        row = self._conn.execute(_REVISION).fetchone()
        return 0 if row is None else int(row[0])

    def wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"w")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)


class RedisChannel(Channel):
    """Published after the commit on a Redis channel; one pub/sub connection per listener.

    A publish that fails is logged (once until one succeeds again) and not retried for
    :data:`PUBLISH_PAUSE` seconds, so a Redis that is away costs a write almost nothing; the
    other processes see the change at their next poll."""

    name = "redis"

    def __init__(self, url: str, channel: str) -> None:
        try:
            import redis
        except ImportError:
            raise BadInputError(
                f"{REDIS_URL} is set but redis-py is not installed: pip install 'rolecall[redis]'"
            ) from None
        self._redis = redis
        self.url = url
        self.channel = channel
        self._client: Any = None
        self._quiet_until = 0.0
        self._failing = False

    def _connect(self, timeout: float | None, **options: Any) -> Any:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # No silent retry or reconnection: a failure must be seen, so that the listener
        # catches up after it and a publisher stops trying for a while.
        return self._redis.Redis.from_url(
            self.url,
            socket_connect_timeout=2.0,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            **options,
        )

    def committed(self, revision: int) -> None:
        now = time.monotonic()
        if now < self._quiet_until:
            return
        try:
            if self._client is None:
                self._client = self._connect(1.0)
            self._client.publish(self.channel, str(revision))
        except Exception as exc:  # Redis away: the others poll; the write stands
            self._quiet_until = now + PUBLISH_PAUSE
            self._client = None
            if not self._failing:
                self._failing = True
                log.warning(
                    "cannot announce changes on Redis (%s); other processes see them at "
                    "their next poll until it is back",
                    f"{type(exc).__name__}: {exc}".splitlines()[0],
                )
            return
        if self._failing:
            self._failing = False
            log.info("announcing changes on Redis again")

    def listen(self) -> Listener:
        return RedisListener(self._connect(None, socket_keepalive=True), self.channel)

    def forked(self) -> None:
        # redis-py notices a fork too and opens new connections; ours go all the same.
        self._client = None


class RedisListener:
    """A subscription to the channel, confirmed by the server before it is used."""

    def __init__(self, client: Any, channel: str) -> None:
        self._client = client
        self._pubsub = client.pubsub()
        self._woken = False
        try:
            self._pubsub.subscribe(channel)
            deadline = time.monotonic() + 5.0
            # Subscribed once the server says so: a change published after it is heard.
            while True:
                message = self._pubsub.get_message(timeout=0.5)
                if message is not None and message["type"] == "subscribe":
                    break
                if time.monotonic() > deadline:
                    raise ConnectionError("Redis did not confirm the subscription")
        except BaseException:
            self.close()
            raise

    def wait(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        newest: int | None = None
        while True:
            remaining = deadline - time.monotonic()
            step = 0.0 if newest is not None else max(0.0, min(remaining, REDIS_SLICE))
            message = self._pubsub.get_message(timeout=step)
            if message is not None:
                if message["type"] == "message":
                    newest = max(newest or 0, _revision(message["data"]))
                continue  # read whatever else is there already
            if newest is not None or self._woken or remaining <= 0:
                self._woken = False
                return newest

    def revision(self) -> int | None:
        return None

    def wake(self) -> None:
        self._woken = True

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._pubsub.close()
        with contextlib.suppress(Exception):
            self._client.close()


def channel_for(engine: Engine, settings: Mapping[str, str] | None = None) -> Channel | None:
    """The notice channel of ``engine``'s database: PostgreSQL's own, else Redis when
    ``ROLECALL_REDIS_URL`` is set (in ``settings``, else the environment), else none."""
    env = os.environ if settings is None else settings
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        return PostgresChannel(engine)
    url = env.get(REDIS_URL)
    if url:
        name = env.get(REDIS_CHANNEL) or f"rolecall:changes:{engine.url.database or ''}"
        return RedisChannel(url, name)
    return None
