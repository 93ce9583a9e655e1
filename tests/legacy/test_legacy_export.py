"""``rolecall legacy export``: rolecall's grants written back as legacy rows, for a rollback."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rolecall.builtin_plugins.legacy.importer import plan_import, run_import
from rolecall.builtin_plugins.legacy.mapping import RoleMapping
from rolecall.builtin_plugins.legacy.reader import read_csv, read_database
from rolecall.core import PluginSettings, Rolecall, load_plugins
from rolecall.core.cli import cli

from legacy_db import (
    ACCESS_ROWS,
    C1,
    C2,
    FORUM_ROLES,
    FORUM_ROWS,
    H1,
    IMPORTED_ACCESS_ROWS,
    IMPORTED_FORUM_ROWS,
    USERS,
    fill_legacy_database,
)


def open_rc(url: str) -> Rolecall:
    plugins = load_plugins(PluginSettings(), entry_points=[])
    return Rolecall.open(url, plugins=plugins, background_sync=False, staleness=0)


@pytest.fixture
def full_rc(database_url: str) -> Iterator[Rolecall]:
    with open_rc(database_url) as service:
        yield service


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


def import_into(rc: Rolecall, url: str, *, staff_admins: bool = False) -> None:
    run_import(rc, plan_import(rc, read_database(url), RoleMapping(), staff_admins=staff_admins))


def grants(rc: Rolecall) -> set[tuple[str, str, str]]:
    rc.sync()
    return {(u, g.role, g.scope) for u, *_ in rc.users() for g in rc.grants(u)}


def username(uid: int) -> str:
    return next(u.username for u in USERS if u.id == uid)


def fixture_access_rows() -> set[tuple[str, str, str, str]]:
    """(username, org, course id, role) of the fixture's rows that are imported."""
    return {
        (username(uid), org, course, role)
        for i, uid, org, course, role, _ in ACCESS_ROWS
        if i in IMPORTED_ACCESS_ROWS
    }


def fixture_forum_rows() -> set[tuple[str, str, str]]:
    names = {rid: (name, course) for rid, name, course in FORUM_ROLES}
    return {
        (username(uid), *names[rid]) for i, rid, uid, _ in FORUM_ROWS if i in IMPORTED_FORUM_ROWS
    }


def csv_access_rows(folder: Path) -> set[tuple[str, str, str, str]]:
    data = read_csv(folder)
    names = {uid: user.username for uid, user in data.users.items()}
    return {(names[r.user_id or 0], r.org, r.course_id, r.role) for r in data.access}


def csv_forum_rows(folder: Path) -> set[tuple[str, str, str]]:
    data = read_csv(folder)
    names = {uid: user.username for uid, user in data.users.items()}
    roles = {rid: (r.name, r.course_id) for rid, r in data.forum_roles.items()}
    return {(names[m.user_id or 0], *roles[m.role_id or 0]) for m in data.forum_members}


def test_round_trip_through_csv_is_equal(
    full_rc: Rolecall, legacy_sqlite: str, tmp_path: Path
) -> None:
    import_into(full_rc, legacy_sqlite)
    out = tmp_path / "out"
    result = invoke(full_rc, "export", "--to-csv", str(out))
    assert result.exit_code == 0, result.output
    assert csv_access_rows(out) == fixture_access_rows()
    assert csv_forum_rows(out) == fixture_forum_rows()
    with open_rc(f"sqlite:///{tmp_path / 'again.db'}") as again:
        run_import(again, plan_import(again, read_csv(out), RoleMapping()))
        assert grants(again) == grants(full_rc)


def test_staff_admins_round_trip_as_is_staff(
    full_rc: Rolecall, legacy_sqlite: str, tmp_path: Path
) -> None:
    import_into(full_rc, legacy_sqlite, staff_admins=True)
    without = invoke(full_rc, "export", "--to-csv", str(tmp_path / "a"), "--json")
    assert without.exit_code == 1
    assert [(u["user"], u["role"]) for u in json.loads(without.stdout)["unexported"]] == [
        ("donald", "platform_admin")
    ]
    out = tmp_path / "b"
    assert invoke(full_rc, "export", "--to-csv", str(out), "--staff-admins").exit_code == 0
    with (out / "auth_user.csv").open() as handle:
        staff = {row["username"] for row in csv.DictReader(handle) if row["is_staff"] == "1"}
    assert staff == {"donald"}


def test_grants_without_a_legacy_equivalent_are_reported(full_rc: Rolecall, tmp_path: Path) -> None:
    full_rc.add_users(["ada", "john", "grace"])
    full_rc.assign("ada", "course_editor", C1)
    full_rc.assign("john", "discussion_moderator", "org:MITx")
    full_rc.assign("grace", "course_staff", C1)
    out = tmp_path / "out"
    result = invoke(full_rc, "export", "--to-csv", str(out), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    reasons = {(u["user"], u["role"]): u["reason"] for u in report["unexported"]}
    assert reasons == {
        ("ada", "course_editor"): "no legacy role means course_editor at a course scope",
        ("john", "discussion_moderator"): "legacy forum roles are per course, not per org",
    }
    assert csv_access_rows(out) == {("grace", "MITx", C1, "staff")}


def test_export_into_the_legacy_database_brings_it_in_line(legacy_url: str, tmp_path: Path) -> None:
    with open_rc(f"sqlite:///{tmp_path / 'rc.db'}") as rc:
        import_into(rc, legacy_url)
        rc.revoke("grace", "course_staff", C1)  # legacy row 2 must go
        rc.assign("ada", "course_staff", H1)
        rc.assign("frances", "discussion_administrator", C2)  # role row 6 exists
        rc.assign("john", "discussion_moderator", C2)  # no Moderator role row for C2 yet
        before = read_database(legacy_url)
        dry = invoke(rc, "export", "--to", legacy_url, "--dry-run", "--json")
        assert dry.exit_code == 0, dry.output
        assert json.loads(dry.stdout)["written"] == {
            "student_courseaccessrole_added": 1,
            "student_courseaccessrole_removed": 1,
            "django_comment_client_role_users_added": 2,
            "django_comment_client_role_users_removed": 0,
            "django_comment_client_role_added": 1,
            "is_staff_set": 0,
            "is_staff_cleared": 0,
        }
        assert read_database(legacy_url) == before
        assert invoke(rc, "export", "--to", legacy_url).exit_code == 0
        after = read_database(legacy_url)
        ids = {r.id for r in after.access}
        assert 2 not in ids
        assert {12, 13, 14, 15, 16, 17, 18} <= ids  # rows rolecall does not manage stay
        assert any(r.user_id == 1 and r.course_id == H1 and r.role == "staff" for r in after.access)
        assert ("Moderator", C2) in {(r.name, r.course_id) for r in after.forum_roles.values()}
        # The legacy tables now say exactly what rolecall holds: importing them adds nothing.
        plan = plan_import(rc, after, RoleMapping())
        assert plan.create == []
        assert {(g.user, g.role, g.scope) for g in plan.exists} == grants(rc)
        again = invoke(rc, "export", "--to", legacy_url, "--json")
        assert set(json.loads(again.stdout)["written"].values()) == {0}


def test_export_needs_one_target(full_rc: Rolecall) -> None:
    result = invoke(full_rc, "export")
    assert result.exit_code == 2
    assert result.stderr.strip() == "rolecall: error: give --to URL or --to-csv DIR (one of them)"


# ------------------------------------------------------------------ a CSV export's files


@pytest.fixture
def lite_rc(tmp_path: Path) -> Iterator[Rolecall]:
    with open_rc(f"sqlite:///{tmp_path / 'rc.db'}") as service:
        service.add_user("ada", email="ada@example.org", display_name="Ada Lovelace")
        service.assign("ada", "course_staff", C1)
        yield service


def test_csv_export_does_not_follow_a_link(lite_rc: Rolecall, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "auth_user.csv").symlink_to(victim)
    result = invoke(lite_rc, "export", "--to-csv", str(out))
    assert result.exit_code == 2
    assert "is a symbolic link" in result.stderr
    assert victim.read_text() == "keep me\n"
    assert sorted(p.name for p in out.iterdir()) == ["auth_user.csv"]  # nothing else written
    replaced = invoke(lite_rc, "export", "--to-csv", str(out), "--replace")
    assert replaced.exit_code == 2
    assert victim.read_text() == "keep me\n"
    linked = tmp_path / "linked"
    linked.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    assert invoke(lite_rc, "export", "--to-csv", str(linked)).exit_code == 2
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_csv_export_writes_new_files_only_unless_told_to_replace(
    lite_rc: Rolecall, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert invoke(lite_rc, "export", "--to-csv", str(out)).exit_code == 0
    assert {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()} == {
        "auth_user.csv": 0o600,
        "student_courseaccessrole.csv": 0o600,
        "django_comment_client_role.csv": 0o600,
        "django_comment_client_role_users.csv": 0o600,
    }
    lite_rc.add_user("grace")
    lite_rc.assign("grace", "course_staff", C2)
    again = invoke(lite_rc, "export", "--to-csv", str(out))
    assert again.exit_code == 2
    assert "exists: the export writes only new files" in again.stderr
    assert csv_access_rows(out) == {("ada", "MITx", C1, "staff")}
    assert invoke(lite_rc, "export", "--to-csv", str(out), "--replace").exit_code == 0
    assert csv_access_rows(out) == {("ada", "MITx", C1, "staff"), ("grace", "MITx", C2, "staff")}
    assert sorted(p.name for p in out.iterdir()) == [
        "auth_user.csv",
        "django_comment_client_role.csv",
        "django_comment_client_role_users.csv",
        "student_courseaccessrole.csv",
    ]


def test_csv_export_escapes_formula_cells_and_import_reads_them_back(
    lite_rc: Rolecall, tmp_path: Path
) -> None:
    risky = {
        '=HYPERLINK("x")': ("+1@example.org", "-Mallory @Home"),
        "@sum": ("'=quoted@example.org", "Plain Name"),
    }
    for name, (email, display) in risky.items():
        lite_rc.add_user(name, email=email, display_name=display)
        lite_rc.assign(name, "course_staff", C1)
    out = tmp_path / "out"
    assert invoke(lite_rc, "export", "--to-csv", str(out)).exit_code == 0
    with (out / "auth_user.csv").open(newline="") as handle:
        cells = {row["username"]: row for row in csv.DictReader(handle)}
    assert set(cells) == {"ada", '\'=HYPERLINK("x")', "'@sum"}
    row = cells['\'=HYPERLINK("x")']
    assert (row["email"], row["first_name"], row["last_name"]) == (
        "'+1@example.org",
        "'-Mallory",
        "'@Home",
    )
    assert cells["'@sum"]["email"] == "''=quoted@example.org"
    for row in cells.values():
        assert all(not v or v[0] not in "=+-@" for v in row.values())
    data = read_csv(out)
    assert {(u.username, u.email) for u in data.users.values()} == {
        ("ada", "ada@example.org"),
        ('=HYPERLINK("x")', "+1@example.org"),
        ("@sum", "'=quoted@example.org"),
    }
    with open_rc(f"sqlite:///{tmp_path / 'again.db'}") as again:
        run_import(again, plan_import(again, data, RoleMapping()))
        assert grants(again) == grants(lite_rc)
