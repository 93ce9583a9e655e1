"""``POST /api/v1/check`` answered without Flask's request machinery, in the plain case.

A single check is the API's most frequent request, and Flask's own per-request work (the
request and application contexts, URL matching, the response object and its hooks) cost about
half of the application's CPU time for one. :class:`CheckFastPath` sits in front of the Flask
application (its ``wsgi_app``) and answers the plain case itself: a ``POST`` to the check
endpoint with no query string, a ``Content-Length`` within ``MAX_CONTENT_LENGTH``, a bearer
token that is valid, a body that validates, and checks the caller may ask about. It runs the
same code as the view (the token through ``Accounts.user_for_token``, the body through the
same model, the same authorization and answer: :func:`.decisions.answer_checks`) and sends the
same status, headers and body as Flask would.

Anything else goes to Flask with the body as it was read, so every error keeps its one shape
and status, from the same code as before: a missing or invalid token (401), a malformed or
invalid body (400, 422), a refusal (403), an oversized body (413), a database that cannot be
reached (503), anything unexpected (500). And the fast path steps aside entirely as soon as
the application has request hooks beyond its own security headers (a ``before_request``,
``url_value_preprocessor``, teardown, or an ``after_request`` of anyone else, a rate limiter's
for instance), or anything listens to Flask's request signals: those run on every request, so
every request then goes through Flask.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, signals

from rolecall.core import Rolecall

from ..context import EXTENSION
from .decisions import answer_checks
from .schemas import CheckIn

PATH = "/api/v1/check"
"""The check endpoint, below the application's mount point (``SCRIPT_NAME``)."""

SIGNALS = (
    signals.request_started,
    signals.request_finished,
    signals.request_tearing_down,
    signals.got_request_exception,
    signals.appcontext_pushed,
    signals.appcontext_tearing_down,
    signals.appcontext_popped,
)
"""Flask's per-request signals: while anything listens to one (an instrumentation, a request
log), every request goes through Flask, which sends them."""

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class CheckFastPath:
    """WSGI middleware: the plain single or batch check answered directly, anything else
    passed to ``inner`` (the Flask application's WSGI callable)."""

    def __init__(
        self,
        app: Flask,
        inner: WsgiApp,
        after: Callable[..., Any],
        headers: Iterable[tuple[str, str]],
    ) -> None:
        self.app = app
        self.inner = inner
        self.after = after
        """The one ``after_request`` hook the fast path reproduces: ``headers`` are what it
        adds to an answer of the API (the security headers and ``Cache-Control``)."""
        self.headers = list(headers)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if (
            environ.get("PATH_INFO") != PATH
            or environ.get("REQUEST_METHOD") != "POST"
            or environ.get("QUERY_STRING")
            or environ.get("HTTP_TRANSFER_ENCODING")
            or not self.plain()
        ):
            return self.inner(environ, start_response)
        length = environ.get("CONTENT_LENGTH") or ""
        limit = self.app.config.get("MAX_CONTENT_LENGTH")
        if not (length.isascii() and length.isdigit()) or (
            limit is not None and int(length) > limit
        ):
            return self.inner(environ, start_response)  # the body unread: Flask answers
        raw = environ["wsgi.input"].read(int(length))
        body = self.answer(environ, raw) if len(raw) == int(length) else None
        if body is None:
            # Flask reads the same bytes and answers as it always has (a short body is its
            # 400 too: the stream ends before Content-Length).
            environ["wsgi.input"] = io.BytesIO(raw)
            return self.inner(environ, start_response)
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                *self.headers,
            ],
        )
        return [body]

    def plain(self) -> bool:
        """True while the application has no request hook of anyone else's and nothing listens
        to Flask's request signals (looked at on each request: a plugin may add one after
        ``create_app``)."""
        app = self.app
        for signal in SIGNALS:
            for _ in signal.receivers_for(app):  # nothing to go through when none listens
                return False
        for hooks in (
            app.before_request_funcs,
            app.url_value_preprocessors,
            app.teardown_request_funcs,
        ):
            if hooks.get(None) or hooks.get("api"):
                return False
        after = app.after_request_funcs
        return (
            not after.get("api")
            and after.get(None) == [self.after]
            and not app.teardown_appcontext_funcs
        )

    def answer(self, environ: dict[str, Any], raw: bytes) -> bytes | None:
        """The answer's body, or None for every case Flask must answer (an error's shape)."""
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or not raw.strip():
            return None
        rc: Rolecall = self.app.extensions[EXTENSION]
        try:
            caller = rc.accounts.user_for_token(token)
            if caller is None:
                return None
            return answer_checks(rc, caller, CheckIn.model_validate_json(raw))
        except Exception:  # Flask answers it again, with the error's shape
            return None


def install(app: Flask, after: Callable[..., Any], headers: Iterable[tuple[str, str]]) -> None:
    """Put the fast path in front of ``app``'s WSGI callable. ``after`` is the application's
    own ``after_request`` hook, the only one the fast path allows, and ``headers`` what it adds
    to an API answer."""
    app.wsgi_app = CheckFastPath(app, app.wsgi_app, after, headers)  # type: ignore[method-assign]
