"""The database commands of the CLI, run as the real console script on a temporary SQLite file:
exit codes (check: 0 allowed, 1 denied, 2 bad input), human output and ``--json``."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from rolecall.core.cli import cli as cli_group
from rolecall.core.storage.database import SCHEMA_HEAD

from support import run_cli, write_dist

PLUGIN = """
from rolecall.core import Permission, Role, hookimpl

@hookimpl
def register_permissions():
    return [
        Permission(id="demo.view", title="View", description="See it.", area="Demo",
                   scope_types=("course",)),
        Permission(id="demo.edit", title="Edit", description="Change it.", area="Demo",
                   scope_types=("course",), implies=("demo.view",)),
    ]

@hookimpl
def register_roles():
    return [
        Role(id="demo_viewer", title="Viewer", description="Sees.",
             scope_types=("course", "org"), permissions=("demo.view",)),
        Role(id="demo_editor", title="Editor", description="Edits.",
             scope_types=("course", "org"), permissions=("demo.edit",), aliases=("writer",)),
    ]
"""

COURSE = "course-v1:MITx+6.002x+2026_T1"
OTHER = "course-v1:HarvardX+CS50+2026"


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


class Cli:
    """Runs the CLI in this process (fast) on a temporary database, with a demo plugin found
    through a real installed-distribution entry point on ``sys.path``."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.site = write_dist(
            tmp_path / "site",
            "rolecall-demo",
            "1.0",
            {"demo": "rolecall_demo_cli"},
            {"rolecall_demo_cli": PLUGIN},
        )
        monkeypatch.syspath_prepend(str(self.site))
        monkeypatch.chdir(tmp_path)
        for name in (
            "ROLECALL_DATABASE_URL",
            "ROLECALL_STRICT_PLUGINS",
            "ROLECALL_DISABLE_PLUGINS",
            "ROLECALL_REQUIRE_PLUGINS",
        ):
            monkeypatch.delenv(name, raising=False)
        self.db = tmp_path / "rc.db"
        self.cwd = tmp_path

    def __call__(self, *args: str, database: bool = True) -> Outcome:
        prefix = ("--database", f"sqlite:///{self.db}") if database else ()
        result = CliRunner().invoke(cli_group, [*prefix, *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Outcome(result.exit_code, result.stdout, result.stderr)

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    cli = Cli(tmp_path, monkeypatch)
    cli.ok("users", "add", "ada", "bob")
    return cli


def test_db_upgrade_creates_then_reports_up_to_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = Cli(tmp_path, monkeypatch)
    head = SCHEMA_HEAD  # equal to Alembic's newest revision (tests/storage/test_schema_head.py)
    assert cli.ok("db", "upgrade") == f"schema upgraded to revision {head} (newest: {head})\n"
    assert cli.ok("db", "upgrade") == f"schema already at revision {head} (newest: {head})\n"
    tables = {
        r[0]
        for r in sqlite3.connect(cli.db).execute(
            "SELECT name FROM sqlite_master WHERE type='table'"
        )
    }
    assert {"rolecall_users", "rolecall_assignments", "rolecall_audit"} <= tables


def test_the_default_database_is_rolecall_db_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = Cli(tmp_path, monkeypatch)
    assert cli("users", "add", "ada", database=False).returncode == 0
    assert (tmp_path / "rolecall.db").exists()
    env_db = tmp_path / "env.db"
    monkeypatch.setenv("ROLECALL_DATABASE_URL", f"sqlite:///{env_db}")
    assert cli("users", "add", "bob", database=False).returncode == 0
    assert env_db.exists()


def test_the_real_console_script_exits_0_1_and_2(cli: Cli) -> None:
    cli.ok("assign", "ada", "demo_editor", COURSE)
    base = ("--database", f"sqlite:///{cli.db}", "check", "ada")
    assert run_cli(*base, "demo.view", COURSE, pythonpath=cli.site).returncode == 0
    assert run_cli(*base, "demo.view", OTHER, pythonpath=cli.site).returncode == 1
    bad = run_cli(*base, "demo.view", "course-v1:MITx", pythonpath=cli.site)
    assert bad.returncode == 2
    assert bad.stderr.startswith("rolecall: error: malformed course key")
    assert "Traceback" not in bad.stderr


def test_users_add_and_list(cli: Cli) -> None:
    assert cli.ok("users", "add", "ada", "carl") == "exists: ada\nadded: carl\n"
    cli.ok("users", "add", "dee", "--email", "dee@example.org", "--name", "Dee Dee")
    users = json.loads(cli.ok("users", "list", "--json"))
    assert [u["username"] for u in users] == ["ada", "bob", "carl", "dee"]
    assert users[3] == {
        "username": "dee",
        "email": "dee@example.org",
        "display_name": "Dee Dee",
        "active": True,
    }


def test_assign_then_check_exits_0_when_allowed_and_1_when_denied(cli: Cli) -> None:
    assert cli.ok("assign", "ada", "demo_editor", COURSE).startswith(
        f"assigned demo_editor to ada on {COURSE} (revision "
    )
    allowed = cli("check", "ada", "demo.view", COURSE)
    assert (allowed.returncode, allowed.stdout) == (0, "allowed\n")
    denied = cli("check", "ada", "demo.view", OTHER)
    assert (denied.returncode, denied.stdout) == (1, "denied\n")
    as_json = json.loads(cli("check", "bob", "demo.view", COURSE, "--json").stdout)
    assert as_json["allowed"] is False
    assert as_json["revision"] >= 2


def test_an_org_grant_reaches_the_orgs_courses_only(cli: Cli) -> None:
    cli.ok("assign", "bob", "demo_viewer", "org:MITx")
    assert cli("check", "bob", "demo.view", COURSE).returncode == 0
    assert cli("check", "bob", "demo.view", OTHER).returncode == 1


def test_assigning_twice_changes_nothing(cli: Cli) -> None:
    cli.ok("assign", "ada", "writer", COURSE)
    assert cli.ok("assign", "ada", "demo_editor", COURSE) == (
        f"no change: ada already holds demo_editor on {COURSE}\n"
    )
    assert len(json.loads(cli.ok("audit", "--json", "--user", "ada"))) == 2  # user_add, assign


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("check", "ada", "demo.nope", COURSE), "unknown permission 'demo.nope'"),
        (("check", "ada", "demo.view", "course-v1:MITx"), "malformed course key"),
        (("assign", "ada", "nobody", COURSE), "unknown role 'nobody'"),
        (("assign", "ada", "demo_editor", "lib:MITx:x"), "cannot be assigned at a library"),
        (("assign", "zed", "demo_editor", COURSE), "unknown user(s) 'zed'"),
        (("assign", "ada", "demo_editor", COURSE, "--expires", "2001-01-01"), "in the past"),
        (("assign", "ada", "demo_editor", COURSE, "--expires", "soon"), "not an ISO 8601"),
        (("revoke", "ada", "demo_editor", COURSE), "ada does not hold demo_editor"),
        (("restrict", COURSE, "--permission", "demo.nope"), "unknown permission"),
        (("--database", "nonsense://", "users", "list"), "cannot use database URL"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    cli: Cli, args: tuple[str, ...], message: str
) -> None:
    before = cli.ok("audit", "--json")
    result = cli(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("rolecall: error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert cli.ok("audit", "--json") == before


def test_a_user_never_seen_is_denied_not_an_error(cli: Cli) -> None:
    result = cli("check", "zed", "demo.view", COURSE)
    assert (result.returncode, result.stderr) == (1, "")
    assert "zed has no grants in rolecall" in cli.ok("explain", "zed", "demo.view", COURSE)
    assert cli("users", "list", "--json").stdout.count('"zed"') == 0  # nothing was written


def test_explain_names_the_grant_and_the_implication(cli: Cli) -> None:
    cli.ok("assign", "ada", "demo_editor", COURSE, "--reason", "new term")
    out = cli.ok("explain", "ada", "demo.view", COURSE)
    assert out.splitlines()[0] == (
        f"allowed: ada holds demo_editor on {COURSE}, which grants demo.view "
        "(through demo.edit -> demo.view)"
    )
    assert f"  via demo_editor on {COURSE}, granted by (operator) on " in out
    decision = json.loads(cli.ok("explain", "ada", "demo.view", OTHER, "--json"))
    assert decision["allowed"] is False
    assert (
        f"demo_editor on {COURSE} grants it, but {COURSE} is not {OTHER} or above it"
        in (decision["closest_misses"])
    )


def test_who_shows_the_team_and_other_users_with_access(cli: Cli) -> None:
    cli.ok("assign", "ada", "demo_editor", COURSE)
    cli.ok("assign", "bob", "demo_viewer", "org:MITx")
    out = cli.ok("who", COURSE)
    team, others = out.split("Other users with access:")
    assert "ada" in team
    assert "bob" not in team
    assert "bob" in others
    assert "org:MITx" in others
    assert cli.ok("who", COURSE, "--permission", "demo.edit") == "ada\n"
    assert cli.ok("who", COURSE, "--permission", "demo.view") == "ada\nbob\n"


def test_access_lists_local_and_inherited_roles(cli: Cli) -> None:
    cli.ok("assign", "bob", "demo_viewer", "org:MITx")
    cli.ok("assign", "ada", "demo_editor", COURSE)  # makes COURSE a known scope below org:MITx
    entries = json.loads(cli.ok("access", "bob", "--json"))
    assert {(e["scope"], e["via"], e["local"]) for e in entries} == {
        ("org:MITx", "org:MITx", True),
        (COURSE, "org:MITx", False),
    }
    assert cli.ok("where", "bob", "demo.view") == f"{COURSE}\n"


def test_restrict_denies_and_unrestrict_restores(cli: Cli) -> None:
    cli.ok("assign", "ada", "demo_editor", COURSE)
    cli.ok("restrict", COURSE, "--permission", "demo.view", "--reason", "locked for exams")
    assert cli("check", "ada", "demo.edit", COURSE).returncode == 1  # edit implies the denied view
    assert "restriction on" in cli.ok("explain", "ada", "demo.view", COURSE)
    cli.ok("unrestrict", COURSE)
    assert cli("check", "ada", "demo.edit", COURSE).returncode == 0


def test_revoke_removes_the_grant(cli: Cli) -> None:
    cli.ok("assign", "ada", "demo_editor", COURSE)
    assert cli.ok("revoke", "ada", "demo_editor", COURSE).startswith("revoked demo_editor")
    assert cli("check", "ada", "demo.view", COURSE).returncode == 1


def test_audit_lists_and_filters_events(cli: Cli) -> None:
    cli.ok("assign", "ada", "demo_editor", COURSE)
    cli.ok("assign", "bob", "demo_viewer", OTHER)
    events = json.loads(cli.ok("audit", "--json", "--scope", OTHER))
    assert [(e["action"], e["user"], e["role"]) for e in events] == [
        ("assign", "bob", "demo_viewer")
    ]
    assert json.loads(cli.ok("audit", "--json", "--since", "2999-01-01")) == []
    assert "assign" in cli.ok("audit")


def test_audit_verify_detects_an_altered_event(cli: Cli) -> None:
    cli.ok("assign", "ada", "demo_editor", COURSE)
    assert cli.ok("audit", "verify") == "audit chain intact: 3 events (3 keyed)\n"
    with sqlite3.connect(cli.db) as db:
        db.execute("UPDATE rolecall_audit SET role = 'demo_viewer' WHERE action = 'assign'")
    result = cli("audit", "verify")
    assert result.returncode == 1
    assert result.stderr == "event 3: its content does not match its hash (it was altered)\n"
