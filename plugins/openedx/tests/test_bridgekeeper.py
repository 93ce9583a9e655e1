"""A bridgekeeper rule backed by rolecall: check, and querysets filtered without a per-row
check (course grants as keys, org-wide grants as an org filter, restrictions honoured)."""

from __future__ import annotations

import pytest
from bridgekeeper import perms
from django.contrib.auth.models import AnonymousUser, User

from openedx_test_project.stubs.models import CourseOverview
from rolecall.core import Rolecall
from rolecall_openedx.rules import RolecallRule

VIEW = "courses.view_course"
C1 = "course-v1:MITx+6.002x+2026_T1"
C2 = "course-v1:MITx+18.01x+2026_T1"
OLD = "MITx/6.00x/2012_Fall"
H1 = "course-v1:HarvardX+CS50+2026"
H2 = "course-v1:HarvardX+CS51+2026"

pytestmark = pytest.mark.django_db


@pytest.fixture
def courses() -> None:
    for key in (C1, C2, OLD, H1, H2):
        CourseOverview.objects.create(
            id=key, org=key.replace("course-v1:", "").split("+")[0].split("/")[0]
        )


@pytest.fixture
def rule(monkeypatch: pytest.MonkeyPatch) -> RolecallRule:
    made = RolecallRule(VIEW)
    monkeypatch.setitem(perms, VIEW, made)
    return made


def visible(rule: RolecallRule, user: object) -> list[str]:
    return sorted(rule.filter(user, CourseOverview.objects.all()).values_list("id", flat=True))


def test_course_and_org_grants_filter_the_queryset(
    rc: Rolecall, courses: None, rule: RolecallRule
) -> None:
    rc.add_users(["ada", "bob", "root"])
    rc.assign("ada", "course_auditor", H1)
    rc.assign("ada", "course_auditor", "org:MITx")
    rc.assign("root", "platform_admin", "platform")
    ada, bob, root = (User.objects.create_user(n) for n in ("ada", "bob", "root"))
    assert visible(rule, ada) == sorted([C1, C2, OLD, H1])
    assert visible(rule, bob) == []
    assert visible(rule, root) == sorted([C1, C2, OLD, H1, H2])
    assert visible(rule, AnonymousUser()) == []
    assert visible(rule, User.objects.create_user("learner")) == []
    # check agrees with the filter, row by row, and the permission backend uses the rule too
    for course in CourseOverview.objects.all():
        assert rule.check(ada, course) == (course.id in visible(rule, ada))
    assert ada.has_perm(VIEW, CourseOverview.objects.get(id=H1))


def test_a_restriction_takes_rows_out(rc: Rolecall, courses: None, rule: RolecallRule) -> None:
    rc.add_users(["ada", "root"])
    rc.assign("ada", "course_auditor", "org:MITx")
    rc.assign("root", "platform_admin", "platform")
    rc.restrict(C2, [VIEW])
    ada, root = User.objects.create_user("ada"), User.objects.create_user("root")
    assert visible(rule, ada) == sorted([C1, OLD])
    assert C2 not in visible(rule, root)
    rc.restrict("org:HarvardX", [VIEW])
    # Under a lock on an org, only what rolecall lists as allowed counts.
    assert not {H1, H2} & set(visible(rule, root))


VOTE = "discussion.vote"  # discussion_student's, so every enrolled learner's
ROLES = ("course_auditor", "course_staff", "discussion_moderator", "course_data_researcher")
COURSES = (C1, C2, OLD, H1, H2)
PLACES = (*COURSES, "org:MITx", "org:HarvardX", "platform")


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("permission", [VIEW, VOTE])
def test_check_and_filter_agree_over_random_grants_and_enrollments(
    rc: Rolecall, courses: None, monkeypatch: pytest.MonkeyPatch, seed: int, permission: str
) -> None:
    """For random grants (course, org and platform), enrollments and restrictions (with and
    without exempt roles), every user's filtered queryset is exactly the rows ``check``
    allows."""
    import random

    from openedx_test_project.stubs.models import CourseEnrollment

    pick = random.Random(seed)  # noqa: S311 (reproducible test data)
    rule = RolecallRule(permission)
    monkeypatch.setitem(perms, permission, rule)
    names = [f"u{i}" for i in range(4)]
    users = [User.objects.create_user(n) for n in names]
    rc.add_users(names)
    for name in names:
        for _ in range(pick.randint(0, 3)):
            rc.assign(name, pick.choice(ROLES), pick.choice(PLACES))
    for user in users:
        for course in pick.sample(COURSES, pick.randint(0, 3)):
            CourseEnrollment.objects.create(
                user=user, course_id=course, is_active=pick.random() < 0.8
            )
    for place in pick.sample(PLACES[:-1], pick.randint(0, 2)):
        exempt = pick.sample(["discussion_student", "course_staff"], pick.randint(0, 1))
        rc.restrict(place, [permission], exempt_roles=exempt)
    rows = list(CourseOverview.objects.all())
    for user in users:
        allowed = sorted(r.id for r in rows if rule.check(user, r))
        assert visible(rule, user) == allowed, (user.username, rc.grants(user.username))
