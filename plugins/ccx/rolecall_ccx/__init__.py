"""The ``ccx`` plugin: Custom Courses, a course's private copies run by a coach.

A custom course key is its course key with a ``+ccx@N`` suffix, in the ``ccx-v1`` namespace:
``ccx-v1:MITx+6.002x+2026_T1+ccx@3`` is custom course 3 of ``course-v1:MITx+6.002x+2026_T1``,
which is its parent scope. A coach assigned on the course coaches every custom course made
from it; one assigned on a custom course coaches that one only.

A custom course also has a team and discussions of its own, as edx-platform gives it: the
coach and the course's staff and instructors get rows on the custom course's key, and its
forum roles are seeded there. The roles ``ccx_staff``, ``ccx_admin``, ``ccx_data_researcher``,
``ccx_beta_tester`` and the ``ccx_discussion_*`` roles (with ``ccx_community_ta``) are those,
assignable on a custom course only; ``rolecall legacy import`` maps the legacy rows on a
``ccx-v1`` key to them (docs/migration.md).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rolecall.core import (
    ConsolePage,
    ParsedKey,
    Permission,
    Risk,
    Role,
    ScopeType,
    hookimpl,
    split_key,
)

if TYPE_CHECKING:
    from rolecall.core import Rolecall

_NUMBER = re.compile(r"[1-9][0-9]{0,9}")


def parse_ccx(key: str) -> ParsedKey:
    course_part, marker, number = key.rpartition("+ccx@")
    if not marker:
        raise ValueError("it does not end with +ccx@N")
    if not _NUMBER.fullmatch(number):
        raise ValueError(f"the custom course number {number[:20]!r} is not a positive number")
    fields = split_key(course_part, "ccx-v1:", "+", ("org", "course", "run"))
    fields["ccx"] = number
    return ParsedKey(
        fields=fields, parent=f"course-v1:{fields['org']}+{fields['course']}+{fields['run']}"
    )


@hookimpl
def register_scope_types() -> list[ScopeType]:
    return [
        ScopeType(
            id="ccx",
            title="Custom course",
            description="A custom course (CCX): a coach's private run of a course's content.",
            namespace="ccx-v1",
            pattern="ccx-v1:ORG+COURSE+RUN+ccx@N",
            example="ccx-v1:MITx+6.002x+2026_T1+ccx@3",
            parse=parse_ccx,
        )
    ]


AREA = "Custom courses"
DISCUSSIONS = "Custom course discussions"


@hookimpl
def register_permissions() -> list[Permission]:
    return [
        Permission(
            id="ccx.create_ccx",
            title="Create custom courses",
            description="Create custom courses from this course and become their coach.",
            area=AREA,
            scope_types=("course",),
        ),
        Permission(
            id="ccx.view_schedule",
            title="View the custom course schedule",
            description="See the sections of the custom course and their dates.",
            area=AREA,
            scope_types=("ccx",),
        ),
        Permission(
            id="ccx.edit_schedule",
            title="Edit the custom course schedule",
            description="Show or hide sections and change start and due dates in the custom "
            "course.",
            area=AREA,
            scope_types=("ccx",),
            implies=("ccx.view_schedule",),
            risks={Risk.PUBLISHING},
        ),
        Permission(
            id="ccx.view_enrollment",
            title="View custom course enrollment",
            description="See who is enrolled in the custom course and how many seats are left.",
            area=AREA,
            scope_types=("ccx",),
            risks={Risk.LEARNER_DATA},
        ),
        Permission(
            id="ccx.manage_enrollment",
            title="Manage custom course enrollment",
            description="Enroll and unenroll learners, up to the number of seats the custom "
            "course was sold with.",
            area=AREA,
            scope_types=("ccx",),
            implies=("ccx.view_enrollment",),
            risks={Risk.LEARNER_DATA},
        ),
        Permission(
            id="ccx.view_grades",
            title="View custom course grades",
            description="See the grades of the custom course's learners.",
            area=AREA,
            scope_types=("ccx",),
            risks={Risk.LEARNER_DATA, Risk.GRADES},
        ),
        Permission(
            id="ccx.manage_team",
            title="Manage the custom course team",
            description="Give and remove the custom course's own staff, admin, data "
            "researcher and beta tester roles.",
            area=AREA,
            scope_types=("ccx",),
            risks={Risk.TEAM_MANAGEMENT},
        ),
        Permission(
            id="ccx.download_reports",
            title="Download custom course reports",
            description="Download the custom course's data reports: grades, enrollments and "
            "learner profiles.",
            area=AREA,
            scope_types=("ccx",),
            implies=("ccx.view_enrollment", "ccx.view_grades"),
            risks={Risk.LEARNER_DATA, Risk.GRADES},
        ),
        Permission(
            id="ccx.view_unreleased_content",
            title="View unreleased custom course content",
            description="See the custom course's content before its release date.",
            area=AREA,
            scope_types=("ccx",),
        ),
        Permission(
            id="ccx.take_part_in_discussions",
            title="Take part in the custom course discussions",
            description="Post, reply, vote and follow in the custom course's discussions.",
            area=DISCUSSIONS,
            scope_types=("ccx",),
        ),
        Permission(
            id="ccx.moderate_group_discussions",
            title="Moderate one cohort's discussions",
            description="Edit, delete, close and endorse the posts of one's own cohort in the "
            "custom course's discussions.",
            area=DISCUSSIONS,
            scope_types=("ccx",),
            implies=("ccx.take_part_in_discussions",),
        ),
        Permission(
            id="ccx.moderate_discussions",
            title="Moderate the custom course discussions",
            description="Edit, delete, close and endorse anyone's posts in the custom course's "
            "discussions, in every cohort.",
            area=DISCUSSIONS,
            scope_types=("ccx",),
            implies=("ccx.moderate_group_discussions",),
        ),
        Permission(
            id="ccx.manage_discussion_roles",
            title="Give discussion roles in the custom course",
            description="Give and remove the moderator and community TA roles of the custom "
            "course's discussions.",
            area=DISCUSSIONS,
            scope_types=("ccx",),
            implies=("ccx.moderate_discussions",),
            risks={Risk.TEAM_MANAGEMENT},
        ),
    ]


@hookimpl
def register_roles() -> list[Role]:
    return [
        Role(
            id="ccx_coach",
            title="CCX coach",
            description="Creates and runs custom courses: their schedule, their enrollment "
            "within the seats sold, and their learners' grades. Cannot change the course "
            "content itself.",
            scope_types=("course", "ccx"),
            permissions=(
                "ccx.create_ccx",
                "ccx.edit_schedule",
                "ccx.manage_enrollment",
                "ccx.view_grades",
            ),
        ),
        # A custom course's own team and forum roles: what edx-platform's rows on a ccx-v1 key
        # (the CCX's own student_courseaccessrole and forum rows) give there.
        Role(
            id="ccx_staff",
            title="Custom course staff",
            description="Runs one custom course from its instructor dashboard: sees its "
            "schedule, manages its enrollment within the seats sold and sees its learners' "
            "grades. Cannot change the schedule (the coach does) or the custom course team.",
            scope_types=("ccx",),
            permissions=("ccx.view_schedule", "ccx.manage_enrollment", "ccx.view_grades"),
        ),
        Role(
            id="ccx_admin",
            title="Custom course admin",
            description="Everything custom course staff does, plus managing the custom "
            "course's team and its discussion roles.",
            scope_types=("ccx",),
            permissions=("ccx.manage_team",),
            includes=("ccx_staff", "ccx_discussion_administrator"),
        ),
        Role(
            id="ccx_data_researcher",
            title="Custom course data researcher",
            description="Downloads the custom course's data reports (grades, enrollments, "
            "learner profiles). Cannot change anything.",
            scope_types=("ccx",),
            permissions=("ccx.download_reports",),
        ),
        Role(
            id="ccx_beta_tester",
            title="Custom course beta tester",
            description="Sees the custom course's content before its release date. Nothing else.",
            scope_types=("ccx",),
            permissions=("ccx.view_unreleased_content",),
        ),
        Role(
            id="ccx_discussion_student",
            title="Custom course discussion participant",
            description="Takes part in the custom course's discussions. Cannot moderate.",
            scope_types=("ccx",),
            permissions=("ccx.take_part_in_discussions",),
        ),
        Role(
            id="ccx_discussion_group_moderator",
            title="Custom course group community TA",
            description="Moderates the discussions of their own cohort of the custom course.",
            scope_types=("ccx",),
            permissions=("ccx.moderate_group_discussions",),
        ),
        Role(
            id="ccx_discussion_moderator",
            title="Custom course discussion moderator",
            description="Moderates the custom course's discussions in every cohort. Cannot "
            "give discussion roles.",
            scope_types=("ccx",),
            permissions=("ccx.moderate_discussions",),
        ),
        Role(
            id="ccx_community_ta",
            title="Custom course community TA",
            description="A learner or teaching assistant trusted to moderate the custom "
            "course's discussions: a moderator's rights, with a Community TA badge.",
            scope_types=("ccx",),
            permissions=("ccx.moderate_discussions",),
        ),
        Role(
            id="ccx_discussion_administrator",
            title="Custom course discussion admin",
            description="Runs the custom course's discussions: moderates, and gives and "
            "removes the moderator and community TA roles. edx-platform makes each coach the "
            "discussion admin of the custom course they create.",
            scope_types=("ccx",),
            permissions=("ccx.manage_discussion_roles",),
        ),
    ]


def coaches_and_seats(viewer: str, rolecall: Rolecall) -> dict[str, object]:
    """The console page: the coaches of the courses the viewer may make custom courses of, and
    who manages the seats of each custom course the viewer can see. rolecall does not know how
    many seats were sold: the platform keeps that."""
    coach_rows = []
    for course in rolecall.scopes_where(viewer, "ccx.create_ccx", "course"):
        team = rolecall.who(course)
        for member in (*team.members, *team.inherited):
            for grant in member.grants:
                if grant.role == "ccx_coach" and not grant.expired:
                    where = (
                        "this course" if grant.scope == course else f"inherited from {grant.scope}"
                    )
                    coach_rows.append([course, member.user, where, grant.granted_by or "-"])
    seat_rows = [
        [ccx, ", ".join(rolecall.who_can("ccx.manage_enrollment", ccx)) or "no one"]
        for ccx in rolecall.scopes_where(viewer, "ccx.view_enrollment", "ccx")
    ]
    return {
        "text": "Coaches create custom courses from a course and run them: their schedule, "
        "their enrollment within the seats sold, and their learners' grades.",
        "tables": [
            {
                "caption": "Coaches",
                "headers": ["course", "coach", "assigned on", "granted by"],
                "rows": coach_rows,
                "empty": "No course you manage has a coach yet. Give someone the CCX coach "
                "role on a course from its scope page.",
            },
            {
                "caption": "Seats: who manages each custom course's enrollment",
                "headers": ["custom course", "managed by"],
                "rows": seat_rows,
                "empty": "No custom course is known yet: one appears here once it is recorded "
                "(rolecall scopes) or someone holds a role on it.",
            },
        ],
    }


@hookimpl
def register_console_pages() -> list[ConsolePage]:
    return [
        ConsolePage(
            id="ccx",
            title="Custom courses",
            description="Coaches of your courses, and who manages the seats of each custom course.",
            permission="ccx.create_ccx",
            render=coaches_and_seats,
        )
    ]
