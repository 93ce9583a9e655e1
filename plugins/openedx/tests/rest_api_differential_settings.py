"""openedx-authz's own test settings, plus the user profile relation its REST views read."""

from openedx_authz.settings.test import *  # noqa: F403

INSTALLED_APPS = (*INSTALLED_APPS, "differential_profile")  # noqa: F405
ALLOWED_HOSTS = ["testserver"]
