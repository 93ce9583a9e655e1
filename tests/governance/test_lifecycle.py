"""Lifecycle: expiring grants, removing scopes, retiring users, on SQLite and PostgreSQL, and
their CLI commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rolecall.core import BadInputError, GrantRow, Plugins, PluginSettings, Rolecall, load_plugins
from rolecall.core.cli import cli
from rolecall.core.governance.lifecycle import (
    expire,
    remove_scope,
    retire_user,
    scope_removal,
    user_retirement,
)
from rolecall.core.storage.models import Assignment, KnownScope, Restriction, User

C1 = "course-v1:MITx+6.002x+2026_T1"
C2 = "course-v1:MITx+18.01x+2026_T1"
LIB = "lib:MITx:physics"
H1 = "course-v1:HarvardX+CS50+2026"


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def later(**delta: float) -> datetime:
    return datetime.now(UTC) + timedelta(**delta)


def state(rc: Rolecall) -> tuple[int, int]:
    """(revision, number of audit events): what a write would change."""
    return rc.revision, len(rc.audit())


def rows(rc: Rolecall) -> set[tuple[str, str, str]]:
    """The assignments in the table, as (user, role, scope)."""
    with Session(rc.engine) as session:
        return {
            (u, r, s)
            for u, r, s in session.execute(
                select(User.username, Assignment.role, Assignment.scope).join(
                    User, User.id == Assignment.user_id
                )
            )
        }


def count(rc: Rolecall, model: type[KnownScope] | type[Restriction]) -> int:
    with Session(rc.engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def held(rc: Rolecall, user: str) -> set[tuple[str, str]]:
    return {(g.role, g.scope) for g in rc.grants(user)}


@pytest.fixture
def team(rc: Rolecall) -> Rolecall:
    rc.add_users(["ada", "bob", "cy", "dee"])
    rc.add_scopes([C1, C2, LIB, H1])
    return rc


# ------------------------------------------------------------------------------------ expire


def test_expire_removes_exactly_the_expired_grants_with_one_event_each(team: Rolecall) -> None:
    rc = team
    first, second = ago(days=2), ago(hours=1)
    rc.import_grants(
        [
            GrantRow("ada", "editor", C1, expires_at=first),
            GrantRow("bob", "viewer", C2, expires_at=second),
            GrantRow("cy", "viewer", C1, expires_at=later(days=1)),
            GrantRow("ada", "grader", C1),
        ]
    )
    before = rc.revision
    removed = expire(rc, actor="janitor")
    assert {(g.user, g.role, g.scope, g.expires_at) for g in removed} == {
        ("ada", "editor", C1, first),
        ("bob", "viewer", C2, second),
    }
    assert all(g.expired for g in removed)
    assert rows(rc) == {("cy", "viewer", C1), ("ada", "grader", C1)}
    assert rc.revision == before + 1  # one transaction
    events = [e for e in rc.audit() if e.action == "expire"]
    assert sorted((e.user, e.role, e.scope, e.actor, e.revision) for e in events) == [
        ("ada", "editor", C1, "janitor", before + 1),
        ("bob", "viewer", C2, "janitor", before + 1),
    ]
    by_user = {e.user: e.details for e in events}
    ada = next(g for g in removed if g.user == "ada")
    assert by_user["ada"] == {"id": ada.id, "expired_at": first.isoformat()}
    assert by_user["bob"]["expired_at"] == second.isoformat()
    assert rc.verify_audit().ok
    assert rc.index.grant("ada", "editor", C1) is None
    assert rc.index.grant("ada", "grader", C1) is not None
    assert rc.check("ada", "t.grade", C1)
    assert rc.check("cy", "t.view", C1)


def test_a_second_expire_writes_nothing(team: Rolecall) -> None:
    rc = team
    assert expire(rc) == []  # nothing ever expired
    rc.import_grants([GrantRow("ada", "editor", C1, expires_at=ago(minutes=5))])
    assert len(expire(rc)) == 1
    before = state(rc)
    assert expire(rc) == []
    assert state(rc) == before
    assert rc.verify_audit().ok


def test_expire_as_of_an_earlier_time_leaves_what_expired_since(team: Rolecall) -> None:
    rc = team
    rc.import_grants(
        [
            GrantRow("ada", "editor", C1, expires_at=ago(days=2)),
            GrantRow("bob", "editor", C1, expires_at=ago(hours=1)),
        ]
    )
    assert [g.user for g in expire(rc, now=ago(days=1))] == ["ada"]
    assert rows(rc) == {("bob", "editor", C1)}


def test_expire_refuses_a_future_or_naive_time(team: Rolecall) -> None:
    rc = team
    rc.assign("ada", "editor", C1, expires_at=later(hours=1))
    before = state(rc)
    with pytest.raises(BadInputError, match="in the future"):
        expire(rc, now=later(days=1))
    with pytest.raises(BadInputError, match="time zone"):
        expire(rc, now=datetime.now())  # naive on purpose
    assert state(rc) == before
    assert rows(rc) == {("ada", "editor", C1)}


# ------------------------------------------------------------------------------------ scopes


def test_removing_a_course_removes_its_assignments_and_restriction(team: Rolecall) -> None:
    rc = team
    rc.assign("ada", "editor", C1)
    rc.assign("bob", "viewer", C1, expires_at=later(days=1))
    rc.assign("ada", "editor", C2)
    rc.assign("cy", "viewer", "org:MITx")  # above the course: stays
    rc.restrict(C1, reason="exams")
    rc.restrict(C2)
    before = rc.revision
    revision = remove_scope(rc, C1, actor="admin", reason="course deleted")
    assert revision == before + 1
    assert rows(rc) == {("ada", "editor", C2), ("cy", "viewer", "org:MITx")}
    assert [r.scope for r in rc.index.restrictions()] == [C2]
    assert not rc.check("ada", "t.edit", C1)
    assert rc.check("cy", "t.view", C1)  # the restriction is gone, the org grant remains
    events = [e for e in rc.audit() if e.revision == revision]
    assert {e.action for e in events} == {"scope_remove"}
    assert sorted((e.details["op"], e.user, e.scope) for e in events) == [
        ("revoke", "ada", C1),
        ("revoke", "bob", C1),
        ("scope_forget", None, C1),
        ("unrestrict", None, C1),
    ]
    assert all(e.details["reason"] == "course deleted" for e in events)
    assert all(e.actor == "admin" for e in events)
    with Session(rc.engine) as session:
        assert session.get(KnownScope, C1) is None
        assert session.get(KnownScope, C2) is not None
    assert rc.verify_audit().ok


def test_a_reused_course_key_starts_empty(
    team: Rolecall, database_url: str, plugins: Plugins
) -> None:
    rc = team
    rc.assign("ada", "editor", C1)
    rc.restrict(C1)
    remove_scope(rc, C1)
    rc.add_scopes([(C1, "Circuits, again")])  # the key is used again for a new course
    rc.assign("bob", "viewer", C1)
    assert not rc.check("ada", "t.view", C1)
    assert rc.check("bob", "t.view", C1)  # no restriction came back either
    assert rc.index.grant("ada", "editor", C1) is None
    with Rolecall.open(database_url, plugins=plugins, background_sync=False) as fresh:
        assert not fresh.check("ada", "t.view", C1)
        assert fresh.check("bob", "t.view", C1)
        assert fresh.index.restrictions() == []


def test_a_removed_course_leaves_the_known_scopes_of_a_fresh_service(
    team: Rolecall, database_url: str, plugins: Plugins
) -> None:
    rc = team
    rc.assign("ada", "editor", C1)
    remove_scope(rc, C1)
    with Rolecall.open(database_url, plugins=plugins, background_sync=False) as fresh:
        known = fresh.index.known_scopes()
    assert C1 not in known
    assert C2 in known


def test_a_removed_course_leaves_the_known_scopes_of_running_services(
    team: Rolecall, database_url: str, plugins: Plugins
) -> None:
    rc = team
    with Rolecall.open(database_url, plugins=plugins, background_sync=False) as other:
        rc.assign("ada", "editor", C1)
        other.sync()
        assert C1 in other.index.known_scopes()
        remove_scope(rc, C1)
        other.sync()
        assert C1 not in rc.index.known_scopes()
        assert C1 not in other.index.known_scopes()
        assert C2 in other.index.known_scopes()


def test_removing_an_org_removes_everything_below_it_and_nothing_else(team: Rolecall) -> None:
    rc = team
    rc.assign("ada", "viewer", "org:MITx")
    rc.assign("bob", "editor", C1)
    rc.assign("cy", "grader", C2)
    rc.assign("dee", "librarian", LIB)
    rc.assign("ada", "editor", H1)
    rc.assign("bob", "viewer", "org:HarvardX")
    rc.assign("cy", "viewer", "platform")
    rc.restrict(C2)
    rc.restrict(H1, ["t.grade"])
    removal = scope_removal(rc, "org:MITx")
    assert {(g.user, g.role, g.scope) for g in removal.grants} == {
        ("ada", "viewer", "org:MITx"),
        ("bob", "editor", C1),
        ("cy", "grader", C2),
        ("dee", "librarian", LIB),
    }
    assert removal.restrictions == (C2,)
    assert set(removal.scopes) == {"org:MITx", C1, C2, LIB}
    assert rows(rc) == {
        ("ada", "editor", H1),
        ("bob", "viewer", "org:HarvardX"),
        ("cy", "viewer", "platform"),
    }
    assert [r.scope for r in rc.index.restrictions()] == [H1]
    assert count(rc, KnownScope) == 1  # H1
    assert not rc.check("bob", "t.edit", C1)
    assert not rc.check("dee", "lib.view", LIB)
    assert rc.check("cy", "t.view", C1)  # from the platform: not removed
    assert rc.check("ada", "t.edit", H1)
    assert rc.verify_audit().ok


def test_removing_platform_is_refused_and_nothing_known_changes_nothing(team: Rolecall) -> None:
    rc = team
    rc.assign("ada", "editor", C1)
    before = state(rc)
    with pytest.raises(BadInputError, match="platform scope cannot be removed"):
        remove_scope(rc, "platform")
    with pytest.raises(BadInputError, match="malformed course key"):
        remove_scope(rc, "course-v1:MITx")
    assert remove_scope(rc, "course-v1:MITx+nothing+here") == before[0]
    assert not scope_removal(rc, "org:Nobody").changed
    assert state(rc) == before


# ------------------------------------------------------------------------------------ users


def test_retire_user_removes_every_role_and_marks_the_user_inactive(team: Rolecall) -> None:
    rc = team
    rc.add_user("eve", email="eve@example.org", display_name="Eve")
    rc.assign("eve", "editor", C1)
    rc.assign("eve", "viewer", "org:HarvardX", expires_at=later(days=3))
    rc.assign("eve", "librarian", LIB)
    rc.assign("ada", "editor", C1)
    before = rc.revision
    revision = retire_user(rc, "eve", actor="hr", reason="left")
    assert revision == before + 1
    assert held(rc, "eve") == set()
    assert {u for u, _, _ in rows(rc)} == {"ada"}
    assert ("eve", "eve@example.org", "Eve", False) in rc.users()
    assert not rc.check("eve", "t.edit", C1)
    events = [e for e in rc.audit() if e.revision == revision]
    assert sorted((e.action, e.details.get("op"), e.role) for e in events) == [
        ("user_retire", "revoke", "editor"),
        ("user_retire", "revoke", "librarian"),
        ("user_retire", "revoke", "viewer"),
        ("user_update", None, None),
    ]
    update = next(e for e in events if e.action == "user_update")
    assert update.details == {"active": False}  # e-mail and name: in the users table only
    assert all(e.details["reason"] == "left" for e in events if e.action == "user_retire")
    assert rc.verify_audit().ok
    # Retiring again changes nothing; an unknown user is bad input.
    after = state(rc)
    assert not user_retirement(rc, "eve").changed
    with pytest.raises(BadInputError, match="unknown user 'zed'"):
        retire_user(rc, "zed")
    assert state(rc) == after


def test_a_second_service_follows_every_lifecycle_change_through_the_feed(
    team: Rolecall, database_url: str, plugins: Plugins
) -> None:
    rc = team
    rc.import_grants([GrantRow("ada", "editor", C1, expires_at=ago(hours=1))])
    rc.assign("bob", "editor", C2)
    rc.restrict(C2, exempt_roles=["editor"])
    rc.assign("cy", "viewer", H1)
    rc.assign("dee", "grader", C1)
    other = Rolecall.open(database_url, plugins=plugins, background_sync=False, staleness=3600)
    try:
        index = other.index
        assert other.index.grant("ada", "editor", C1) is not None
        assert other.check("bob", "t.edit", C2)
        expire(rc)
        remove_scope(rc, C2)
        retire_user(rc, "cy")
        # Not caught up yet: staleness is an hour and no token was given.
        assert other.check("cy", "t.view", H1)
        assert other.sync() == rc.revision
        assert other.index is index  # followed the change feed, no reload
        assert other.index.grant("ada", "editor", C1) is None
        assert not other.check("bob", "t.edit", C2)
        assert other.index.restrictions() == []
        assert not other.check("cy", "t.view", H1)
        assert ("cy", None, None, False) in other.users()
        assert other.check("dee", "t.grade", C1)
    finally:
        other.close()


# ------------------------------------------------------------------------------------ CLI


class Cli:
    def __init__(self, db: Path) -> None:
        self.db = db

    def __call__(self, *args: str) -> Result:
        result = CliRunner().invoke(cli, ["--database", f"sqlite:///{self.db}", *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.exit_code == 0, result.stderr
        return result.stdout

    def import_grants(self, *grants: GrantRow) -> None:
        """Grants made elsewhere, already expired perhaps (the CLI refuses a past expiry)."""
        plugins = load_plugins(PluginSettings(), entry_points=[])
        with Rolecall.open(f"sqlite:///{self.db}", plugins=plugins, background_sync=False) as rc:
            rc.import_grants(grants)


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    for name in (
        "ROLECALL_DATABASE_URL",
        "ROLECALL_STRICT_PLUGINS",
        "ROLECALL_DISABLE_PLUGINS",
        "ROLECALL_REQUIRE_PLUGINS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    run = Cli(tmp_path / "rc.db")
    run.ok("users", "add", "ada", "bob")
    return run


def test_cli_expire_lists_what_it_removed_then_nothing(run: Cli) -> None:
    run.ok("assign", "ada", "course_staff", C1, "--expires", later(days=1).isoformat())
    run.ok("assign", "bob", "course_staff", C1)
    assert run.ok("expire") == "nothing expired\n"
    run.import_grants(GrantRow("ada", "course_staff", H1, expires_at=ago(minutes=1)))
    out = run.ok("expire")
    assert out.splitlines()[0].split() == ["USER", "ROLE", "SCOPE", "EXPIRED", "AT"]
    assert out.splitlines()[1].split()[:3] == ["ada", "course_staff", H1]
    assert len(out.splitlines()) == 2
    assert json.loads(run.ok("expire", "--json"))["expired"] == []
    assert run("check", "ada", "courses.edit_course_content", C1).exit_code == 0
    events = json.loads(run.ok("audit", "--json", "--user", "ada"))
    assert [e["action"] for e in events] == ["user_add", "assign", "import", "expire"]


def test_cli_expire_json_names_the_grants(run: Cli) -> None:
    run.import_grants(GrantRow("ada", "course_staff", C1, expires_at=ago(seconds=1)))
    out = json.loads(run.ok("expire", "--json"))
    assert [(g["user"], g["role"], g["scope"], g["expired"]) for g in out["expired"]] == [
        ("ada", "course_staff", C1, True)
    ]
    assert out["revision"] == 3  # users add, import, then the expiry
    assert run.ok("audit", "verify").startswith("audit chain intact")


def test_cli_scopes_remove(run: Cli) -> None:
    run.ok("assign", "ada", "course_staff", C1)
    run.ok("assign", "bob", "course_staff", H1)
    run.ok("restrict", C1)
    out = run.ok("scopes", "remove", C1, "--reason", "deleted")
    assert out.startswith(f"removed {C1}: 1 assignment, 1 restriction, 1 scope forgotten")
    assert run("check", "ada", "courses.edit_course_content", C1).exit_code == 1
    assert run("check", "bob", "courses.edit_course_content", H1).exit_code == 0
    assert run.ok("scopes", "remove", C1) == f"nothing to remove on {C1}\n"
    run.ok("assign", "ada", "course_staff", "org:HarvardX")
    out = json.loads(run.ok("scopes", "remove", "org:HarvardX", "--json"))
    assert out["changed"] is True
    assert sorted(g["scope"] for g in out["assignments"]) == sorted([H1, "org:HarvardX"])
    assert out["restrictions"] == []
    refused = run("scopes", "remove", "platform")
    assert refused.exit_code == 2
    assert refused.stderr == "rolecall: error: the platform scope cannot be removed\n"


def test_cli_users_retire(run: Cli) -> None:
    run.ok("assign", "ada", "course_staff", C1)
    run.ok("assign", "ada", "course_editor", H1)
    out = run.ok("users", "retire", "ada", "--reason", "left")
    assert out.startswith("retired ada: 2 roles removed, marked inactive (revision ")
    users = {u["username"]: u["active"] for u in json.loads(run.ok("users", "list", "--json"))}
    assert users == {"ada": False, "bob": True}
    assert json.loads(run.ok("access", "ada", "--json")) == []
    assert run.ok("users", "retire", "ada") == (
        "no change: ada is already inactive and holds no role\n"
    )
    again = json.loads(run.ok("users", "retire", "bob", "--json"))
    assert (again["changed"], again["deactivated"], again["assignments"]) == (True, True, [])
    unknown = run("users", "retire", "zed")
    assert (unknown.exit_code, unknown.stderr) == (2, "rolecall: error: unknown user 'zed'\n")


def test_a_retired_user_is_given_no_new_role(team: Rolecall) -> None:
    retire_user(team, "ada")
    with pytest.raises(BadInputError, match="user ada is retired"):
        team.assign("ada", "editor", C1)
    result = team.bulk("assign", "editor", ["ada"], [C1])
    assert [(r.status, r.message) for r in result.rows] == [("invalid_user", "ada is retired")]
