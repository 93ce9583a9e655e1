"""A real Redis server for the tests of the notices (``rolecall[redis]``).

``scripts/test-redis.sh`` (which ``make test`` runs before pytest) installs Debian's
``redis-server`` and starts it on 127.0.0.1:6390; ``ROLECALL_TEST_REDIS_URL`` names it. Without
that setting every test that needs Redis is skipped, with the one reason :data:`SKIP_REASON`
raised from one place (``pytest -ra`` shows one line for all of them); when it is set and the
server cannot be reached, they fail. Each test's channel is its own: the default channel names
the database, and every test has a brand-new database.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy.engine import make_url

#: Whether ``ROLECALL_TEST_REDIS_URL`` is set: without it the Redis tests are skipped.
CONFIGURED = bool(os.environ.get("ROLECALL_TEST_REDIS_URL"))
REDIS_URL = os.environ.get("ROLECALL_TEST_REDIS_URL") or "redis://127.0.0.1:6390/0"
SKIP_REASON = (
    "Redis tests skipped: ROLECALL_TEST_REDIS_URL is not set "
    "(make test sets it and starts the server)"
)
HINT = "run scripts/test-redis.sh (make test runs it) to install and start Redis"


def redis_available() -> str | None:
    """None when :data:`REDIS_URL` answers a PING, otherwise why it does not."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5, socket_timeout=5)
    try:
        client.ping()
    except Exception as error:  # any failure is the answer, not a crash
        return f"{type(error).__name__}: {error}".strip()
    finally:
        client.close()
    return None


def require_redis() -> str:
    """The URL of the test Redis: skipped (one reason, one place) when not configured; fails
    when configured and not answering."""
    if not CONFIGURED:
        pytest.skip(SKIP_REASON)
    error = redis_available()
    if error is not None:
        pytest.fail(f"Redis is not reachable at {REDIS_URL}: {error}\n{HINT}", pytrace=False)
    return REDIS_URL


@pytest.fixture
def redis_url() -> str:
    """The URL of the test Redis (see :func:`require_redis`)."""
    return require_redis()


def host_port(url: str) -> tuple[str, int]:
    parsed = make_url(url)
    return parsed.host or "127.0.0.1", parsed.port or 6379
