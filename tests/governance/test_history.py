"""History: who had access, a user's access and checks at a past moment, replayed from the audit
log, on SQLite and PostgreSQL, and the ``rolecall history`` command."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rolecall.core import BadInputError, GrantRow, Rolecall, Team
from rolecall.core.cli import cli
from rolecall.core.governance.history import access_at, check_at, who_had_access
from rolecall.core.governance.lifecycle import remove_scope, retire_user

C1 = "course-v1:MITx+6.002x+2026_T1"
C2 = "course-v1:MITx+18.01x+2026_T1"

Run = Callable[..., Result]


def now() -> datetime:
    return datetime.now(UTC)


def moment() -> datetime:
    """The current time, with writes strictly before and after it."""
    time.sleep(0.01)
    at = now()
    time.sleep(0.01)
    return at


def members(team: Team) -> set[tuple[str, str]]:
    return {(g.user, g.role) for m in team.members for g in m.grants}


def inherited(team: Team) -> set[tuple[str, str, str]]:
    return {(g.user, g.role, g.scope) for m in team.inherited for g in m.grants}


@pytest.fixture
def team(rc: Rolecall) -> Rolecall:
    rc.add_users(["ada", "bob", "cy"])
    rc.add_scopes([C1, C2])
    return rc


def test_who_had_access_between_an_assignment_and_its_revocation(team: Rolecall) -> None:
    rc = team
    t0 = moment()
    rc.assign("ada", "editor", C1)
    rc.assign("bob", "viewer", "org:MITx")
    t1 = moment()
    rc.revoke("ada", "editor", C1)
    t2 = moment()
    assert members(who_had_access(rc, C1, t0)) == set()
    at_t1 = who_had_access(rc, C1, t1)
    assert at_t1.scope == C1
    assert members(at_t1) == {("ada", "editor")}
    assert inherited(at_t1) == {("bob", "viewer", "org:MITx")}
    assert members(who_had_access(rc, C1, t2)) == set()
    assert inherited(who_had_access(rc, C1, t2)) == {("bob", "viewer", "org:MITx")}
    assert members(rc.who(C1)) == set()  # the present is untouched


def test_access_at_lists_local_and_inherited_roles_of_that_moment(team: Rolecall) -> None:
    rc = team
    rc.assign("ada", "viewer", "org:MITx")
    rc.assign("ada", "grader", C2)
    t1 = moment()
    rc.revoke("ada", "viewer", "org:MITx")
    t2 = moment()
    assert {(e.scope, e.role, e.via, e.local) for e in access_at(rc, "ada", t1)} == {
        ("org:MITx", "viewer", "org:MITx", True),
        (C1, "viewer", "org:MITx", False),
        (C2, "viewer", "org:MITx", False),
        (C2, "grader", C2, True),
    }
    assert {(e.scope, e.role) for e in access_at(rc, "ada", t2)} == {(C2, "grader")}


def test_check_at_follows_assignments_and_restrictions_of_the_moment(team: Rolecall) -> None:
    rc = team
    t0 = moment()
    rc.assign("ada", "editor", C1)
    t1 = moment()
    rc.restrict(C1, ["t.edit"])
    t2 = moment()
    rc.unrestrict(C1)
    t3 = moment()
    rc.revoke("ada", "editor", C1)
    t4 = moment()
    assert [check_at(rc, "ada", "t.edit", C1, t) for t in (t0, t1, t2, t3, t4)] == [
        False,
        True,
        False,
        True,
        False,
    ]
    assert check_at(rc, "ada", "t.view", C1, t2)  # the restriction denied edit only
    with pytest.raises(BadInputError, match="unknown permission"):
        check_at(rc, "ada", "t.nope", C1, t1)


def test_a_grant_live_at_the_moment_counts_though_it_has_expired_since(team: Rolecall) -> None:
    rc = team
    rc.assign("ada", "editor", C1, expires_at=now() + timedelta(seconds=0.3))
    t1 = moment()
    time.sleep(0.35)
    assert not rc.check("ada", "t.edit", C1)  # expired now
    t2 = moment()
    grants = [g for m in who_had_access(rc, C1, t1).members for g in m.grants]
    assert [(g.user, g.role, g.expired) for g in grants] == [("ada", "editor", False)]
    assert [e.grant.expired for e in access_at(rc, "ada", t1)] == [False]
    assert check_at(rc, "ada", "t.edit", C1, t1)
    assert members(who_had_access(rc, C1, t2)) == set()
    assert access_at(rc, "ada", t2) == []
    assert not check_at(rc, "ada", "t.edit", C1, t2)


def test_a_grant_expired_before_the_moment_is_not_counted(team: Rolecall) -> None:
    rc = team
    rc.import_grants(
        [
            GrantRow("ada", "editor", C1, expires_at=now() - timedelta(hours=1)),
            GrantRow("bob", "editor", C1, expires_at=now() + timedelta(days=1)),
        ]
    )
    t1 = moment()
    assert members(who_had_access(rc, C1, t1)) == {("bob", "editor")}
    assert access_at(rc, "ada", t1) == []
    assert not check_at(rc, "ada", "t.edit", C1, t1)
    assert check_at(rc, "bob", "t.edit", C1, t1)


def test_history_sees_through_scope_removal_and_retirement(team: Rolecall) -> None:
    rc = team
    rc.assign("ada", "editor", C1)
    rc.assign("bob", "viewer", C2)
    t1 = moment()
    remove_scope(rc, C1)
    retire_user(rc, "bob")
    t2 = moment()
    assert members(who_had_access(rc, C1, t1)) == {("ada", "editor")}
    assert check_at(rc, "bob", "t.view", C2, t1)
    assert members(who_had_access(rc, C1, t2)) == set()
    assert not check_at(rc, "bob", "t.view", C2, t2)
    assert access_at(rc, "bob", t2) == []


def test_a_future_naive_or_too_early_moment_is_bad_input(team: Rolecall) -> None:
    rc = team
    t0 = moment()
    rc.add_user("dee")
    rc.assign("dee", "viewer", C1)
    index, before = rc.index, rc.revision
    with pytest.raises(BadInputError, match="in the future"):
        who_had_access(rc, C1, now() + timedelta(minutes=1))
    with pytest.raises(BadInputError, match="in the future"):
        check_at(rc, "dee", "t.view", C1, now() + timedelta(days=1))
    with pytest.raises(BadInputError, match="time zone"):
        access_at(rc, "dee", datetime.now())  # naive on purpose
    with pytest.raises(BadInputError, match="'dee' was not a known user at"):
        access_at(rc, "dee", t0)
    with pytest.raises(BadInputError, match="malformed course key"):
        who_had_access(rc, "course-v1:MITx", t0)
    assert (rc.index, rc.revision) == (index, before)


# ------------------------------------------------------------------------------------ CLI


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    for name in (
        "ROLECALL_DATABASE_URL",
        "ROLECALL_STRICT_PLUGINS",
        "ROLECALL_DISABLE_PLUGINS",
        "ROLECALL_REQUIRE_PLUGINS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    database = f"sqlite:///{tmp_path / 'rc.db'}"

    def run(*args: str) -> Result:
        result = CliRunner().invoke(cli, ["--database", database, *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return run


def test_cli_history_of_a_scope_and_of_a_user(run: Run) -> None:
    assert run("users", "add", "ada", "bob").exit_code == 0
    assert run("assign", "ada", "course_staff", C1).exit_code == 0
    assert run("assign", "bob", "course_auditor", "org:MITx").exit_code == 0
    t1 = moment().isoformat()
    assert run("revoke", "ada", "course_staff", C1).exit_code == 0
    t2 = moment().isoformat()

    out = run("history", "--scope", C1, "--at", t1)
    assert out.exit_code == 0, out.stderr
    team, others = out.stdout.split("Other users with access:")
    assert team.startswith(f"Team of {C1} at ")
    assert "ada" in team
    assert "course_staff" in team
    assert "bob" in others
    assert "org:MITx" in others
    later = json.loads(run("history", "--scope", C1, "--at", t2, "--json").stdout)
    assert later["members"] == []
    assert [m["user"] for m in later["inherited"]] == ["bob"]

    entries = json.loads(run("history", "--user", "ada", "--at", t1, "--json").stdout)
    assert [(e["scope"], e["role"], e["local"]) for e in entries] == [(C1, "course_staff", True)]
    gone = run("history", "--user", "ada", "--at", t2)
    assert gone.exit_code == 0
    assert gone.stdout.startswith("ada held no role at ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--scope", C1), "Missing option '--at'"),
        (("--at", "2020-01-01"), "give one of --scope or --user"),
        (("--scope", C1, "--user", "ada", "--at", "2020-01-01"), "give one of --scope or --user"),
        (("--scope", C1, "--at", "yesterday"), "--at 'yesterday' is not an ISO 8601"),
        (("--scope", C1, "--at", "2999-01-01"), "is in the future"),
    ],
)
def test_cli_history_bad_input_exits_2(run: Run, args: tuple[str, ...], message: str) -> None:
    result = run("history", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_access_now_and_then_print_the_same_table(run: Run) -> None:
    """`access` and `history --user` print one table; the history shows seconds."""
    assert run("users", "add", "ada").exit_code == 0
    assert run("assign", "ada", "course_staff", "org:MITx", "--expires", "2999-01-02T03:04:05Z")
    now = run("access", "ada").stdout.splitlines()
    then = run("history", "--user", "ada", "--at", moment().isoformat()).stdout.splitlines()
    header = ["SCOPE", "ROLE", "HOW", "GRANTED", "BY", "SINCE", "EXPIRES"]
    for lines in (now, then):
        assert lines[0].split() == header
        assert lines[1].split()[:5] == [
            "org:MITx",
            "course_staff",
            "assigned",
            "here",
            "(operator)",
        ]
    assert now[1].endswith("2999-01-02 03:04")
    assert then[1].endswith("2999-01-02 03:04:05")
