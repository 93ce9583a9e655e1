"""The ``enrollment`` plugin: enrollment, beta testers, cohorts, registration data and the
platform support team's learner look-ups.

Legacy instructor-dashboard permissions keep their ids: ``instructor.enroll`` (enroll and
unenroll, one learner or a batch, by e-mail or username), ``instructor.enroll_beta``,
``instructor.assign_to_cohorts``, ``instructor.view_enrollments``,
``instructor.view_registration``, ``instructor.enrollment_report``, ``instructor.view_coupons``
and ``instructor.edit_invoice_validation``. Finer operations get ``enrollment.*`` ids, and the
legacy permission implies them, so a legacy holder keeps everything it allowed:
``instructor.enroll`` implies batch enrollment, which implies enrolling and unenrolling single
learners, which imply seeing the enrollments.
"""

from __future__ import annotations

from rolecall.core import Permission, PermissionFactory, Risk, hookimpl

ENROLLMENT = "Enrollment"
COHORTS = "Cohorts"
ECOMMERCE = "E-commerce"
DOWNLOADS = "Data downloads"
COURSE = ("course",)
EVERYWHERE = ("course", "org", "platform")


_permission = PermissionFactory(scope_types=COURSE, risks=frozenset({Risk.LEARNER_DATA}))


@hookimpl
def register_permissions() -> list[Permission]:
    return [
        _permission(
            "instructor.view_enrollments",
            "View enrollments",
            "See who is enrolled in the course, and in which track.",
            ENROLLMENT,
        ),
        _permission(
            "instructor.view_registration",
            "View registration data",
            "See learners' registration details and the course's registration codes.",
            ENROLLMENT,
        ),
        _permission(
            "enrollment.enroll_learners",
            "Enroll learners",
            "Enroll a learner, or invite an e-mail address that has no account yet.",
            ENROLLMENT,
            implies=("instructor.view_enrollments",),
        ),
        _permission(
            "enrollment.unenroll_learners",
            "Unenroll learners",
            "Remove a learner from the course, or cancel an invitation.",
            ENROLLMENT,
            implies=("instructor.view_enrollments",),
        ),
        _permission(
            "enrollment.batch_enroll",
            "Enroll and unenroll in batches",
            "Enroll or unenroll a list of learners by e-mail or username in one go, with a "
            "result for each.",
            ENROLLMENT,
            implies=("enrollment.enroll_learners", "enrollment.unenroll_learners"),
        ),
        _permission(
            "instructor.enroll",
            "Manage enrollment",
            "Enroll and unenroll learners, one at a time or in batches (the legacy "
            "instructor-dashboard enrollment permission).",
            ENROLLMENT,
            implies=("enrollment.batch_enroll",),
        ),
        _permission(
            "enrollment.view_beta_testers",
            "View beta testers",
            "See who the course's beta testers are.",
            ENROLLMENT,
        ),
        _permission(
            "instructor.enroll_beta",
            "Manage beta testers",
            "Add and remove the course's beta testers, who see content before its release.",
            ENROLLMENT,
            implies=("enrollment.view_beta_testers",),
            risks=(Risk.LEARNER_DATA, Risk.TEAM_MANAGEMENT),
        ),
        _permission(
            "enrollment.look_up_learners",
            "Look up learners",
            "Find a learner by username or e-mail and see their enrollments in every course "
            "(the support team's look-up tool).",
            ENROLLMENT,
            scope_types=EVERYWHERE,
        ),
        _permission(
            "enrollment.change_enrollment_mode",
            "Change a learner's enrollment track",
            "Move a learner to another track (audit, verified...) of a course, with a reason "
            "kept in the enrollment history.",
            ENROLLMENT,
            scope_types=EVERYWHERE,
            implies=("enrollment.look_up_learners",),
        ),
        _permission(
            "enrollment.view_cohorts",
            "View cohorts",
            "See the course's cohorts and which learners are in each.",
            COHORTS,
        ),
        _permission(
            "instructor.assign_to_cohorts",
            "Manage cohorts",
            "Create cohorts and move learners between them, one by one or from a file.",
            COHORTS,
            implies=("enrollment.view_cohorts",),
        ),
        _permission(
            "instructor.enrollment_report",
            "Download the enrollment report",
            "Generate and download the report of enrollments and their payments.",
            DOWNLOADS,
        ),
        _permission(
            "instructor.view_coupons",
            "View coupons",
            "See the course's coupons and who redeemed them.",
            ECOMMERCE,
        ),
        _permission(
            "instructor.edit_invoice_validation",
            "Validate invoices",
            "Mark invoices for registration codes as valid or invalid.",
            ECOMMERCE,
        ),
    ]
