"""The derived forum role reads enrollments once per request: a page checking the same course
many times costs one enrollment query, and an unenrollment is seen by the very next check."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from opaque_keys.edx.keys import CourseKey
from openedx_events.learning.data import (
    CourseData,
    CourseEnrollmentData,
    UserData,
    UserPersonalData,
)
from openedx_events.learning.signals import COURSE_UNENROLLMENT_COMPLETED

from openedx_test_project.stubs.models import CourseEnrollment
from rolecall.core import Rolecall
from rolecall_openedx.plugin import enrollment_cache

C1 = "course-v1:MITx+6.002x+2026_T1"
C2 = "course-v1:MITx+18.01x+2026_T1"
VOTE = "discussion.vote"
TABLE = CourseEnrollment._meta.db_table

pytestmark = pytest.mark.django_db


def enrollment_queries(queries: CaptureQueriesContext) -> int:
    return sum(TABLE in q["sql"] for q in queries.captured_queries)


@pytest.fixture
def lea(rc: Rolecall) -> User:
    user = User.objects.create_user("lea")
    CourseEnrollment.objects.create(user=user, course_id=C1)
    return user


@pytest.fixture
def lea_client(lea: User) -> Client:
    client = Client()
    client.force_login(lea)
    return client


def test_a_forum_page_costs_one_enrollment_query(lea_client: Client) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = lea_client.get(f"/courses/{C1}/forum", {"threads": 10})
    assert response.json() == {"allowed": True, "checks": 30, "after": None}
    assert enrollment_queries(queries) == 1  # 30 checks, one question to the database


def test_each_request_asks_again(lea: User, lea_client: Client) -> None:
    assert lea_client.get(f"/courses/{C1}/forum").json()["allowed"]
    CourseEnrollment.objects.filter(user=lea, course_id=C1).update(is_active=False)
    with CaptureQueriesContext(connection) as queries:
        response = lea_client.get(f"/courses/{C1}/forum")
    assert response.json()["allowed"] is False  # the memo ended with the first request
    assert enrollment_queries(queries) == 1


def test_an_unenrollment_within_the_request_is_seen_at_once(lea_client: Client) -> None:
    response = lea_client.get(f"/courses/{C1}/forum", {"unenroll": "1"})
    assert response.json() == {"allowed": True, "checks": 15, "after": False}


def test_the_unenrollment_event_empties_the_memo(lea: User) -> None:
    # The platform may change the row without a model signal (a queryset update, another
    # process); its COURSE_UNENROLLMENT_COMPLETED event empties the memo all the same.
    with enrollment_cache():
        assert lea.has_perm(VOTE, C1)
        CourseEnrollment.objects.filter(user=lea, course_id=C1).update(is_active=False)
        assert lea.has_perm(VOTE, C1)  # remembered: no event, no save seen
        COURSE_UNENROLLMENT_COMPLETED.send_event(
            send_robust=False,
            enrollment=CourseEnrollmentData(
                user=UserData(
                    id=lea.pk,
                    is_active=True,
                    pii=UserPersonalData(username="lea", email="", name=""),
                ),
                course=CourseData(course_key=CourseKey.from_string(C1)),
                mode="audit",
                is_active=False,
                creation_date=datetime.now(UTC),
            ),
        )
        assert not lea.has_perm(VOTE, C1)


def test_an_enrollment_is_seen_at_once_too(lea: User) -> None:
    with enrollment_cache():
        assert not lea.has_perm(VOTE, C2)
        CourseEnrollment.objects.create(user=lea, course_id=C2)
        assert lea.has_perm(VOTE, C2)


def test_outside_a_request_each_check_asks(lea: User) -> None:
    with CaptureQueriesContext(connection) as queries:
        assert lea.has_perm(VOTE, C1)
        assert lea.has_perm(VOTE, C1)
    assert enrollment_queries(queries) == 2  # a task or a command sees every change at once
