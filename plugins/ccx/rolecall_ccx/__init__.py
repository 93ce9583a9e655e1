"""The ``ccx`` plugin: Custom Courses, a course's private copies run by a coach.

A custom course key is its course key with a ``+ccx@N`` suffix, in the ``ccx-v1`` namespace:
``ccx-v1:MITx+6.002x+2026_T1+ccx@3`` is custom course 3 of ``course-v1:MITx+6.002x+2026_T1``,
which is its parent scope. A coach assigned on the course coaches every custom course made
from it; one assigned on a custom course coaches that one only.
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
        )
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
