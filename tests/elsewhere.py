"""Writes made by another OS process, for the tests of notices and forks: a child that opens
its own service on the database, makes one write and prints its revision."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from support import child_environment

TESTS = Path(__file__).resolve().parent

WRITER = r"""
import json
import sys

sys.path.insert(0, sys.argv[1])
from conftest import make_plugins

from rolecall.core import Rolecall

url, notices, action, *args = sys.argv[2:]
rc = Rolecall.open(url, plugins=make_plugins(), background_sync=False, notices=notices == "on")
try:
    revision = getattr(rc, action)(*args)
finally:
    rc.close()
print(json.dumps({"revision": revision}))
"""


def write_elsewhere(
    url: str, action: str, *args: str, redis_url: str | None = None, notices: bool = True
) -> int:
    """``rc.<action>(*args)`` in a child process of its own; its revision token. With
    ``redis_url`` its write is announced on that Redis (``ROLECALL_REDIS_URL``)."""
    env = child_environment()
    if redis_url is not None:
        env["ROLECALL_REDIS_URL"] = redis_url
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(TESTS), url, "on" if notices else "off", action, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return int(json.loads(done.stdout.strip().splitlines()[-1])["revision"])


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, step: float = 0.002) -> float:
    """Seconds until ``condition()`` held; fails after ``timeout``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not so after {timeout} s")
        time.sleep(step)
    return time.monotonic() - start
