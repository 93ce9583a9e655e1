"""rolecall_openedx.authz_api against the real openedx-authz: the same call sequence, run on
openedx-authz (from PyPI, under its own test settings, in a child process) and on rolecall, must
give the same answers, call by call, on library and course scopes."""

from __future__ import annotations

from pathlib import Path

import authz_differential
import pytest
from authz_differential import child_answers

from rolecall.core import Rolecall
from rolecall_openedx import authz_api

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def openedx_authz_answers(tmp_path_factory: pytest.TempPathFactory) -> list[object]:
    pytest.importorskip("openedx_authz")  # make test installs it; say so if it is absent
    folder = tmp_path_factory.mktemp("openedx_authz")
    answers: list[object] = child_answers(HERE / "authz_differential.py", folder)
    return answers


@pytest.mark.django_db
def test_rolecall_answers_as_openedx_authz_does(
    rc: Rolecall, openedx_authz_answers: list[object]
) -> None:
    ours = authz_differential.run(authz_api)
    assert len(ours) == len(openedx_authz_answers)
    for mine, theirs in zip(ours, openedx_authz_answers, strict=True):
        assert mine == theirs
    # The sequence is not trivial: both allowed and denied checks, non-empty listings.
    allowed = [a for a in ours if a[0] == "is_user_allowed"]
    assert {a[2] for a in allowed} == {True, False}
    # ... on course scopes too (openedx-authz's CourseOverviewData), for every course role.
    on_courses = [a[2] for a in allowed if a[1][2].startswith("course-v1:")]
    assert len(on_courses) > 150
    assert 15 < sum(on_courses) < len(on_courses)
    assigned = {a[1][1] for a in ours if "assign_role_to_user" in a[0]}
    assert {r for r in assigned if r.startswith("course_")} == {
        "course_admin",
        "course_staff",
        "course_editor",
        "course_auditor",
        "course_limited_staff",
        "course_data_researcher",
        "course_beta_tester",
    }


@pytest.mark.django_db
def test_a_user_met_through_the_api_is_added(rc: Rolecall) -> None:
    assert authz_api.assign_role_to_user_in_scope("zoe", "library_user", "lib:Org1:math")
    assert "zoe" in {u for u, *_ in rc.users()}
    assert authz_api.is_user_allowed("zoe", "content_libraries.view_library", "lib:Org1:math")
    assert not authz_api.is_user_allowed("nobody", "content_libraries.view_library", "lib:Org1:x")
