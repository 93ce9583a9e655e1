"""The Flask application: the REST API under ``/api/v1`` and the console under ``/console``.

``create_app`` builds it around one service object (:class:`rolecall.core.Rolecall`); the
blueprints reach the service with :func:`rolecall.webapp.context.service` and never touch the
database or the index directly.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, Request, jsonify, redirect, request, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from rolecall.core import BadInputError, Rolecall
from rolecall.core.storage.keys import SESSION_KEY

from .context import EXTENSION

SESSION_LIFETIME = 12 * 3600
"""Seconds a console session lasts from sign-in, however it is used."""

DEFAULTS: dict[str, Any] = {
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "rolecall_session",
    # The absolute lifetime of a console session: fixed at sign-in, not extended by use.
    "ROLECALL_SESSION_LIFETIME": SESSION_LIFETIME,
    # Bodies above this are refused with 413 before they are read.
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    # The header a trusted proxy sets to the signed-in username (None: local accounts only).
    "ROLECALL_TRUSTED_HEADER": None,
    # Where a course's "open in Studio" link points; {key} is the course key.
    "ROLECALL_STUDIO_URL": "https://studio.example.com/course/{key}",
}

TRUSTED_PROXIES = "ROLECALL_TRUSTED_PROXIES"
"""How many reverse proxies in front of the application append the client's address to
``X-Forwarded-For`` (see :func:`trusted_proxies`): from ``create_app``'s ``config``, else the
environment, else 0."""


def trusted_proxies(value: object) -> int:
    """The number of trusted proxies ``value`` names (an integer, or its digits as text); a
    negative or non-numeric value raises :class:`BadInputError` saying what to set.

    With N proxies, the client's address is the N-th value of ``X-Forwarded-For`` counted
    from the right (the one the first of them, the proxy clients connect to, appended;
    anything to its left may come from the client and is ignored); with 0, the header is
    ignored and the address is the connection's. Only ``X-Forwarded-For`` is read: no page
    or answer depends on the scheme, host or prefix of the request (redirects are relative,
    the cookie's ``Secure`` flag is a setting), so ``X-Forwarded-Proto``, ``-Host``, ``-Port``
    and ``-Prefix`` are ignored."""
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"[0-9]+", text):
        raise BadInputError(
            f"{TRUSTED_PROXIES}={text!r} must be a whole number, 0 or more: how many reverse "
            "proxies in front of rolecall append the client's address to X-Forwarded-For "
            "(0, the default, when clients connect to rolecall directly)"
        )
    return int(text)


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""Scripts and styles from the console's own static files only (no inline script, no inline
style, no ``on...=`` handler), and never inside another site's frame."""

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
"""Sent with every response, of the console, the API and plugins' pages alike."""


def secure_headers(response: Response) -> Response:
    """:data:`SECURITY_HEADERS` on every response, and ``Cache-Control: no-store`` on all but
    the console's static files: pages and API answers name users and their access, and must
    not be kept by a browser or a shared cache (a view that sets its own keeps it)."""
    # One pass over the response's headers (each setdefault walked them all again: a sixth
    # of a single check's time in the application).
    headers = response.headers
    present = {name.lower() for name, _ in headers}
    for lower, name, value in _SECURITY_HEADERS:
        if lower not in present:
            headers.add(name, value)
    if "cache-control" not in present and request.endpoint != "console.static":
        headers.add("Cache-Control", "no-store")
    return response


_SECURITY_HEADERS = tuple((name.lower(), name, value) for name, value in SECURITY_HEADERS.items())


class ConsoleSessions(SecureCookieSessionInterface):
    """Signed-cookie sessions for the console only: the API authenticates by bearer token and
    reads no cookie, so its requests skip loading (and verifying) one."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith("/api/") or request.path == "/healthz":
            return self.null_session_class()
        return super().open_session(app, request)


def create_app(
    rc: Rolecall | None = None,
    *,
    database: str | None = None,
    config: Mapping[str, Any] | None = None,
) -> Flask:
    """The web application on ``rc`` (else a service opened on ``database``).

    ``config`` overrides Flask settings and rolecall's own (``ROLECALL_TRUSTED_HEADER``,
    ``ROLECALL_STUDIO_URL``, ``ROLECALL_SESSION_LIFETIME``...). The session cookie is signed
    with the installation's session key, kept outside the database (``rc.keys``), unless
    ``config`` sets ``SECRET_KEY``. ``ROLECALL_TRUSTED_PROXIES`` comes from ``config``, else
    from the environment; a value that is not a number of proxies raises
    :class:`BadInputError`.
    """
    # A bad setting is refused before the database is opened.
    proxies = trusted_proxies(
        (config or {}).get(TRUSTED_PROXIES, os.environ.get(TRUSTED_PROXIES, "0"))
    )
    if rc is None:
        rc = Rolecall.open(database)
    app = Flask(__name__)
    app.session_interface = ConsoleSessions()
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    app.config[TRUSTED_PROXIES] = proxies
    if proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=0, x_host=0, x_port=0, x_prefix=0
        )
    # The cookie lasts as long as the session may; the server-side row decides.
    if "PERMANENT_SESSION_LIFETIME" not in (config or {}):
        app.config["PERMANENT_SESSION_LIFETIME"] = app.config["ROLECALL_SESSION_LIFETIME"]
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = rc.keys.current(SESSION_KEY).secret
    app.extensions[EXTENSION] = rc

    from .api import blueprint as api_blueprint
    from .api import fastpath
    from .console import blueprint as console_blueprint

    app.register_blueprint(api_blueprint, url_prefix="/api/v1")
    app.register_blueprint(console_blueprint, url_prefix="/console")

    app.after_request(secure_headers)
    # POST /api/v1/check in the plain case without Flask's per-request work (see the module).
    fastpath.install(
        app, secure_headers, [*SECURITY_HEADERS.items(), ("Cache-Control", "no-store")]
    )

    @app.get("/")
    def root() -> Response:
        return redirect(url_for("console.home"))

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        """``ok``, or ``degraded`` (HTTP 503) while the database cannot be reached: checks are
        still answered from the index, which is as old as ``last_sync_age_s``."""
        age = time.monotonic() - rc.last_sync
        degraded = rc.sync_error is not None
        body = {
            "status": "degraded" if degraded else "ok",
            "revision": rc.revision,
            "last_sync_age_s": round(age, 3),
            "error": rc.sync_error,
        }
        return jsonify(body), 503 if degraded else 200

    return app
