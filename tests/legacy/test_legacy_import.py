"""``rolecall legacy import``: the legacy tables become grants, with the legacy semantics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rolecall.builtin_plugins.legacy.importer import plan_import, run_import
from rolecall.builtin_plugins.legacy.mapping import RoleMapping, load_mapping
from rolecall.builtin_plugins.legacy.reader import read_csv, read_database
from rolecall.core import BadInputError, PluginSettings, Rolecall, load_plugins
from rolecall.core.cli import cli

from legacy_db import (
    ACCESS_ROWS,
    C1,
    C2,
    COURSES,
    FORUM_ROLES,
    FORUM_ROWS,
    H1,
    IGNORED_ROWS,
    IMPORTED_ACCESS_ROWS,
    IMPORTED_FORUM_ROWS,
    PROBLEM_ROWS,
    USERS,
    fill_legacy_database,
    write_legacy_csv,
)

STAFF_ACCESS = "instructor.enroll"
INSTRUCTOR_ACCESS = "instructor.edit_course_access"
MODERATE = "discussion.edit_content"
MANAGE_MODERATORS = "discussion.manage_moderator"


@pytest.fixture
def full_rc(database_url: str) -> Iterator[Rolecall]:
    """A service with every built-in plugin (and no other), on SQLite and on PostgreSQL."""
    plugins = load_plugins(PluginSettings(), entry_points=[])
    service = Rolecall.open(database_url, plugins=plugins, background_sync=False, staleness=0)
    try:
        yield service
    finally:
        service.close()


@pytest.fixture
def legacy_sqlite(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'edxapp.db'}"
    fill_legacy_database(url)
    return url


def invoke(rc: Rolecall, *args: str) -> Result:
    url = rc.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(cli, ["--database", url, "legacy", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def grants(rc: Rolecall) -> set[tuple[str, str, str]]:
    rc.sync()  # the CLI writes through a service of its own
    return {(u, g.role, g.scope) for u, *_ in rc.users() for g in rc.grants(u)}


def imported(rc: Rolecall, url: str, *, staff_admins: bool = False) -> None:
    plan = plan_import(rc, read_database(url), RoleMapping(), staff_admins=staff_admins)
    run_import(rc, plan)


# --- the legacy semantics, straight from the rows (openedx-roles.md section 1 and 2) ---------


def _rows(user: str) -> list[tuple[str, str, str]]:
    uid = next(u.id for u in USERS if u.username == user)
    return [(org, course, role) for _, u, org, course, role, d in ACCESS_ROWS if u == uid and not d]


def _org(course: str) -> str:
    return course.removeprefix("course-v1:").split("+")[0]


def legacy_has(user: str, course: str, roles: set[str]) -> bool:
    """A course row for the course, or an org row for its org, with one of ``roles``."""
    return any(
        role in roles and (c == course or (not c and org and org == _org(course)))
        for org, c, role in _rows(user)
    )


def legacy_staff_access(user: str, course: str, *, global_staff: bool) -> bool:
    staff = global_staff and next(u.is_staff and u.is_active for u in USERS if u.username == user)
    return staff or legacy_has(user, course, {"staff", "limited_staff", "instructor"})


def legacy_instructor_access(user: str, course: str, *, global_staff: bool) -> bool:
    staff = global_staff and next(u.is_staff and u.is_active for u in USERS if u.username == user)
    return staff or legacy_has(user, course, {"instructor"})


def legacy_forum_roles(user: str, course: str) -> set[str]:
    uid = next(u.id for u in USERS if u.username == user)
    names = {rid: (name, c) for rid, name, c in FORUM_ROLES}
    return {
        names[rid][0]
        for _, rid, u, deleted in FORUM_ROWS
        if u == uid and not deleted and rid in names and names[rid][1] == course
    }


# --- mapping -------------------------------------------------------------------------------


def test_import_makes_course_org_and_platform_grants(full_rc: Rolecall, legacy_sqlite: str) -> None:
    imported(full_rc, legacy_sqlite)
    made = grants(full_rc)
    assert ("ada", "course_admin", C1) in made  # a course row
    assert ("edsger", "course_admin", "org:HarvardX") in made  # org, empty course id
    assert ("margaret", "course_staff", "org:MITx") in made
    assert ("ken", "course_creator", "platform") in made  # both empty
    assert ("dennis", "platform_support", "platform") in made
    assert ("niklaus", "course_creator", "org:MITx") in made
    assert ("radia", "library_user", "org:MITx") in made
    assert ("frances", "discussion_moderator", C1) in made  # forum roles per course
    assert ("john", "discussion_moderator", H1) in made
    assert ("tim", "discussion_student", C1) in made
    assert len(made) == len(IMPORTED_ACCESS_ROWS) + len(IMPORTED_FORUM_ROWS)


def test_open_edx_keys_are_imported_byte_for_byte(full_rc: Rolecall, legacy_sqlite: str) -> None:
    imported(full_rc, legacy_sqlite)
    held = grants(full_rc)
    # An old-style course key and a v1 library key are kept exactly as the legacy row has them.
    assert ("james", "course_staff", "MITx/6.00x/2012_Fall") in held
    assert ("edsger", "library_user", "library-v1:MITx+physics") in held
    assert ("margaret", "library_admin", "library-v1:MITx+physics") in held
    assert full_rc.check("james", "courses.edit_course_content", "MITx/6.00x/2012_Fall")
    assert not full_rc.check("james", "courses.edit_course_content", C1)


def test_deleted_rows_are_skipped(full_rc: Rolecall, legacy_sqlite: str) -> None:
    imported(full_rc, legacy_sqlite)
    users = {u for u, *_ in full_rc.users()}
    assert "guido" not in users  # his only row is deleted
    assert ("tim", "discussion_moderator", C1) not in grants(full_rc)


def test_users_come_from_auth_user_only_as_needed(full_rc: Rolecall, legacy_sqlite: str) -> None:
    imported(full_rc, legacy_sqlite)
    users = {u: (email, name) for u, email, name, _ in full_rc.users()}
    assert users["ada"] == ("ada@example.org", "Ada Lovelace")
    assert "learner" not in users  # no role
    assert "sophie" not in users  # only an ignored role
    assert "donald" not in users  # staff, but not asked to import staff


def test_staff_accounts_become_platform_admins_only_when_asked(
    full_rc: Rolecall, legacy_sqlite: str
) -> None:
    imported(full_rc, legacy_sqlite)
    assert not any(role == "platform_admin" for _, role, _ in grants(full_rc))
    imported(full_rc, legacy_sqlite, staff_admins=True)
    admins = {u for u, role, _ in grants(full_rc) if role == "platform_admin"}
    assert admins == {"donald"}  # larry is staff but inactive


def test_decisions_match_legacy_staff_and_instructor_access(
    full_rc: Rolecall, legacy_sqlite: str
) -> None:
    imported(full_rc, legacy_sqlite, staff_admins=True)
    users = {u for u, *_ in full_rc.users()}
    for user in sorted(users):
        for course in COURSES:
            assert full_rc.check(user, STAFF_ACCESS, course) == legacy_staff_access(
                user, course, global_staff=True
            ), (user, course)
            assert full_rc.check(user, INSTRUCTOR_ACCESS, course) == legacy_instructor_access(
                user, course, global_staff=True
            ), (user, course)


def test_forum_permissions_match_legacy(full_rc: Rolecall, legacy_sqlite: str) -> None:
    imported(full_rc, legacy_sqlite)
    moderators = {"Moderator", "Community TA", "Administrator"}
    # Org-wide instructors are left out: see the next test.
    users = {u for u, *_ in full_rc.users()} - {"edsger"}
    for user in sorted(users):
        for course in COURSES:
            roles = legacy_forum_roles(user, course)
            assert full_rc.check(user, MODERATE, course) == bool(roles & moderators), (user, course)
            assert full_rc.check(user, MANAGE_MODERATORS, course) == ("Administrator" in roles), (
                user,
                course,
            )
            assert full_rc.check(user, "discussion.create_thread", course) == bool(roles), (
                user,
                course,
            )


def test_org_instructor_also_administers_the_forums(full_rc: Rolecall, legacy_sqlite: str) -> None:
    # The documented difference: course admins hold discussion admin wherever they hold course
    # admin; the legacy system gave Administrator to course instructors one course at a time.
    imported(full_rc, legacy_sqlite)
    assert legacy_forum_roles("edsger", H1) == set()
    assert full_rc.check("edsger", MANAGE_MODERATORS, H1)


# --- dry run, problems, exit codes ----------------------------------------------------------


def test_dry_run_writes_nothing_and_reports_every_row(
    full_rc: Rolecall, legacy_sqlite: str
) -> None:
    before = full_rc.revision
    result = invoke(full_rc, "import", "--from", legacy_sqlite, "--dry-run", "--json")
    assert result.exit_code == 1, result.stderr
    report = json.loads(result.stdout)
    assert full_rc.sync() == before
    assert full_rc.users() == []
    assert {(g["table"], g["row_id"]) for g in report["create"]} == {
        ("student_courseaccessrole", i) for i in IMPORTED_ACCESS_ROWS
    } | {("django_comment_client_role_users", i) for i in IMPORTED_FORUM_ROWS}
    problems = {(p["table"], p["row_id"]): p["kind"] for p in report["problems"]}
    assert problems == PROBLEM_ROWS
    assert all(p["reason"] for p in report["problems"])
    assert {(p["table"], p["row_id"]) for p in report["ignored"]} == IGNORED_ROWS
    assert report["summary"]["deleted_rows_skipped"] == 2
    assert report["exists"] == []
    assert report["batch_id"] is None


def test_dry_run_lists_what_exists_already(full_rc: Rolecall, legacy_sqlite: str) -> None:
    full_rc.add_user("ada")
    full_rc.assign("ada", "course_admin", C1)
    result = invoke(full_rc, "import", "--from", legacy_sqlite, "--dry-run")
    assert "grants that exist already:" in result.stdout
    exists = result.stdout.split("grants that exist already:")[1].splitlines()
    assert any(
        line.split()[:5] == ["student_courseaccessrole", "1", "ada", "course_admin", C1]
        for line in exists
    )
    assert "unknown legacy role 'wizard'" in result.stdout
    assert "dry run: nothing written" in result.stdout.splitlines()[-1]


def test_unmappable_rows_never_stop_the_import_and_exit_1(
    full_rc: Rolecall, legacy_sqlite: str
) -> None:
    result = invoke(full_rc, "import", "--from", legacy_sqlite)
    assert result.exit_code == 1
    assert "rows that cannot be imported:" in result.stdout
    assert len(grants(full_rc)) == len(IMPORTED_ACCESS_ROWS) + len(IMPORTED_FORUM_ROWS)


def test_clean_source_exits_0(full_rc: Rolecall, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'clean.db'}"
    fill_legacy_database(url, rows=False)
    result = invoke(full_rc, "import", "--from", url)
    assert result.exit_code == 0, result.output
    assert "nothing to import" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give --from URL or --from-csv DIR"),
        (("--from", "nosuchdriver://x"), "cannot use the database URL"),
        (("--from-csv", "/nonexistent/folder"), "is not a folder"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    full_rc: Rolecall, args: tuple[str, ...], message: str
) -> None:
    result = invoke(full_rc, "import", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_a_database_without_the_tables_exits_2(full_rc: Rolecall, tmp_path: Path) -> None:
    result = invoke(full_rc, "import", "--from", f"sqlite:///{tmp_path / 'empty.db'}")
    assert result.exit_code == 2
    assert "cannot read the legacy tables" in result.stderr


def test_bad_settings_file_exits_2(full_rc: Rolecall, legacy_sqlite: str, tmp_path: Path) -> None:
    settings = tmp_path / "map.json"
    settings.write_text('{"course_roles": {"staff": 3}}')
    result = invoke(full_rc, "import", "--from", legacy_sqlite, "--settings", str(settings))
    assert result.exit_code == 2
    assert "course_roles.staff: a role id or null, not 3" in result.stderr


def test_settings_file_overrides_the_default_table(
    full_rc: Rolecall, legacy_sqlite: str, tmp_path: Path
) -> None:
    settings = tmp_path / "map.json"
    settings.write_text(
        json.dumps(
            {
                "course_roles": {
                    "finance_admin": "course_data_researcher",
                    "staff": "course_editor",
                },
                "forum_roles": {"Student": None},
            }
        )
    )
    mapping = load_mapping(settings)
    plan = plan_import(full_rc, read_database(legacy_sqlite), mapping)
    run_import(full_rc, plan)
    made = grants(full_rc)
    assert ("sophie", "course_data_researcher", C1) in made
    assert ("grace", "course_editor", C1) in made
    assert ("tim", "discussion_student", C1) not in made
    assert {(p.table, p.row_id) for p in plan.ignored} == {("django_comment_client_role_users", 5)}


def test_unknown_settings_key_is_bad_input(tmp_path: Path) -> None:
    settings = tmp_path / "map.json"
    settings.write_text('{"roles": {}}')
    with pytest.raises(BadInputError, match="unknown key"):
        load_mapping(settings)


# --- idempotence, audit, batches, resume ----------------------------------------------------


def test_importing_twice_changes_nothing_audit_included(
    full_rc: Rolecall, legacy_sqlite: str
) -> None:
    first = invoke(full_rc, "import", "--from", legacy_sqlite, "--staff-admins", "--json")
    events = full_rc.audit()
    state = grants(full_rc)
    second = invoke(full_rc, "import", "--from", legacy_sqlite, "--staff-admins", "--json")
    assert first.exit_code == second.exit_code == 1
    assert full_rc.audit() == events
    assert grants(full_rc) == state
    report = json.loads(second.stdout)
    assert report["create"] == []
    assert report["users"] == []
    assert len(report["exists"]) == len(state)


def test_audit_events_are_import_with_one_batch_id(full_rc: Rolecall, legacy_sqlite: str) -> None:
    result = invoke(full_rc, "import", "--from", legacy_sqlite, "--batch-size", "4", "--json")
    batch = json.loads(result.stdout)["batch_id"]
    events = full_rc.audit()
    assert events
    assert {e.action for e in events} == {"import"}
    assert {e.batch_id for e in events} == {batch}
    assert len({e.revision for e in events}) > 1  # several transactions
    assert full_rc.verify_audit().ok
    assert "importing" in result.stderr  # the progress bar


def test_interrupted_import_resumes_without_duplicates(
    full_rc: Rolecall, legacy_sqlite: str
) -> None:
    data = read_database(legacy_sqlite)
    plan = plan_import(full_rc, data, RoleMapping())
    done = 0

    def interrupt(n: int) -> None:
        nonlocal done
        done += n
        if done > len(plan.users) + 6:  # after two batches of grants
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_import(full_rc, plan, batch_size=5, batch_id="b-1", progress=interrupt)
    partial = grants(full_rc)
    assert 0 < len(partial) < len(plan.create)
    resumed = plan_import(full_rc, data, RoleMapping())
    assert len(resumed.create) == len(plan.create) - len(partial)
    run_import(full_rc, resumed, batch_size=5, batch_id="b-1")
    assert len(grants(full_rc)) == len(plan.create)
    events = full_rc.audit()
    assigned = [(e.user, e.role, e.scope) for e in events if e.role is not None]
    assert len(assigned) == len(set(assigned)) == len(plan.create)
    added = [e.user for e in events if e.role is None]
    assert len(added) == len(set(added)) == len(plan.users)
    assert {e.batch_id for e in events} == {"b-1"}


# --- sources --------------------------------------------------------------------------------


def test_csv_export_reads_like_the_database(legacy_sqlite: str, tmp_path: Path) -> None:
    from_db = read_database(legacy_sqlite)
    from_csv = read_csv(write_legacy_csv(tmp_path / "csv"))
    assert from_csv == from_db


def test_cli_imports_from_csv(full_rc: Rolecall, tmp_path: Path) -> None:
    folder = write_legacy_csv(tmp_path / "csv")
    result = invoke(full_rc, "import", "--from-csv", str(folder))
    assert result.exit_code == 1
    assert len(grants(full_rc)) == len(IMPORTED_ACCESS_ROWS) + len(IMPORTED_FORUM_ROWS)


def test_csv_missing_a_column_is_bad_input(tmp_path: Path) -> None:
    folder = write_legacy_csv(tmp_path / "csv")
    (folder / "student_courseaccessrole.csv").write_text("id,user_id,org,role\n1,1,MITx,staff\n")
    with pytest.raises(BadInputError, match="no column"):
        read_csv(folder)


def test_reads_sqlite_postgresql_and_mysql_databases(legacy_url: str, tmp_path: Path) -> None:
    plugins = load_plugins(PluginSettings(), entry_points=[])
    with Rolecall.open(
        f"sqlite:///{tmp_path / 'rc.db'}", plugins=plugins, background_sync=False, staleness=0
    ) as rc:
        imported(rc, legacy_url)
        assert len(grants(rc)) == len(IMPORTED_ACCESS_ROWS) + len(IMPORTED_FORUM_ROWS)
        assert ("grace", "course_staff", C1) in grants(rc)
        assert ("alan", "course_data_researcher", C2) in grants(rc)


def test_mapping_shows_the_table_in_force(full_rc: Rolecall, tmp_path: Path) -> None:
    settings = tmp_path / "map.json"
    settings.write_text(
        '{"course_roles": {"sales_admin": "course_auditor"}, "forum_roles": {"Student": null}}'
    )
    result = invoke(full_rc, "mapping", "--settings", str(settings), "--json")
    rows = {(r["table"], r["legacy"]): (r["role"], r["levels"]) for r in json.loads(result.stdout)}
    assert rows[("student_courseaccessrole", "instructor")] == ("course_admin", "course, org")
    assert rows[("student_courseaccessrole", "sales_admin")] == ("course_auditor", "course")
    assert rows[("django_comment_client_role", "Student")] == (None, "course")
    table = invoke(full_rc, "mapping").stdout.splitlines()
    assert table[0].split() == ["TABLE", "LEGACY", "ROLE", "ROLECALL", "ROLE", "LEVELS"]
    assert table[11].split() == ["student_courseaccessrole", "finance_admin", "(skipped)", "course"]
