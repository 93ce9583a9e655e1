"""rolecall in an Open edX that Tutor runs: ``tutor plugins enable rolecall``.

- The openedx image gets rolecall-openedx (``ROLECALL_PIP_REQUIREMENTS``, one ``pip install``
  after the platform's own requirements), so edx-django-utils adds the app to LMS and Studio.
- LMS and Studio get rolecall's settings: its database (``ROLECALL_DATABASE_URL``, by default
  the platform's own MySQL database, whose ``rolecall_`` tables sit beside the platform's,
  through the platform's driver, mysqlclient) and its signing key (``ROLECALL_SECRET_KEY``,
  generated once by ``tutor config save`` and kept in ``config.yml``).
- The init job (``tutor local do init``, ``tutor local launch``) runs rolecall's migrations.
- With the MFE plugin, Open edX's admin console micro-frontend is served at ``/authz``
  (instead of the MFE plugin's ``/admin-console``), and LMS links to it there.
"""

from __future__ import annotations

from typing import Any

from tutor.hooks.catalog import Filters

__version__ = "0.1.0"

MFE_NAME = "authz"
"""The admin console's path on the MFE host: ``apps.<LMS host>/authz/``."""
ADMIN_CONSOLE = {
    "repository": "https://github.com/openedx/frontend-app-admin-console.git",
    "port": 2025,
}
"""Open edX's admin console, which works on rolecall unchanged (its ``/api/authz/v1`` is
rolecall-openedx's); the development server's port is the one the console's own settings use."""

CONFIG_DEFAULTS: dict[str, Any] = {
    "VERSION": __version__,
    # One `pip install` of these in the openedx image. While rolecall is on no package index,
    # name both distributions where they are (a wheel's URL, or `name @ git+URL`).
    "PIP_REQUIREMENTS": ["rolecall-openedx=={{ ROLECALL_VERSION }}"],
    # The platform's database and login, through its own driver.
    "DATABASE_URL": (
        "mysql+mysqldb://{{ OPENEDX_MYSQL_USERNAME }}:{{ OPENEDX_MYSQL_PASSWORD }}"
        "@{{ MYSQL_HOST }}:{{ MYSQL_PORT }}/{{ OPENEDX_MYSQL_DATABASE }}?charset=utf8mb4"
    ),
}
CONFIG_UNIQUE: dict[str, Any] = {
    # Signs the audit chain and the console's sessions; kept outside the database.
    "SECRET_KEY": "{{ 48|random_string }}",
}

Filters.CONFIG_DEFAULTS.add_items(
    [(f"ROLECALL_{name}", value) for name, value in CONFIG_DEFAULTS.items()]
)
Filters.CONFIG_UNIQUE.add_items(
    [(f"ROLECALL_{name}", value) for name, value in CONFIG_UNIQUE.items()]
)

DOCKERFILE = """
# rolecall-openedx (tutor-contrib-rolecall)
RUN --mount=type=cache,target=/openedx/.cache/pip,sharing=shared \\
    $PIP_COMMAND install
{%- for requirement in ROLECALL_PIP_REQUIREMENTS %} '{{ requirement }}'{% endfor %}
"""

SETTINGS = """
# rolecall-openedx (tutor-contrib-rolecall)
ROLECALL_DATABASE_URL = "{{ ROLECALL_DATABASE_URL }}"
ROLECALL_SECRET_KEY = "{{ ROLECALL_SECRET_KEY }}"
"""

# The MFE plugin's own settings for the console read get_mfe("admin-console"), gone once it moves
# to /authz: these take their place.
LMS_PRODUCTION_MFE = """
{% if get_mfe is defined and get_mfe("authz") %}
{%- set scheme = "https" if ENABLE_HTTPS else "http" %}
# Open edX's admin console at /authz (tutor-contrib-rolecall)
ADMIN_CONSOLE_MICROFRONTEND_URL = "{{ scheme }}://{{ MFE_HOST }}/authz"
MFE_CONFIG["ADMIN_CONSOLE_URL"] = ADMIN_CONSOLE_MICROFRONTEND_URL
{% endif %}
"""
LMS_DEVELOPMENT_MFE = """
{% if get_mfe is defined and get_mfe("authz") %}
# Open edX's admin console at /authz (tutor-contrib-rolecall)
ADMIN_CONSOLE_MICROFRONTEND_URL = "http://{{ MFE_HOST }}:{{ get_mfe("authz")["port"] }}/authz"
MFE_CONFIG["ADMIN_CONSOLE_URL"] = ADMIN_CONSOLE_MICROFRONTEND_URL
{% endif %}
"""
CMS_DEVELOPMENT_MFE = """
{% if get_mfe is defined and get_mfe("authz") %}
# Open edX's admin console at /authz (tutor-contrib-rolecall)
CORS_ORIGIN_WHITELIST.append("http://{{ MFE_HOST }}:{{ get_mfe("authz")["port"] }}")
LOGIN_REDIRECT_WHITELIST.append("{{ MFE_HOST }}:{{ get_mfe("authz")["port"] }}")
CSRF_TRUSTED_ORIGINS.append("http://{{ MFE_HOST }}:{{ get_mfe("authz")["port"] }}")
{% endif %}
"""

Filters.ENV_PATCHES.add_items(
    [
        ("openedx-dockerfile-post-python-requirements", DOCKERFILE),
        # LMS and Studio, in production and in development.
        ("openedx-common-settings", SETTINGS),
        ("openedx-lms-production-settings", LMS_PRODUCTION_MFE),
        ("openedx-lms-development-settings", LMS_DEVELOPMENT_MFE),
        ("openedx-cms-development-settings", CMS_DEVELOPMENT_MFE),
    ]
)

# rolecall's tables, created or upgraded; the command is rolecall-openedx's.
Filters.CLI_DO_INIT_TASKS.add_item(("lms", "./manage.py lms rolecall_migrate"))


def _admin_console_at_authz(apps: dict[str, Any]) -> dict[str, Any]:
    """The admin console once, at /authz: the MFE plugin's entry for it is moved, not copied, so
    the image builds it once."""
    apps[MFE_NAME] = {**apps.pop("admin-console", ADMIN_CONSOLE)}
    return apps


try:
    from tutormfe.hooks import MFE_APPS
except ImportError:  # no MFE plugin installed: no micro-frontend
    pass
else:
    MFE_APPS.add()(_admin_console_at_authz)
