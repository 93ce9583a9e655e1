"""``rolecall legacy import`` of a custom course's rows (``ccx-v1:`` keys), and back.

edx-platform gives a custom course (lms/djangoapps/ccx) rows of its own: ``staff`` for its coach
and the course's staff, ``instructor`` for the course's instructors, and the forum roles seeded
on its key (the coach is made ``Administrator``); the coach's ``ccx_coach`` row is on the course
it was made from. With the ``ccx`` plugin they become that plugin's roles on the custom course.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import ccx_module

from rolecall.builtin_plugins.legacy.exporter import build_export, write_csv
from rolecall.builtin_plugins.legacy.importer import plan_import, run_import
from rolecall.builtin_plugins.legacy.mapping import (
    DEFAULT_COURSE_ROLES,
    DEFAULT_FORUM_ROLES,
    RoleMapping,
)
from rolecall.builtin_plugins.legacy.reader import read_csv
from rolecall.core import PluginSettings, Rolecall, load_plugins

from legacy_db import write_csv_tables

COURSE = "course-v1:MITx+6.002x+2026_T1"
CCX = "ccx-v1:MITx+6.002x+2026_T1+ccx@3"
OTHER_CCX = "ccx-v1:MITx+6.002x+2026_T1+ccx@4"
ACCESS = "student_courseaccessrole"
FORUM = "django_comment_client_role_users"

# Every legacy course access role on the custom course: what it becomes there.
ON_CCX: dict[str, str | None] = {
    "instructor": "ccx_admin",
    "staff": "ccx_staff",
    "limited_staff": "ccx_staff",
    "data_researcher": "ccx_data_researcher",
    "beta_testers": "ccx_beta_tester",
    "ccx_coach": "ccx_coach",
    # Read by the legacy system at org or platform level only: reported, never widened.
    "library_user": None,
    "org_course_creator_group": None,
    "course_creator_group": None,
    "support": None,
    # The retired e-commerce roles: skipped on purpose.
    "finance_admin": None,
    "sales_admin": None,
}
FORUM_ON_CCX = {
    "Administrator": "ccx_discussion_administrator",
    "Moderator": "ccx_discussion_moderator",
    "Group Moderator": "ccx_discussion_group_moderator",
    "Community TA": "ccx_community_ta",
    "Student": "ccx_discussion_student",
}


def open_rc(path: Path, *, ccx: bool = True) -> Rolecall:
    extra = {"ccx": ccx_module()} if ccx else {}
    plugins = load_plugins(PluginSettings(), entry_points=[], extra=extra)
    return Rolecall.open(f"sqlite:///{path}", plugins=plugins, background_sync=False, staleness=0)


@pytest.fixture
def ccx_rc(tmp_path: Path) -> Iterator[Rolecall]:
    with open_rc(tmp_path / "rc.db") as service:
        yield service


def username(role: str) -> str:
    return role.replace(" ", "_").lower()


@pytest.fixture
def ccx_site(tmp_path: Path) -> Path:
    """One user per legacy role holding it on the custom course, one per forum role there, and
    the coach: ``ccx_coach`` on the course, ``staff`` and forum ``Administrator`` on the custom
    course, as edx-platform's create_ccx leaves them."""
    names = [*ON_CCX, *(f"forum_{username(n)}" for n in FORUM_ON_CCX), "coach"]
    users = [[i, name, f"{name}@example.org", "", "", 0, 1] for i, name in enumerate(names, 1)]
    ids = {name: i for i, name, *_ in users}
    access = [[n, ids[role], "MITx", CCX, role] for n, role in enumerate(ON_CCX, 1)]
    access += [
        [100, ids["coach"], "MITx", COURSE, "ccx_coach"],
        [101, ids["coach"], "MITx", CCX, "staff"],
    ]
    roles = [[n, name, CCX] for n, name in enumerate(FORUM_ON_CCX, 1)]
    members = [[n, n, ids[f"forum_{username(name)}"]] for n, name in enumerate(FORUM_ON_CCX, 1)]
    members.append([100, 1, ids["coach"]])  # Administrator
    return write_csv_tables(
        tmp_path / "legacy",
        {
            "auth_user": users,
            ACCESS: access,
            "django_comment_client_role": roles,
            FORUM: members,
        },
    )


def grants(rc: Rolecall) -> set[tuple[str, str, str]]:
    rc.sync()
    return {(u, g.role, g.scope) for u, *_ in rc.users() for g in rc.grants(u)}


def test_the_tables_cover_every_legacy_role() -> None:
    assert set(ON_CCX) == set(DEFAULT_COURSE_ROLES)
    assert set(FORUM_ON_CCX) == set(DEFAULT_FORUM_ROLES)


def test_every_legacy_role_on_a_custom_course(ccx_rc: Rolecall, ccx_site: Path) -> None:
    plan = plan_import(ccx_rc, read_csv(ccx_site), RoleMapping())
    run_import(ccx_rc, plan)
    made = grants(ccx_rc)
    for legacy, role in ON_CCX.items():
        if role is not None:
            assert (legacy, role, CCX) in made, legacy
    problems = {p.row_id: p.kind for p in plan.problems if p.table == ACCESS}
    ignored = {p.row_id: p.kind for p in plan.ignored if p.table == ACCESS}
    number = {legacy: n for n, legacy in enumerate(ON_CCX, 1)}
    for legacy in ("library_user", "org_course_creator_group", "course_creator_group", "support"):
        assert problems[number[legacy]] == "wrong_level", legacy
    assert ignored == {number["finance_admin"]: "ignored", number["sales_admin"]: "ignored"}
    assert not [p for p in plan.problems if p.table == FORUM]
    for name, role in FORUM_ON_CCX.items():
        assert (f"forum_{username(name)}", role, CCX) in made, name
    # The coach: coach of the course, and staff and forum admin of the custom course.
    assert {(r, s) for u, r, s in made if u == "coach"} == {
        ("ccx_coach", COURSE),
        ("ccx_staff", CCX),
        ("ccx_discussion_administrator", CCX),
    }


def test_custom_course_roles_give_their_rights_there_only(ccx_rc: Rolecall, ccx_site: Path) -> None:
    run_import(ccx_rc, plan_import(ccx_rc, read_csv(ccx_site), RoleMapping()))
    check = ccx_rc.check
    assert check("staff", "ccx.manage_enrollment", CCX)
    assert not check("staff", "ccx.manage_enrollment", OTHER_CCX)
    assert not check("staff", "ccx.manage_team", CCX)
    assert check("instructor", "ccx.manage_team", CCX)
    assert check("instructor", "ccx.manage_discussion_roles", CCX)
    assert check("limited_staff", "ccx.view_grades", CCX)
    assert check("data_researcher", "ccx.download_reports", CCX)
    assert not check("data_researcher", "ccx.manage_enrollment", CCX)
    assert check("beta_testers", "ccx.view_unreleased_content", CCX)
    assert check("forum_moderator", "ccx.moderate_discussions", CCX)
    assert not check("forum_moderator", "ccx.manage_discussion_roles", CCX)
    assert check("forum_administrator", "ccx.manage_discussion_roles", CCX)
    assert check("forum_student", "ccx.take_part_in_discussions", CCX)
    assert not check("forum_student", "ccx.moderate_discussions", CCX)
    # Nothing on the course the custom course was made from.
    assert not check("instructor", "courses.edit_course_content", COURSE)
    assert check("coach", "ccx.edit_schedule", CCX)


def test_without_the_ccx_plugin_custom_course_rows_are_reported(
    tmp_path: Path, ccx_site: Path
) -> None:
    with open_rc(tmp_path / "bare.db", ccx=False) as rc:
        plan = plan_import(rc, read_csv(ccx_site), RoleMapping())
        problems = {(p.table, p.row_id): p for p in plan.problems}
        mapped = [n for n, role in enumerate(ON_CCX.values(), 1) if role is not None]
        rows = [(ACCESS, n) for n in (*mapped, 101)]
        rows += [(FORUM, n) for n in (*range(1, len(FORUM_ON_CCX) + 1), 100)]
        for row in rows:
            assert problems[row].kind == "role_not_registered", row
            assert "need the ccx plugin" in problems[row].reason
        assert not [g for g in plan.create if g.scope.startswith("ccx-v1:")]


def test_custom_course_rows_export_back_and_import_again(
    ccx_rc: Rolecall, ccx_site: Path, tmp_path: Path
) -> None:
    mapping = RoleMapping()
    run_import(ccx_rc, plan_import(ccx_rc, read_csv(ccx_site), mapping))
    export = build_export(ccx_rc, mapping)
    assert export.unexported == []
    out = tmp_path / "out"
    write_csv(export, out)
    data = read_csv(out)
    names = {uid: user.username for uid, user in data.users.items()}
    rows = {(names[r.user_id or 0], r.course_id, r.role) for r in data.access}
    assert ("staff", CCX, "staff") in rows
    assert ("instructor", CCX, "instructor") in rows
    assert ("limited_staff", CCX, "staff") in rows  # the same rights in the LMS
    assert ("ccx_coach", CCX, "ccx_coach") in rows
    assert ("coach", COURSE, "ccx_coach") in rows
    forum = {rid: (r.name, r.course_id) for rid, r in data.forum_roles.items()}
    members = {(names[m.user_id or 0], *forum[m.role_id or 0]) for m in data.forum_members}
    assert ("forum_community_ta", "Community TA", CCX) in members
    assert ("coach", "Administrator", CCX) in members
    with open_rc(tmp_path / "again.db") as again:
        run_import(again, plan_import(again, data, mapping))
        assert grants(again) == grants(ccx_rc)
