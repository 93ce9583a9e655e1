"""openedx_test_project's settings with what LMS adds for its micro-frontends: the split JWT
cookies read by edx-drf-extensions' ``JwtAuthCookieMiddleware`` and ``JwtAuthentication``,
and CSRF protection (the console asks ``/csrf/api/v1/token`` before a change).

The tests apply the names this module changes over the session's settings
(:func:`admin_console_host.server.overrides`); ``INSTALLED_APPS`` stays as it is.
"""

from __future__ import annotations

from openedx_test_project.settings import *  # noqa: F403

ROOT_URLCONF = "admin_console_host.urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "edx_rest_framework_extensions.auth.jwt.middleware.JwtAuthCookieMiddleware",
]
LOGIN_URL = "/login"
# Test accounts: a fast hash instead of the default's million rounds.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

JWT_ISSUER = "http://127.0.0.1/oauth2"
JWT_AUDIENCE = "rolecall-admin-console-tests"
JWT_SECRET = "admin-console-tests-only-jwt-secret-not-for-real-use-0123456789"  # noqa: S105
JWT_LIFETIME = 3600
"""Seconds a JWT issued by ``login_refresh`` is good for."""

# As LMS configures it (symmetric signing here; LMS signs with an asymmetric key).
JWT_AUTH = {
    "JWT_AUTH_COOKIE": "edx-jwt-cookie",
    "JWT_AUTH_COOKIE_HEADER_PAYLOAD": "edx-jwt-cookie-header-payload",
    "JWT_AUTH_COOKIE_SIGNATURE": "edx-jwt-cookie-signature",
    "JWT_AUTH_HEADER_PREFIX": "JWT",
    "JWT_DECODE_HANDLER": "edx_rest_framework_extensions.auth.jwt.decoder.jwt_decode_handler",
    "JWT_ALGORITHM": "HS256",
    "JWT_ISSUER": JWT_ISSUER,
    "JWT_AUDIENCE": JWT_AUDIENCE,
    "JWT_SECRET_KEY": JWT_SECRET,
    "JWT_ISSUERS": [{"ISSUER": JWT_ISSUER, "AUDIENCE": JWT_AUDIENCE, "SECRET_KEY": JWT_SECRET}],
    "JWT_PUBLIC_SIGNING_JWK_SET": None,
    "JWT_SUPPORTED_VERSION": "1.2.0",
    "JWT_VERIFY_EXPIRATION": True,
    "JWT_LEEWAY": 1,
}

ROLECALL_ADMIN_CONSOLE_BUILD = None
"""The folder of the console's build (index.html and its bundles); the tests set it."""
