"""The teams plugin through every hook: its scope type, permissions, roles, delegation rules,
commands, console page and ``assignment_changed`` hook, with rolecall's real parts (the
service on SQLite and PostgreSQL, the Flask console, the ``rolecall`` console script).

The fixtures live in this module rather than in a ``conftest.py``: rolecall's own tests import
their ``conftest`` by name, and two top-level ``conftest`` modules in one run would clash. The
plugin is loaded from its source folder by path rather than by putting the folder on
``sys.path``: a build leaves ``rolecall_teams.egg-info`` there, which entry-point discovery would
then find in every other test of the run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from rolecall.core import Plugins, PluginSettings, Rolecall, ScopeKeyError, hookspecs, load_plugins
from rolecall.core.governance import NotAllowedError
from rolecall.webapp.app import create_app

PLUGIN_DIR = Path(__file__).resolve().parents[1]
COURSE = "course-v1:MITx+6.002x+2026_T1"
OTHER_COURSE = "course-v1:MITx+8.01x+2026_T1"
BLUE = "team-v1:MITx+6.002x+2026_T1+team@blue"
RED = "team-v1:MITx+6.002x+2026_T1+team@red"
ELSEWHERE = "team-v1:MITx+8.01x+2026_T1+team@green"
PASSWORD = "teams test password"  # noqa: S105 - a test account's password


def load_teams() -> ModuleType:
    """``rolecall_teams`` from ``plugins/teams``, imported once under its own name."""
    module = sys.modules.get("rolecall_teams")
    if module is None:
        package = PLUGIN_DIR / "rolecall_teams"
        spec = importlib.util.spec_from_file_location(
            "rolecall_teams", package / "__init__.py", submodule_search_locations=[str(package)]
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["rolecall_teams"] = module
        spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def teams() -> ModuleType:
    return load_teams()


@pytest.fixture(scope="session")
def plugins(teams: ModuleType) -> Plugins:
    """Every built-in, the console's own plugin and ``teams``, strictly: any failure is fatal."""
    from rolecall.webapp import plugin as console_plugin

    return load_plugins(
        PluginSettings(strict=True),
        entry_points=[],
        extra={"console": console_plugin, "teams": teams},
    )


POSTGRES = os.environ.get("ROLECALL_TEST_POSTGRES_URL")
"""A role that may create databases (``make test`` sets it); without it, SQLite only."""


@pytest.fixture(params=["sqlite", "postgresql"] if POSTGRES else ["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: an SQLite file, then (with ``ROLECALL_TEST_POSTGRES_URL``) a
    brand-new PostgreSQL database, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'teams.db'}"
        return
    admin = POSTGRES
    assert admin is not None
    engine = create_engine(admin, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"teams_{uuid.uuid4().hex[:10]}"
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            # Our own connections only, as tests/pg.py drops its databases: WITH (FORCE) would
            # also try to end an autovacuum worker there, which this role may not.
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                    " AND usename = current_user AND backend_type = 'client backend'"
                ),
                {"name": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        engine.dispose()


@pytest.fixture
def rc(database_url: str, plugins: Plugins, teams: ModuleType) -> Iterator[Rolecall]:
    """A service with ``root`` (platform admin), ``cora`` (teams coordinator of the course),
    ``leo`` (leader of the blue team) and ``lena`` (a learner who leads nothing)."""
    service = Rolecall.open(database_url, plugins=plugins, background_sync=False, staleness=0)
    try:
        for user in ("root", "cora", "leo", "lena"):
            service.add_user(user, email=f"{user}@example.org")
        service.assign("root", "platform_admin", "platform")
        service.assign("cora", "teams_coordinator", COURSE)
        service.assign("leo", "team_leader", BLUE)
        service.add_scopes([BLUE, RED, ELSEWHERE])
        teams.RECENT.clear()
        yield service
    finally:
        service.close()


ROLECALL = Path(sys.executable).parent / "rolecall"


# ---------------------------------------------------------------------------- registry


def test_a_team_key_has_its_course_as_parent(plugins: Plugins) -> None:
    scope = plugins.registry.scopes.resolve(BLUE)
    assert scope.type == "team"
    assert scope.fields == {"org": "MITx", "course": "6.002x", "run": "2026_T1", "team": "blue"}
    assert scope.chain == (BLUE, COURSE, "org:MITx", "platform")


@pytest.mark.parametrize(
    "key",
    [
        "team-v1:MITx+6.002x+2026_T1",
        "team-v1:MITx+6.002x+team@blue",
        "team-v1:MITx+6.002x+2026_T1+team@",
        "team-v1:MITx+6.002x+2026_T1+team@a+b",
    ],
)
def test_a_malformed_team_key_says_what_a_team_key_looks_like(plugins: Plugins, key: str) -> None:
    with pytest.raises(ScopeKeyError, match=r"expected team-v1:ORG\+COURSE\+RUN\+team@SLUG"):
        plugins.registry.scopes.resolve(key)


def test_the_plugin_uses_every_hook_and_lists_every_contribution(plugins: Plugins) -> None:
    info = plugins.info("teams")
    assert info is not None
    assert info.status == "loaded"
    every_hook = sorted(
        name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "rolecall_spec")
    )
    assert list(info.hooks) == every_hook
    assert info.contributes == {
        "scope_types": ["team"],
        "permissions": ["teams.create_teams", "teams.view_team", "teams.manage_membership"],
        "roles": ["teams_coordinator", "team_leader", "team_member"],
        "derived_roles": ["team_member"],
        "rules": ["teams_coordinators_appoint_leaders"],
        "console_pages": ["teams"],
        "commands": ["teams"],
    }


# ---------------------------------------------------------------------------- decisions


def test_a_coordinator_manages_every_team_of_the_course_and_no_other(rc: Rolecall) -> None:
    assert rc.check("cora", "teams.create_teams", COURSE)
    assert rc.check("cora", "teams.manage_membership", BLUE)
    assert rc.check("cora", "teams.view_team", RED)  # implied by managing
    assert not rc.check("cora", "teams.manage_membership", ELSEWHERE)
    assert not rc.check("cora", "teams.create_teams", OTHER_COURSE)


def test_a_leader_manages_one_team(rc: Rolecall) -> None:
    assert rc.check("leo", "teams.manage_membership", BLUE)
    assert not rc.check("leo", "teams.view_team", RED)
    assert not rc.check("leo", "teams.create_teams", COURSE)
    assert rc.scopes_where("leo", "teams.view_team", "team") == [BLUE]


# ---------------------------------------------------------------------------- delegation


def test_a_coordinator_appoints_leaders_of_the_teams_below_her_only(rc: Rolecall) -> None:
    rc.assign("lena", "team_leader", RED, as_user="cora")
    assert rc.check("lena", "teams.manage_membership", RED)
    with pytest.raises(NotAllowedError):
        rc.assign("lena", "team_leader", ELSEWHERE, as_user="cora")
    with pytest.raises(NotAllowedError):
        rc.assign("lena", "teams_coordinator", COURSE, as_user="cora")
    rc.revoke("lena", "team_leader", RED, as_user="cora")
    assert not rc.check("lena", "teams.view_team", RED)


def test_a_leader_appoints_no_one(rc: Rolecall) -> None:
    with pytest.raises(NotAllowedError):
        rc.assign("lena", "team_leader", BLUE, as_user="leo")


def test_a_platform_admin_assigns_and_revokes_the_teams_roles(rc: Rolecall) -> None:
    rc.assign("lena", "teams_coordinator", OTHER_COURSE, as_user="root")
    rc.assign("lena", "team_leader", BLUE, as_user="root")
    assert rc.check("lena", "teams.manage_membership", ELSEWHERE)
    rc.revoke("leo", "team_leader", BLUE, as_user="root")
    assert not rc.check("leo", "teams.view_team", BLUE)


def test_a_teams_leaders_and_coordinators_see_who_holds_roles_on_it(rc: Rolecall) -> None:
    token = {u: rc.accounts.create_token(u)[1] for u in ("leo", "cora", "lena")}
    rc.assign("lena", "course_staff", OTHER_COURSE)
    client = create_app(rc).test_client()

    def team_of(user: str, key: str) -> int:
        headers = {"Authorization": f"Bearer {token[user]}"}
        return client.get(f"/api/v1/scopes/{key}/team", headers=headers).status_code

    assert team_of("leo", BLUE) == 200
    assert team_of("cora", RED) == 200
    assert team_of("leo", RED) == 403
    assert team_of("lena", BLUE) == 403


# ---------------------------------------------------------------------------- the event hook


def test_changes_to_the_teams_roles_reach_the_hook_and_the_outbox(
    rc: Rolecall, teams: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox = tmp_path / "outbox.jsonl"
    monkeypatch.setenv(teams.OUTBOX, str(outbox))
    rc.assign("lena", "team_leader", RED, as_user="cora", reason="elected")
    rc.assign("lena", "platform_admin", "platform")  # not a teams role: ignored
    rc.revoke("lena", "team_leader", RED, as_user="root")
    assert [(e.action, e.user, e.role, e.scope, e.actor) for e in teams.RECENT] == [
        ("assign", "lena", "team_leader", RED, "cora"),
        ("revoke", "lena", "team_leader", RED, "root"),
    ]
    lines = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert [(line["action"], line["reason"]) for line in lines] == [
        ("assign", "elected"),
        ("revoke", None),
    ]


# ---------------------------------------------------------------------------- the console page


def _signed_in(rc: Rolecall, user: str):  # type: ignore[no-untyped-def]
    rc.accounts.set_password(user, PASSWORD)
    client = create_app(rc, config={"SECRET_KEY": "teams-tests"}).test_client()
    form = client.get("/console/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf is not None
    signed = client.post(
        "/console/login",
        data={"username": user, "password": PASSWORD, "csrf_token": csrf.group(1)},
    )
    assert signed.status_code == 302
    return client


def test_the_console_page_shows_the_viewers_teams_and_the_latest_changes(rc: Rolecall) -> None:
    rc.assign("lena", "team_leader", RED, as_user="cora")
    client = _signed_in(rc, "cora")
    assert 'href="/console/plugins/teams"' in client.get("/console/").text
    page = client.get("/console/plugins/teams")
    assert page.status_code == 200
    html = page.text
    assert "<td>" + BLUE + "</td>" in html.replace("\n", "")
    assert RED in html
    assert ELSEWHERE not in html
    assert "lena" in html  # the change above, under the latest changes


def test_the_console_page_is_refused_to_those_without_a_team(rc: Rolecall) -> None:
    rc.assign("lena", "teams_coordinator", OTHER_COURSE)  # a role, but no team there yet
    rc.revoke("lena", "teams_coordinator", OTHER_COURSE)
    rc.assign("lena", "course_staff", OTHER_COURSE)
    client = _signed_in(rc, "lena")
    assert client.get("/console/plugins/teams").status_code == 403
    assert 'href="/console/plugins/teams"' not in client.get("/console/").text


# ---------------------------------------------------------------------------- the command line


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A folder that installs the plugin as pip would: its ``.dist-info`` with the entry
    point, and the package (linked to the source)."""
    site = tmp_path / "site"
    info = site / "rolecall_teams-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rolecall-teams\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[rolecall]\nteams = rolecall_teams\n")
    (site / "rolecall_teams").symlink_to(PLUGIN_DIR / "rolecall_teams")
    return site


def _cli(
    site: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    child = {k: v for k, v in os.environ.items() if not k.startswith("ROLECALL_")}
    child.update({"PYTHONPATH": str(site), "ROLECALL_STRICT_PLUGINS": "1", **(env or {})})
    return subprocess.run(
        [str(ROLECALL), *args], capture_output=True, text=True, env=child, timeout=60, check=False
    )


def test_the_installed_plugin_works_from_the_command_line(site: Path, tmp_path: Path) -> None:
    db = ("--database", f"sqlite:///{tmp_path / 'cli.db'}")
    listed = _cli(site, "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    info = next(p for p in json.loads(listed.stdout) if p["name"] == "teams")
    assert info["distribution"] == "rolecall-teams"
    assert info["contributes"]["console_pages"] == ["teams"]
    assert info["contributes"]["commands"] == ["teams"]
    outbox = tmp_path / "outbox.jsonl"
    assert _cli(site, *db, "users", "add", "cora", "leo").returncode == 0
    assert _cli(site, *db, "assign", "cora", "teams_coordinator", COURSE).returncode == 0
    appointed = _cli(
        site, *db, "assign", "leo", "team_leader", BLUE, "--as", "cora",
        env={"ROLECALL_TEAMS_OUTBOX": str(outbox)},
    )  # fmt: skip
    assert appointed.returncode == 0, appointed.stderr
    assert json.loads(outbox.read_text())["actor"] == "cora"
    assert _cli(site, *db, "teams", "add", RED).returncode == 0
    shown = _cli(site, *db, "teams", "show", BLUE, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == {
        "team": BLUE,
        "course": COURSE,
        "leaders": ["leo"],
        "managed_by": ["cora", "leo"],
    }
    table = _cli(site, *db, "teams", "show", BLUE)
    assert table.stdout.splitlines()[0] == f"team blue of {COURSE}"
    wrong = _cli(site, *db, "teams", "show", COURSE)
    assert wrong.returncode == 2
    assert wrong.stderr == (
        f"rolecall: error: '{COURSE}' is a course key, not a team key "
        "(team-v1:ORG+COURSE+RUN+team@SLUG)\n"
    )
    refused = _cli(site, *db, "assign", "cora", "team_leader", RED, "--as", "leo")
    assert refused.returncode == 3


def test_a_roster_member_holds_the_derived_team_member_role(
    rc: Rolecall, teams: ModuleType
) -> None:
    rc.add_users(["rosa"])
    assert not rc.check("rosa", "teams.view_team", BLUE)
    roster = teams.ROSTER
    roster[BLUE] = {"rosa"}
    try:
        assert rc.check("rosa", "teams.view_team", BLUE)
        assert not rc.check("rosa", "teams.view_team", RED)  # another team's roster
        assert not rc.check("rosa", "teams.manage_membership", BLUE)
    finally:
        roster.pop(BLUE, None)
    assert not rc.check("rosa", "teams.view_team", BLUE)


def test_the_roster_is_the_scope_catalogue(rc: Rolecall, teams: ModuleType) -> None:
    green = BLUE.replace("blue", "green")
    assert rc.unknown_scope(green) is not None  # nobody created it
    teams.ROSTER[green] = set()
    try:
        assert rc.unknown_scope(green) is None  # the platform's team service has it
        found = rc.unknown_scope(green.replace("MITx", "MITX"))
        assert found is not None
        assert found.suggestion == green
        rc.assign("leo", "team_leader", green, as_user="cora", known_only=True)
        assert rc.check("leo", "teams.manage_membership", green)
    finally:
        teams.ROSTER.pop(green, None)
