"""CSRF protection for the console: a random token per session, in a hidden field of every form
(or the ``X-CSRF-Token`` header of a script's request), checked on every state-changing request.

The token lives in the signed session cookie, so another site can neither read it nor forge a
request carrying it; comparing with :func:`hmac.compare_digest` keeps the check constant-time.
"""

from __future__ import annotations

import hmac
import secrets

from flask import abort, request, session

SESSION_KEY = "csrf"
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def token() -> str:
    """This session's token, made on first use."""
    value = session.get(SESSION_KEY)
    if not isinstance(value, str):
        value = secrets.token_urlsafe(32)
        session[SESSION_KEY] = value
    return value


def renew() -> None:
    """A new token (after signing in or out: a token seen before then is worth nothing)."""
    session[SESSION_KEY] = secrets.token_urlsafe(32)


def protect() -> None:
    """Refuse a state-changing request without this session's token (400)."""
    if request.method in SAFE_METHODS:
        return
    expected = session.get(SESSION_KEY)
    given = request.form.get(FIELD) or request.headers.get(HEADER) or ""
    if not isinstance(expected, str) or not hmac.compare_digest(expected, given):
        abort(400, description="csrf")
