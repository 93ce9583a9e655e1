"""``authz/v1/...``: include under ``api/`` (the plugin URL config does so in LMS and Studio)."""

from __future__ import annotations

from django.urls import include, path

from . import views

app_name = "rolecall_authz"

v1 = [
    path(
        "permissions/validate/me",
        views.PermissionValidationMeView.as_view(),
        name="permission-validation-me",
    ),
    path("roles/", views.RoleListView.as_view(), name="role-list"),
    path("roles/users/", views.RoleUserView.as_view(), name="role-user-list"),
    path("users/", views.TeamMembersView.as_view(), name="user-list"),
    path("users/validate/", views.UserValidationView.as_view(), name="user-validation"),
    path(
        "users/<str:username>/assignments/",
        views.UserAssignmentsView.as_view(),
        name="user-assignment-list",
    ),
    path("assignments/", views.AssignmentsView.as_view(), name="assignment-list"),
    path("orgs/", views.OrgsView.as_view(), name="orgs-list"),
    path("scopes/", views.ScopesView.as_view(), name="scope-list"),
    path("waffle-flag-states/", views.WaffleFlagStatesView.as_view(), name="waffle-flag-states"),
]

urlpatterns = [path("authz/v1/", include(v1))]
