"""The ``analytics`` plugin: the instructor dashboard itself, course analytics and research data.

Legacy ids are kept: ``instructor.dashboard`` (staff, instructor or data researcher),
``instructor.research`` (global staff or data researcher: the legacy gate of every data
download) and ``instructor.show_tasks`` (the list of report and background tasks).
``instructor.research`` implies each per-report download permission of the ``grading`` plugin
(loaded before this one), so holding it keeps every report, as in the legacy platform.
"""

from __future__ import annotations

from rolecall.core import Permission, Risk, hookimpl

REPORT_TYPES = (
    "anonymized_student_ids",
    "cohort_results",
    "enrolled_students",
    "grade",
    "issued_certificates",
    "ora2_data",
    "ora2_submission_files",
    "ora2_summary",
    "pending_activations",
    "pending_enrollments",
    "problem_grade",
    "problem_responses",
)
"""The report types of the data-download API; ``grading`` registers one permission each."""

COURSE = ("course",)


@hookimpl
def register_permissions() -> list[Permission]:
    return [
        Permission(
            id="instructor.dashboard",
            title="Open the instructor dashboard",
            description="Open the course's instructor dashboard; each of its tabs needs its own "
            "permission as well.",
            area="Tool access",
            scope_types=COURSE,
        ),
        Permission(
            id="instructor.research",
            title="Download research data",
            description="Generate and download every data report of the course (grades, "
            "answers, learner profiles...): the legacy data-download permission, which "
            "includes each report's own permission.",
            area="Data downloads",
            scope_types=COURSE,
            implies=tuple(f"instructor.download_{r}_report" for r in REPORT_TYPES),
            risks={Risk.LEARNER_DATA},
        ),
        Permission(
            id="instructor.show_tasks",
            title="View report and background tasks",
            description="See the reports and background tasks (rescoring, e-mail, "
            "certificates) that are running or ran in the course, and who started them.",
            area="Data downloads",
            scope_types=COURSE,
        ),
        Permission(
            id="analytics.view_course_analytics",
            title="View course analytics",
            description="See totals and trends for the course (or every course of an "
            "organization): enrollment, engagement, grade distribution. No individual learner "
            "is shown.",
            area="Analytics",
            scope_types=("course", "org"),
        ),
        Permission(
            id="analytics.view_learner_activity",
            title="View learner activity",
            description="See what individual learners did: their progress, submissions and "
            "last visits.",
            area="Analytics",
            scope_types=COURSE,
            implies=("analytics.view_course_analytics",),
            risks={Risk.LEARNER_DATA},
        ),
    ]
