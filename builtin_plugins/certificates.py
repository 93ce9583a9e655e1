"""The ``certificates`` plugin: course certificates and program credentials, and the platform
support role.

Legacy ids are kept: the instructor-dashboard certificate permissions
(``instructor.enable_certificate_generation``, ``instructor.start_certificate_generation``,
``instructor.start_certificate_regeneration``, ``instructor.certificate_exception_view``,
``instructor.generate_certificate_exceptions``,
``instructor.generate_bulk_certificate_exceptions``, ``instructor.certificate_invalidation_view``,
``instructor.view_issued_certificates``) and the certificate web views
(``certificates.preview_certificates``, ``certificates.view_all_certificates``,
``certificates.generate_all_certificates``). The legacy ``*_view`` names are Django views that
change things (adding an exception, invalidating a certificate); each implies a new read-only
``certificates.view_*`` permission for seeing the lists.

Legacy grants, kept by the roles: generation, exceptions and invalidation are instructor-level
(``course_admin``, not ``course_staff``); the issued-certificates view is global staff or data
researcher (``course_data_researcher``); preview is course staff; viewing and regenerating
anyone's certificates is global staff or support.

``platform_support`` (legacy ``support``) is registered here because this plugin owns the
certificate support tools; it also uses the learner look-ups of the ``enrollment`` plugin, which
is loaded before this one (see the ``platform`` plugin for why such roles are not there).
"""

from __future__ import annotations

from rolecall.core import Permission, PermissionFactory, Risk, Role, hookimpl

AREA = "Certificates"
COURSE = ("course",)
EVERYWHERE = ("course", "org", "platform")


_permission = PermissionFactory(scope_types=COURSE, area=AREA)


@hookimpl
def register_permissions() -> list[Permission]:
    learner = (Risk.LEARNER_DATA,)
    return [
        _permission(
            "certificates.preview_certificates",
            "Preview certificates",
            "See what the course's certificate will look like, before any is issued.",
        ),
        _permission(
            "instructor.view_issued_certificates",
            "View issued certificates",
            "See the list of certificates issued to learners, by track and status.",
            risks=learner,
        ),
        _permission(
            "instructor.enable_certificate_generation",
            "Let learners generate their certificates",
            "Turn on or off learners generating their own certificate once they pass.",
            risks=(Risk.PUBLISHING,),
        ),
        _permission(
            "instructor.start_certificate_generation",
            "Generate certificates",
            "Generate certificates for every learner who passed the course.",
            risks=(Risk.PUBLISHING,),
        ),
        _permission(
            "instructor.start_certificate_regeneration",
            "Regenerate certificates",
            "Generate certificates again for learners whose certificate has a given status "
            "(for example after a grade change).",
            implies=("instructor.start_certificate_generation",),
            risks=(Risk.PUBLISHING,),
        ),
        _permission(
            "certificates.view_certificate_exceptions",
            "View certificate exceptions",
            "See the learners allowed a certificate although they did not pass.",
            risks=learner,
        ),
        _permission(
            "instructor.certificate_exception_view",
            "Manage certificate exceptions",
            "Allow one learner a certificate although they did not pass, or take the "
            "exception back.",
            implies=("certificates.view_certificate_exceptions",),
            risks=learner,
        ),
        _permission(
            "instructor.generate_bulk_certificate_exceptions",
            "Add certificate exceptions in bulk",
            "Allow certificates to a list of learners uploaded as a file.",
            implies=("instructor.certificate_exception_view",),
            risks=learner,
        ),
        _permission(
            "instructor.generate_certificate_exceptions",
            "Generate certificates for exceptions",
            "Issue the certificates of the learners on the exception list.",
            implies=("certificates.view_certificate_exceptions",),
            risks=(Risk.LEARNER_DATA, Risk.PUBLISHING),
        ),
        _permission(
            "certificates.view_certificate_invalidations",
            "View invalidated certificates",
            "See which learners' certificates were invalidated, and why.",
            risks=learner,
        ),
        _permission(
            "instructor.certificate_invalidation_view",
            "Invalidate certificates",
            "Invalidate a learner's certificate (for example for academic dishonesty), or "
            "restore it.",
            implies=("certificates.view_certificate_invalidations",),
            risks=learner,
        ),
        _permission(
            "certificates.view_all_certificates",
            "Look up anyone's certificates",
            "Find any learner's certificates in every course, with their status (the "
            "support team's certificate tool).",
            scope_types=EVERYWHERE,
            risks=learner,
        ),
        _permission(
            "certificates.generate_all_certificates",
            "Regenerate anyone's certificate",
            "Generate or regenerate the certificate of any learner in any course (the "
            "support team's certificate tool).",
            scope_types=EVERYWHERE,
            implies=("certificates.view_all_certificates",),
            risks=(Risk.LEARNER_DATA, Risk.PUBLISHING),
        ),
        _permission(
            "certificates.view_program_credentials",
            "View program credentials",
            "See the program certificates earned by learners of the organization's programs.",
            scope_types=("org", "platform"),
            risks=learner,
        ),
        _permission(
            "certificates.manage_program_credentials",
            "Manage program credentials",
            "Configure program certificates and award or revoke them.",
            scope_types=("org", "platform"),
            implies=("certificates.view_program_credentials",),
            risks=(Risk.LEARNER_DATA, Risk.PUBLISHING, Risk.PLATFORM_CONFIGURATION),
        ),
    ]


@hookimpl
def register_roles() -> list[Role]:
    return [
        Role(
            id="platform_support",
            title="Platform support",
            description="The help desk: looks up any learner's enrollments, certificates and "
            "program credentials, regenerates certificates and changes enrollment tracks, in "
            "every course. Cannot change course content, grades or teams.",
            scope_types=("platform",),
            permissions=(
                "certificates.generate_all_certificates",
                "certificates.view_program_credentials",
                "enrollment.change_enrollment_mode",
            ),
            aliases=("support",),
        )
    ]
