"""The process's rolecall service, opened on first use from the Django settings and reopened
when a test changes them. Its database is ``ROLECALL_DATABASE_URL``, else the platform's own
(:mod:`rolecall_openedx.database`). Its plugins are the installed ones and this app's own:
enrollment as the source of the derived role ``discussion_student``
(:mod:`rolecall_openedx.plugin`).

What rolecall's core reads from the environment is read from the Django settings first, then
the environment (:data:`FROM_SETTINGS`): how plugins load (``ROLECALL_STRICT_PLUGINS``,
``ROLECALL_DISABLE_PLUGINS``, ``ROLECALL_REQUIRE_PLUGINS``) and where the signing keys are
(``ROLECALL_SECRET_KEY``, ``ROLECALL_KEY_FILE``), and the change notices' Redis
(``ROLECALL_REDIS_URL``, ``ROLECALL_REDIS_CHANNEL``). A setting may be text as in the environment,
or a bool (strict), a list of names (disable, require), a list of secrets (newest first) or a
path.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from rolecall.core import Plugins, Rolecall, load_plugins
from rolecall.core.plugins import PluginSettings

FROM_SETTINGS = (
    "ROLECALL_STRICT_PLUGINS",
    "ROLECALL_DISABLE_PLUGINS",
    "ROLECALL_REQUIRE_PLUGINS",
    "ROLECALL_SECRET_KEY",
    "ROLECALL_KEY_FILE",
    "ROLECALL_REDIS_URL",
    "ROLECALL_REDIS_CHANNEL",
)
"""The variables of rolecall's core that a Django setting of the same name overrides."""

_lock = threading.RLock()  # get_rolecall holds it while the plugins load
_service: Rolecall | None = None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (str, PurePath)):
        return str(value)
    if isinstance(value, Iterable):
        return ",".join(str(v) for v in value)
    return str(value)


def environ() -> dict[str, str]:
    """The environment as rolecall's core reads it here: the process's ``ROLECALL_*``
    variables, with the Django settings of :data:`FROM_SETTINGS` over them (a setting that is
    present wins, even empty)."""
    env = {k: v for k, v in os.environ.items() if k.startswith("ROLECALL_")}
    for name in FROM_SETTINGS:
        value = getattr(settings, name, None)
        if value is not None:
            env[name] = _text(value)
    return env


_plugins: Plugins | None = None


def loaded_plugins() -> Plugins:
    """The plugins this process loads (the installed ones and this app's own), loaded once
    without opening the database: what views check their permission ids against when they
    are declared."""
    global _plugins
    found = _plugins
    if found is None:
        from . import plugin

        with _lock:
            found = _plugins
            if found is None:
                settings_ = PluginSettings.from_env(environ())
                found = _plugins = load_plugins(settings_, extra={"openedx": plugin})
    return found


def _open() -> Rolecall:
    from .database import database_url

    env = environ()
    rc = Rolecall.open(
        database_url(),
        plugins=loaded_plugins(),
        staleness=float(getattr(settings, "ROLECALL_STALENESS", 1.0)),
        background_sync=bool(getattr(settings, "ROLECALL_BACKGROUND_SYNC", True)),
        key_settings=env,
    )
    return rc


def get_rolecall() -> Rolecall:
    """The rolecall service of this process (opened once, shared by every request)."""
    global _service
    found = _service
    if found is None:
        with _lock:
            found = _service
            if found is None:
                found = _service = _open()
    return found


def reset() -> None:
    """Close the service; the next :func:`get_rolecall` opens it again from the settings."""
    global _service, _plugins
    with _lock:
        if _service is not None:
            _service.close()
        _service = None
        _plugins = None


def _settings_changed(setting: str = "", **_: Any) -> None:
    if setting.startswith("ROLECALL_"):
        reset()


def connect() -> None:
    setting_changed.connect(_settings_changed, dispatch_uid="rolecall_openedx.settings")
