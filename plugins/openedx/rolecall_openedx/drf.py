"""Views that ask rolecall: a DRF permission class and a decorator for plain Django views.

::

    from rolecall_openedx.drf import permission_required, requires

    class GradebookView(APIView):
        permission_classes = [requires("grading.view_gradebook", scope_from="course_id")]

    @permission_required("courses.view_course", scope_from="course_id")
    def outline(request, course_id): ...

The scope comes from the request value named by ``scope_from``: the URL keyword argument, else
the query parameter, else the body field of that name (``None``: the platform). With
``scope_types=("course",)`` only a key of those types is taken: anything else (an org name, a
library) is a 400. A refusal is a 403 whose body carries rolecall's one-line reason
(``{"detail": "denied: ..."}``); a missing or malformed key is a 400, never a 500.

The permission id and the scope types are checked when the class or decorator is made (an id
no loaded plugin registers raises ``ImproperlyConfigured`` at import, not on the first request).

Django superusers are decided by rolecall like everyone else, so a course lock holds for them
too; ``ROLECALL_SUPERUSERS_BYPASS = True`` lets an active superuser through these checks as
Django's own ``user.has_perm`` always does.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission

from rolecall.core import BadInputError

from .backends import username_of
from .keys import UnmappableScope, scope_key
from .service import get_rolecall, loaded_plugins


class BadScope(ValueError):
    """The request names no scope, or a malformed one."""


def _value(name: str, kwargs: Mapping[str, Any], query: Mapping[str, Any], body: Any) -> object:
    for source in (kwargs, query):
        if name in source:
            return source[name]
    if isinstance(body, Mapping) and name in body:
        return body[name]
    raise BadScope(f"the request has no {name}")


def _scope(raw: object, scope_types: tuple[str, ...] = ()) -> str:
    if not isinstance(raw, str):
        raise BadScope("the scope key must be text")
    try:
        scope = get_rolecall().registry.scopes.resolve(scope_key(raw))
    except (UnmappableScope, BadInputError) as exc:
        raise BadScope(str(exc)) from None
    if scope_types and scope.type not in scope_types:
        wanted = " or ".join(scope_types)
        raise BadScope(f"expected a {wanted} key, not {raw!r} (a {scope.type})")
    return scope.key


def _declared(permission: str, scope_types: Iterable[str] | None) -> tuple[str, ...]:
    """Check, when a view is declared, that ``permission`` and ``scope_types`` are registered
    by the loaded plugins; the scope types as a tuple."""
    registry = loaded_plugins().registry
    if permission not in registry.permissions:
        raise ImproperlyConfigured(
            f"rolecall: {permission!r} is not a permission any loaded plugin registers"
        )
    types = tuple(scope_types or ())
    unknown = [t for t in types if t not in registry.scope_types]
    if unknown:
        raise ImproperlyConfigured(f"rolecall: unknown scope types {unknown!r}")
    return types


def decide(user: Any, permission: str, scope: str) -> tuple[bool, str]:
    """(allowed, the one-line reason) for ``user`` on ``scope``."""
    if (
        getattr(settings, "ROLECALL_SUPERUSERS_BYPASS", False)
        and getattr(user, "is_active", False)
        and getattr(user, "is_superuser", False)
    ):
        return True, ""
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


def requires(
    permission: str,
    scope_from: str | None = "course_id",
    *,
    scope_types: Iterable[str] | None = None,
) -> type[BasePermission]:
    """A DRF permission class allowing requests whose user holds ``permission`` on the scope
    named by the request value ``scope_from`` (``None``: the platform), a scope of one of
    ``scope_types`` when given."""
    types = _declared(permission, scope_types)

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
                    scope = _scope(raw, types)
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
    permission: str,
    scope_from: str | None = "course_id",
    *,
    scope_types: Iterable[str] | None = None,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """The same rule for a plain Django view: 403 with the reason, 400 for a bad key."""
    types = _declared(permission, scope_types)

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                scope = "platform"
                if scope_from is not None:
                    raw = _value(scope_from, kwargs, request.GET, _body(request))
                    scope = _scope(raw, types)
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
