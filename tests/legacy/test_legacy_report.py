"""What ``rolecall legacy import`` tells an operator: duplicate rows with the row kept, names and
keys that differ only in case, names mapped without levels, inactive accounts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rolecall.builtin_plugins.legacy.importer import plan_import, run_import
from rolecall.builtin_plugins.legacy.mapping import RoleMapping, load_mapping
from rolecall.builtin_plugins.legacy.reader import read_csv
from rolecall.core import PluginSettings, Rolecall, load_plugins
from rolecall.core.cli import cli

from legacy_db import write_csv_tables

C1 = "course-v1:MITx+6.002x+2026_T1"
C1_LOWER = "course-v1:mitx+6.002x+2026_T1"
C2 = "course-v1:MITx+18.01x+2026_T1"
ACCESS = "student_courseaccessrole"
FORUM = "django_comment_client_role_users"

USERS = [
    [1, "ada", "ada@example.org", "Ada", "", 0, 1],
    [2, "grace", "grace@example.org", "", "", 0, 1],
    [3, "ina", "ina@example.org", "", "", 0, 0],  # inactive
    [4, "carl", "carl@example.org", "", "", 0, 1],
]
ACCESS_ROWS = [
    [1, 1, "MITx", C1, "staff"],
    [2, 1, "mitx", C1, "staff"],  # the same grant: a duplicate of row 1
    [3, 2, "MITx", C1, "Staff"],  # differs from staff only in case
    [4, 2, "mitx", C1_LOWER, "staff"],  # a key that differs from C1 only in case
    [5, 3, "MITx", C1, "staff"],  # inactive account
    [6, 4, "MITx", C2, "instructor"],
    [7, 2, "", "", "Staff"],  # platform level
    [8, 2, "MITx", "", "Staff"],  # org level
]
FORUM_ROLES = [[1, "Moderator", C1], [2, "Moderator", C1], [3, "moderator", C1]]
FORUM_ROWS = [
    [1, 1, 4],  # carl: Moderator
    [2, 2, 4],  # carl again, through the second Moderator role of C1: a duplicate
    [3, 3, 1],  # ada: "moderator"
    [4, 1, 3],  # ina: inactive
]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return write_csv_tables(
        tmp_path / "legacy",
        {
            "auth_user": USERS,
            ACCESS: ACCESS_ROWS,
            "django_comment_client_role": FORUM_ROLES,
            FORUM: FORUM_ROWS,
        },
    )


@pytest.fixture
def rc(tmp_path: Path) -> Iterator[Rolecall]:
    plugins = load_plugins(PluginSettings(), entry_points=[])
    with Rolecall.open(
        f"sqlite:///{tmp_path / 'rc.db'}", plugins=plugins, background_sync=False, staleness=0
    ) as service:
        yield service


def invoke(rc: Rolecall, *args: str) -> Result:
    url = rc.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(cli, ["--database", url, "legacy", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def grants(rc: Rolecall) -> set[tuple[str, str, str]]:
    rc.sync()
    return {(u, g.role, g.scope) for u, *_ in rc.users() for g in rc.grants(u)}


def test_duplicate_rows_are_named_with_the_row_kept(rc: Rolecall, site: Path) -> None:
    plan = plan_import(rc, read_csv(site), RoleMapping())
    duplicates = {(d.table, d.row_id): (d.kept_table, d.kept_row_id) for d in plan.duplicates}
    assert duplicates == {(ACCESS, 2): (ACCESS, 1), (FORUM, 2): (FORUM, 1)}
    assert plan.summary()["duplicate_rows"] == 2
    report = json.loads(invoke(rc, "import", "--from-csv", str(site), "--json").stdout)
    assert {
        (d["table"], d["row_id"], d["user"], d["role"], d["scope"], d["kept_row_id"])
        for d in report["duplicates"]
    } == {
        (ACCESS, 2, "ada", "course_staff", C1, 1),
        (FORUM, 2, "carl", "discussion_moderator", C1, 1),
    }
    # The grant's audit reason names the row kept.
    assert {e.details.get("reason") for e in rc.audit() if e.user == "ada" and e.role} == {
        f"legacy {ACCESS} 1"
    }
    human = invoke(rc, "import", "--from-csv", str(site), "--dry-run").stdout
    section = human.split("duplicate rows (the same grant as the row kept):")[1].splitlines()
    assert any(line.split()[:2] == [ACCESS, "2"] and line.split()[-1] == "1" for line in section)


def test_role_names_differing_only_in_case_are_refused_with_a_hint(
    rc: Rolecall, site: Path
) -> None:
    plan = plan_import(rc, read_csv(site), RoleMapping())
    problems = {(p.table, p.row_id): p for p in plan.problems}
    assert problems[(ACCESS, 3)].kind == "unknown_role"
    assert "differs only in case from 'staff'" in problems[(ACCESS, 3)].reason
    assert problems[(FORUM, 3)].kind == "unknown_role"
    assert "differs only in case from 'Moderator'" in problems[(FORUM, 3)].reason
    assert not [g for g in plan.create if g.user == "grace"]


def test_course_keys_differing_only_in_case_are_refused_naming_the_key(
    rc: Rolecall, site: Path
) -> None:
    plan = plan_import(rc, read_csv(site), RoleMapping())
    problem = next(p for p in plan.problems if (p.table, p.row_id) == (ACCESS, 4))
    assert problem.kind == "case_variant"
    assert C1_LOWER in problem.reason
    assert f"differs only in case from {C1!r}" in problem.reason
    assert not [g for g in plan.create if g.scope == C1_LOWER]
    assert [g.scope for g in plan.create if (g.table, g.row_id) == (ACCESS, 1)] == [C1]


def test_a_name_mapped_without_levels_is_read_at_course_level_only(
    rc: Rolecall, site: Path, tmp_path: Path
) -> None:
    settings = tmp_path / "map.json"
    settings.write_text(json.dumps({"course_roles": {"Staff": "course_staff"}}))
    mapping = load_mapping(settings)
    assert mapping.course_roles["Staff"] == ("course_staff", ("course",))
    plan = plan_import(rc, read_csv(site), mapping)
    kinds = {p.row_id: p.kind for p in plan.problems if p.table == ACCESS}
    assert kinds[7] == "wrong_level"  # never a platform-wide grant
    assert kinds[8] == "wrong_level"
    run_import(rc, plan)
    held = grants(rc)
    assert ("grace", "course_staff", C1) in held
    assert not [g for g in held if g[0] == "grace" and g[2] in ("platform", "org:MITx")]
    # Levels named in the settings file are honoured.
    settings.write_text(
        json.dumps({"course_roles": {"Staff": "course_staff"}, "levels": {"Staff": ["org"]}})
    )
    plan = plan_import(rc, read_csv(site), load_mapping(settings))
    assert ("grace", "course_staff", "org:MITx") in {(g.user, g.role, g.scope) for g in plan.create}


def test_inactive_accounts_get_nothing_and_are_listed(rc: Rolecall, site: Path) -> None:
    plan = plan_import(rc, read_csv(site), RoleMapping())
    inactive = {(p.table, p.row_id) for p in plan.ignored if p.kind == "inactive_user"}
    assert inactive == {(ACCESS, 5), (FORUM, 4)}
    assert plan.summary()["inactive_user_rows"] == 2
    assert "ina" not in [u for u, *_ in plan.users]
    result = invoke(rc, "import", "--from-csv", str(site))
    assert "ina" not in {u for u, *_ in rc.users()}
    assert "account is inactive" in result.stdout
    report = json.loads(invoke(rc, "import", "--from-csv", str(site), "--json").stdout)
    assert report["summary"]["inactive_user_rows"] == 2
