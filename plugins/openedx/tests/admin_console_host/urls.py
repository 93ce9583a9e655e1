"""The host's URLs: LMS's and Studio's that the console calls, the console at its public path,
and rolecall-openedx's URL conf at ``/api/authz/v1/`` as the plugin URL config mounts it."""

from __future__ import annotations

from django.urls import include, path, re_path

from . import views

urlpatterns = [
    path("login", views.login_page),
    path("logout", views.logout_page),
    path("login_refresh", views.login_refresh),
    path("logo.svg", views.logo),
    # edx-drf-extensions' CSRF token API: /csrf/api/v1/token
    path("", include("csrf.urls")),
    path("api/mfe_config/v1", views.mfe_config),
    path("api/user/v1/accounts/<str:username>", views.AccountView.as_view()),
    path("api/notifications/count/", views.NotificationCountView.as_view()),
    path("api/libraries/v2/<str:library_id>/", views.LibraryView.as_view()),
    path("api/", include("rolecall_openedx.rest_api.urls")),
    re_path(r"^admin-console/(?P<path>.*)$", views.console),
]
