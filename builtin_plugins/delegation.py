"""The ``delegation`` plugin: who may assign and revoke the built-in roles, by default.

- platform admins: every role, everywhere;
- org admins: every course, library and discussion role, course creators and org admins, in
  their org (on the org and its courses and libraries);
- course admins: their course team, the discussion roles included (so granting discussion
  administrator takes a course admin, as in the legacy system);
- discussion administrators: the other forum roles of their course;
- library admins: their library team.

The guards (no escalation, last admin, own admin role, sensitive roles) apply on top; platform
administrators can replace or disable these rules at run time.
"""

from __future__ import annotations

from rolecall.core import DelegationRule, hookimpl

COURSE_TEAM = (
    "course_auditor",
    "course_editor",
    "course_limited_staff",
    "course_staff",
    "course_admin",
    "course_data_researcher",
    "course_beta_tester",
)
FORUM_ROLES = (
    "discussion_student",
    "discussion_moderator",
    "discussion_group_moderator",
    "discussion_community_ta",
)
DISCUSSION = (*FORUM_ROLES, "discussion_administrator")
LIBRARY_TEAM = ("library_user", "library_contributor", "library_author", "library_admin")


@hookimpl
def register_delegation_rules() -> list[DelegationRule]:
    return [
        DelegationRule(
            id="platform_admins_manage_everything",
            description="Platform admins may assign and revoke every role, everywhere.",
            holders=("platform_admin",),
            assign=("*",),
            revoke=("*",),
            scope_types=("*",),
        ),
        DelegationRule(
            id="org_admins_manage_their_org",
            description="Org admins manage the teams of their org and of its courses and "
            "libraries, org admins and course creators included.",
            holders=("org_admin",),
            assign=(*COURSE_TEAM, *DISCUSSION, *LIBRARY_TEAM, "course_creator", "org_admin"),
            revoke=(*COURSE_TEAM, *DISCUSSION, *LIBRARY_TEAM, "course_creator", "org_admin"),
            scope_types=("org", "course", "library"),
        ),
        DelegationRule(
            id="course_admins_manage_course_team",
            description="Course admins manage their course team and its discussion roles.",
            holders=("course_admin",),
            assign=(*COURSE_TEAM, *DISCUSSION),
            revoke=(*COURSE_TEAM, *DISCUSSION),
            scope_types=("course",),
        ),
        DelegationRule(
            id="discussion_admins_manage_forum_roles",
            description="Discussion administrators manage the other forum roles of their course.",
            holders=("discussion_administrator",),
            assign=FORUM_ROLES,
            revoke=FORUM_ROLES,
            scope_types=("course",),
        ),
        DelegationRule(
            id="library_admins_manage_library_team",
            description="Library admins manage their library team.",
            holders=("library_admin",),
            assign=LIBRARY_TEAM,
            revoke=LIBRARY_TEAM,
            scope_types=("library",),
        ),
    ]
