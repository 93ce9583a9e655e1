"""One request sequence against the admin console's endpoints under ``/api/authz/v1/``, run
through Django's test client against any implementation and reduced to (status, JSON), so
openedx-authz's own views and rolecall's can be compared answer by answer.

``python rest_api_differential.py`` runs it against openedx-authz 0.23's views (the endpoints
that release has: ``permissions/validate/me``, ``roles/``, ``roles/users/``) under its own test
settings (``rest_api_differential_settings``: its models, casbin model and policy, stub
content libraries, and the user profile its views read), mounted under ``api/`` as LMS mounts
them, in a fresh SQLite database in the current folder, and prints the answers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any
from urllib.parse import quote

from django.urls import include, path

L1 = "lib:Org1:math"
L2 = "lib:Org1:physics"
USERS = ("alice", "bob", "carol", "dave", "erin", "root")
STAFF = "root"
"""Django staff: openedx-authz lets staff past its permission check (rolecall gives Django's
staff flag nothing), so its answers to staff show its validation."""
C1 = "course-v1:Org1+Math+2026_T1"
MANAGE_COURSES = "courses.manage_course_team"
V1 = "/api/authz/v1"
VIEW = "content_libraries.view_library"
DELETE = "content_libraries.delete_library"
TEAM = "content_libraries.manage_library_team"

SETUP = [
    ("alice", "library_admin", L1),
    ("erin", "course_admin", C1),
    ("bob", "library_author", L1),
    ("carol", "library_user", L2),
]
"""Grants made before the requests, through each side's openedx-authz user API."""

Request = tuple[str, str, str, Any]
"""(user or "" for anonymous, method, path, JSON body)."""

SEQUENCE: list[Request] = [
    ("alice", "GET", f"/roles/?scope={L1}", None),
    ("bob", "GET", f"/roles/?scope={L1}", None),
    ("alice", "GET", f"/roles/?scope={L1}&page_size=2&page=2", None),
    ("alice", "GET", f"/roles/?scope={L2}", None),
    ("dave", "GET", f"/roles/?scope={L1}", None),
    ("alice", "GET", "/roles/", None),
    ("alice", "GET", "/roles/?scope=not-a-scope", None),
    ("", "GET", f"/roles/?scope={L1}", None),
    ("alice", "GET", f"/roles/users/?scope={L1}", None),
    ("bob", "GET", f"/roles/users/?scope={L1}", None),
    ("alice", "GET", f"/roles/users/?scope={L1}&search=BOB", None),
    ("alice", "GET", f"/roles/users/?scope={L1}&search=example.org", None),
    ("alice", "GET", f"/roles/users/?scope={L1}&roles=library_author,library_user", None),
    ("alice", "GET", f"/roles/users/?scope={L1}&sort_by=email&order=desc", None),
    ("alice", "GET", f"/roles/users/?scope={L1}&page_size=1&page=2", None),
    ("alice", "GET", f"/roles/users/?scope={L1}&page=9", None),
    ("alice", "GET", f"/roles/users/?scope={L1}&sort_by=nothing", None),
    ("alice", "GET", f"/roles/users/?scope={L1}&order=up", None),
    ("dave", "GET", f"/roles/users/?scope={L1}", None),
    ("carol", "GET", f"/roles/users/?scope={L1}", None),
    ("", "GET", f"/roles/users/?scope={L1}", None),
    (
        "alice",
        "PUT",
        "/roles/users/",
        {
            "role": "library_user",
            "scope": L1,
            "users": ["carol", "erin@example.org", "ghost", "bob"],
        },
    ),
    ("alice", "PUT", "/roles/users/", {"role": "library_user", "scope": L1, "users": ["carol"]}),
    ("bob", "PUT", "/roles/users/", {"role": "library_admin", "scope": L1, "users": ["bob"]}),
    ("dave", "PUT", "/roles/users/", {"role": "library_admin", "scope": L1, "users": ["dave"]}),
    ("carol", "PUT", "/roles/users/", {"role": "library_admin", "scope": L2, "users": ["carol"]}),
    ("", "PUT", "/roles/users/", {"role": "library_admin", "scope": L1, "users": ["dave"]}),
    ("alice", "PUT", "/roles/users/", {"role": "course_staff", "scope": L1, "users": ["dave"]}),
    ("alice", "PUT", "/roles/users/", {"role": "library_user", "scope": L1, "users": []}),
    ("alice", "PUT", "/roles/users/", {"role": "library_user", "scope": L1}),
    ("alice", "GET", f"/roles/users/?scope={L1}", None),
    ("alice", "GET", f"/roles/?scope={L1}", None),
    ("alice", "DELETE", f"/roles/users/?role=library_user&scope={L1}&users=carol,ghost,dave", None),
    ("alice", "DELETE", f"/roles/users/?role=library_user&scope={L1}&users=ERIN@example.org", None),
    ("bob", "DELETE", f"/roles/users/?role=library_admin&scope={L1}&users=alice", None),
    ("dave", "DELETE", f"/roles/users/?role=library_admin&scope={L1}&users=alice", None),
    ("", "DELETE", f"/roles/users/?role=library_admin&scope={L1}&users=alice", None),
    ("alice", "DELETE", f"/roles/users/?role=library_user&scope={L1}", None),
    ("alice", "DELETE", f"/roles/users/?role=nope&scope={L1}&users=bob", None),
    ("alice", "GET", f"/roles/users/?scope={L1}", None),
    (
        "bob",
        "POST",
        "/permissions/validate/me",
        [
            {"action": VIEW, "scope": L1},
            {"action": DELETE, "scope": L1},
            {"action": TEAM, "scope": L1},
            {"action": VIEW, "scope": L2},
        ],
    ),
    ("dave", "POST", "/permissions/validate/me", [{"action": VIEW, "scope": L1}]),
    ("alice", "POST", "/permissions/validate/me", [{"action": TEAM, "scope": L1}]),
    ("alice", "POST", "/permissions/validate/me", [{"action": VIEW, "scope": "nope"}]),
    ("alice", "POST", "/permissions/validate/me", [{"scope": L1}]),
    ("alice", "POST", "/permissions/validate/me", {"action": VIEW, "scope": L1}),
    ("", "POST", "/permissions/validate/me", [{"action": VIEW, "scope": L1}]),
    # What the official admin console sends: page 1 of a course's roles without page_size,
    # org globs and scope-less items to validate, and missing or malformed scopes.
    ("erin", "GET", f"/roles/?scope={quote(C1)}", None),
    ("erin", "GET", f"/roles/users/?scope={quote(C1)}", None),
    (
        "erin",
        "POST",
        "/permissions/validate/me",
        [
            {"action": MANAGE_COURSES, "scope": "course-v1:Org1+*"},
            {"action": TEAM, "scope": "lib:Org1:*"},
        ],
    ),
    ("alice", "POST", "/permissions/validate/me", [{"action": TEAM}, {"action": MANAGE_COURSES}]),
    (
        "alice",
        "POST",
        "/permissions/validate/me",
        [{"action": TEAM, "scope": L1}, {"action": TEAM, "scope": "nope"}],
    ),
    (STAFF, "GET", "/roles/", None),
    (STAFF, "GET", "/roles/?scope=not-a-scope", None),
    (STAFF, "GET", "/roles/users/", None),
    (STAFF, "GET", "/roles/users/?scope=not-a-scope", None),
    (STAFF, "PUT", "/roles/users/", {"role": "library_user", "scope": "nope", "users": ["bob"]}),
    (STAFF, "PUT", "/roles/users/", {"role": "library_user", "users": ["bob"]}),
    (STAFF, "DELETE", "/roles/users/?role=library_user&scope=nope&users=bob", None),
    ("alice", "GET", "/roles/users/", None),
    ("alice", "PUT", "/roles/users/", {"role": "library_user", "scope": "nope", "users": ["bob"]}),
    ("alice", "DELETE", "/roles/users/?role=library_user&scope=nope&users=bob", None),
]


def normal(status: int, body: Any) -> Any:
    """The answer with what may legitimately differ in order put in order: the roles list of
    ``roles/`` (its order is each side's catalogue order) and each user's roles. A 400's body
    is reduced to the fields it names (the messages are each side's own words)."""
    if status == 400 and isinstance(body, dict) and "message" not in body:
        return sorted(body)
    if isinstance(body, dict) and isinstance(body.get("results"), list):
        results = []
        for row in body["results"]:
            row = dict(row)
            if isinstance(row.get("roles"), list):
                row["roles"] = sorted(row["roles"])
            if isinstance(row.get("permissions"), list):
                row["permissions"] = sorted(row["permissions"])
            results.append(row)
        if results and "role" in results[0] and "username" not in results[0]:
            results.sort(key=lambda r: r["role"])
        body = {**body, "results": results}
    return body


def run(
    api: ModuleType,
    client_of: Callable[[str], Any],
    sequence: list[Request] = SEQUENCE,
) -> list[Any]:
    """Make the grants of :data:`SETUP` through ``api``, then every request; the answers as
    [user, method, path, status, normalised JSON]."""
    for user, role, scope in SETUP:
        api.assign_role_to_user_in_scope(user, role, scope)
    answers = []
    for user, method, url, body in sequence:
        client = client_of(user)
        call = getattr(client, method.lower())
        if body is None:
            response = call(V1 + url)
        else:
            response = call(V1 + url, json.dumps(body), content_type="application/json")
        try:
            content = response.json() if response.content else None
        except ValueError:  # a server error's page
            content = None
        answers.append(
            [user, method, url, response.status_code, normal(response.status_code, content)]
        )
    return answers


def make_users() -> None:
    from django.contrib.auth import get_user_model

    User = get_user_model()
    for name in USERS:
        User.objects.create_user(name, email=f"{name}@example.org", is_staff=name == STAFF)


def clients() -> Callable[[str], Any]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    User = get_user_model()
    made: dict[str, Any] = {}

    def client_of(username: str) -> Any:
        if username not in made:
            client = Client(raise_request_exception=False)
            if username:
                client.force_login(User.objects.get(username=username))
            made[username] = client
        return made[username]

    return client_of


def _openedx_authz() -> list[Any]:
    os.environ["DJANGO_SETTINGS_MODULE"] = "rest_api_differential_settings"
    import django
    from django.conf import settings

    django.setup()
    # openedx-authz's URLs where LMS mounts them (its plugin URL config: ``^api/``).
    globals()["urlpatterns"] = [path("api/", include("openedx_authz.urls"))]
    settings.ROOT_URLCONF = __name__
    from authz_differential import load_openedx_authz
    from openedx_authz.api import users as api
    from openedx_authz.api.data import ContentLibraryData

    # Every library exists, as openedx-authz's own view tests have it (its stub library model
    # is not one its scope check can read) and as rolecall takes any well-formed library key.
    ContentLibraryData.exists = lambda self: True
    load_openedx_authz()
    make_users()
    return run(api, clients())


if __name__ == "__main__":
    print(json.dumps(_openedx_authz()))
