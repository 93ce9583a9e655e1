"""The host over HTTP on 127.0.0.1 (a free port) in a thread of the test process, so that the
tests read the same rolecall service and platform database as the requests.

The session's settings stay openedx_test_project's; :func:`hosting` puts this package's
settings over them for the block (:func:`overrides`). drf-jwt reads ``JWT_AUTH`` once, when
first imported: its settings are reloaded when ``JWT_AUTH`` changes, as DRF reloads its own
on ``REST_FRAMEWORK``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.core.signals import got_request_exception, setting_changed
from django.db import connections
from django.test import override_settings

_MISSING = object()


def overrides() -> dict[str, Any]:
    """The settings :mod:`admin_console_host.settings` sets over openedx_test_project's
    (``INSTALLED_APPS`` excepted: the host adds no app)."""
    from openedx_test_project import settings as base

    from . import settings as host

    changed = {}
    for name in dir(host):
        if not name.isupper() or name == "INSTALLED_APPS":
            continue
        value = getattr(host, name)
        if getattr(base, name, _MISSING) != value:
            changed[name] = value
    return changed


def _reload_jwt_settings(setting: str = "", **_: Any) -> None:
    if setting != "JWT_AUTH":
        return
    from rest_framework_jwt import settings as jwt_settings

    jwt_settings.api_settings.reload()
    jwt_settings.api_settings.__init__(
        getattr(settings, "JWT_AUTH", None), jwt_settings.DEFAULTS, jwt_settings.IMPORT_STRINGS
    )


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class Host:
    """The running host: its ``url`` and the exceptions its requests raised."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.errors: list[str] = []

    def _failed(self, request: Any = None, **_: Any) -> None:
        import sys
        import traceback

        path = getattr(request, "path", "?")
        self.errors.append(f"{path}: {''.join(traceback.format_exception(*sys.exc_info()))}")


@contextmanager
def hosting(build: Path) -> Iterator[Host]:
    """The host serving ``build`` (the console's built files), with its settings applied,
    until the block ends."""
    setting_changed.connect(_reload_jwt_settings, dispatch_uid="admin_console_host.jwt")
    try:
        changed = {**overrides(), "ROLECALL_ADMIN_CONSOLE_BUILD": str(build)}
        with override_settings(**changed), _serving() as host:
            yield host
    finally:
        setting_changed.disconnect(dispatch_uid="admin_console_host.jwt")
        _reload_jwt_settings("JWT_AUTH")


@contextmanager
def _serving() -> Iterator[Host]:
    # An in-memory SQLite database is one connection, shared with the server's threads as
    # Django's LiveServerTestCase shares it; a server database gets a connection per thread.
    connection = connections["default"]
    shared = {}
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        connection.inc_thread_sharing()
        shared = {"default": connection}
    http = ThreadedWSGIServer(
        ("127.0.0.1", 0),
        _Quiet,
        allow_reuse_address=False,
        connections_override=shared,
    )
    http.set_app(WSGIHandler())
    host = Host(f"http://127.0.0.1:{http.server_port}")
    got_request_exception.connect(host._failed, dispatch_uid="admin_console_host.errors")
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield host
    finally:
        http.shutdown()
        http.server_close()
        thread.join(timeout=10)
        got_request_exception.disconnect(dispatch_uid="admin_console_host.errors")
        if shared:
            connection.dec_thread_sharing()
