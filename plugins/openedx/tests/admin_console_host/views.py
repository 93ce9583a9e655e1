"""What the admin console asks of LMS and Studio besides ``/api/authz/v1/``.

Authentication is LMS's for micro-frontends: a signed-in Django session gets, from
``login_refresh``, a JWT split across two cookies (``edx-jwt-cookie-header-payload``, readable
by script, and the HttpOnly ``edx-jwt-cookie-signature``); edx-drf-extensions'
``JwtAuthCookieMiddleware`` joins them and its ``JwtAuthentication`` reads the result on every
API request. The JWT is signed and shaped as LMS makes it (``preferred_username``,
``user_id``, ``email``, ``name``, ``administrator``, ``version`` ...), verified by
edx-drf-extensions' decoder against ``settings.JWT_AUTH``.
"""

from __future__ import annotations

import html
import mimetypes
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model, login, logout
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
)
from django.middleware.csrf import get_token
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from edx_rest_framework_extensions.auth.jwt.authentication import JwtAuthentication
from edx_rest_framework_extensions.auth.session.authentication import (
    SessionAuthenticationAllowInactiveUser,
)
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from rolecall_openedx.service import get_rolecall

HEADER_PAYLOAD = "edx-jwt-cookie-header-payload"
SIGNATURE = "edx-jwt-cookie-signature"
PUBLIC_PATH = "/admin-console/"


# ------------------------------------------------------------------ the console itself


def console(request: HttpRequest, path: str) -> HttpResponseBase:
    """A file of the build, or its index.html for the console's own routes (``authz/...``)."""
    root = Path(settings.ROLECALL_ADMIN_CONSOLE_BUILD).resolve()
    found = (root / path).resolve()
    if path and found.is_file() and found.is_relative_to(root):
        kind = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        return FileResponse(found.open("rb"), content_type=kind)
    if "." in path.rsplit("/", 1)[-1]:
        raise Http404(path)  # a missing bundle, not a route
    return HttpResponse((root / "index.html").read_bytes(), content_type="text/html")


def _origin(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def mfe_config(request: HttpRequest) -> JsonResponse:
    """The console's runtime configuration, as LMS's ``/api/mfe_config/v1`` answers it: the
    build names no host, so one build serves on any port."""
    origin = _origin(request)
    return JsonResponse(
        {
            "BASE_URL": origin,
            "LMS_BASE_URL": origin,
            "STUDIO_BASE_URL": origin,
            "MARKETING_SITE_BASE_URL": origin,
            "LOGIN_URL": f"{origin}/login",
            "LOGOUT_URL": f"{origin}/logout",
            "REFRESH_ACCESS_TOKEN_ENDPOINT": f"{origin}/login_refresh",
            "LOGO_URL": f"{origin}/logo.svg",
            "LOGO_TRADEMARK_URL": f"{origin}/logo.svg",
            "LOGO_WHITE_URL": f"{origin}/logo.svg",
            "COURSE_AUTHORING_MICROFRONTEND_URL": f"{origin}{PUBLIC_PATH}authz",
            "SITE_NAME": "rolecall",
        }
    )


def logo(request: HttpRequest) -> HttpResponse:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="32">'
        '<text x="0" y="24" font-family="sans-serif" font-size="22">rolecall</text></svg>'
    )
    return HttpResponse(svg, content_type="image/svg+xml")


# ------------------------------------------------------------------ signing in


def _login_form(next_url: str, error: str = "", token: str = "") -> str:
    message = f'<p role="alert">{html.escape(error)}</p>' if error else ""
    return (
        "<!doctype html><html><head><title>Sign in</title></head><body><h1>Sign in</h1>"
        f'{message}<form method="post" action="/login">'
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{token}">'
        f'<input type="hidden" name="next" value="{html.escape(next_url)}">'
        '<label>Username <input name="username" autocomplete="username"></label>'
        '<label>Password <input name="password" type="password"></label>'
        '<button type="submit">Sign in</button></form></body></html>'
    )


def _safe_next(request: HttpRequest, raw: str) -> str:
    """``next`` when it points at this host (the console sends an absolute URL), else ``/``."""
    parts = urlsplit(raw)
    if parts.scheme and parts.netloc != request.get_host():
        return "/"
    if not raw.startswith(("/", "http")):
        return "/"
    return raw


def login_page(request: HttpRequest) -> HttpResponse:
    """The platform's sign-in: a form; a right password opens a Django session and goes on to
    ``next`` (where the console sends an anonymous visitor)."""
    if request.method == "POST":
        next_url = _safe_next(request, request.POST.get("next", "/"))
        user = authenticate(
            request,
            username=request.POST.get("username", ""),
            password=request.POST.get("password", ""),
        )
        if user is None:
            form = _login_form(next_url, "Wrong username or password.", get_token(request))
            return HttpResponse(form, status=400)
        login(request, user)
        return HttpResponseRedirect(next_url)
    next_url = _safe_next(request, request.GET.get("next", "/"))
    return HttpResponse(_login_form(next_url, token=get_token(request)))


def logout_page(request: HttpRequest) -> HttpResponse:
    logout(request)
    response = HttpResponseRedirect("/login")
    response.delete_cookie(HEADER_PAYLOAD)
    response.delete_cookie(SIGNATURE)
    return response


def jwt_for(user: Any) -> tuple[str, int]:
    """A JWT for ``user`` as LMS issues one to its micro-frontends, and when it expires."""
    now = int(time.time())
    expires = now + int(settings.JWT_LIFETIME)
    payload = {
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
        "iat": now,
        "exp": expires,
        "sub": f"user-{user.pk}",
        "version": "1.2.0",
        "scopes": ["user_id", "email", "profile"],
        "filters": [],
        "is_restricted": False,
        "preferred_username": user.username,
        "user_id": user.pk,
        "email": user.email,
        "email_verified": True,
        "name": user.get_full_name(),
        "given_name": user.first_name,
        "family_name": user.last_name,
        "administrator": False,
        "superuser": False,
    }
    return jwt.encode(payload, settings.JWT_SECRET, algorithm="HS256"), expires


@csrf_exempt
@require_POST
def login_refresh(request: HttpRequest) -> JsonResponse:
    """POST: new JWT cookies for the session's user (401 without a session), as LMS's
    ``login_refresh`` answers the micro-frontends' token refresh."""
    if not request.user.is_authenticated:
        return JsonResponse("Unauthorized", status=401, safe=False)
    token, expires = jwt_for(request.user)
    header_payload, signature = token.rsplit(".", 1)
    response = JsonResponse(
        {"response_epoch_seconds": time.time(), "expires_epoch_seconds": expires}
    )
    max_age = expires - int(time.time())
    # The header and payload are read by the console's script; the signature is not.
    response.set_cookie(HEADER_PAYLOAD, header_payload, max_age=max_age, samesite="Lax")
    response.set_cookie(SIGNATURE, signature, max_age=max_age, httponly=True, samesite="Lax")
    return response


# ------------------------------------------------------------------ LMS and Studio APIs


class PlatformView(APIView):
    """Authenticated as LMS's APIs are: the JWT first, then the session."""

    authentication_classes = [JwtAuthentication, SessionAuthenticationAllowInactiveUser]
    permission_classes = [IsAuthenticated]


class NotificationCountView(PlatformView):
    """GET LMS's ``/api/notifications/count/``, which the console's header asks: none."""

    def get(self, request: Request) -> Response:
        return Response(
            {
                "count": 0,
                "count_by_app_name": {},
                "show_notifications_tray": False,
                "notification_expiry_days": 60,
                "is_new_notification_view_enabled": False,
            }
        )


class AccountView(PlatformView):
    """GET ``/api/user/v1/accounts/<username>``: the fields the console reads (username,
    name, email). LMS shows another user's e-mail only to staff; the console's user page
    shows it to the administrators who open it."""

    def get(self, request: Request, username: str) -> Response:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            return Response({"developer_message": "Not found"}, status=404)
        return Response(
            {
                "id": user.pk,
                "username": user.username,
                "name": user.get_full_name(),
                "email": user.email,
                "is_active": user.is_active,
                "date_joined": user.date_joined.isoformat(),
                "last_login": user.last_login.isoformat() if user.last_login else None,
                "account_privacy": "private",
                "profile_image": {
                    "has_image": False,
                    "image_url_full": "",
                    "image_url_large": "",
                    "image_url_medium": "",
                    "image_url_small": "",
                },
                "bio": None,
                "country": None,
                "language_proficiencies": [],
                "social_links": [],
                "extended_profile": [],
                "year_of_birth": None,
            }
        )


class LibraryView(PlatformView):
    """GET Studio's ``/api/libraries/v2/<library_id>/``: a library's metadata, its title being
    the one recorded in rolecall (Studio reads its ContentLibrary)."""

    def get(self, request: Request, library_id: str) -> Response:
        rc = get_rolecall()
        with rc.reading() as index:
            known = library_id in index.known_scopes()
            title = index.scope_titles.get(library_id)
        if not known or not library_id.startswith("lib:"):
            return Response({"detail": "Not found."}, status=404)
        _, org, slug = library_id.split(":", 2)
        return Response(
            {
                "id": library_id,
                "type": "complex",
                "org": org,
                "slug": slug,
                "title": title or slug,
                "description": "",
                "allow_public_learning": False,
                "allow_public_read": False,
                "num_blocks": 0,
                "version": 1,
                "has_unpublished_changes": False,
                "has_unpublished_deletes": False,
            }
        )
