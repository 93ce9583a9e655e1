"""One error shape for every API failure: ``{"error": {"code", "message", "details"}}``.

Handlers are registered for the API's own errors, the service's (bad input, refusals by the
delegation rules), request validation, every HTTP error (401, 404, 405, 413...) and, last,
any other exception, which is logged and answered with the same shape (500) rather than an
HTML page. Routing errors (an unknown path, a wrong method) happen before Flask knows the
blueprint, so the HTTP handler is registered on the application and answers in JSON only for
paths under the API's prefix.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, Response, g, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from rolecall.core import BadInputError, StorageError, UnknownScopeError, org_wide
from rolecall.core.governance import NotAllowedError

from .. import authz
from ..context import service
from .schemas import ErrorBody, ErrorResponse

log = logging.getLogger("rolecall.webapp.api")

PREFIX = "/api/"

HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    411: "length_required",
    413: "too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    431: "headers_too_large",
    500: "internal_error",
    501: "not_implemented",
    503: "unavailable",
}


class ApiError(Exception):
    """An error the API answers with ``status`` and the error shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", what)


def forbidden(message: str, details: Any = None) -> ApiError:
    return ApiError(403, "forbidden", message, details)


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, details=details))
    response = Response(body.model_dump_json(), status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Each problem's location, message and type (never the input itself, which may be long
    or sensitive)."""
    return [
        {"loc": [str(part) for part in e["loc"]], "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def _api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


def _bad_input(exc: BadInputError) -> Response:
    return error_response(400, "bad_input", str(exc))


def _unknown_scope(exc: UnknownScopeError) -> Response:
    """A scope nobody created: 422 ``unknown_scope``, with the key it may have meant when the
    caller may view that scope's team (a near key of another org is not told)."""
    caller = g.get("api_user")
    if exc.suggestion is not None and (
        caller is None or not authz.can_view_team(service(), caller, exc.suggestion)
    ):
        exc = UnknownScopeError(exc.key)
    return error_response(
        422, "unknown_scope", str(exc), {"scope": exc.key, "did_you_mean": exc.suggestion}
    )


CHANGE_SCOPE = "rolecall_change_scope"
"""Where a request's change is made (``flask.g``), set by the routes that know it: a refusal
names whoever could make the change there only to a caller who may view that scope's team."""


def changing(scope: str) -> None:
    """Record that this request changes something on ``scope`` (see :data:`CHANGE_SCOPE`)."""
    setattr(g, CHANGE_SCOPE, org_wide(scope))


def _not_allowed(exc: NotAllowedError) -> Response:
    refusal = exc.refusal
    caller = g.get("api_user")
    if caller is not None:
        # Only the users the caller may see: a refusal must not list another org's admins.
        refusal = authz.refusal_seen_by(service(), caller, refusal, g.get(CHANGE_SCOPE))
    return error_response(
        403,
        "not_allowed",
        str(refusal),
        {"rule": refusal.rule, "reason": refusal.message, "could": list(refusal.could)},
    )


def _storage(exc: StorageError) -> Response:
    """The database failed: a write rolled back, or a read or catch-up before a decision
    (the driver's error is the cause)."""
    cause = f" ({exc.__cause__})" if exc.__cause__ is not None else ""
    log.warning("%s %s: %s%s", request.method, request.path, exc, cause)
    return error_response(503, "storage_unavailable", str(exc), None, {"Retry-After": "5"})


def _invalid(exc: ValidationError) -> Response:
    details = validation_details(exc)
    first = details[0] if details else {"loc": [], "msg": "invalid"}
    where = ".".join(first["loc"]) or "request"
    return error_response(422, "invalid_request", f"{where}: {first['msg']}", details)


def _http(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers: dict[str, str] = {}
    if status == 405 and exc.response is None:
        allowed = getattr(exc, "valid_methods", None)
        if allowed:
            headers["Allow"] = ", ".join(sorted(allowed))
    code = HTTP_CODES.get(status, "http_error")
    message = exc.description or exc.name
    if status == 413:
        message = "the request body is too large"
    elif status == 404:
        message = f"no such API endpoint: {request.path}"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.path}"
    return error_response(status, code, message, None, headers)


def _unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _http(exc)
    log.exception("unexpected error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "an unexpected error occurred; it was logged")


def install(blueprint: Blueprint) -> None:
    """Register the handlers on the blueprint, and the HTTP one on the application."""
    blueprint.register_error_handler(ApiError, _api_error)
    blueprint.register_error_handler(BadInputError, _bad_input)
    blueprint.register_error_handler(UnknownScopeError, _unknown_scope)
    blueprint.register_error_handler(NotAllowedError, _not_allowed)
    blueprint.register_error_handler(StorageError, _storage)
    blueprint.register_error_handler(ValidationError, _invalid)
    blueprint.register_error_handler(HTTPException, _http)
    blueprint.register_error_handler(Exception, _unexpected)

    def on_app(state: Any) -> None:
        app: Flask = state.app

        @app.errorhandler(HTTPException)
        def api_http_errors(exc: HTTPException) -> Response | HTTPException:
            if request.path.startswith(PREFIX):
                return _http(exc)
            return exc  # the default page (or the console's own handler)

    blueprint.record_once(on_app)
