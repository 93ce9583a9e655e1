"""The built-in permission catalogue encodes the legacy Open edX semantics and openedx-authz's
role sets.

The expected sets below are copied from the reference tables (openedx-roles.md sections 2, 3
and 4), not computed from the plugins, so a plugin that drifts from them fails here.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from rolecall.core import (
    BadInputError,
    Plugins,
    PluginSettings,
    Registry,
    Risk,
    Rolecall,
    load_plugins,
)
from rolecall.core.catalogue import permissions_markdown, role_summary, summary_as_dict

from support import REPO, run_cli

# --- reference tables ------------------------------------------------------------------------

# openedx-roles.md section 3: the instructor dashboard permissions and who holds them.
STAFF_ACCESS = {
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
}
INSTRUCTOR_ACCESS = {
    "instructor.edit_course_access",
    "instructor.enroll_beta",
    "instructor.rescore_exams",
}
GLOBAL_STAFF_OR_INSTRUCTOR = {
    "instructor.enable_certificate_generation",
    "instructor.generate_certificate_exceptions",
    "instructor.generate_bulk_certificate_exceptions",
    "instructor.start_certificate_generation",
    "instructor.start_certificate_regeneration",
    "instructor.certificate_exception_view",
    "instructor.certificate_invalidation_view",
}
GLOBAL_STAFF_OR_DATA_RESEARCHER = {
    "instructor.research",
    "instructor.view_issued_certificates",
    "instructor.enrollment_report",
    "instructor.view_coupons",
    "instructor.show_tasks",
}
STAFF_INSTRUCTOR_OR_DATA_RESEARCHER = {"instructor.dashboard"}
REPORT_TYPES = [
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
]
SECTION_3 = (
    STAFF_ACCESS
    | INSTRUCTOR_ACCESS
    | GLOBAL_STAFF_OR_INSTRUCTOR
    | GLOBAL_STAFF_OR_DATA_RESEARCHER
    | STAFF_INSTRUCTOR_OR_DATA_RESEARCHER
    | {
        "certificates.preview_certificates",
        "certificates.view_all_certificates",
        "certificates.generate_all_certificates",
    }
)

# openedx-roles.md section 2: the forum roles.
FORUM_STUDENT = {
    "vote",
    "update_thread",
    "follow_thread",
    "unfollow_thread",
    "update_comment",
    "create_sub_comment",
    "unvote",
    "create_thread",
    "follow_commentable",
    "unfollow_commentable",
    "create_comment",
}
FORUM_MODERATOR = FORUM_STUDENT | {
    "edit_content",
    "delete_thread",
    "openclose_thread",
    "endorse_comment",
    "delete_comment",
    "see_all_cohorts",
}
FORUM_GROUP_MODERATOR = FORUM_STUDENT | {
    "group_edit_content",
    "group_delete_thread",
    "group_openclose_thread",
    "group_endorse_comment",
    "group_delete_comment",
}
FORUM_ROLES = {
    # role id, legacy name, legacy permission names
    "discussion_student": ("Student", FORUM_STUDENT),
    "discussion_moderator": ("Moderator", FORUM_MODERATOR),
    "discussion_group_moderator": ("Group Moderator", FORUM_GROUP_MODERATOR),
    "discussion_community_ta": ("Community TA", FORUM_MODERATOR),
    "discussion_administrator": ("Administrator", FORUM_MODERATOR | {"manage_moderator"}),
}

# openedx-roles.md section 4: openedx-authz's library and course roles.
LIBRARY_ADMIN = {
    "view_library",
    "manage_library_tags",
    "delete_library",
    "edit_library_content",
    "publish_library_content",
    "reuse_library_content",
    "view_library_team",
    "manage_library_team",
    "create_library_collection",
    "edit_library_collection",
    "delete_library_collection",
}
LIBRARY_AUTHOR = LIBRARY_ADMIN - {"delete_library", "manage_library_team"}
LIBRARY_CONTRIBUTOR = LIBRARY_AUTHOR - {"publish_library_content"}
LIBRARY_USER = {"view_library", "reuse_library_content", "view_library_team"}
LIBRARY_ROLES = {
    "library_admin": LIBRARY_ADMIN,
    "library_author": LIBRARY_AUTHOR,
    "library_contributor": LIBRARY_CONTRIBUTOR,
    "library_user": LIBRARY_USER,
}
LIBRARY_IMPLIES = {
    "manage_library_tags": {"edit_library_content"},
    "delete_library": {"edit_library_content"},
    "publish_library_content": {"edit_library_content", "view_library"},
    "edit_library_content": {"view_library"},
    "reuse_library_content": {"view_library"},
    "edit_library_collection": {"view_library"},
    "manage_library_team": {"view_library_team"},
    "create_library_collection": {"edit_library_collection"},
    "delete_library_collection": {"edit_library_collection"},
    "view_library": set(),
    "view_library_team": set(),
}
COURSE_AUDITOR = {
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
}
COURSE_EDITOR = COURSE_AUDITOR | {
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
}
COURSE_STAFF = COURSE_EDITOR | {
    "publish_course_content",
    "delete_files",
    "edit_schedule",
    "manage_advanced_settings",
    "manage_certificates",
    "import_course",
    "export_course",
    "export_tags",
}
COURSE_ADMIN = COURSE_STAFF | {"manage_course_team", "manage_taxonomies"}
AUTHZ_COURSE_ROLES = {
    "course_auditor": COURSE_AUDITOR,
    "course_editor": COURSE_EDITOR,
    "course_staff": COURSE_STAFF,
    "course_admin": COURSE_ADMIN,
}
LEGACY_ALIASES = {
    "instructor": "course_admin",
    "staff": "course_staff",
    "limited_staff": "course_limited_staff",
    "data_researcher": "course_data_researcher",
    "beta_testers": "course_beta_tester",
    "course_creator_group": "course_creator",
    "org_course_creator_group": "course_creator",
    "support": "platform_support",
    "Student": "discussion_student",
    "Moderator": "discussion_moderator",
    "Group Moderator": "discussion_group_moderator",
    "Community TA": "discussion_community_ta",
    "Administrator": "discussion_administrator",
}
COURSE_ROLES = [
    "course_auditor",
    "course_editor",
    "course_staff",
    "course_admin",
    "course_limited_staff",
    "course_data_researcher",
    "course_beta_tester",
]

MITX_COURSE = "course-v1:MITx+6.002x+2026_T1"
HARVARD_COURSE = "course-v1:HarvardX+CS50+2026"
MITX_LIBRARY = "lib:MITx:physics"
HARVARD_LIBRARY = "lib:HarvardX:cs"


@pytest.fixture(scope="module")
def builtins() -> Plugins:
    """Only the built-in plugins, strictly: any built-in failing to load fails the test."""
    return load_plugins(PluginSettings(strict=True), entry_points=[])


@pytest.fixture(scope="module")
def registry(builtins: Plugins) -> Registry:
    return builtins.registry


def held(registry: Registry, role: str) -> frozenset[str]:
    return registry.role_permissions[registry.role(role).id]


def course(*names: str) -> set[str]:
    return {f"courses.{n}" for n in names}


# --- the built-ins load ----------------------------------------------------------------------


def test_every_builtin_loads_in_dependency_order(builtins: Plugins) -> None:
    assert [p.name for p in builtins.plugins] == [
        "platform",
        "libraries",
        "discussion",
        "grading",
        "enrollment",
        "certificates",
        "communications",
        "analytics",
        "authoring",
        "delegation",
        "legacy",
    ]
    assert all(p.status == "loaded" for p in builtins.plugins)
    assert builtins.warnings == ()
    platform = builtins.info("platform")
    assert platform is not None
    assert platform.contributes["scope_types"] == ["platform", "org", "course", "library"]
    assert platform.contributes["roles"] == ["platform_admin"]


def test_disabling_a_plugin_the_course_roles_use_skips_authoring_and_names_the_gap() -> None:
    loaded = load_plugins(PluginSettings(disabled=frozenset({"communications"})), entry_points=[])
    authoring = loaded.info("authoring")
    assert authoring is not None
    assert authoring.status == "failed"
    assert "instructor.email" in (authoring.error or "")
    # The default delegation rules name the course roles, so they go too, saying why.
    assert [p.name for p in loaded.plugins if p.status == "failed"] == ["authoring", "delegation"]
    delegation = loaded.info("delegation")
    assert delegation is not None
    assert "names unknown role 'org_admin'" in (delegation.error or "")
    assert "library_admin" in loaded.registry.roles


# --- section 3: the instructor dashboard -----------------------------------------------------


@pytest.mark.parametrize("permission", sorted(SECTION_3))
def test_every_legacy_instructor_permission_is_registered_with_its_legacy_id(
    registry: Registry, permission: str
) -> None:
    assert permission in registry.permissions
    assert registry.permissions[permission].scope_types  # applies somewhere


def test_staff_access_row_is_held_by_staff_limited_staff_and_admin(registry: Registry) -> None:
    for role in ("course_staff", "course_limited_staff", "course_admin", "platform_admin"):
        assert held(registry, role) >= STAFF_ACCESS, role
    for role in ("course_auditor", "course_editor", "course_beta_tester"):
        assert not held(registry, role) & STAFF_ACCESS, role


def test_instructor_access_row_is_held_by_admin_and_not_by_staff(registry: Registry) -> None:
    assert held(registry, "course_admin") >= INSTRUCTOR_ACCESS
    assert held(registry, "platform_admin") >= INSTRUCTOR_ACCESS
    for role in ("course_staff", "course_limited_staff", "course_data_researcher"):
        assert not held(registry, role) & INSTRUCTOR_ACCESS, role


def test_certificate_generation_is_instructor_level(registry: Registry) -> None:
    assert held(registry, "course_admin") >= GLOBAL_STAFF_OR_INSTRUCTOR
    assert held(registry, "platform_admin") >= GLOBAL_STAFF_OR_INSTRUCTOR
    for role in ("course_staff", "course_limited_staff", "course_data_researcher"):
        assert not held(registry, role) & GLOBAL_STAFF_OR_INSTRUCTOR, role


def test_research_row_is_the_data_researchers_not_the_course_teams(registry: Registry) -> None:
    assert held(registry, "course_data_researcher") >= GLOBAL_STAFF_OR_DATA_RESEARCHER
    assert held(registry, "platform_admin") >= GLOBAL_STAFF_OR_DATA_RESEARCHER
    for role in ("course_staff", "course_admin", "course_limited_staff", "course_editor"):
        assert not held(registry, role) & GLOBAL_STAFF_OR_DATA_RESEARCHER, role


def test_dashboard_is_staff_instructor_or_data_researcher(registry: Registry) -> None:
    for role in ("course_staff", "course_limited_staff", "course_admin", "course_data_researcher"):
        assert held(registry, role) >= STAFF_INSTRUCTOR_OR_DATA_RESEARCHER, role
    for role in ("course_auditor", "course_editor", "course_beta_tester", "discussion_student"):
        assert "instructor.dashboard" not in held(registry, role), role


def test_certificate_support_tools_are_supports_and_preview_is_staffs(registry: Registry) -> None:
    support = {"certificates.view_all_certificates", "certificates.generate_all_certificates"}
    assert held(registry, "support") >= support
    assert held(registry, "platform_admin") >= support
    assert not held(registry, "course_admin") & support
    assert "certificates.preview_certificates" in held(registry, "course_staff")
    assert "certificates.preview_certificates" in held(registry, "course_limited_staff")
    assert "certificates.preview_certificates" not in held(registry, "course_editor")


@pytest.mark.parametrize("report", REPORT_TYPES)
def test_one_permission_per_report_type_held_through_research(
    registry: Registry, report: str
) -> None:
    permission = f"instructor.download_{report}_report"
    assert permission in registry.permissions
    assert Risk.LEARNER_DATA in registry.permissions[permission].risks
    assert permission in registry.implied["instructor.research"]
    assert permission in held(registry, "data_researcher")
    assert permission not in held(registry, "course_admin")


def test_data_researcher_reads_data_and_changes_nothing(registry: Registry) -> None:
    permissions = held(registry, "data_researcher")
    assert {"instructor.dashboard", "instructor.research"} <= permissions
    for pid in permissions:
        risks = registry.permissions[pid].risks
        assert not risks & {Risk.GRADES, Risk.PUBLISHING, Risk.TEAM_MANAGEMENT}, pid
    assert {p for p in permissions if p.startswith("courses.")} == {
        "courses.legacy_data_researcher_permissions"
    }


def test_limited_staff_is_staff_access_without_studio(registry: Registry) -> None:
    permissions = held(registry, "limited_staff")
    assert permissions >= STAFF_ACCESS
    # Cannot see or edit the course in Studio, nor manage roles there.
    assert {p for p in permissions if p.startswith("courses.")} == {
        "courses.view_unreleased_content",
        "courses.legacy_limited_staff_role_permissions",
    }
    assert "instructor.edit_course_access" not in permissions


def test_beta_tester_sees_unreleased_content_and_nothing_else(registry: Registry) -> None:
    assert held(registry, "beta_testers") == {
        "courses.view_unreleased_content",
        "courses.legacy_beta_tester_permissions",
    }
    assert "courses.view_unreleased_content" in held(registry, "course_staff")


def test_support_looks_learners_up_on_the_platform(registry: Registry) -> None:
    support = registry.role("support")
    assert support.scope_types == ("platform",)
    permissions = held(registry, "support")
    assert {p for p in permissions if p.startswith("enrollment.")}  # learner look-ups
    assert not {p for p in permissions if p.startswith(("courses.", "grading."))}


# --- section 2: forum roles ------------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(FORUM_ROLES))
def test_forum_role_has_exactly_the_legacy_set(registry: Registry, role: str) -> None:
    legacy_name, names = FORUM_ROLES[role]
    assert registry.role(legacy_name).id == role
    assert held(registry, role) == {f"discussion.{n}" for n in names}


def test_every_legacy_forum_permission_is_registered(registry: Registry) -> None:
    legacy = set().union(*(names for _, names in FORUM_ROLES.values()))
    registered = {p[len("discussion.") :] for p in registry.permissions if p.startswith("disc")}
    assert registered == legacy


def test_course_admin_holds_discussion_administrator_through_its_role(registry: Registry) -> None:
    assert "discussion_administrator" in registry.role("instructor").includes
    assert held(registry, "course_admin") >= held(registry, "discussion_administrator")
    assert "discussion.manage_moderator" not in held(registry, "course_staff")


# --- section 4: openedx-authz ----------------------------------------------------------------


@pytest.mark.parametrize("role", sorted(LIBRARY_ROLES))
def test_library_role_has_exactly_the_authz_set(registry: Registry, role: str) -> None:
    assert held(registry, role) == {f"content_libraries.{n}" for n in LIBRARY_ROLES[role]}
    assert set(registry.roles[role].scope_types) == {"library", "org", "platform"}


@pytest.mark.parametrize("permission", sorted(LIBRARY_IMPLIES))
def test_library_implications_are_exactly_the_authz_ones(
    registry: Registry, permission: str
) -> None:
    implies = registry.permissions[f"content_libraries.{permission}"].implies
    assert set(implies) == {f"content_libraries.{n}" for n in LIBRARY_IMPLIES[permission]}


def test_no_bare_legacy_library_level_is_an_alias(registry: Registry) -> None:
    for word in ("admin", "author", "read"):
        assert word not in registry.aliases
        assert word not in registry.roles


@pytest.mark.parametrize("role", sorted(AUTHZ_COURSE_ROLES))
def test_course_role_contains_the_authz_set(registry: Registry, role: str) -> None:
    assert held(registry, role) >= course(*AUTHZ_COURSE_ROLES[role])


@pytest.mark.parametrize(("alias", "role"), sorted(LEGACY_ALIASES.items()))
def test_legacy_name_is_an_alias(registry: Registry, alias: str, role: str) -> None:
    assert registry.aliases[alias] == role


def test_course_editor_cannot_publish_grade_or_see_learner_data(registry: Registry) -> None:
    permissions = held(registry, "course_editor")
    for pid in permissions:
        risks = registry.permissions[pid].risks
        assert not risks & {Risk.PUBLISHING, Risk.GRADES, Risk.LEARNER_DATA}, pid
    # ... and the high-impact settings stay out of reach, as the requirements ask.
    assert not permissions & course(
        "publish_course_content", "edit_schedule", "manage_advanced_settings", "manage_certificates"
    )
    assert "instructor.dashboard" not in permissions


def test_course_auditor_only_views(registry: Registry) -> None:
    permissions = held(registry, "course_auditor")
    assert "courses.view_course" in permissions  # all content, drafts included
    for pid in permissions:
        action = pid.split(".", 1)[1]
        assert action.startswith("view_"), pid
        assert not registry.permissions[pid].risks, pid


@pytest.mark.parametrize(
    "chain",
    [
        ("publish_course_content", "edit_course_content", "view_course"),
        ("import_course", "publish_course_content"),
        ("manage_library_updates", "view_library_updates"),
        ("manage_course_updates", "view_course_updates"),
        ("manage_pages_and_resources", "view_pages_and_resources"),
        ("delete_files", "edit_files", "view_files"),
        ("create_files", "view_files"),
        ("edit_grading_settings", "view_grading_settings"),
        ("manage_group_configurations", "view_group_configurations"),
        ("edit_schedule", "view_schedule"),
        ("edit_details", "view_details"),
        ("manage_advanced_settings", "view_advanced_settings"),
        ("manage_certificates", "view_certificates"),
        ("manage_course_team", "view_course_team"),
    ],
)
def test_manage_implies_edit_implies_view(registry: Registry, chain: tuple[str, ...]) -> None:
    ids = [f"courses.{n}" for n in chain]
    for higher, lower in itertools.pairwise(ids):
        assert lower in registry.implied[higher], (higher, lower)
        assert higher not in registry.implied[lower], (lower, higher)


def test_schedule_and_details_are_separate(registry: Registry) -> None:
    both = registry.implied["courses.view_schedule_and_details"]
    assert {"courses.view_schedule", "courses.view_details"} <= both
    assert "courses.view_details" not in registry.implied["courses.edit_schedule"]
    assert "courses.edit_schedule" not in held(registry, "course_editor")
    assert "courses.edit_details" in held(registry, "course_editor")


def test_create_course_is_granted_by_course_creator(registry: Registry) -> None:
    creator = registry.role("org_course_creator_group")
    assert creator.id == "course_creator"
    assert set(creator.scope_types) == {"org", "platform"}
    assert "courses.create_course" in held(registry, "course_creator")
    assert "courses.create_course" not in held(registry, "course_admin")


@pytest.mark.parametrize("role", COURSE_ROLES)
def test_course_roles_are_assignable_at_course_org_and_platform(
    registry: Registry, role: str
) -> None:
    assert set(registry.roles[role].scope_types) == {"course", "org", "platform"}


def test_platform_and_org_roles(registry: Registry) -> None:
    admin = registry.roles["platform_admin"]
    assert admin.grants_all
    assert admin.scope_types == ("platform",)
    assert registry.origin["role:platform_admin"] == "platform"
    org_admin = registry.roles["org_admin"]
    assert org_admin.scope_types == ("org",)
    assert {"course_admin", "library_admin"} <= set(org_admin.includes)


def test_org_admin_holds_every_permission_within_its_org(registry: Registry) -> None:
    within = {
        p.id
        for p in registry.permissions.values()
        if set(p.scope_types) & {"org", "course", "library"}
        # openedx-authz's legacy ids belong to exactly one course role each, never an includer.
        and ".legacy_" not in p.id
    }
    assert within - held(registry, "org_admin") == set()
    assert "platform.manage_org_team" in held(registry, "org_admin")


def test_every_permission_is_granted_by_a_role_other_than_the_platform_admin(
    registry: Registry,
) -> None:
    granted = set().union(
        *(registry.role_permissions[r.id] for r in registry.roles.values() if not r.grants_all)
    )
    # Installation-wide administration is the platform admins' alone (DESIGN section 7: rule
    # changes, locks anywhere, retiring users); a plugin may give these to a role of its own.
    platform_only = {
        "platform.manage_delegation_rules",
        "platform.manage_restrictions",
        "platform.retire_users",
    }
    assert set(registry.permissions) - granted == platform_only


LEGACY_IDS = {
    "course_admin": "courses.legacy_instructor_role_permissions",
    "course_staff": "courses.legacy_staff_role_permissions",
    "course_limited_staff": "courses.legacy_limited_staff_role_permissions",
    "course_data_researcher": "courses.legacy_data_researcher_permissions",
    "course_beta_tester": "courses.legacy_beta_tester_permissions",
}


def test_each_legacy_permission_id_is_held_by_exactly_its_one_role(registry: Registry) -> None:
    """openedx-authz's legacy permission ids: held by the one role it gives each to, not by
    the roles that include it (course_admin includes course_staff), custom or plugin."""
    for role, permission in LEGACY_IDS.items():
        assert registry.permissions[permission].scope_types == ("course",)
        holders = {
            r.id
            for r in registry.roles.values()
            if permission in registry.role_permissions[r.id] and not r.grants_all
        }
        assert holders == {role}, permission
    assert "course_staff" in registry.roles["course_admin"].includes
    assert "courses.legacy_staff_role_permissions" not in held(registry, "course_admin")


def test_every_permission_is_described_for_a_course_team(registry: Registry) -> None:
    for p in registry.permissions.values():
        assert p.title[0].isupper(), p.id
        assert p.description.endswith("."), p.id
        assert p.title != p.description, p.id


@pytest.mark.parametrize(
    ("permission", "risk"),
    [
        ("courses.publish_course_content", Risk.PUBLISHING),
        ("content_libraries.publish_library_content", Risk.PUBLISHING),
        ("courses.manage_course_team", Risk.TEAM_MANAGEMENT),
        ("instructor.edit_course_access", Risk.TEAM_MANAGEMENT),
        ("content_libraries.manage_library_team", Risk.TEAM_MANAGEMENT),
        ("instructor.override_grades", Risk.GRADES),
        ("instructor.rescore_exams", Risk.GRADES),
        ("instructor.view_enrollments", Risk.LEARNER_DATA),
        ("instructor.research", Risk.LEARNER_DATA),
        ("courses.manage_taxonomies", Risk.PLATFORM_CONFIGURATION),
    ],
)
def test_risk_flags(registry: Registry, permission: str, risk: Risk) -> None:
    assert risk in registry.permissions[permission].risks


# --- grants reach the right scopes and no others ---------------------------------------------


@pytest.fixture
def service(tmp_path: Path, builtins: Plugins) -> Iterator[Rolecall]:
    rc = Rolecall.open(
        f"sqlite:///{tmp_path / 'rolecall.db'}", plugins=builtins, background_sync=False
    )
    try:
        rc.add_users(["ada", "root", "lib", "maker", "orga", "beta"])
        yield rc
    finally:
        rc.close()


def test_course_staff_on_an_org_reaches_its_courses_only(service: Rolecall) -> None:
    token = service.assign("ada", "staff", "org:MITx", actor="root")
    check = service.check
    assert check("ada", "courses.publish_course_content", MITX_COURSE, at_least=token)
    assert check("ada", "instructor.email", "course-v1:MITx+18.01x+2027_T2")
    assert not check("ada", "courses.publish_course_content", HARVARD_COURSE)
    assert not check("ada", "content_libraries.view_library", MITX_LIBRARY)
    assert not check("ada", "courses.view_course", MITX_LIBRARY)  # not a course permission there
    assert not check("ada", "courses.manage_course_team", MITX_COURSE)  # staff is not admin
    assert not check("ada", "platform.manage_org_team", "org:MITx")


def test_platform_admin_is_allowed_everywhere(service: Rolecall) -> None:
    service.assign("root", "platform_admin", "platform")
    for scope in (MITX_COURSE, HARVARD_COURSE):
        assert service.check("root", "courses.manage_course_team", scope)
        assert service.check("root", "instructor.research", scope)
    for scope in (MITX_LIBRARY, HARVARD_LIBRARY):
        assert service.check("root", "content_libraries.delete_library", scope)
    assert service.check("root", "platform.manage_org_team", "org:HarvardX")
    assert service.check("root", "courses.create_course", "platform")


def test_library_user_on_an_org_reaches_its_libraries_only(service: Rolecall) -> None:
    service.assign("lib", "library_user", "org:MITx")
    assert service.check("lib", "content_libraries.reuse_library_content", MITX_LIBRARY)
    assert not service.check("lib", "content_libraries.edit_library_content", MITX_LIBRARY)
    assert not service.check("lib", "content_libraries.view_library", HARVARD_LIBRARY)
    assert not service.check("lib", "courses.view_course", MITX_COURSE)


def test_course_creator_and_org_admin_act_in_their_org(service: Rolecall) -> None:
    service.assign("maker", "org_course_creator_group", "org:MITx")
    assert service.check("maker", "courses.create_course", "org:MITx")
    assert not service.check("maker", "courses.create_course", "org:HarvardX")
    assert not service.check("maker", "courses.view_course", MITX_COURSE)
    service.assign("orga", "org_admin", "org:MITx")
    assert service.check("orga", "platform.manage_org_team", "org:MITx")
    assert service.check("orga", "content_libraries.manage_library_team", MITX_LIBRARY)
    assert service.check("orga", "courses.manage_course_team", MITX_COURSE)
    assert service.check("orga", "instructor.download_grade_report", MITX_COURSE)
    assert not service.check("orga", "courses.manage_course_team", HARVARD_COURSE)
    assert not service.check("orga", "platform.manage_org_team", "org:HarvardX")


def test_beta_tester_on_a_course(service: Rolecall) -> None:
    service.assign("beta", "beta_testers", MITX_COURSE)
    assert service.check("beta", "courses.view_unreleased_content", MITX_COURSE)
    assert not service.check("beta", "courses.view_unreleased_content", HARVARD_COURSE)
    assert not service.check("beta", "courses.view_course", MITX_COURSE)


# --- roles in words --------------------------------------------------------------------------


def test_role_summary_splits_each_area_into_can_and_cannot(registry: Registry) -> None:
    summary = role_summary(registry, "course_editor")
    content = next(a for a in summary.areas if a.area == "Course content")
    assert "courses.edit_course_content" in {p.id for p in content.can}
    assert "courses.publish_course_content" in {p.id for p in content.cannot}
    can = {p.id for p in summary.can}
    cannot = {p.id for p in summary.cannot}
    assert can == held(registry, "course_editor")
    assert not can & cannot
    assert {p.id for a in summary.areas for p in a.can + a.cannot} <= set(registry.permissions)
    grading = next(a for a in summary.areas if a.area == "Grading")
    assert "instructor.override_grades" in {p.id for p in grading.cannot}
    assert "courses.edit_grading_settings" in {p.id for p in grading.can}


def test_role_summary_cannot_lists_only_what_applies_where_the_role_is_given(
    registry: Registry,
) -> None:
    summary = role_summary(registry, "library_user")
    cannot = {p.id for p in summary.cannot}
    assert "content_libraries.edit_library_content" in cannot
    assert "courses.edit_course_content" not in cannot  # a course permission: not on a library
    assert not {p for p in cannot if registry.permissions[p].scope_types == ("course",)}


def test_role_summary_of_an_alias_and_of_the_platform_admin(registry: Registry) -> None:
    assert role_summary(registry, "instructor").role.id == "course_admin"
    admin = role_summary(registry, "platform_admin")
    assert admin.cannot == ()
    assert {p.id for p in admin.can} == set(registry.permissions)
    with pytest.raises(BadInputError, match="unknown role"):
        role_summary(registry, "no_such_role")
    data = summary_as_dict(role_summary(registry, "course_auditor"), registry)
    assert data["id"] == "course_auditor"
    assert data["permission_count"] == len(held(registry, "course_auditor"))


def _section(lines: list[str], area: str) -> list[str]:
    start = lines.index(area)
    end = next((i for i in range(start + 1, len(lines)) if lines[i] == ""), len(lines))
    return lines[start:end]


def test_cli_roles_course_editor_says_what_it_can_and_cannot_do() -> None:
    result = run_cli("roles", "course_editor")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "course_editor: Course editor (plugin authoring)"
    assert "assignable at: course, org, platform" in lines
    assert "includes:      course_auditor" in lines
    content = _section(lines, "Course content")
    cannot = content.index("  cannot:")
    assert "    + Edit course content (courses.edit_course_content)" in content[:cannot]
    assert (
        "    - Publish course content (courses.publish_course_content) [risk: publishing]"
        in content[cannot:]
    )
    downloads = _section(lines, "Data downloads")
    assert downloads[1:3] == ["  can:", "    nothing"]
    checklists = _section(lines, "Checklists")
    assert checklists[-1] == "    nothing: it can do everything here"


def test_cli_roles_json_legacy_name_and_errors() -> None:
    result = run_cli("roles", "instructor", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["id"] == "course_admin"
    team = next(a for a in data["areas"] if a["area"] == "Team management")
    assert "courses.manage_course_team" in [p["id"] for p in team["can"]]
    assert "platform.manage_org_team" in [p["id"] for p in team["cannot"]]
    unknown = run_cli("roles", "no_such_role")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("rolecall: error: unknown role 'no_such_role'")
    assert run_cli("roles", "staff", "--matrix").returncode == 2


# --- the generated docs ----------------------------------------------------------------------


def test_docs_permissions_md_is_up_to_date() -> None:
    registry = load_plugins(PluginSettings(), entry_points=[]).registry
    committed = (REPO / "docs" / "permissions.md").read_text(encoding="utf-8")
    assert permissions_markdown(registry) == committed, (
        "docs/permissions.md is stale: run "
        "`rolecall docs permissions --builtins-only --output docs/permissions.md`"
    )


def test_docs_command_writes_the_page(tmp_path: Path, registry: Registry) -> None:
    target = tmp_path / "permissions.md"
    result = run_cli("docs", "permissions", "--builtins-only", "--output", str(target))
    assert result.returncode == 0, result.stderr
    page = target.read_text(encoding="utf-8")
    assert page == permissions_markdown(registry)
    assert "| `courses.publish_course_content` |" in page
    assert "### `course_editor`: Course editor" in page
    printed = run_cli("docs", "permissions", "--builtins-only")
    assert printed.stdout == page
