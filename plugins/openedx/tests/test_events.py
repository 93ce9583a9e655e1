"""openedx-events' real signals keep rolecall in step with the legacy tables; the retirement
entry point and command; rolecall's changes announced as a Django signal after commit."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from opaque_keys.edx.keys import CourseKey
from openedx_events.learning.data import CourseAccessRoleData, UserData, UserPersonalData
from openedx_events.learning.signals import COURSE_ACCESS_ROLE_ADDED, COURSE_ACCESS_ROLE_REMOVED

from rolecall.core import AssignmentEvent, Rolecall
from rolecall_openedx.events import assignment_changed
from rolecall_openedx.retirement import retire_user

C1 = "course-v1:MITx+6.002x+2026_T1"
OLD = "MITx/6.00x/2012_Fall"

pytestmark = pytest.mark.django_db


def role_data(role: str, course: str | None = C1, org: str = "MITx") -> CourseAccessRoleData:
    return CourseAccessRoleData(
        user=UserData(
            id=7,
            is_active=True,
            pii=UserPersonalData(username="grace", email="grace@example.org", name="Grace H"),
        ),
        org_key=org,
        course_key=CourseKey.from_string(course) if course else None,  # type: ignore[arg-type]
        role=role,
    )


def held(rc: Rolecall, user: str) -> set[tuple[str, str]]:
    return {(g.role, g.scope) for g in rc.grants(user)}


def test_an_added_role_is_made_in_rolecall_once(rc: Rolecall) -> None:
    COURSE_ACCESS_ROLE_ADDED.send_event(
        send_robust=False, course_access_role_data=role_data("staff")
    )
    assert held(rc, "grace") == {("course_staff", C1)}
    revision = rc.revision
    COURSE_ACCESS_ROLE_ADDED.send_event(
        send_robust=False, course_access_role_data=role_data("staff")
    )
    assert rc.revision == revision  # the same event again changes nothing
    [event] = [e for e in rc.audit(user="grace") if e.action == "assign"]
    assert event.actor == "openedx-events"
    assert str(event.details["reason"]).startswith(
        "org.openedx.learning.user.course_access_role.added.v1 "
    )
    [user] = [u for u in rc.users() if u[0] == "grace"]
    assert user[1:3] == ("grace@example.org", "Grace H")  # met through the event: added


def test_old_style_keys_org_and_platform_levels(rc: Rolecall) -> None:
    send = COURSE_ACCESS_ROLE_ADDED.send_event
    send(send_robust=False, course_access_role_data=role_data("instructor", OLD))
    send(send_robust=False, course_access_role_data=role_data("staff", None))
    send(send_robust=False, course_access_role_data=role_data("support", None, org=""))
    send(send_robust=False, course_access_role_data=role_data("finance_admin"))  # no equivalent
    assert held(rc, "grace") == {
        ("course_admin", OLD),
        ("course_staff", "org:MITx"),
        ("platform_support", "platform"),
    }


def test_a_removed_role_is_removed_and_removing_again_is_harmless(rc: Rolecall) -> None:
    COURSE_ACCESS_ROLE_ADDED.send_event(
        send_robust=False, course_access_role_data=role_data("staff")
    )
    COURSE_ACCESS_ROLE_REMOVED.send_event(
        send_robust=False, course_access_role_data=role_data("staff")
    )
    assert held(rc, "grace") == set()
    COURSE_ACCESS_ROLE_REMOVED.send_event(
        send_robust=False, course_access_role_data=role_data("staff")
    )
    revoke = [e for e in rc.audit(user="grace") if e.action == "revoke"]
    assert len(revoke) == 1
    assert revoke[0].actor == "openedx-events"


def test_rolecall_changes_are_announced_after_the_platform_commits(
    rc: Rolecall, django_capture_on_commit_callbacks: Any
) -> None:
    seen: list[AssignmentEvent] = []

    def receive(event: AssignmentEvent, **_: Any) -> None:
        seen.append(event)

    assignment_changed.connect(receive)
    try:
        rc.add_user("ada")
        # pytest-django runs each test in a transaction: the callbacks run when it would commit.
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            rc.assign("ada", "course_staff", C1)
            assert seen == []  # the platform's transaction has not committed yet
        assert len(callbacks) == 1
    finally:
        assignment_changed.disconnect(receive)
    assert [(e.action, e.user, e.role, e.scope) for e in seen] == [
        ("assign", "ada", "course_staff", C1)
    ]


def test_retirement_removes_every_role(rc: Rolecall) -> None:
    rc.add_user("ada")
    rc.assign("ada", "course_staff", C1)
    out = StringIO()
    call_command("rolecall_retire_user", "ada", stdout=out)
    assert out.getvalue() == "retired ada in rolecall\n"
    # Erased: known by a retired placeholder only, inactive, holding nothing.
    assert all(u[0] != "ada" for u in rc.users())
    (retired,) = [u for u in rc.users() if u[0].startswith("retired__user_")]
    assert retired[3] is False
    assert held(rc, retired[0]) == set()
    assert retire_user("never-met") is False
