"""edx-django-utils' plugin discovery finds the app through its entry points and applies its
settings, as LMS and Studio do at start-up."""

from __future__ import annotations

import types

from django.apps import apps
from django.conf import settings
from edx_django_utils.plugins import add_plugins, get_plugin_apps

APP = "rolecall_openedx.apps.RolecallOpenedxConfig"


def test_lms_and_studio_discover_the_app() -> None:
    assert APP in get_plugin_apps("lms.djangoapp")
    assert APP in get_plugin_apps("cms.djangoapp")
    assert apps.is_installed("rolecall_openedx")


def test_the_test_project_got_the_backend_through_plugin_settings() -> None:
    assert settings.AUTHENTICATION_BACKENDS[-1] == "rolecall_openedx.backends.RolecallBackend"
    assert settings.ROLECALL_STALENESS == 0.0  # kept: the project set it


def test_plugin_settings_fill_in_defaults_and_keep_what_is_set(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ROLECALL_DATABASE_URL", "sqlite:////tmp/from-env.db")
    studio = types.ModuleType("cms_settings_for_test")
    studio.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    import sys

    monkeypatch.setitem(sys.modules, studio.__name__, studio)
    add_plugins(studio.__name__, "cms.djangoapp", "production")
    assert studio.ROLECALL_DATABASE_URL == "sqlite:////tmp/from-env.db"
    assert studio.ROLECALL_STALENESS == 1.0
    assert studio.AUTHENTICATION_BACKENDS == [
        "django.contrib.auth.backends.ModelBackend",
        "rolecall_openedx.backends.RolecallBackend",
    ]
    add_plugins(studio.__name__, "cms.djangoapp", "production")  # twice: no second backend
    assert studio.AUTHENTICATION_BACKENDS.count("rolecall_openedx.backends.RolecallBackend") == 1
