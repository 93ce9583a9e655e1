"""The admin console's endpoints that openedx-authz 0.23 has (``permissions/validate/me``,
``roles/``, ``roles/users/`` GET, PUT and DELETE): one request sequence, run on openedx-authz's
own views (from PyPI, under its own test settings, in a child process) and on rolecall's, must
give the same status codes and JSON, request by request, except the intended differences in
:data:`INTENDED` (docs/openedx.md, "What differs"), where rolecall's answer is the one given
there and openedx-authz's is another."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import rest_api_differential as differential
from authz_differential import child_answers
from rest_api_differential import C1, L1, MANAGE_COURSES, STAFF, TEAM, VIEW

from rolecall.core import Rolecall
from rolecall_openedx import authz_api

HERE = Path(__file__).parent
INVALID = "Invalid scope format"
# openedx-authz 0.23's course roles (its authz.policy): rolecall lists them and more.
AUTHZ_COURSE_ROLES = {
    "course_admin",
    "course_staff",
    "course_editor",
    "course_auditor",
    "course_data_researcher",
    "course_beta_tester",
    "course_limited_staff",
}


def _every_course_role_in_one_page(status: int, body: Any) -> bool:
    roles = {row["role"] for row in body["results"]}
    return (
        status == 200
        and body["count"] == len(body["results"])
        and body["next"] is None
        and roles >= AUTHZ_COURSE_ROLES
        and "discussion_student" not in roles  # derived: nobody is given it
    )


Expected = tuple[int, Any] | Callable[[int, Any], bool]
INTENDED: dict[tuple[str, str, str, str], tuple[Expected, str]] = {
    ("alice", "GET", "/roles/", "null"): (
        (400, ["scope"]),
        "a missing or malformed scope is a 400 before any permission decision; openedx-authz "
        "0.23 answers it only to Django staff, and a 403 to anyone else",
    ),
    ("alice", "GET", "/roles/?scope=not-a-scope", "null"): ((400, ["scope"]), "as above"),
    ("alice", "GET", "/roles/users/", "null"): ((400, ["scope"]), "as above"),
    (
        "alice",
        "PUT",
        "/roles/users/",
        json.dumps({"role": "library_user", "scope": "nope", "users": ["bob"]}),
    ): (
        (400, ["non_field_errors"]),
        "as above",
    ),
    ("alice", "DELETE", "/roles/users/?role=library_user&scope=nope&users=bob", "null"): (
        (400, ["non_field_errors"]),
        "as above",
    ),
    (STAFF, "GET", "/roles/users/?scope=not-a-scope", "null"): (
        (400, ["scope"]),
        "openedx-authz 0.23 fails with a server error",
    ),
    (
        "alice",
        "POST",
        "/permissions/validate/me",
        json.dumps([{"action": VIEW, "scope": "nope"}]),
    ): (
        (200, [{"action": VIEW, "scope": "nope", "allowed": False, "error": INVALID}]),
        "each item is answered on its own: a scope rolecall cannot read is that item's error",
    ),
    (
        "alice",
        "POST",
        "/permissions/validate/me",
        json.dumps([{"action": TEAM, "scope": L1}, {"action": TEAM, "scope": "nope"}]),
    ): (
        (
            200,
            [
                {"action": TEAM, "scope": L1, "allowed": True},
                {"action": TEAM, "scope": "nope", "allowed": False, "error": INVALID},
            ],
        ),
        "as above",
    ),
    (
        "alice",
        "POST",
        "/permissions/validate/me",
        json.dumps([{"action": TEAM}, {"action": MANAGE_COURSES}]),
    ): (
        (200, [{"action": TEAM, "allowed": True}, {"action": MANAGE_COURSES, "allowed": False}]),
        "an item without a scope asks about some scope, as newer openedx-authz answers it",
    ),
    (
        "erin",
        "POST",
        "/permissions/validate/me",
        json.dumps(
            [
                {"action": MANAGE_COURSES, "scope": "course-v1:Org1+*"},
                {"action": TEAM, "scope": "lib:Org1:*"},
            ]
        ),
    ): (
        (
            200,
            [
                {"action": MANAGE_COURSES, "scope": "course-v1:Org1+*", "allowed": False},
                {"action": TEAM, "scope": "lib:Org1:*", "allowed": False},
            ],
        ),
        "org globs are read, as newer openedx-authz reads them (erin runs one course only)",
    ),
    ("erin", "GET", f"/roles/?scope={quote(C1)}", "null"): (
        _every_course_role_in_one_page,
        "openedx-authz 0.23's REST API serves no course scope; rolecall lists every course role "
        "an admin can assign, in one page at the console's default request",
    ),
    ("erin", "GET", f"/roles/users/?scope={quote(C1)}", "null"): (
        (
            200,
            {
                "count": 1,
                "next": None,
                "previous": None,
                "results": [
                    {
                        "username": "erin",
                        "full_name": "",
                        "email": "erin@example.org",
                        "roles": ["course_admin"],
                    }
                ],
            },
        ),
        "as above: course teams are served",
    ),
}


@pytest.fixture(scope="module")
def openedx_authz_answers(tmp_path_factory: pytest.TempPathFactory) -> list[list[object]]:
    pytest.importorskip("openedx_authz")  # make test installs it; say so if it is absent
    folder = tmp_path_factory.mktemp("openedx_authz_rest")
    answers: list[list[object]] = child_answers(HERE / "rest_api_differential.py", folder)
    return answers


def _key(request: differential.Request) -> tuple[str, str, str, str]:
    user, method, url, body = request
    return user, method, url, json.dumps(body)


def test_every_intended_difference_is_a_request_of_the_sequence() -> None:
    asked = {_key(r) for r in differential.SEQUENCE}
    assert set(INTENDED) <= asked


@pytest.mark.django_db
def test_rolecall_answers_the_console_as_openedx_authz_does(
    rc: Rolecall, openedx_authz_answers: list[list[object]]
) -> None:
    differential.make_users()
    ours = json.loads(json.dumps(differential.run(authz_api, differential.clients())))
    assert len(ours) == len(openedx_authz_answers) == len(differential.SEQUENCE)
    for request, mine, theirs in zip(
        differential.SEQUENCE, ours, openedx_authz_answers, strict=True
    ):
        intended = INTENDED.get(_key(request))
        if intended is None:
            assert mine == theirs
            continue
        expected, _why = intended
        status, body = mine[3], mine[4]
        if callable(expected):
            assert expected(status, body), mine
        else:
            assert [status, body] == list(expected), mine
        assert mine != theirs, f"no longer a difference: {request}"
    # Not trivial: every kind of answer is in it.
    assert {a[3] for a in ours} == {200, 207, 400, 401, 403, 404}
