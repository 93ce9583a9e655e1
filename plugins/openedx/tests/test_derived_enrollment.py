"""Enrollment is the source of the derived role discussion_student: every learner enrolled in a
course takes part in its forums, with no rolecall row per learner."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from opaque_keys.edx.keys import CourseKey

from openedx_test_project.stubs.models import CourseEnrollment
from rolecall.core import Rolecall

C1 = "course-v1:MITx+6.002x+2026_T1"
OLD = "MITx/6.00x/2012_Fall"
C2 = "course-v1:MITx+18.01x+2026_T1"
VOTE = "discussion.vote"

pytestmark = pytest.mark.django_db


def test_an_enrolled_learner_takes_part_in_the_forums(rc: Rolecall) -> None:
    lea = User.objects.create_user("lea")
    CourseEnrollment.objects.create(user=lea, course_id=C1)
    CourseEnrollment.objects.create(user=lea, course_id=OLD)
    assert lea.has_perm(VOTE, CourseKey.from_string(C1))
    assert lea.has_perm(VOTE, CourseKey.from_string(OLD))
    assert not lea.has_perm(VOTE, CourseKey.from_string(C2))  # not enrolled there
    assert not lea.has_perm("discussion.edit_content", C1)  # moderation is not the student's
    assert "lea" not in {u for u, *_ in rc.users()}  # nothing stored about her
    decision = rc.explain("lea", VOTE, C1)
    assert decision.summary.startswith(
        f"allowed: lea holds discussion_student on {C1} through enrollment: enrolled in the course"
    )
    assert rc.who(C1).not_listed


def test_an_inactive_enrollment_gives_nothing(rc: Rolecall) -> None:
    lea = User.objects.create_user("lea")
    CourseEnrollment.objects.create(user=lea, course_id=C1, is_active=False)
    assert not lea.has_perm(VOTE, C1)


def test_a_lock_on_the_course_applies_to_enrolled_learners(rc: Rolecall) -> None:
    lea = User.objects.create_user("lea")
    CourseEnrollment.objects.create(user=lea, course_id=C1)
    rc.restrict(C1, [VOTE])
    assert not lea.has_perm(VOTE, C1)
