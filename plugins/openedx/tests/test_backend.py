"""has_perm through django.contrib.auth, answered by RolecallBackend beside ModelBackend and
bridgekeeper's backend."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import AnonymousUser, Permission, User
from django.contrib.contenttypes.models import ContentType
from opaque_keys.edx.keys import CourseKey, UsageKey

from openedx_test_project.stubs.models import CourseOverview
from rolecall.core import Rolecall
from rolecall_openedx import backends

NEW = "course-v1:MITx+6.002x+2026_T1"
OTHER = "course-v1:HarvardX+CS50+2026"
OLD = "MITx/6.002x/2012_Fall"
EDIT = "courses.edit_course_content"

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(rc: Rolecall) -> User:
    rc.add_user("ada")
    rc.assign("ada", "course_staff", NEW)
    rc.assign("ada", "course_staff", OLD)
    return User.objects.create_user("ada")


def test_has_perm_asks_rolecall_for_keys_and_objects(ada: User) -> None:
    assert ada.has_perm(EDIT, CourseKey.from_string(NEW))
    assert ada.has_perm(EDIT, CourseKey.from_string(OLD))
    assert ada.has_perm(EDIT, CourseOverview(id=NEW, org="MITx"))
    assert ada.has_perm(
        EDIT, UsageKey.from_string("block-v1:MITx+6.002x+2026_T1+type@html+block@x")
    )
    assert not ada.has_perm(EDIT, CourseKey.from_string(OTHER))
    assert not ada.has_perm("courses.manage_course_team", NEW)  # staff cannot
    assert not ada.has_perm(EDIT)  # no object: the platform, where ada holds nothing


def test_inactive_and_anonymous_users_have_nothing(ada: User) -> None:
    assert not AnonymousUser().has_perm(EDIT, NEW)
    ada.is_active = False
    assert not ada.has_perm(EDIT, NEW)
    assert ada.get_all_permissions(NEW) == set()


def test_a_platform_user_rolecall_never_saw_is_denied(rc: Rolecall) -> None:
    learner = User.objects.create_user("learner")
    assert not learner.has_perm(EDIT, NEW)
    assert learner.get_all_permissions(NEW) == set()


def test_permissions_rolecall_does_not_know_are_left_to_model_backend(ada: User) -> None:
    assert not ada.has_perm("auth.add_user")
    grant = Permission.objects.get(
        codename="add_user", content_type=ContentType.objects.get_for_model(User)
    )
    ada.user_permissions.add(grant)
    ada = User.objects.get(pk=ada.pk)  # a fresh object: Django caches permissions per object
    assert ada.has_perm("auth.add_user")  # ModelBackend said yes; rolecall did not object


def test_another_backends_permission_never_maps_the_object(
    ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The LMS asks every backend about every permission: for one rolecall does not register,
    the backend answers no before turning the object into a scope key (a cost per call)."""
    mapped: list[object] = []

    def counted(obj: object) -> str:
        mapped.append(obj)
        return str(obj)

    monkeypatch.setattr(backends, "scope_key", counted)
    assert not backends.RolecallBackend().has_perm(ada, "auth.change_user", NEW)
    assert mapped == []
    assert backends.RolecallBackend().has_perm(ada, EDIT, NEW)
    assert mapped == [NEW]


def test_get_all_permissions_lists_what_rolecall_allows_there(ada: User) -> None:
    found = ada.get_all_permissions(CourseKey.from_string(NEW))
    assert EDIT in found
    assert "courses.legacy_staff_role_permissions" in found
    assert "courses.manage_course_team" not in found


def test_an_object_with_no_scope_is_false_and_warned_once(
    ada: User, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backends, "_warned", set())

    class Widget:
        pass

    with caplog.at_level(logging.WARNING, logger="rolecall_openedx.backends"):
        assert not ada.has_perm(EDIT, Widget())
        assert not ada.has_perm(EDIT, Widget())
        assert not ada.has_perm(EDIT, "course-v1:broken")
    warnings = [r.getMessage() for r in caplog.records]
    assert len([w for w in warnings if "Widget" in w]) == 1
    assert len(warnings) == 2


def test_a_user_object_read_once_still_follows_its_state(ada: User) -> None:
    assert ada.has_perm(EDIT, NEW)
    ada.is_active = False  # the username is remembered on the object; its state is not
    assert not ada.has_perm(EDIT, NEW)
    ada.is_active = True
    assert ada.has_perm(EDIT, NEW)


def test_a_user_object_taking_no_attributes_is_read_each_time(ada: User) -> None:
    class Slotted:
        __slots__ = ("is_active", "name")
        is_anonymous = False

        def __init__(self, name: str) -> None:
            self.is_active = True
            self.name = name

        def get_username(self) -> str:
            return self.name

    backend = backends.RolecallBackend()
    user = Slotted("ada")
    assert backend.has_perm(user, EDIT, NEW)
    user.name = "nobody"
    assert not backend.has_perm(user, EDIT, NEW)
