"""The platform's course list is rolecall's scope catalogue: a course the platform has is a
known scope, a case-only difference is answered "did you mean", the picker finds courses by key
or title, and a key the platform does not have is refused until it is created."""

from __future__ import annotations

import pytest
from conftest import MYSQL
from django.test import override_settings

from openedx_test_project.stubs.models import CourseOverview
from rolecall.core import Rolecall, UnknownScopeError
from rolecall.core.known_scopes import find

C1 = "course-v1:MITx+6.002x+2026_T1"
C2 = "course-v1:MITx+18.01x+2026_T1"
OLD = "MITx/6.00x/2012_Fall"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


@pytest.fixture
def catalogue() -> object:
    CourseOverview.objects.create(id=C1, org="MITx", display_name="Circuits and Electronics")
    CourseOverview.objects.create(id=C2, org="MITx", display_name="Single Variable Calculus")
    CourseOverview.objects.create(id=OLD, org="MITx", display_name="Intro to CS")
    with override_settings(ROLECALL_COURSE_OVERVIEW_MODEL="stubs.CourseOverview"):
        yield


def _setup(rc: Rolecall) -> None:
    rc.add_users(["root", "olivia", "grace"])
    rc.assign("root", "platform_admin", "platform")
    rc.assign("olivia", "org_admin", "org:MITx")


def test_a_course_the_platform_has_is_a_known_scope(rc: Rolecall) -> None:
    _setup(rc)
    assert rc.unknown_scope(C2) is None  # never recorded in rolecall
    assert rc.unknown_scope(OLD) is None  # old-style keys too
    rc.assign("grace", "course_staff", C2, as_user="olivia", known_only=True)
    assert rc.check("grace", "courses.view_course", C2)


def test_a_case_only_difference_is_answered_did_you_mean(rc: Rolecall) -> None:
    _setup(rc)
    with pytest.raises(UnknownScopeError) as caught:
        rc.assign("grace", "course_staff", C2.lower(), as_user="olivia", known_only=True)
    assert caught.value.suggestion == C2
    assert rc.grants("grace") == []


def test_a_course_the_platform_lacks_is_refused(rc: Rolecall) -> None:
    _setup(rc)
    missing = "course-v1:MITx+6.002x+2062_T1"
    with pytest.raises(UnknownScopeError, match="create it first"):
        rc.assign("grace", "course_staff", missing, as_user="olivia", known_only=True)
    assert rc.unknown_scope("course-v1:HarvardX+*") is not None  # no HarvardX course
    assert rc.unknown_scope("org:mitx") is not None  # an org differing in case
    assert rc.unknown_scope("course-v1:MITx+*") is None


def test_the_picker_finds_courses_by_key_or_title(rc: Rolecall) -> None:
    assert find(rc.plugins, "calculus", 10) == [(C2, "Single Variable Calculus")]
    # By key, limited: in the order of the platform's database, which on MariaDB is its
    # case-insensitive collation's (course-v1:... before MITx/...).
    first = [C2, C1] if MYSQL else [OLD, C2]
    assert [key for key, _ in find(rc.plugins, "mitx", 2)] == first
    assert find(rc.plugins, "nothing like it", 10) == []


def test_the_catalogue_can_be_turned_off(rc: Rolecall) -> None:
    with override_settings(ROLECALL_SCOPE_CATALOGUE=False):
        assert rc.unknown_scope(C2) is not None
        assert find(rc.plugins, "calculus", 10) == []
