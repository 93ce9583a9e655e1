"""The settings rolecall adds to LMS and Studio (edx-django-utils calls :func:`plugin_settings`
on each settings module the platform loads).

- ``ROLECALL_DATABASE_URL``: a database of rolecall's own (an SQLAlchemy URL), else the
  ``ROLECALL_DATABASE_URL`` environment variable. Unset (the default), rolecall keeps its
  tables (all named ``rolecall_...``) in the platform's database, ``DATABASES["default"]``, and
  connects to it through the platform's driver: mysqlclient for MySQL and MariaDB, psycopg for
  PostgreSQL (:mod:`rolecall_openedx.database`). Its tables are made and upgraded by
  ``./manage.py lms rolecall_migrate``, and after ``./manage.py lms migrate``.
- ``ROLECALL_STALENESS``: seconds a process may lag behind other processes' writes (default 1).
- ``ROLECALL_BACKGROUND_SYNC``: follow other processes' writes in a background thread (default
  True); off, each read catches up when its index is older than the staleness.
- ``ROLECALL_COURSE_AUTHORING``: whether the admin console shows course authoring (its
  course scopes and roles), which it asks of ``/api/authz/v1/waffle-flag-states/`` as
  openedx-authz answers from its course-authoring waffle flag. A bool (default True: rolecall
  answers every course), or ``{"global": bool, "orgs": {"ORG": bool}, "courses":
  {"course-v1:...": bool}}`` with overrides by org and by course.
- ``ROLECALL_USER_VALIDATION_RATE``: how often one caller may ask ``users/validate/`` whether
  usernames or e-mails exist (a DRF rate, default ``60/min``).
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

from django.core.exceptions import ImproperlyConfigured

BACKEND = "rolecall_openedx.backends.RolecallBackend"


def plugin_settings(settings: Any) -> None:
    """Fill in rolecall's settings on a Django settings module, keeping what it sets already."""
    if not getattr(settings, "ROLECALL_DATABASE_URL", None):
        # None: the platform's own database.
        settings.ROLECALL_DATABASE_URL = os.environ.get("ROLECALL_DATABASE_URL") or None
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


def course_authoring_flags() -> dict[str, Any]:
    """``ROLECALL_COURSE_AUTHORING`` in the shape of openedx-authz's waffle flag states:
    ``{"global": bool, "org_overrides": {"on": [...], "off": [...]}, "course_overrides":
    {...}}``, an override listed only where it differs from ``global``."""
    from django.conf import settings

    value = getattr(settings, "ROLECALL_COURSE_AUTHORING", True)
    if isinstance(value, bool):
        value = {"global": value}
    if not isinstance(value, dict) or set(value) - {"global", "orgs", "courses"}:
        raise ImproperlyConfigured(
            "ROLECALL_COURSE_AUTHORING must be a bool or a dict with the keys global, orgs "
            f"and courses; it is {value!r}"
        )
    on = value.get("global", True)
    if not isinstance(on, bool):
        raise ImproperlyConfigured(f"ROLECALL_COURSE_AUTHORING['global'] must be a bool: {on!r}")
    answer: dict[str, Any] = {"global": on}
    for key, name in (("orgs", "org_overrides"), ("courses", "course_overrides")):
        overrides = value.get(key, {})
        if not isinstance(overrides, dict) or not all(
            isinstance(k, str) and isinstance(v, bool) for k, v in overrides.items()
        ):
            raise ImproperlyConfigured(
                f"ROLECALL_COURSE_AUTHORING[{key!r}] must map names to bools: {overrides!r}"
            )
        answer[name] = {
            "on": sorted(k for k, v in overrides.items() if v and not on),
            "off": sorted(k for k, v in overrides.items() if not v and on),
        }
    return answer
