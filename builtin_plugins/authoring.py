"""The ``authoring`` plugin: course authoring (Studio) permissions and the course team roles.

Permissions are openedx-authz's ``courses.*`` ids, plus what the functional areas of the course
authoring requirements still need: the schedule and the details as separate permissions
(``view_schedule`` / ``edit_schedule`` and ``view_details`` / ``edit_details``; openedx-authz's
``view_schedule_and_details`` stays and implies both views), and
``courses.view_unreleased_content`` (seeing content before its release date, as beta testers
and the course team do). Throughout, manage implies edit implies view:
``publish_course_content`` -> ``edit_course_content`` -> ``view_course``.

Roles (all assignable on a course, an org or the platform):

- ``course_auditor``, ``course_editor``, ``course_staff``, ``course_admin``: at least
  openedx-authz's sets. ``course_editor`` is the requirements' content role: edits content,
  cannot publish, grade or see learner data, and has limited high-impact settings.
  ``course_auditor`` sees everything, drafts included, and changes nothing.
- Legacy roles with their legacy behaviour: ``course_staff`` (alias ``staff``) and
  ``course_admin`` (alias ``instructor``) reproduce the staff-level and instructor-level
  instructor dashboard; ``course_limited_staff`` (``limited_staff``) is "staff access" in the
  LMS without Studio; ``course_data_researcher`` (``data_researcher``) is the instructor
  dashboard and the data downloads; ``course_beta_tester`` (``beta_testers``) sees content
  before its release.
- ``course_creator`` (legacy ``course_creator_group`` and ``org_course_creator_group``):
  creates courses (and libraries, which the legacy creator group also gates), on an org or the
  platform.
- ``org_admin``: every permission within its org, team management included.

Dependencies: the course team roles are built from the instructor-dashboard permissions of the
``discussion``, ``grading``, ``enrollment``, ``certificates``, ``communications`` and
``analytics`` plugins, and ``org_admin`` and ``course_creator`` from ``libraries`` too, so this
plugin is loaded after all of them. Disabling one of those plugins makes this one fail to load,
with an error naming the missing permission.
"""

from __future__ import annotations

from rolecall.core import Permission, PermissionFactory, Risk, Role, hookimpl

CONTENT = "Course content"
UPDATES = "Course updates"
PAGES = "Pages & resources"
FILES = "Files"
GRADING = "Grading"
SCHEDULE = "Schedule & details"
CHECKLISTS = "Checklists"
TEAM = "Team management"
ADVANCED = "Advanced settings"
CERTIFICATES = "Certificates"
GROUPS = "Group configurations"
TAGS = "Tags & taxonomies"
IMPORT_EXPORT = "Import & export"
CREATION = "Course & library creation"

COURSE = ("course",)
COURSE_ROLE_SCOPES = ("course", "org", "platform")


def _c(*names: str) -> tuple[str, ...]:
    return tuple(f"courses.{n}" for n in names)


_permission = PermissionFactory(scope_types=COURSE, namespace="courses")


@hookimpl
def register_permissions() -> list[Permission]:
    return [
        # Course content
        _permission(
            "view_course",
            "View course content",
            "Open the course in Studio and see its outline and every unit and component, "
            "drafts and unpublished changes included.",
            CONTENT,
        ),
        _permission(
            "view_unreleased_content",
            "See content before its release",
            "In the course, see sections and units before their release date, as beta testers "
            "and the course team do.",
            CONTENT,
        ),
        _permission(
            "edit_course_content",
            "Edit course content",
            "Create, change, move and delete sections, subsections, units and components. "
            "Changes stay drafts until someone publishes them.",
            CONTENT,
            implies=("view_course",),
        ),
        _permission(
            "publish_course_content",
            "Publish course content",
            "Publish draft changes so that learners see them.",
            CONTENT,
            implies=("edit_course_content",),
            risks={Risk.PUBLISHING},
        ),
        _permission(
            "view_library_updates",
            "See library updates",
            "See which library content used in the course has a newer version.",
            CONTENT,
            implies=("view_course",),
        ),
        _permission(
            "manage_library_updates",
            "Accept library updates",
            "Take or ignore the newer version of library content used in the course (as a "
            "draft change).",
            CONTENT,
            implies=("view_library_updates", "edit_course_content"),
        ),
        # Course updates
        _permission(
            "view_course_updates",
            "View course updates",
            "See the course updates and the course handouts.",
            UPDATES,
        ),
        _permission(
            "manage_course_updates",
            "Manage course updates",
            "Post, change and delete course updates and handouts; learners see them at once.",
            UPDATES,
            implies=("view_course_updates",),
        ),
        # Pages & resources
        _permission(
            "view_pages_and_resources",
            "View pages and resources",
            "See the course's pages (wiki, progress, custom pages...) and tools, and how they "
            "are set up.",
            PAGES,
        ),
        _permission(
            "manage_pages_and_resources",
            "Manage pages and resources",
            "Turn course pages and tools on or off, set them up, and write custom pages.",
            PAGES,
            implies=("view_pages_and_resources",),
        ),
        # Files
        _permission(
            "view_files",
            "View files",
            "See the files and images uploaded to the course.",
            FILES,
        ),
        _permission(
            "create_files",
            "Upload files",
            "Upload files and images to the course. Files have no publish step: learners can "
            "reach an uploaded file at once.",
            FILES,
            implies=("view_files",),
        ),
        _permission(
            "edit_files",
            "Change files",
            "Replace files and lock or unlock them for learners outside the course.",
            FILES,
            implies=("view_files",),
        ),
        _permission(
            "delete_files",
            "Delete files",
            "Delete files from the course; links to them stop working at once.",
            FILES,
            implies=("edit_files",),
        ),
        # Grading settings
        _permission(
            "view_grading_settings",
            "View grading settings",
            "See the grading policy: assignment types and weights, grade cutoffs, grace period.",
            GRADING,
        ),
        _permission(
            "edit_grading_settings",
            "Change grading settings",
            "Change the grading policy: assignment types and weights, grade cutoffs, grace "
            "period. The new policy applies to learners' grades at once.",
            GRADING,
            implies=("view_grading_settings",),
        ),
        # Schedule & details
        _permission(
            "view_schedule",
            "View the schedule",
            "See the course's start and end dates, enrollment dates and pacing.",
            SCHEDULE,
        ),
        _permission(
            "view_details",
            "View course details",
            "See the course's description, overview, about page, image, effort and requirements.",
            SCHEDULE,
        ),
        _permission(
            "view_schedule_and_details",
            "View the Schedule & details page",
            "Open the Schedule & details settings page: the schedule and the course details.",
            SCHEDULE,
            implies=("view_schedule", "view_details"),
        ),
        _permission(
            "edit_schedule",
            "Change the schedule",
            "Change the course's start and end dates, enrollment dates and pacing, which "
            "decide when learners see the course.",
            SCHEDULE,
            implies=("view_schedule",),
            risks={Risk.PUBLISHING},
        ),
        _permission(
            "edit_details",
            "Change course details",
            "Change the course's description, overview, about page, image, effort and "
            "requirements.",
            SCHEDULE,
            implies=("view_details",),
        ),
        # Checklists
        _permission(
            "view_checklists",
            "View checklists",
            "See the course launch and best-practice checklists and how the course scores.",
            CHECKLISTS,
        ),
        # Team management
        _permission(
            "view_course_team",
            "View the course team",
            "See who is on the course team and with which role.",
            TEAM,
        ),
        _permission(
            "manage_course_team",
            "Manage the course team",
            "Add people to the course team in Studio, change their roles and remove them.",
            TEAM,
            implies=("view_course_team",),
            risks={Risk.TEAM_MANAGEMENT},
        ),
        _permission(
            "instructor.edit_course_access",
            "Manage course access",
            "Add and remove course staff, admins and other course team roles from the "
            "instructor dashboard (the legacy membership permission).",
            TEAM,
            implies=("view_course_team",),
            risks={Risk.TEAM_MANAGEMENT},
        ),
        # Advanced settings
        _permission(
            "view_advanced_settings",
            "View advanced settings",
            "See the course's advanced settings.",
            ADVANCED,
        ),
        _permission(
            "manage_advanced_settings",
            "Change advanced settings",
            "Change the course's advanced settings (enabled tools, proctoring, discussion "
            "blackouts...); changes apply to the running course at once.",
            ADVANCED,
            implies=("view_advanced_settings",),
            risks={Risk.PUBLISHING},
        ),
        # Certificates (Studio configuration)
        _permission(
            "view_certificates",
            "View certificate settings",
            "See the course certificate's configuration: design, signatories, whether it is "
            "active.",
            CERTIFICATES,
        ),
        _permission(
            "manage_certificates",
            "Manage certificate settings",
            "Create and change the course certificate's configuration and activate it.",
            CERTIFICATES,
            implies=("view_certificates",),
            risks={Risk.PUBLISHING},
        ),
        # Group configurations
        _permission(
            "view_group_configurations",
            "View group configurations",
            "See the course's content groups and experiment groups.",
            GROUPS,
        ),
        _permission(
            "manage_group_configurations",
            "Manage group configurations",
            "Create and change content groups and experiment groups, which decide who sees "
            "which content.",
            GROUPS,
            implies=("view_group_configurations",),
        ),
        # Tags & taxonomies
        _permission(
            "manage_tags",
            "Tag course content",
            "Add and remove tags on the course's content.",
            TAGS,
            implies=("view_course",),
        ),
        _permission(
            "export_tags",
            "Export content tags",
            "Download the tags of the course's content as a spreadsheet.",
            TAGS,
            implies=("view_course",),
        ),
        _permission(
            "manage_taxonomies",
            "Manage taxonomies",
            "Create, import and change the taxonomies (tag vocabularies) that the "
            "organization's courses and libraries use.",
            TAGS,
            scope_types=("course", "org"),
            risks={Risk.PLATFORM_CONFIGURATION},
        ),
        # Import & export
        _permission(
            "export_course",
            "Export the course",
            "Download the whole course (content and settings) as an archive.",
            IMPORT_EXPORT,
            implies=("view_course",),
        ),
        _permission(
            "import_course",
            "Import a course",
            "Replace the course's content and most of its settings from an archive; published "
            "content changes too, without a separate publish step.",
            IMPORT_EXPORT,
            implies=("publish_course_content",),
            risks={Risk.PUBLISHING},
        ),
        # Course creation
        _permission(
            "create_course",
            "Create courses",
            "Create new courses and course runs in the organization, or in any organization "
            "when held on the platform.",
            CREATION,
            scope_types=("org", "platform"),
        ),
        *LEGACY_PERMISSIONS,
    ]


LEGACY = "Legacy role equivalence"

LEGACY_PERMISSIONS = [
    _permission(
        name,
        f"Legacy {title} role",
        f"Code not yet moved off the legacy roles asks for this permission where it used to ask "
        f"whether the user holds the legacy {legacy} role on the course (openedx-authz's "
        f"{'courses.' + name}). Held by {role} only, not by the roles that include it.",
        LEGACY,
    )
    for name, title, legacy, role in (
        ("legacy_instructor_role_permissions", "instructor", "instructor", "course_admin"),
        ("legacy_staff_role_permissions", "staff", "staff", "course_staff"),
        (
            "legacy_limited_staff_role_permissions",
            "limited staff",
            "limited_staff",
            "course_limited_staff",
        ),
        (
            "legacy_data_researcher_permissions",
            "data researcher",
            "data_researcher",
            "course_data_researcher",
        ),
        ("legacy_beta_tester_permissions", "beta tester", "beta_testers", "course_beta_tester"),
    )
]
"""openedx-authz's legacy permission ids, each held by exactly the one role openedx-authz gives
it to (``not_inherited``: ``course_admin`` includes ``course_staff`` but does not hold
``courses.legacy_staff_role_permissions``), so code checking them gets the same answer."""


# openedx-authz's sets (openedx-roles.md section 4), each on top of the previous one.
AUTHZ_AUDITOR = _c(
    "view_course",
    "view_course_updates",
    "view_pages_and_resources",
    "view_files",
    "view_grading_settings",
    "view_checklists",
    "view_course_team",
    "view_schedule_and_details",
    "view_advanced_settings",
    "view_certificates",
    "view_group_configurations",
    "view_library_updates",
)
AUTHZ_EDITOR = _c(
    "edit_course_content",
    "manage_library_updates",
    "manage_course_updates",
    "manage_pages_and_resources",
    "create_files",
    "edit_files",
    "edit_grading_settings",
    "manage_group_configurations",
    "edit_details",
    "manage_tags",
)
AUTHZ_STAFF = _c(
    "publish_course_content",
    "delete_files",
    "edit_schedule",
    "manage_advanced_settings",
    "manage_certificates",
    "import_course",
    "export_course",
    "export_tags",
)
AUTHZ_ADMIN = _c("manage_course_team", "manage_taxonomies")

LMS_STAFF_ACCESS = (
    # The legacy "staff access" instructor-dashboard permissions (openedx-roles.md section 3).
    "instructor.allow_student_to_bypass_entrance_exam",
    "instructor.assign_to_cohorts",
    "instructor.edit_forum_roles",
    "instructor.edit_invoice_validation",
    "instructor.give_student_extension",
    "instructor.enroll",
    "instructor.email",
    "instructor.view_exam_results",
    "instructor.override_grades",
    "instructor.view_registration",
    "instructor.view_enrollments",
    "instructor.view_forum_members",
    # What else staff access opens in the LMS.
    "instructor.dashboard",
    "certificates.preview_certificates",
    "courses.view_unreleased_content",
    "grading.edit_grades_in_bulk",
    "grading.reset_learner_attempts",
    "grading.grade_ora_submissions",
    "grading.manage_ora_peer_review",
    "grading.manage_exam_attempts",
    "analytics.view_learner_activity",
)
INSTRUCTOR_ACCESS = (
    "instructor.edit_course_access",
    "instructor.enroll_beta",
    "instructor.rescore_exams",
    # Reset for every learner and delete learner state need instructor access in the legacy
    # reset-attempts endpoint.
    "grading.reset_all_learners_attempts",
    "grading.delete_learner_state",
    # Global staff or instructor.
    "instructor.enable_certificate_generation",
    "instructor.generate_certificate_exceptions",
    "instructor.generate_bulk_certificate_exceptions",
    "instructor.start_certificate_generation",
    "instructor.start_certificate_regeneration",
    "instructor.certificate_exception_view",
    "instructor.certificate_invalidation_view",
)
DATA_RESEARCHER = (
    "instructor.dashboard",
    "instructor.research",
    "instructor.view_issued_certificates",
    "instructor.enrollment_report",
    "instructor.view_coupons",
    "instructor.show_tasks",
)


@hookimpl
def register_roles() -> list[Role]:
    return [
        Role(
            id="course_auditor",
            title="Course auditor",
            description="Reviews a course: sees all its content, drafts and unreleased "
            "content included, and every Studio settings page. Changes nothing, grades "
            "nothing and sees no learner data.",
            scope_types=COURSE_ROLE_SCOPES,
            permissions=(*AUTHZ_AUDITOR, "courses.view_unreleased_content"),
        ),
        Role(
            id="course_editor",
            title="Course editor",
            description="Builds course content in Studio: edits units and components, files, "
            "pages, updates, groups, tags and the course details. Cannot publish, grade or see "
            "learner data, and cannot change the schedule, certificates or advanced settings.",
            scope_types=COURSE_ROLE_SCOPES,
            permissions=AUTHZ_EDITOR,
            includes=("course_auditor",),
        ),
        Role(
            id="course_limited_staff",
            title="Course limited staff",
            description="Legacy limited staff: course staff in the LMS (instructor dashboard, "
            "enrollment, cohorts, grades, exams, bulk e-mail, discussion roles) without any "
            "Studio access: cannot see or edit the course in Studio or manage the team.",
            scope_types=COURSE_ROLE_SCOPES,
            not_inherited=("courses.legacy_limited_staff_role_permissions",),
            permissions=LMS_STAFF_ACCESS,
            aliases=("limited_staff",),
        ),
        Role(
            id="course_staff",
            title="Course staff",
            description="Legacy staff: builds and publishes the course in Studio (schedule, "
            "advanced settings, certificates, import and export included) and runs it from "
            "the instructor dashboard. Cannot manage the course team, beta testers or "
            "certificate generation, and does not get data downloads.",
            scope_types=COURSE_ROLE_SCOPES,
            not_inherited=("courses.legacy_staff_role_permissions",),
            permissions=AUTHZ_STAFF,
            includes=("course_editor", "course_limited_staff"),
            aliases=("staff",),
        ),
        Role(
            id="course_admin",
            title="Course admin",
            description="Legacy instructor (shown as Admin): everything course staff does, "
            "plus managing the course team and beta testers, rescoring for every learner, "
            "certificate generation and exceptions, taxonomies, and the discussion admin role. "
            "Does not get data downloads (that is the data researcher).",
            scope_types=COURSE_ROLE_SCOPES,
            not_inherited=("courses.legacy_instructor_role_permissions",),
            permissions=(*AUTHZ_ADMIN, *INSTRUCTOR_ACCESS),
            includes=("course_staff", "discussion_administrator"),
            aliases=("instructor",),
            admin=True,
        ),
        Role(
            id="course_data_researcher",
            title="Course data researcher",
            description="Legacy data researcher: opens the instructor dashboard and downloads "
            "the course's data reports (grades, answers, learner profiles, issued "
            "certificates, enrollments). Cannot change the course, its learners or grades.",
            scope_types=COURSE_ROLE_SCOPES,
            not_inherited=("courses.legacy_data_researcher_permissions",),
            permissions=DATA_RESEARCHER,
            aliases=("data_researcher",),
        ),
        Role(
            id="course_beta_tester",
            title="Course beta tester",
            description="Tries the course before its learners: sees content before its "
            "release date. Nothing else.",
            scope_types=COURSE_ROLE_SCOPES,
            not_inherited=("courses.legacy_beta_tester_permissions",),
            permissions=("courses.view_unreleased_content",),
            aliases=("beta_testers",),
        ),
        Role(
            id="course_creator",
            title="Course creator",
            description="Creates new courses and libraries in an organization (or in any, "
            "when held on the platform). Gets no role on what they create unless one is "
            "given.",
            scope_types=("org", "platform"),
            permissions=("courses.create_course", "content_libraries.create_library"),
            aliases=("course_creator_group", "org_course_creator_group"),
        ),
        Role(
            id="org_admin",
            title="Organization admin",
            description="Runs an organization: every permission on all of its courses and "
            "libraries (course admin, data researcher, discussion roles, library admin, "
            "support tools), creating courses and libraries, program credentials, and "
            "managing the organization's own team.",
            scope_types=("org",),
            permissions=(
                "platform.manage_org_team",
                "platform.manage_custom_roles",
                "platform.add_scopes",
                "platform.remove_scopes",
                "certificates.manage_program_credentials",
            ),
            includes=(
                "course_admin",
                "course_data_researcher",
                "discussion_group_moderator",
                "library_admin",
                "course_creator",
                "platform_support",
            ),
            admin=True,
            revocable_by=("org_admin", "platform_admin"),
        ),
    ]
