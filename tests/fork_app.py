"""The WSGI application of the gunicorn ``--preload`` test (tests/storage/test_fork.py): the
service is opened when the module is imported, in gunicorn's master, before the workers are forked.

``GET /`` answers, as JSON, whether ``ada`` may ``t.edit`` in course c1, with the worker's pid,
its revision and its last catch-up error; each request holds the worker 20 ms, so that
concurrent requests spread over the workers.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from conftest import make_plugins

from rolecall.core import Rolecall

C1 = "course-v1:MITx+c1+2026"

rc = Rolecall.open(
    os.environ["ROLECALL_DATABASE_URL"],
    plugins=make_plugins(),
    staleness=float(os.environ.get("ROLECALL_TEST_STALENESS", "1")),
)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    time.sleep(0.02)
    body = json.dumps(
        {
            "pid": os.getpid(),
            "allowed": rc.check("ada", "t.edit", C1),
            "revision": rc.revision,
            "sync_error": rc.sync_error,
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
