"""What the blueprints share: the service of the running application, and the address of the
request's client."""

from __future__ import annotations

from flask import current_app, request

from rolecall.core import Rolecall

EXTENSION = "rolecall"


def service() -> Rolecall:
    """The application's service object."""
    rc: Rolecall = current_app.extensions[EXTENSION]
    return rc


def client_address() -> str:
    """The address of the request's client, the one way every view reads it: the
    connection's, or, with ``ROLECALL_TRUSTED_PROXIES`` set, the one the trusted proxies
    forwarded (``create_app`` then wraps the application in werkzeug's ``ProxyFix``, which
    sets ``REMOTE_ADDR`` from ``X-Forwarded-For``)."""
    return request.remote_addr or "unknown"
