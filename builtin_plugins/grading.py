"""The ``grading`` plugin: grading, exams and the data downloads of the instructor dashboard.

Legacy instructor-dashboard permissions keep their ids (``instructor.override_grades``,
``instructor.rescore_exams``, ``instructor.give_student_extension``,
``instructor.allow_student_to_bypass_entrance_exam``, ``instructor.view_exam_results``).
Operations without a legacy permission of their own get ``grading.*`` ids.

Data downloads: one permission per report type of the data-download API, named
``instructor.download_<report type>_report`` (``instructor.download_grade_report``,
``instructor.download_ora2_data_report``...). In the legacy platform every report is gated by
``instructor.research`` (global staff or data researcher); the ``analytics`` plugin registers
that permission and makes it imply every report here, so legacy holders keep every report while
a custom role can be given a single one.

Who holds what is decided by the roles of the ``authoring`` plugin: staff-level operations go to
``course_limited_staff`` (so to ``course_staff`` and ``course_admin``), instructor-level ones
(``rescore_exams``, resetting every learner's attempts, deleting learner state) to
``course_admin`` only.
"""

from __future__ import annotations

from rolecall.core import Permission, PermissionFactory, Risk, hookimpl

GRADING = "Grading"
EXAMS = "Exams"
DOWNLOADS = "Data downloads"
COURSE = ("course",)

REPORT_TYPES: tuple[tuple[str, str, str], ...] = (
    (
        "anonymized_student_ids",
        "Download anonymized learner ids",
        "the anonymized id of every learner, for research data sets",
    ),
    ("cohort_results", "Download cohort results", "each cohort's learners and their results"),
    (
        "enrolled_students",
        "Download the enrolled learners list",
        "every enrolled learner's profile information (name, e-mail, location...)",
    ),
    ("grade", "Download the grade report", "every learner's grade, by assignment"),
    (
        "issued_certificates",
        "Download issued certificates",
        "the certificates issued to learners, with their grade and status",
    ),
    (
        "ora2_data",
        "Download open response data",
        "every learner's open response assessment answers and the scores they received",
    ),
    (
        "ora2_submission_files",
        "Download open response files",
        "the files learners submitted to open response assessments",
    ),
    (
        "ora2_summary",
        "Download the open response summary",
        "per-assessment counts of submissions waiting for each grading step",
    ),
    (
        "pending_activations",
        "Download pending activations",
        "learners who enrolled but have not activated their account",
    ),
    (
        "pending_enrollments",
        "Download pending enrollments",
        "e-mail addresses invited to enroll who have not registered yet",
    ),
    (
        "problem_grade",
        "Download the problem grade report",
        "every learner's score on every problem",
    ),
    (
        "problem_responses",
        "Download problem responses",
        "every learner's answers to a problem or section",
    ),
)


def download_permission_id(report_type: str) -> str:
    return f"instructor.download_{report_type}_report"


_permission = PermissionFactory(scope_types=COURSE)


@hookimpl
def register_permissions() -> list[Permission]:
    learner = {Risk.LEARNER_DATA}
    grades = {Risk.LEARNER_DATA, Risk.GRADES}
    grading = [
        _permission(
            "grading.view_gradebook",
            "View the gradebook",
            "See every learner's scores and grades in the gradebook.",
            GRADING,
            risks=learner,
        ),
        _permission(
            "instructor.override_grades",
            "Override a learner's score",
            "Set a learner's score on a problem by hand, or rescore one learner's answers.",
            GRADING,
            implies=("grading.view_gradebook",),
            risks=grades,
        ),
        _permission(
            "grading.edit_grades_in_bulk",
            "Change grades in bulk",
            "Change many learners' scores at once from the gradebook (for example by uploading "
            "a spreadsheet of overrides).",
            GRADING,
            implies=("instructor.override_grades", "grading.view_gradebook"),
            risks=grades,
        ),
        _permission(
            "instructor.rescore_exams",
            "Rescore for every learner",
            "Rescore a problem or the entrance exam for every learner, for example after "
            "fixing an answer key.",
            GRADING,
            risks={Risk.GRADES},
        ),
        _permission(
            "grading.reset_learner_attempts",
            "Reset a learner's attempts",
            "Let one learner try a problem again by resetting their number of attempts.",
            GRADING,
            risks=learner,
        ),
        _permission(
            "grading.reset_all_learners_attempts",
            "Reset every learner's attempts",
            "Reset the number of attempts on a problem for every learner at once.",
            GRADING,
            implies=("grading.reset_learner_attempts",),
            risks=learner,
        ),
        _permission(
            "grading.delete_learner_state",
            "Delete a learner's answers",
            "Delete a learner's saved state on a problem: their answers, score and attempts.",
            GRADING,
            implies=("grading.reset_learner_attempts",),
            risks=grades,
        ),
        _permission(
            "grading.view_ora_submissions",
            "View open response submissions",
            "Read learners' open response assessment submissions and the grades they got.",
            GRADING,
            risks=learner,
        ),
        _permission(
            "grading.grade_ora_submissions",
            "Grade open responses as staff",
            "Grade learners' open response submissions as course staff; a staff grade replaces "
            "peer and self grades.",
            GRADING,
            implies=("grading.view_ora_submissions",),
            risks=grades,
        ),
        _permission(
            "grading.manage_ora_peer_review",
            "Manage open response peer review",
            "Unblock learners waiting for peer grades, remove submissions from peer review and "
            "override the peer grading step.",
            GRADING,
            implies=("grading.view_ora_submissions",),
            risks=grades,
        ),
    ]
    exams = [
        _permission(
            "instructor.view_exam_results",
            "View exam results",
            "See learners' entrance exam and special exam (timed, proctored) attempts and results.",
            EXAMS,
            risks=learner,
        ),
        _permission(
            "grading.manage_exam_attempts",
            "Reset and complete exam attempts",
            "Reset a learner's timed or proctored exam attempt, or mark it complete.",
            EXAMS,
            implies=("instructor.view_exam_results",),
            risks=grades,
        ),
        _permission(
            "instructor.allow_student_to_bypass_entrance_exam",
            "Let a learner skip the entrance exam",
            "Let one learner into the course without passing its entrance exam.",
            EXAMS,
            risks=learner,
        ),
        _permission(
            "instructor.give_student_extension",
            "Give due date extensions",
            "Move a due date later for one learner (or a list of learners).",
            EXAMS,
            risks=learner,
        ),
    ]
    downloads = [
        _permission(
            download_permission_id(report),
            title,
            f"Generate and download the report of {what}.",
            DOWNLOADS,
            risks=learner,
        )
        for report, title, what in REPORT_TYPES
    ]
    return grading + exams + downloads
