"""``manage.py lms rolecall ...``: rolecall's command line on the platform's service, so it sees
enrollment (the derived forum role) and agrees with ``has_perm``, where the standalone command
line, without the Open edX plugin, does not."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner
from django.contrib.auth.models import User
from django.core.management import call_command

from openedx_test_project.stubs.models import CourseEnrollment
from rolecall.core import Rolecall
from rolecall.core.cli import cli
from rolecall_openedx.database import database_url
from rolecall_openedx.management.commands.rolecall import Command

COURSE = "course-v1:MITx+6.002x+2026_T1"
VOTE = "discussion.vote"
EDIT = "courses.edit_course_content"

pytestmark = pytest.mark.django_db


def manage(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``manage.py lms rolecall ARGS``, as manage.py runs a command (``run_from_argv``)."""
    try:
        Command().run_from_argv(["manage.py", "rolecall", *args])
    except SystemExit as exc:
        return int(exc.code or 0), capsys.readouterr().out
    raise AssertionError("the command did not exit with the command line's status")


@pytest.fixture
def platform(rc: Rolecall) -> Rolecall:
    """lea is enrolled in COURSE (no stored grant); sam is its course staff; tom is neither."""
    lea, _, _ = (User.objects.create_user(n) for n in ("lea", "sam", "tom"))
    CourseEnrollment.objects.create(user=lea, course_id=COURSE)
    rc.add_users(["sam"])
    rc.assign("sam", "course_staff", COURSE)
    return rc


def test_check_and_explain_agree_with_has_perm(
    platform: Rolecall, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("lea", "sam", "tom"):
        user = User.objects.get(username=name)
        for permission in (VOTE, EDIT):
            status, _ = manage(capsys, "check", name, permission, COURSE)
            assert (status == 0) == user.has_perm(permission, COURSE), (name, permission)
            assert status in (0, 1)
    status, out = manage(capsys, "explain", "lea", VOTE, COURSE)
    assert status == 0
    assert "enrollment" in out


def test_the_standalone_command_line_cannot_see_enrollment(platform: Rolecall) -> None:
    """The same database through the plain ``rolecall`` command: no derived role, so the
    enrolled learner is denied there (the reason for the management command)."""
    url = database_url()
    result = CliRunner().invoke(cli, ["--database", url, "check", "lea", VOTE, COURSE])
    assert result.exit_code == 1
    assert User.objects.get(username="lea").has_perm(VOTE, COURSE)


def test_the_host_database_cannot_be_swapped(
    platform: Rolecall, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _ = manage(
        capsys, "--database", "sqlite:////tmp/elsewhere.db", "check", "sam", EDIT, COURSE
    )
    assert status == 2


def test_legacy_import_leaves_student_rows_to_enrollment(
    platform: Rolecall, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tables = {
        "auth_user": [
            ("id", "username", "email", "first_name", "last_name", "is_staff", "is_active"),
            (1, "lea", "lea@example.org", "", "", 0, 1),
            (2, "max", "max@example.org", "", "", 0, 1),
        ],
        "student_courseaccessrole": [("id", "user_id", "org", "course_id", "role")],
        "django_comment_client_role": [
            ("id", "name", "course_id"),
            (1, "Student", COURSE),
            (2, "Moderator", COURSE),
        ],
        "django_comment_client_role_users": [("id", "role_id", "user_id"), (1, 1, 1), (2, 2, 2)],
    }
    for name, rows in tables.items():
        with (tmp_path / f"{name}.csv").open("w", newline="") as handle:
            csv.writer(handle).writerows(rows)
    status, out = manage(capsys, "legacy", "import", "--from-csv", str(tmp_path), "--json")
    assert status == 0, out
    held = {(g.user, g.role, g.scope) for u in ("lea", "max") for g in _grants(platform, u)}
    assert held == {("max", "discussion_moderator", COURSE)}  # lea's Student row: enrollment's


def _grants(rc: Rolecall, user: str) -> list[object]:
    try:
        return list(rc.grants(user))
    except ValueError:
        return []


def test_call_command_takes_plain_arguments(
    platform: Rolecall, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("rolecall", "check", "sam", EDIT, COURSE)
    with pytest.raises(SystemExit) as denied:
        call_command("rolecall", "check", "tom", EDIT, COURSE)
    assert denied.value.code == 1
