"""Views that ask rolecall: a DRF permission class and a decorator for plain Django views.

::

    from rolecall_openedx.drf import permission_required, requires

    class GradebookView(APIView):
        permission_classes = [requires("grading.view_gradebook", scope_from="course_id")]

    @permission_required("courses.view_course", scope_from="course_id")
    def outline(request, course_id): ...

The scope comes from the request value named by ``scope_from``: the URL keyword argument, else
the query parameter, else the body field of that name (``None``: the platform). A refusal is a
403 whose body carries rolecall's one-line reason (``{"detail": "denied: ..."}``); a missing or
malformed key is a 400, never a 500.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission

from rolecall.core import BadInputError

from .backends import username_of
from .keys import UnmappableScope, scope_key
from .service import get_rolecall


class BadScope(ValueError):
    """The request names no scope, or a malformed one."""


def _value(name: str, kwargs: Mapping[str, Any], query: Mapping[str, Any], body: Any) -> object:
    for source in (kwargs, query):
        if name in source:
            return source[name]
    if isinstance(body, Mapping) and name in body:
        return body[name]
    raise BadScope(f"the request has no {name}")


def _scope(raw: object) -> str:
    if not isinstance(raw, str):
        raise BadScope("the scope key must be text")
    try:
        return get_rolecall().registry.scopes.resolve(scope_key(raw)).key
    except (UnmappableScope, BadInputError) as exc:
        raise BadScope(str(exc)) from None


def decide(user: Any, permission: str, scope: str) -> tuple[bool, str]:
    """(allowed, the one-line reason) for ``user`` on ``scope``."""
    username = username_of(user)
    if username is None:
        return False, "denied: sign in as an active user"
    rc = get_rolecall()
    try:
        if rc.check(username, permission, scope):
            return True, ""
        return False, rc.explain(username, permission, scope).summary
    except BadInputError as exc:  # a permission no loaded plugin registers
        return False, f"denied: {exc}"


def requires(permission: str, scope_from: str | None = "course_id") -> type[BasePermission]:
    """A DRF permission class allowing requests whose user holds ``permission`` on the scope
    named by the request value ``scope_from`` (``None``: the platform)."""

    class RolecallPermission(BasePermission):
        message = "denied"

        def has_permission(self, request: Any, view: Any) -> bool:
            try:
                scope = "platform"
                if scope_from is not None:
                    raw = _value(
                        scope_from,
                        getattr(view, "kwargs", {}) or {},
                        request.query_params,
                        request.data,
                    )
                    scope = _scope(raw)
            except BadScope as exc:
                raise ValidationError({"detail": str(exc)}) from None
            allowed, reason = decide(request.user, permission, scope)
            if not allowed:
                self.message = reason
            return allowed

    RolecallPermission.__name__ = RolecallPermission.__qualname__ = (
        f"Requires_{permission.replace('.', '_')}"
    )
    return RolecallPermission


def permission_required(
    permission: str, scope_from: str | None = "course_id"
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """The same rule for a plain Django view: 403 with the reason, 400 for a bad key."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                scope = "platform"
                if scope_from is not None:
                    scope = _scope(_value(scope_from, kwargs, request.GET, _body(request)))
            except BadScope as exc:
                return JsonResponse({"detail": str(exc)}, status=400)
            allowed, reason = decide(request.user, permission, scope)
            if not allowed:
                return JsonResponse({"detail": reason}, status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def _body(request: HttpRequest) -> Mapping[str, Any]:
    if request.method not in ("POST", "PUT", "PATCH"):
        return {}
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return {}
        return data if isinstance(data, dict) else {}
    return request.POST
