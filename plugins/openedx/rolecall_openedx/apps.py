"""The Django app, with the ``plugin_app`` settings edx-django-utils reads in LMS and Studio."""

from __future__ import annotations

from django.apps import AppConfig

_SETTINGS = {
    kind: {"relative_path": "settings"} for kind in ("common", "production", "devstack", "test")
}

# The admin console's endpoints, /api/authz/v1/... (rolecall_openedx.rest_api), where
# openedx-authz mounts its own.
_URLS = {"namespace": "rolecall-authz", "regex": r"^api/", "relative_path": "rest_api.urls"}


class RolecallOpenedxConfig(AppConfig):
    name = "rolecall_openedx"
    verbose_name = "rolecall"
    default_auto_field = "django.db.models.AutoField"

    plugin_app = {
        "settings_config": {"lms.djangoapp": _SETTINGS, "cms.djangoapp": _SETTINGS},
        "url_config": {kind: dict(_URLS) for kind in ("lms.djangoapp", "cms.djangoapp")},
    }

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import database, events, plugin, service

        service.connect()
        events.connect()
        plugin.connect()
        # rolecall's tables follow the platform's migrations (of the default database).
        post_migrate.connect(
            database.migrated, sender=self, dispatch_uid="rolecall_openedx.migrate"
        )
