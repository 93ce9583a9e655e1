"""A minimal Django project standing in for LMS: the platform's stub models, DRF, bridgekeeper,
and the plugin apps edx-django-utils discovers (rolecall_openedx among them), set up the way
LMS does it (``get_plugin_apps`` and ``add_plugins``)."""

from __future__ import annotations

import os
import uuid

from edx_django_utils.plugins import add_plugins, get_plugin_apps
from sqlalchemy import make_url

SECRET_KEY = "tests-only-not-a-secret"  # noqa: S105
DEBUG = False
USE_TZ = True
ROOT_URLCONF = "openedx_test_project.urls"
ALLOWED_HOSTS = ["testserver", "127.0.0.1"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rest_framework",
    "bridgekeeper",
    "openedx_test_project.stubs",
    # The plugin apps LMS would install; only rolecall's here (openedx-authz, installed for the
    # differential test, needs edx-platform's models and runs under its own settings).
    *(app for app in get_plugin_apps("lms.djangoapp") if app.startswith("rolecall_openedx.")),
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "bridgekeeper.backends.RulePermissionBackend",
]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# The platform's own database: SQLite, or PostgreSQL or MariaDB when the tests run against it
# (ROLECALL_OPENEDX_TEST_DATABASE).
if os.environ.get("ROLECALL_OPENEDX_TEST_DATABASE") == "mysql":
    # Django's MySQL backend (mysqlclient), as LMS has it; rolecall's tables live in the same
    # test database (ROLECALL_DATABASE_URL unset: tests/conftest.py).
    _url = make_url(
        os.environ.get(
            "ROLECALL_TEST_MYSQL_URL",
            "mysql+pymysql://rolecall:rolecall@127.0.0.1:3306/rolecall_test",
        )
    )
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": _url.database,
            "USER": _url.username,
            "PASSWORD": _url.password,
            "HOST": _url.host,
            "PORT": str(_url.port or 3306),
            "OPTIONS": {"charset": "utf8mb4"},
            # The test login may create only the databases named rolecall_test*; one per run.
            # The server's default collation (case-insensitive), as most platforms have it.
            "TEST": {
                "NAME": f"rolecall_test_oedx_{uuid.uuid4().hex[:10]}",
                "CHARSET": "utf8mb4",
            },
        }
    }
elif os.environ.get("ROLECALL_OPENEDX_TEST_DATABASE") == "postgresql":
    _url = make_url(
        os.environ.get(
            "ROLECALL_TEST_POSTGRES_URL",
            "postgresql+psycopg://rolecall:rolecall@127.0.0.1:5432/rolecall_test",
        )
    )
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _url.database,
            "USER": _url.username,
            "PASSWORD": _url.password,
            "HOST": _url.host,
            "PORT": str(_url.port or 5432),
            # One test database per run: runs side by side never meet.
            "TEST": {"NAME": f"test_rolecall_openedx_{uuid.uuid4().hex[:10]}"},
        }
    }
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

# rolecall's settings: the tests give each test its own rolecall database, or on MariaDB empty
# rolecall's tables in the platform's (tests/conftest.py).
ROLECALL_STALENESS = 0.0
ROLECALL_BACKGROUND_SYNC = False

add_plugins(__name__, "lms.djangoapp", "common")

# The platform's enrollments: the stub model stands in for student.CourseEnrollment.
ROLECALL_ENROLLMENT_MODEL = "stubs.CourseEnrollment"
# The platform's course catalogue for the admin console's scopes endpoint.
ROLECALL_COURSE_OVERVIEW_MODEL = "stubs.CourseOverview"
