"""The settings rolecall adds to LMS and Studio (edx-django-utils calls :func:`plugin_settings`
on each settings module the platform loads).

- ``ROLECALL_DATABASE_URL``: rolecall's database (an SQLAlchemy URL). Default: the
  ``ROLECALL_DATABASE_URL`` environment variable, else ``sqlite:///rolecall.db``.
- ``ROLECALL_STALENESS``: seconds a process may lag behind other processes' writes (default 1).
- ``ROLECALL_BACKGROUND_SYNC``: follow other processes' writes in a background thread (default
  True); off, each read catches up when its index is older than the staleness.
- ``RolecallBackend`` is added to ``AUTHENTICATION_BACKENDS`` after the platform's own, so
  ``user.has_perm("courses.edit_course_content", course_key)`` asks rolecall.

Read when the service opens, from these settings first and then the environment variables of
the same name (:mod:`rolecall_openedx.service`): ``ROLECALL_STRICT_PLUGINS`` (a bool),
``ROLECALL_DISABLE_PLUGINS`` and ``ROLECALL_REQUIRE_PLUGINS`` (lists of plugin names),
``ROLECALL_SECRET_KEY`` (a secret, or a list of them, newest first) and ``ROLECALL_KEY_FILE``
(a path).
"""

from __future__ import annotations

import os
from typing import Any

BACKEND = "rolecall_openedx.backends.RolecallBackend"


def plugin_settings(settings: Any) -> None:
    """Fill in rolecall's settings on a Django settings module, keeping what it sets already."""
    if not getattr(settings, "ROLECALL_DATABASE_URL", None):
        settings.ROLECALL_DATABASE_URL = os.environ.get(
            "ROLECALL_DATABASE_URL", "sqlite:///rolecall.db"
        )
    if not hasattr(settings, "ROLECALL_STALENESS"):
        settings.ROLECALL_STALENESS = float(os.environ.get("ROLECALL_STALENESS", "1"))
    if not hasattr(settings, "ROLECALL_BACKGROUND_SYNC"):
        settings.ROLECALL_BACKGROUND_SYNC = True
    backends = list(
        getattr(settings, "AUTHENTICATION_BACKENDS", ["django.contrib.auth.backends.ModelBackend"])
    )
    if BACKEND not in backends:
        backends.append(BACKEND)
    settings.AUTHENTICATION_BACKENDS = backends
