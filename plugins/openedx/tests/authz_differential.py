"""One call sequence of openedx-authz's API (its user and subject functions), run against any
module with its names and reduced to plain JSON, so two implementations can be compared answer
by answer. A call that raises is answered by the error: ``["raises", "ValueError"]`` for any
ValueError (rolecall's ScopeKeyError is one), else the exception's class name.

``python authz_differential.py`` runs it against the real ``openedx_authz.api`` under
openedx-authz's own test settings (``openedx_authz.settings.test``: its models, its casbin
model and policy, its stub content libraries and course overviews), in a fresh SQLite database
in the current folder, and prints the answers as JSON. The sequence covers library scopes and
course scopes (openedx-authz's ``CourseOverviewData``), with every course role of its
catalogue. Data-class arguments are written as markers (:func:`U`, :func:`R`, :func:`S`...) that
:func:`run` builds with the module's own classes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any


def U(username: str) -> dict[str, str]:
    """A ``UserData`` argument."""
    return {"user": username}


def R(role: str) -> dict[str, str]:
    """A ``RoleData`` argument."""
    return {"role": role}


def S(key: str) -> dict[str, str]:
    """A ``ScopeData(external_key=key)`` argument."""
    return {"scope": key}


def NS(namespaced_key: str) -> dict[str, str]:
    """A ``ScopeData(namespaced_key=...)`` argument (``lib^*``: where roles are defined)."""
    return {"namespaced_scope": namespaced_key}


def A(action: str) -> dict[str, str]:
    """An ``ActionData`` argument."""
    return {"action": action}


def P(action: str) -> dict[str, str]:
    """A ``PermissionData(action=ActionData(...))`` argument."""
    return {"permission": action}


L1 = "lib:Org1:math"
L2 = "lib:Org1:physics"
L3 = "lib:Org2:art"
C1 = "course-v1:Org1+Math+2026_T1"
C2 = "course-v1:Org1+Physics+2026_T1"
C3 = "course-v1:Org2+Art+2026_T1"
USERS = ("alice", "bob", "carol", "dave", "erin", "frank")
ADMIN, AUTHOR, CONTRIBUTOR, USER = (
    "library_admin",
    "library_author",
    "library_contributor",
    "library_user",
)
VIEW = "content_libraries.view_library"
EDIT = "content_libraries.edit_library_content"
DELETE = "content_libraries.delete_library"
TEAM = "content_libraries.manage_library_team"
PUBLISH = "content_libraries.publish_library_content"
COURSE_ACTIONS = tuple(
    f"courses.{name}"
    for name in (
        "view_course",
        "edit_course_content",
        "publish_course_content",
        "manage_advanced_settings",
        "manage_course_team",
        "legacy_instructor_role_permissions",
        "legacy_staff_role_permissions",
        "legacy_limited_staff_role_permissions",
        "legacy_data_researcher_permissions",
        "legacy_beta_tester_permissions",
    )
)
"""Course actions of openedx-authz's catalogue: what auditors, editors, staff and admins differ
on, and the legacy permission ids each held by exactly one role."""

SEQUENCE: list[tuple[str, tuple[Any, ...]]] = [
    ("assign_role_to_user_in_scope", ("alice", ADMIN, L1)),
    ("assign_role_to_user_in_scope", ("alice", ADMIN, L1)),
    ("assign_role_to_user_in_scope", ("bob", AUTHOR, L1)),
    ("batch_assign_role_to_users_in_scope", (["carol", "dave"], USER, L2)),
    ("assign_role_to_user_in_scope", ("alice", CONTRIBUTOR, L3)),
    # Courses: openedx-authz's CourseOverviewData scopes (its test settings' stub CourseOverview).
    ("assign_role_to_user_in_scope", ("alice", "course_admin", C1)),
    ("assign_role_to_user_in_scope", ("bob", "course_staff", C1)),
    ("assign_role_to_user_in_scope", ("bob", "course_auditor", C2)),
    ("batch_assign_role_to_users_in_scope", (["carol", "dave"], "course_editor", C2)),
    ("assign_role_to_user_in_scope", ("dave", "course_data_researcher", C1)),
    ("assign_role_to_user_in_scope", ("carol", "course_beta_tester", C3)),
    ("assign_role_to_user_in_scope", ("frank", "course_limited_staff", C3)),
    ("assign_role_to_user_in_scope", ("frank", "course_limited_staff", C3)),
    # Two roles for one user on one scope: the scope's listing holds one record with both.
    ("assign_role_to_user_in_scope", ("bob", "course_auditor", C1)),
    ("assign_role_to_user_in_scope", ("alice", USER, L1)),
    *(
        ("is_user_allowed", (user, action, scope))
        for user in USERS
        for action in (VIEW, EDIT, DELETE, TEAM, PUBLISH)
        for scope in (L1, L2, L3)
    ),
    *(
        ("is_user_allowed", (user, action, scope))
        for user in USERS
        for action in COURSE_ACTIONS
        for scope in (C1, C2, C3)
    ),
    ("get_user_role_assignments", ("bob",)),
    ("get_user_role_assignments", ("carol",)),
    ("get_user_role_assignments", ("frank",)),
    ("get_user_role_assignments_in_scope", ("bob", C1)),
    ("get_user_role_assignments_in_scope", ("bob", C3)),
    ("get_user_role_assignments_for_role_in_scope", ("course_editor", C2)),
    ("get_user_role_assignments_for_role_in_scope", ("course_staff", C2)),
    ("get_users_for_role_in_scope", ("course_editor", C2)),
    ("get_users_for_role_in_scope", ("course_staff", C2)),
    ("get_all_user_role_assignments_in_scope", (C1,)),
    ("get_all_user_role_assignments_in_scope", (C2,)),
    ("get_scopes_for_user_and_permission", ("bob", "courses.view_course")),
    ("get_scopes_for_user_and_permission", ("alice", "courses.manage_course_team")),
    ("get_scopes_for_user_and_permission", ("dave", "courses.legacy_data_researcher_permissions")),
    ("get_scopes_for_user_and_permission", ("carol", "courses.edit_course_content")),
    ("unassign_role_from_user", ("bob", "course_staff", C1)),
    ("batch_unassign_role_from_users", (["carol"], "course_editor", C2)),
    ("is_user_allowed", ("bob", "courses.view_course", C1)),
    ("is_user_allowed", ("carol", "courses.view_course", C2)),
    ("is_user_allowed", ("dave", "courses.edit_course_content", C2)),
    ("get_all_user_role_assignments_in_scope", (C2,)),
    ("get_user_role_assignments", ("alice",)),
    ("get_user_role_assignments", ("bob",)),
    ("get_user_role_assignments", ("erin",)),
    ("get_user_role_assignments_in_scope", ("alice", L1)),
    ("get_user_role_assignments_in_scope", ("alice", L2)),
    ("get_user_role_assignments_for_role_in_scope", (USER, L2)),
    ("get_user_role_assignments_for_role_in_scope", (ADMIN, L2)),
    ("get_users_for_role_in_scope", (USER, L2)),
    ("get_all_user_role_assignments_in_scope", (L1,)),
    ("get_all_user_role_assignments_in_scope", (L2,)),
    ("get_scopes_for_user_and_permission", ("alice", VIEW)),
    ("get_scopes_for_user_and_permission", ("alice", DELETE)),
    ("get_scopes_for_user_and_permission", ("bob", DELETE)),
    ("get_scopes_for_user_and_permission", ("erin", VIEW)),
    ("unassign_role_from_user", ("bob", AUTHOR, L1)),
    ("unassign_role_from_user", ("bob", AUTHOR, L1)),
    ("batch_unassign_role_from_users", (["carol"], USER, L2)),
    ("get_all_user_role_assignments_in_scope", (L2,)),
    ("is_user_allowed", ("carol", VIEW, L2)),
    ("is_user_allowed", ("dave", VIEW, L2)),
    ("unassign_all_roles_from_user", ("alice",)),
    ("unassign_all_roles_from_user", ("alice",)),
    ("get_user_role_assignments", ("alice",)),
    ("is_user_allowed", ("alice", VIEW, L1)),
    ("is_user_allowed", ("alice", "courses.view_course", C1)),
    ("get_all_user_role_assignments_in_scope", (C1,)),
    # A malformed scope key raises ValueError, whatever the call; an unknown action is denied.
    ("assign_role_to_user_in_scope", ("bob", USER, "lib:Org1")),
    ("unassign_role_from_user", ("bob", USER, "lib:Org1")),
    ("unassign_role_from_user", ("bob", "course_staff", "course-v1:Org1+Math")),
    ("batch_unassign_role_from_users", (["bob"], USER, "lib:Org1")),
    ("is_user_allowed", ("bob", VIEW, "lib:Org1")),
    ("get_user_role_assignments_in_scope", ("bob", "lib:Org1")),
    ("is_user_allowed", ("dave", "content_libraries.no_such_action", L2)),
    ("is_user_allowed", ("dave", "no_such_action", L2)),
    # The subject functions, with the data classes.
    ("assign_role_to_subject_in_scope", (U("erin"), R(USER), S(L3))),
    ("assign_role_to_subject_in_scope", (U("erin"), R(USER), S(L3))),
    ("batch_assign_role_to_subjects_in_scope", ([U("erin"), U("frank")], R(CONTRIBUTOR), S(L2))),
    ("assign_role_to_subject_in_scope", (U("erin"), R(ADMIN), S(L2))),
    ("assign_role_to_subject_in_scope", (U("dave"), R("course_staff"), S(C2))),
    ("is_subject_allowed", (U("erin"), A(VIEW), S(L3))),
    ("is_subject_allowed", (U("erin"), A(DELETE), S(L3))),
    ("is_subject_allowed", (U("erin"), A(DELETE), S(L2))),
    ("is_subject_allowed", (U("dave"), A("courses.manage_advanced_settings"), S(C2))),
    ("get_subject_role_assignments", (U("erin"),)),
    ("get_subject_role_assignments_in_scope", (U("erin"), S(L2))),
    ("get_subject_role_assignments_for_role_in_scope", (R(CONTRIBUTOR), S(L2))),
    ("get_all_subject_role_assignments_in_scope", (S(L2),)),
    ("get_all_subject_role_assignments_in_scope", (S(C2),)),
    ("get_scopes_for_subject_and_permission", (U("erin"), P(VIEW))),
    ("get_scopes_for_subject_and_permission", (U("erin"), P(DELETE))),
    ("get_all_roles_in_scope", (S(L2),)),
    ("get_all_roles_in_scope", (S(C2),)),
    ("get_all_roles_in_scope", (S(L1),)),
    ("get_permissions_for_single_role", (R(ADMIN),)),
    ("get_permissions_for_single_role", (R(USER),)),
    ("get_permissions_for_roles", ([R(AUTHOR), R(CONTRIBUTOR)],)),
    ("get_permissions_for_active_roles_in_scope", (S(L2),)),
    ("get_permissions_for_active_roles_in_scope", (S(L2), R(CONTRIBUTOR))),
    ("get_permissions_for_active_roles_in_scope", (S(L1),)),
    ("get_role_definitions_in_scope", (NS("lib^*"),)),
    ("get_all_permissions_in_scope", (NS("lib^*"),)),
    ("unassign_role_from_subject_in_scope", (U("erin"), R(USER), S(L3))),
    ("unassign_role_from_subject_in_scope", (U("erin"), R(USER), S(L3))),
    ("unassign_role_from_subject_in_scope", (U("erin"), R(USER), S("lib:Org2"))),
    (
        "batch_unassign_role_from_subjects_in_scope",
        ([U("erin"), U("frank")], R(CONTRIBUTOR), S(L2)),
    ),
    ("get_all_subject_role_assignments_in_scope", (S(L2),)),
    ("unassign_subject_from_all_roles", (U("erin"),)),
    ("unassign_subject_from_all_roles", (U("erin"),)),
    ("get_subject_role_assignments", (U("erin"),)),
    ("is_subject_allowed", (U("erin"), A(VIEW), S(L2))),
]


def plain(value: Any, nested: bool = False) -> Any:
    """A result as JSON: assignments as sorted [user, [roles], scope], scopes and users as
    their keys, roles with their permissions as [role, [permissions]], permissions as [action,
    effect], dictionaries by key; lists sorted, except the rows of :func:`get_all_roles_in_scope`
    (a list of strings inside a list keeps its order)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        items = [plain(v, nested=True) for v in value]
        if nested and all(isinstance(i, str) for i in items):
            return items
        return sorted(items, key=json.dumps)
    if hasattr(value, "subject") and hasattr(value, "roles"):
        return [
            value.subject.external_key,
            sorted(r.external_key for r in value.roles),
            value.scope.external_key,
        ]
    if hasattr(value, "action") and hasattr(value, "effect"):
        return [value.action.external_key, value.effect]
    if hasattr(value, "permissions") and hasattr(value, "external_key"):
        return [value.external_key, plain(value.permissions)]
    if hasattr(value, "external_key"):
        return value.external_key
    raise TypeError(f"unexpected result {value!r}")


TRUTH = {
    "assign_role_to_user_in_scope",
    "unassign_role_from_user",
    "unassign_all_roles_from_user",
    "assign_role_to_subject_in_scope",
    "unassign_role_from_subject_in_scope",
    "unassign_subject_from_all_roles",
}
"""Documented to return a bool; openedx-authz 0.23's ``unassign_role_from_user`` returns the
removed casbin rules (a non-empty list when it removed one): compared by truth."""


def build(api: ModuleType, arg: Any) -> Any:
    """An argument of the sequence with the module's own data classes for the markers."""
    if isinstance(arg, list):
        return [build(api, a) for a in arg]
    if not isinstance(arg, dict):
        return arg
    [(kind, key)] = arg.items()
    if kind == "user":
        return api.UserData(external_key=key)
    if kind == "role":
        return api.RoleData(external_key=key)
    if kind == "scope":
        return api.ScopeData(external_key=key)
    if kind == "namespaced_scope":
        return api.ScopeData(namespaced_key=key)
    if kind == "action":
        return api.ActionData(external_key=key)
    if kind == "permission":
        return api.PermissionData(action=api.ActionData(external_key=key))
    raise ValueError(f"unknown marker {arg!r}")


def run(api: ModuleType, before_each: Callable[[], None] = lambda: None) -> list[Any]:
    answers = []
    for name, args in SEQUENCE:
        before_each()
        try:
            # A malformed key may already fail building the arguments (openedx-authz's
            # ScopeData checks keys): the call raises either way.
            result = getattr(api, name)(*(build(api, a) for a in args))
        except ValueError:
            answer: Any = ["raises", "ValueError"]
        except Exception as exc:  # any other failure is an answer to compare too
            answer = ["raises", type(exc).__name__]
        else:
            answer = bool(result) if name in TRUTH else plain(result)
        answers.append([name, list(args), answer])
    return answers


def load_openedx_authz() -> None:
    """openedx-authz's tables and its built-in policy, loaded as its own tests load them (in
    a process where Django is set up under its settings)."""
    from importlib.resources import files

    import casbin
    from django.core.management import call_command
    from openedx_authz.engine.enforcer import AuthzEnforcer
    from openedx_authz.engine.utils import migrate_policy_between_enforcers

    call_command("migrate", run_syncdb=True, verbosity=0)
    enforcer = AuthzEnforcer.get_enforcer()
    enforcer.stop_auto_load_policy()
    enforcer.enable_auto_save(True)
    enforcer.load_policy()
    config = files("openedx_authz.engine").joinpath("config")
    migrate_policy_between_enforcers(
        source_enforcer=casbin.Enforcer(str(config / "model.conf"), str(config / "authz.policy")),
        target_enforcer=enforcer,
    )
    enforcer.load_policy()


def child_answers(script: Path, folder: Path) -> Any:
    """The JSON ``script`` prints, run by this Python in ``folder`` (where openedx-authz's test
    settings keep their SQLite database), with this folder importable and neither Django's nor
    rolecall's settings of the parent."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ROLECALL_"))}
    env["PYTHONPATH"] = str(script.parent)
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def _openedx_authz() -> list[Any]:
    os.environ["DJANGO_SETTINGS_MODULE"] = "openedx_authz.settings.test"
    import django

    django.setup()
    import openedx_authz.api as api
    from django.contrib.auth.models import User

    load_openedx_authz()
    for username in USERS:
        User.objects.create(username=username)
    return run(api)


if __name__ == "__main__":
    print(json.dumps(_openedx_authz()))
