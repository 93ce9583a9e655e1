"""rolecall_openedx.authz_api: openedx-authz's API answered by rolecall.

Against the real openedx-authz: the same call sequence, run on openedx-authz 0.23 (from PyPI,
under its own test settings, in a child process) and on rolecall, must give the same answers,
call by call, on library and course scopes. Against the newest openedx-authz (1.23, which needs
a newer Python than this one and so cannot be installed here): the names and signatures of its
API and its data classes, recorded from its source in ``openedx_authz_surface.json``. The rest,
with the platform's real Django users: what 0.23 cannot show (the functions it lacks, globs),
and where rolecall refuses what openedx-authz would store (a username the platform does not
have).
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import MISSING, fields, is_dataclass
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Any

import authz_differential
import pytest
from authz_differential import child_answers
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, models
from openedx_authz_surface import surface

from openedx_test_project.stubs.models import CourseOverview
from rolecall.core import BadInputError, Rolecall, ScopeKeyError
from rolecall_openedx import authz_api as api

HERE = Path(__file__).parent
SURFACE: dict[str, Any] = json.loads((HERE / "openedx_authz_surface.json").read_text())

L1, L2, L3 = "lib:Org1:math", "lib:Org1:physics", "lib:Org2:art"
C1, C2, C3 = (
    "course-v1:Org1+Math+2026_T1",
    "course-v1:Org1+Physics+2026_T1",
    "course-v1:Org2+Art+2026_T1",
)
VIEW = "content_libraries.view_library"
VIEW_COURSE = "courses.view_course"


def people(*names: str, **flags: Any) -> list[Any]:
    """Platform users (Django's user model), with an e-mail each."""
    User = get_user_model()
    return [User.objects.create_user(n, email=f"{n}@example.org", **flags) for n in names]


# ------------------------------------------------------------------ against openedx-authz 0.23


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
    people(*authz_differential.USERS)
    ours = json.loads(json.dumps(authz_differential.run(api)))
    assert len(ours) == len(openedx_authz_answers)
    for mine, theirs in zip(ours, openedx_authz_answers, strict=True):
        assert mine == theirs
    # The sequence is not trivial: both allowed and denied checks, non-empty listings.
    allowed = [a for a in ours if a[0] == "is_user_allowed" and isinstance(a[2], bool)]
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
    # A user holding two roles on a scope is one record of that scope's listing, with both.
    listings = [a[2] for a in ours if a[0].startswith("get_all_") and a[0].endswith("_in_scope")]
    assert any(len(record[1]) == 2 for listing in listings for record in listing)
    # Malformed scope keys raise on both sides, for changes and reads alike.
    raising = {a[0] for a in ours if a[2] == ["raises", "ValueError"]}
    assert {"assign_role_to_user_in_scope", "unassign_role_from_user", "is_user_allowed"} <= raising
    assert "unassign_role_from_subject_in_scope" in raising
    # Every function 0.23 has is in the sequence (read from its source: importing its API
    # needs its own settings), but the roles' names: rolecall has more roles than its policy.
    spec = importlib.util.find_spec("openedx_authz")
    assert spec is not None
    assert spec.origin is not None
    installed = surface(Path(spec.origin).parent.parent, commit="installed")
    assert installed["version"] == "0.23.0"
    assert {a[0] for a in ours} == set(installed["functions"]) - {
        *NOT_OFFERED,
        "get_all_roles_names",
    }


# ------------------------------------------------------------------ one record per user


@pytest.mark.django_db
def test_a_scope_listing_has_one_record_per_user_with_all_their_roles(rc: Rolecall) -> None:
    people("ann", "ben")
    api.assign_role_to_user_in_scope("ann", "course_staff", C1)
    api.assign_role_to_user_in_scope("ann", "course_auditor", C1)
    api.assign_role_to_user_in_scope("ben", "course_auditor", C1)
    api.assign_role_to_user_in_scope("ann", "course_admin", C2)  # another scope: not listed
    records = api.get_all_user_role_assignments_in_scope(C1)
    assert [(r.subject.username, [x.external_key for x in r.roles]) for r in records] == [
        ("ann", ["course_staff", "course_auditor"]),
        ("ben", ["course_auditor"]),
    ]
    assert all(isinstance(r.scope, api.CourseOverviewData) for r in records)
    assert {r.scope.course_id for r in records} == {C1}
    # Each role carries its permissions.
    assert VIEW_COURSE in records[0].roles[0].get_permission_identifiers()
    # The other listings keep one role per record, as openedx-authz's do.
    assert len(api.get_user_role_assignments_in_scope("ann", C1)) == 2


# ------------------------------------------------------------------ unknown actions


@pytest.mark.django_db
def test_an_unknown_action_is_denied_and_logged_once(
    rc: Rolecall, caplog: pytest.LogCaptureFixture
) -> None:
    people("ann")
    api.assign_role_to_user_in_scope("ann", "library_admin", L1)
    action, other = f"content_libraries.typo_{uuid.uuid4().hex}", f"x_{uuid.uuid4().hex}"
    with caplog.at_level(logging.WARNING, logger="rolecall_openedx.authz_api"):
        assert api.is_user_allowed("ann", action, L1) is False
        assert api.is_user_allowed("ann", action, L2) is False
        ann, typo = api.UserData(external_key="ann"), api.ActionData(external_key=action)
        assert api.is_subject_allowed(ann, typo, api.ScopeData(external_key=L1)) is False
        assert api.is_user_allowed_in_any_scope("ann", action) is False
        assert api.is_user_allowed("nobody", other, L1) is False
    logged = [r.getMessage() for r in caplog.records if r.name == "rolecall_openedx.authz_api"]
    assert len(logged) == 2
    assert action in logged[0]
    assert other in logged[1]
    # Known actions still answer as before; a malformed scope still raises.
    assert api.is_user_allowed("ann", VIEW, L1)
    with pytest.raises(ValueError, match="malformed library key"):
        api.is_user_allowed("ann", action, "lib:Org1")


# ------------------------------------------------------------------ malformed scopes


@pytest.mark.django_db
def test_unassigning_on_a_malformed_scope_raises_as_assigning_does(rc: Rolecall) -> None:
    people("ann")
    api.assign_role_to_user_in_scope("ann", "library_user", L1)
    for call in (
        api.assign_role_to_user_in_scope,
        api.unassign_role_from_user,
        lambda u, r, s: api.batch_unassign_role_from_users([u], r, s),
        lambda u, r, s: api.batch_assign_role_to_users_in_scope([u], r, s),
    ):
        with pytest.raises(ScopeKeyError, match="malformed library key 'lib:Org1'"):
            call("ann", "library_user", "lib:Org1")
    # ScopeKeyError is a ValueError, as openedx-authz raises, and a BadInputError.
    assert issubclass(ScopeKeyError, ValueError)
    assert issubclass(ScopeKeyError, BadInputError)
    with pytest.raises(ValueError, match="unknown scope key"):
        api.unassign_role_from_user("ann", "library_user", "nope")
    # Well-formed: False when not held (an unknown role or user too), True when removed.
    assert api.unassign_role_from_user("ann", "library_user", L2) is False
    assert api.unassign_role_from_user("ann", "no_such_role", L1) is False
    assert api.unassign_role_from_user("nobody", "library_user", L1) is False
    assert api.unassign_role_from_user("ann", "library_user", L1) is True
    assert api.get_user_role_assignments("ann") == []


# ------------------------------------------------------------------ users of the platform


@pytest.fixture(scope="module")
def retirement_requests(django_db_setup: None, django_db_blocker: Any) -> type[models.Model]:
    """edx-platform's UserRetirementRequest, reduced to its one-to-one to the user (the
    relation the platform's retirement pipeline adds before it deactivates an account), with
    its table. It is kept for the rest of the session: once the relation exists, every
    ``hasattr(user, "userretirementrequest")`` reads that table."""
    model = apps.all_models["stubs"].get("userretirementrequest")
    if model is None:

        class UserRetirementRequest(models.Model):
            user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)

            class Meta:
                app_label = "stubs"

        model = UserRetirementRequest
    with django_db_blocker.unblock():
        if model._meta.db_table not in connection.introspection.table_names():
            with connection.schema_editor() as editor:
                editor.create_model(model)
    return model


@pytest.mark.django_db
def test_a_username_the_platform_does_not_have_is_refused(rc: Rolecall) -> None:
    people("ann")
    with pytest.raises(api.UnknownUserError, match="'anne'") as caught:
        api.assign_role_to_user_in_scope("anne", "library_admin", L1)
    assert caught.value.usernames == ("anne",)
    assert isinstance(caught.value, BadInputError)  # and so a ValueError
    subject = api.UserData(external_key="anne")
    with pytest.raises(api.UnknownUserError):
        api.assign_role_to_subject_in_scope(
            subject, api.RoleData(external_key="library_admin"), api.ScopeData(external_key=L1)
        )
    # Nothing was stored: no grant, and no rolecall user a later account would inherit from.
    assert api.get_user_role_assignments("anne") == []
    assert "anne" not in {u for u, *_ in rc.users()}
    assert rc.audit(user="anne") == []
    # The platform's user is given the role, and met by rolecall with their e-mail.
    assert api.assign_role_to_user_in_scope("ann", "library_admin", L1) is True
    assert api.assign_role_to_user_in_scope("ann", "library_admin", L1) is False
    assert ("ann", "ann@example.org") in {(u, e) for u, e, *_ in rc.users()}
    assert api.is_user_allowed("ann", VIEW, L1)
    # A later account named like the typo inherits nothing.
    people("anne")
    assert not api.is_user_allowed("anne", VIEW, L1)


@pytest.mark.django_db
def test_a_batch_naming_an_unknown_user_writes_nothing(rc: Rolecall) -> None:
    people("ann", "ben")
    revision = rc.revision
    with pytest.raises(api.UnknownUserError) as caught:
        api.batch_assign_role_to_users_in_scope(["ann", "bne", "ben", "cat"], "library_user", L1)
    assert caught.value.usernames == ("bne", "cat")
    assert "'bne'" in str(caught.value)
    assert "'cat'" in str(caught.value)
    assert rc.revision == revision
    assert api.get_all_user_role_assignments_in_scope(L1) == []
    assert {u for u, *_ in rc.users()} == set()
    subjects = [api.UserData(external_key=n) for n in ("ann", "zed")]
    role, scope = api.RoleData(external_key="library_user"), api.ScopeData(external_key=L1)
    with pytest.raises(api.UnknownUserError, match="'zed'"):
        api.batch_assign_role_to_subjects_in_scope(subjects, role, scope)
    assert rc.revision == revision
    # Without the unknown ones, in one change.
    api.batch_assign_role_to_users_in_scope(["ann", "ben", "ann"], "library_user", L1)
    assert {a.subject.username for a in api.get_all_user_role_assignments_in_scope(L1)} == {
        "ann",
        "ben",
    }


@pytest.mark.django_db
def test_a_user_being_retired_counts_as_none(
    rc: Rolecall, retirement_requests: type[models.Model]
) -> None:
    _ann, ben = people("ann", "ben")
    retirement_requests.objects.create(user=ben)
    with pytest.raises(api.UnknownUserError, match="'ben'"):
        api.assign_role_to_user_in_scope("ben", "library_user", L1)
    with pytest.raises(api.UnknownUserError) as caught:
        api.batch_assign_role_to_users_in_scope(["ann", "ben"], "library_user", L1)
    assert caught.value.usernames == ("ben",)
    assert api.get_all_user_role_assignments_in_scope(L1) == []
    valid, invalid = api.validate_users(["ann", "ben", "ben@example.org"])
    assert (valid, invalid) == (["ann"], ["ben", "ben@example.org"])
    assert api.assign_role_to_user_in_scope("ann", "library_user", L1)


@pytest.mark.django_db
def test_validate_users_takes_usernames_and_emails_of_active_users(rc: Rolecall) -> None:
    people("ann", "ben")
    people("old", is_active=False)
    valid, invalid = api.validate_users(["ann", "ben@example.org", "old", "nobody", "x@y.z"])
    assert valid == ["ann", "ben@example.org"]
    assert invalid == ["old", "nobody", "x@y.z"]
    assert api.validate_users([]) == ([], [])


# ------------------------------------------------------------------ openedx-authz's globs


@pytest.mark.django_db
def test_org_and_platform_globs_are_rolecall_org_and_platform_grants(rc: Rolecall) -> None:
    people("ann", "ben", "cat")
    assert api.assign_role_to_user_in_scope("ann", "course_staff", "course-v1:Org1+*")
    assert not api.assign_role_to_user_in_scope("ann", "course_staff", "course-v1:Org1+*")
    assert api.assign_role_to_user_in_scope("ben", "library_user", "lib:Org2:*")
    assert api.assign_role_to_user_in_scope("cat", "course_auditor", "course-v1:*")
    # Stored as rolecall's org-wide and platform-wide grants ...
    assert [(g.role, g.scope) for g in rc.grants("ann")] == [("course_staff", "org:Org1")]
    assert [g.scope for g in rc.grants("cat")] == ["platform"]
    # ... that reach every course (library) of the org, and no other.
    assert api.is_user_allowed("ann", VIEW_COURSE, C1)
    assert api.is_user_allowed("ann", VIEW_COURSE, C2)
    assert not api.is_user_allowed("ann", VIEW_COURSE, C3)
    assert api.is_user_allowed("ann", VIEW_COURSE, "course-v1:Org1+*")
    assert api.is_user_allowed("ben", VIEW, L3)
    assert not api.is_user_allowed("ben", VIEW, L1)
    assert api.is_user_allowed("cat", VIEW_COURSE, C3)
    # Listed under the glob of the role's kind, in the glob classes.
    [mine] = api.get_user_role_assignments("ann")
    assert isinstance(mine.scope, api.OrgCourseOverviewGlobData)
    assert (mine.scope.external_key, mine.scope.org) == ("course-v1:Org1+*", "Org1")
    assert mine.scope.namespaced_key == "course-v1^course-v1:Org1+*"
    assert mine.scope.IS_GLOB
    assert mine.scope.IS_ORG_GLOB
    [theirs] = api.get_user_role_assignments("ben")
    assert isinstance(theirs.scope, api.OrgContentLibraryGlobData)
    assert theirs.scope.external_key == "lib:Org2:*"
    [everywhere] = api.get_user_role_assignments("cat")
    assert isinstance(everywhere.scope, api.PlatformCourseOverviewGlobData)
    assert everywhere.scope.external_key == "course-v1:*"
    assert api.RoleAssignmentData.filter_platform_glob_assignments([mine, everywhere]) == [
        everywhere
    ]
    # Asked about by the glob: the roles of its kind there.
    [team] = api.get_all_user_role_assignments_in_scope("course-v1:Org1+*")
    assert team.subject.username == "ann"
    assert isinstance(team.scope, api.OrgCourseOverviewGlobData)
    assert api.get_all_user_role_assignments_in_scope("lib:Org1:*") == []
    assert [
        u.username for u in api.get_users_for_role_in_scope("course_auditor", "course-v1:*")
    ] == ["cat"]
    assert api.get_scopes_for_user_and_permission("ann", VIEW_COURSE) == [mine.scope]
    # A role of another kind is refused on a glob (it would reach what the glob does not name).
    with pytest.raises(BadInputError, match=r"not a course role: .* give it on lib:Org1:\*"):
        api.assign_role_to_user_in_scope("ann", "library_user", "course-v1:Org1+*")
    with pytest.raises(BadInputError, match="org_admin is not a library role"):
        api.assign_role_to_user_in_scope("ann", "org_admin", "lib:Org1:*")
    assert api.get_user_role_assignments_filtered(role_external_key="library_user") == [theirs]
    with pytest.raises(ValueError, match=r"malformed course key 'course-v1:Org 1\+\*'"):
        api.assign_role_to_user_in_scope("ann", "course_staff", "course-v1:Org 1+*")
    # And removed by the glob.
    assert api.unassign_role_from_user("ann", "course_staff", "course-v1:Org1+*")
    assert not api.is_user_allowed("ann", VIEW_COURSE, C1)


@pytest.mark.django_db
def test_a_grant_on_an_org_of_a_role_of_no_one_kind_is_a_plain_scope(rc: Rolecall) -> None:
    people("ann")
    rc.add_user("ann")
    rc.assign("ann", "org_admin", "org:Org1")
    [record] = api.get_user_role_assignments("ann")
    assert type(record.scope) is api.ScopeData
    assert (record.scope.external_key, record.scope.namespaced_key) == (
        "org:Org1",
        "global^org:Org1",
    )
    assert [a.subject.username for a in api.get_all_user_role_assignments_in_scope("org:Org1")] == [
        "ann"
    ]


# ------------------------------------------------------------------ the data classes


def test_scope_data_is_the_class_of_its_key() -> None:
    cases = {
        C1: api.CourseOverviewData,
        "MITx/6.002x/2012_Fall": api.CourseOverviewData,
        L1: api.ContentLibraryData,
        "library-v1:Org1+old": api.ContentLibraryData,
        "course-v1:Org1+*": api.OrgCourseOverviewGlobData,
        "lib:Org1:*": api.OrgContentLibraryGlobData,
        "course-v1:*": api.PlatformCourseOverviewGlobData,
        "lib:*": api.PlatformContentLibraryGlobData,
        "org:Org1": api.ScopeData,
        "platform": api.ScopeData,
    }
    for key, cls in cases.items():
        scope = api.ScopeData(external_key=key)
        assert type(scope) is cls, key
        assert scope.external_key == key
        namespace = cls.NAMESPACE
        assert scope.namespaced_key == f"{namespace}^{key}"
        again = api.ScopeData(namespaced_key=scope.namespaced_key)
        assert type(again) is cls
        assert again == scope
    course = api.ScopeData(external_key=C1)
    assert isinstance(course, api.CourseOverviewData)
    assert (course.course_id, str(course.course_key), course.org) == (C1, C1, "Org1")
    library = api.ScopeData(external_key=L1)
    assert isinstance(library, api.ContentLibraryData)
    assert (library.library_id, str(library.library_key), library.org) == (L1, L1, "Org1")
    assert api.ScopeData(external_key="library-v1:Org1+old").org == "Org1"  # type: ignore[attr-defined]
    # Namespace wildcards (where openedx-authz defines roles) are plain ScopeData.
    assert type(api.ScopeData(namespaced_key="lib^*")) is api.ScopeData
    for bad in ("*", "lib:Org1", "course-v1:Org1+Math", "lib:Org1:ma*th", "course-v1:+*"):
        with pytest.raises(ValueError, match=r"[Ii]nvalid|not a valid scope"):
            api.ScopeData(external_key=bad)
    with pytest.raises(ValueError, match="not a valid scope"):
        api.ScopeData(namespaced_key="global^*")
    assert api.OrgCourseOverviewGlobData.build_external_key("Org1") == "course-v1:Org1+*"
    assert api.OrgContentLibraryGlobData.get_org("lib:Org1:*") == "Org1"
    assert api.PlatformContentLibraryGlobData.build_external_key() == "lib:*"
    assert (
        api.CourseOverviewData.get_admin_view_permission().identifier == "courses.view_course_team"
    )
    assert api.OrgContentLibraryGlobData.get_admin_manage_permission() == api.PermissionData(
        action=api.ActionData(external_key="content_libraries.manage_library_team")
    )
    with pytest.raises(NotImplementedError):
        api.ScopeData.get_admin_view_permission()


def test_the_other_data_classes_carry_what_callers_read() -> None:
    user = api.SubjectData(namespaced_key="user^ann")
    assert type(user) is api.UserData
    assert user.username == "ann"
    assert str(user) == "ann"
    assert api.UserData(external_key="ann").namespaced_key == "user^ann"
    role = api.RoleData(external_key="library_admin")
    assert (role.namespaced_key, role.name) == ("role^library_admin", "Library Admin")
    assert role == api.RoleData(
        namespaced_key="role^library_admin", permissions=[api.PermissionData()]
    )
    action = api.ActionData(external_key="content_libraries.delete_library")
    assert action.name == "Content Libraries > Delete Library"
    assert action.namespaced_key == "act^content_libraries.delete_library"
    permission = api.PermissionData(action=action)
    assert (permission.identifier, permission.effect) == (action.external_key, "allow")
    assert permission != api.PermissionData(action=action, effect="deny")
    assert [p.name for p in api.GroupingPolicyIndex] == ["SUBJECT", "ROLE", "SCOPE"]
    with pytest.raises(ValueError, match="Either external_key or namespaced_key"):
        api.UserData()


@pytest.mark.django_db
def test_a_scope_exists_as_rolecall_decides_it_for_a_grant(rc: Rolecall) -> None:
    CourseOverview.objects.create(id=C1, org="Org1", display_name="Math")
    course = api.ScopeData(external_key=C1)
    assert course.exists()
    assert course.get_object() == CourseOverview.objects.get(id=C1)
    other = api.ScopeData(external_key=C2)
    assert not other.exists()
    assert other.get_object() is None
    assert api.ScopeData(
        external_key="course-v1:Org1+*"
    ).exists()  # the platform has an Org1 course
    assert not api.ScopeData(external_key="lib:Org9:*").exists()
    assert api.ScopeData(external_key="lib:*").exists()
    assert not api.ScopeData(external_key=L1).exists()
    rc.add_scopes([L1])
    assert api.ScopeData(external_key=L1).exists()
    assert api.ScopeData(external_key=L1).get_object() is None  # no platform library model here


# ------------------------------------------------------------------ openedx-authz 1.23's functions


@pytest.fixture
def team(rc: Rolecall) -> Iterator[dict[str, Any]]:
    """ann: library_admin on L1 and course_admin on C1; ben: library_user on L1 and L3; cat:
    course_staff on C1 and C3; vic (the viewer) library_user on L1 and nothing else; pam the
    platform administrator; stu a Django superuser and staff member without a role."""
    made = {u.username: u for u in people("ann", "ben", "cat", "vic", "pam")}
    made.update({u.username: u for u in people("stu", is_staff=True, is_superuser=True)})
    for user, role, scope in (
        ("ann", "library_admin", L1),
        ("ann", "course_admin", C1),
        ("ben", "library_user", L1),
        ("ben", "library_user", L3),
        ("cat", "course_staff", C1),
        ("cat", "course_staff", C3),
        ("vic", "library_user", L1),
        ("pam", "platform_admin", "platform"),
    ):
        api.assign_role_to_user_in_scope(user, role, scope)
    return made


def _pairs(records: list[api.RoleAssignmentData]) -> list[tuple[str, str, str]]:
    return sorted(
        (a.subject.external_key, r.external_key, a.scope.external_key)  # type: ignore[union-attr]
        for a in records
        for r in a.roles
    )


@pytest.mark.django_db
def test_filtered_and_per_scope_type_listings(team: dict[str, Any]) -> None:
    assert _pairs(api.get_user_role_assignments_filtered(user_external_key="ann")) == [
        ("ann", "course_admin", C1),
        ("ann", "library_admin", L1),
    ]
    assert _pairs(api.get_user_role_assignments_filtered(role_external_key="library_user")) == [
        ("ben", "library_user", L1),
        ("ben", "library_user", L3),
        ("vic", "library_user", L1),
    ]
    assert _pairs(
        api.get_user_role_assignments_filtered(user_external_key="ben", scope_external_key=L3)
    ) == [("ben", "library_user", L3)]
    assert len(api.get_user_role_assignments_filtered()) == 8
    with pytest.raises(TypeError):
        api.get_user_role_assignments_filtered("ann")  # type: ignore[misc]  # keyword-only
    courses = (api.CourseOverviewData,)
    assert _pairs(api.get_user_role_assignments_per_scope_type("ann", courses)) == [
        ("ann", "course_admin", C1)
    ]
    libraries = api.get_all_role_assignments_per_scope_type((api.ContentLibraryData,))
    assert {a.subject.username for a in libraries} == {"ann", "ben", "vic"}  # type: ignore[union-attr]
    platform = api.get_role_assignments(scope=api.ScopeData(external_key="platform"))
    assert _pairs(platform) == [("pam", "platform_admin", "platform")]
    assert len(api.get_all_subject_role_assignments()) == 8


@pytest.mark.django_db
def test_visible_means_on_a_scope_whose_team_the_viewer_may_view(team: dict[str, Any]) -> None:
    grouped = api.get_visible_role_assignments_for_user(allowed_for_user_external_key="vic")
    assert [(g.user.username, _pairs(g.assignments)) for g in grouped] == [
        ("ann", [("ann", "library_admin", L1)]),
        ("ben", [("ben", "library_user", L1)]),
        ("vic", [("vic", "library_user", L1)]),
    ]
    assert all(isinstance(g, api.UserAssignments) for g in grouped)
    assert grouped[0].user == team["ann"]
    # cat (course_staff) sees the course teams she is on, not the others.
    seen = api.get_visible_role_assignments_for_user(allowed_for_user_external_key="cat")
    assert sorted(p for g in seen for p in _pairs(g.assignments)) == [
        ("ann", "course_admin", C1),
        ("cat", "course_staff", C1),
        ("cat", "course_staff", C3),
    ]
    # Filters: orgs, scopes, roles.
    by_org = api.get_visible_role_assignments_for_user(
        orgs=["Org2"], allowed_for_user_external_key="pam"
    )
    assert sorted(p for g in by_org for p in _pairs(g.assignments)) == [
        ("ben", "library_user", L3),
        ("cat", "course_staff", C3),
    ]
    by_scope = api.get_visible_role_assignments_for_user(scopes=[C1], roles=["course_staff"])
    assert [p for g in by_scope for p in _pairs(g.assignments)] == [("cat", "course_staff", C1)]
    # Django's staff and superuser flags show nothing: stu holds no role.
    assert api.get_visible_role_assignments_for_user(allowed_for_user_external_key="stu") == []
    assert api.get_visible_role_assignments_for_user(allowed_for_user_external_key="nobody") == []
    # One user's assignments, as a viewer may see them.
    mine = api.get_visible_user_role_assignments_filtered_by_current_user
    assert _pairs(mine("ann", allowed_for_user_external_key="vic")) == [
        ("ann", "library_admin", L1)
    ]
    assert _pairs(mine("ann", allowed_for_user_external_key="pam")) == [
        ("ann", "course_admin", C1),
        ("ann", "library_admin", L1),
    ]
    assert _pairs(mine("ann", roles=["course_admin"])) == [("ann", "course_admin", C1)]
    assert _pairs(mine("ben", orgs=["Org2"])) == [("ben", "library_user", L3)]
    assert mine("ann", allowed_for_user_external_key="stu") == []
    # An inactive user's assignments are not listed.
    team["ann"].is_active = False
    team["ann"].save()
    assert mine("ann") == []
    assert "ann" not in {g.user.username for g in api.get_visible_role_assignments_for_user()}
    # filter_role_assignments_visible_to_subject is the rule itself.
    everything = api.get_role_assignments()
    vic = api.UserData(external_key="vic")
    visible = api.filter_role_assignments_visible_to_subject(vic, everything)
    assert {a.scope.external_key for a in visible} == {L1}  # type: ignore[union-attr]


@pytest.mark.django_db
def test_allowed_in_any_scope_and_superadmins(team: dict[str, Any]) -> None:
    assert api.is_user_allowed_in_any_scope("ben", VIEW)
    assert not api.is_user_allowed_in_any_scope("ben", VIEW_COURSE)
    assert api.is_user_allowed_in_any_scope("pam", VIEW_COURSE)  # the platform administrator
    assert not api.is_user_allowed_in_any_scope("stu", VIEW)  # Django's flags grant nothing
    assert not api.is_user_allowed_in_any_scope("nobody", VIEW)
    admins = api.get_superadmin_assignments()
    assert [(a.user.username, a.is_staff, a.is_superuser) for a in admins] == [
        ("pam", False, False)
    ]
    assert api.get_superadmin_assignments(["pam", "ann"])[0].user == team["pam"]
    assert api.get_superadmin_assignments(["ann", "stu"]) == []
    team["pam"].is_active = False
    team["pam"].save()
    assert api.get_superadmin_assignments() == []


@pytest.mark.django_db
def test_roles_and_permissions(team: dict[str, Any], rc: Rolecall) -> None:
    names = api.get_all_roles_names()
    assert {"role^library_admin", "role^course_staff", "role^platform_admin"} <= set(names)
    definitions = api.get_role_definitions_in_scope(api.ScopeData(namespaced_key="course-v1^*"))
    courses = {r.external_key for r in definitions}
    assert {"course_admin", "course_staff", "course_auditor"} <= courses
    assert "library_admin" not in courses
    same = api.get_role_definitions_in_scope(api.ScopeData(external_key=C2))
    assert {r.external_key for r in same} == courses
    globbed = api.get_role_definitions_in_scope(api.ScopeData(external_key="lib:Org1:*"))
    assert {r.external_key for r in globbed} == {
        "library_admin",
        "library_author",
        "library_contributor",
        "library_user",
    }
    assert api.get_all_roles_in_scope(api.ScopeData(external_key=L1)) == [
        ["user^ann", "role^library_admin", "lib^lib:Org1:math"],
        ["user^ben", "role^library_user", "lib^lib:Org1:math"],
        ["user^vic", "role^library_user", "lib^lib:Org1:math"],
    ]
    active = api.get_permissions_for_active_roles_in_scope(api.ScopeData(external_key=C1))
    assert set(active) == {"course_admin", "course_staff"}
    assert api.get_permissions_for_single_role(api.RoleData(external_key="no_such_role")) == []
    admin = api.get_permissions_for_single_role(api.RoleData(external_key="platform_admin"))
    assert len(admin) == len(rc.registry.permissions)
    # A custom role is listed where it may be given.
    rc.create_role(
        "reviewer",
        title="Reviewer",
        description="Reads libraries.",
        scope_types=("library",),
        permissions=(VIEW,),
    )
    libraries = api.get_role_definitions_in_scope(api.ScopeData(namespaced_key="lib^*"))
    [reviewer] = [r for r in libraries if r.external_key == "reviewer"]
    assert reviewer.get_permission_identifiers() == [VIEW]
    assert "role^reviewer" in api.get_all_roles_names()


# ------------------------------------------------------------------ against openedx-authz 1.23

NOT_OFFERED = {
    "get_permission_from_policy": "converts one of openedx-authz's Casbin policy rows "
    "([role, action, scope, effect]) into a PermissionData; rolecall keeps no policy rows (a "
    "role's permissions are the registry's: get_permissions_for_single_role)",
}
"""Functions ``openedx_authz.api`` 1.23 re-exports that rolecall does not offer, and why."""


def _literal(source: str | None) -> Any:
    """A default or constant recorded as source text, as a value (MISSING for none; ... for an
    expression that is not a literal, which only needs to exist)."""
    if source is None:
        return MISSING
    try:
        return ast.literal_eval(source)
    except ValueError:
        return ...


def _parameters(function: Any, *, skip_first: bool = False) -> list[tuple[str, str, Any]]:
    params = list(inspect.signature(function).parameters.values())
    if skip_first:
        params = params[1:]
    return [
        (p.name, p.kind.name, MISSING if p.default is inspect.Parameter.empty else p.default)
        for p in params
    ]


def _recorded(params: list[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    return [(p["name"], p["kind"], _literal(p["default"])) for p in params]


def test_the_surface_fixture_is_openedx_authz_1_23() -> None:
    assert SURFACE["version"] == "1.23.0"
    assert SURFACE["repository"] == "https://github.com/openedx/openedx-authz"
    assert len(SURFACE["commit"]) == 40
    assert "openedx_authz_surface.py" in SURFACE["about"]
    assert len(SURFACE["functions"]) > 40
    assert len(SURFACE["classes"]) > 20
    assert set(NOT_OFFERED) <= set(SURFACE["functions"])


@pytest.mark.parametrize("name", sorted(SURFACE["functions"]))
def test_each_function_has_openedx_authz_1_23s_signature(name: str) -> None:
    if name in NOT_OFFERED:
        assert not hasattr(api, name), "offered after all: take it off NOT_OFFERED"
        return
    assert name in api.__all__
    recorded = SURFACE["functions"][name]
    assert _parameters(getattr(api, name)) == _recorded(recorded["params"]), recorded["module"]


@pytest.mark.parametrize("name", sorted(SURFACE["classes"]))
def test_each_data_class_has_openedx_authz_1_23s_attributes(name: str) -> None:
    recorded = SURFACE["classes"][name]
    assert name in api.__all__
    ours = getattr(api, name)
    assert inspect.isclass(ours)
    for base in recorded["bases"]:
        assert issubclass(ours, Enum if base == "Enum" else getattr(api, base)), base
    if recorded["enum"]:
        values = {k: _literal(v) for k, v in recorded["constants"].items()}
        assert {m.name: m.value for m in ours} == values
        return
    if recorded["fields"]:
        assert is_dataclass(ours)
        mine = [
            (f.name, f.default_factory() if f.default_factory is not MISSING else f.default)
            for f in fields(ours)
        ]
        assert mine == [(f, _literal(d)) for f, d in recorded["fields"]]
    for constant, source in recorded["constants"].items():
        value = _literal(source)
        if value is MISSING:
            continue  # declared there without a value
        assert hasattr(ours, constant), constant
        if value is not ...:
            assert getattr(ours, constant) == value, constant
    for prop in recorded["properties"]:
        assert isinstance(inspect.getattr_static(ours, prop), property | cached_property), prop
    for method, spec in recorded["methods"].items():
        found = inspect.getattr_static(ours, method)
        kinds = {"classmethod": classmethod, "staticmethod": staticmethod}
        if spec["kind"] in kinds:
            assert isinstance(found, kinds[spec["kind"]]), method
        else:
            assert inspect.isfunction(found), method
        skip = spec["kind"] == "method"
        assert _parameters(getattr(ours, method) if not skip else found, skip_first=skip) == (
            _recorded(spec["params"])
        ), method
