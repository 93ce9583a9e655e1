"""The process's rolecall service, opened on first use from the Django settings and reopened
when a test changes them. Its plugins are the installed ones (``ROLECALL_*_PLUGINS`` settings of
the environment apply) and this app's own: enrollment as the source of the derived role
``discussion_student`` (:mod:`rolecall_openedx.plugin`)."""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from rolecall.core import Rolecall, load_plugins

_lock = threading.Lock()
_service: Rolecall | None = None


def get_rolecall() -> Rolecall:
    """The rolecall service of this process (opened once, shared by every request)."""
    global _service
    found = _service
    if found is None:
        with _lock:
            found = _service
            if found is None:
                from . import plugin

                found = _service = Rolecall.open(
                    getattr(settings, "ROLECALL_DATABASE_URL", None),
                    plugins=load_plugins(extra={"openedx": plugin}),
                    staleness=float(getattr(settings, "ROLECALL_STALENESS", 1.0)),
                    background_sync=bool(getattr(settings, "ROLECALL_BACKGROUND_SYNC", True)),
                )
    return found


def reset() -> None:
    """Close the service; the next :func:`get_rolecall` opens it again from the settings."""
    global _service
    with _lock:
        if _service is not None:
            _service.close()
        _service = None


def _settings_changed(setting: str = "", **_: Any) -> None:
    if setting.startswith("ROLECALL_"):
        reset()


def connect() -> None:
    setting_changed.connect(_settings_changed, dispatch_uid="rolecall_openedx.settings")
