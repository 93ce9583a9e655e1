"""Bearer-token authentication: ``Authorization: Bearer rc_...``.

Tokens are made with ``rolecall tokens create USER`` and checked with
:meth:`rolecall.core.Accounts.user_for_token` (stored hashed; a revoked or expired token, or
one of a retired user, no longer works, in any process, from the next request). The API reads
no cookie, so a browser session cannot be used to call it from another site: no CSRF
exposure.
"""

from __future__ import annotations

from flask import g, request

from ..context import service
from .errors import ApiError

CHALLENGE = 'Bearer realm="rolecall"'


def authenticate() -> str:
    """The username of the request's token; 401 (with a ``WWW-Authenticate`` challenge) when
    there is none or it is not valid."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise ApiError(
            401,
            "unauthenticated",
            "this endpoint needs a bearer token: Authorization: Bearer rc_...",
            headers={"WWW-Authenticate": CHALLENGE},
        )
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "unauthenticated",
            "the Authorization header must be: Bearer <token>",
            headers={"WWW-Authenticate": f'{CHALLENGE}, error="invalid_request"'},
        )
    user = service().accounts.user_for_token(token.strip())
    if user is None:
        raise ApiError(
            401,
            "invalid_token",
            "the token is unknown, revoked or expired, or its user is no longer active",
            headers={"WWW-Authenticate": f'{CHALLENGE}, error="invalid_token"'},
        )
    g.api_user = user
    return user
