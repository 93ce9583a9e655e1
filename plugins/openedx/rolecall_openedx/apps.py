"""The Django app, with the ``plugin_app`` settings edx-django-utils reads in LMS and Studio."""

from __future__ import annotations

from django.apps import AppConfig

_SETTINGS = {
    kind: {"relative_path": "settings"} for kind in ("common", "production", "devstack", "test")
}


class RolecallOpenedxConfig(AppConfig):
    name = "rolecall_openedx"
    verbose_name = "rolecall"
    default_auto_field = "django.db.models.AutoField"

    plugin_app = {
        "settings_config": {"lms.djangoapp": _SETTINGS, "cms.djangoapp": _SETTINGS},
    }

    def ready(self) -> None:
        from . import events, plugin, service

        service.connect()
        events.connect()
        plugin.connect()
