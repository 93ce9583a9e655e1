"""A plugin's absence breaks nothing: rows naming what it registered are dormant.

A ``program`` plugin (a scope type, permissions and a role), installed as a real distribution on
``sys.path``, stores data of every kind: grants on its scope type, a grant of its role on an org,
a known scope, restrictions on its scopes and naming its permissions, and a custom role using
one of them. Then it is disabled, uninstalled, or fails to import. Each time, on SQLite and
PostgreSQL: the service opens, the rest of the catalogue and every grant of other plugins work,
the CLI and the web application answer, the dormant rows are listed with the plugin they wait
for, nothing in the database is deleted or rewritten, and everything comes back with the plugin.
"""

from __future__ import annotations

import importlib
import shutil
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool

from rolecall.core import PluginSettings, Rolecall, load_plugins
from rolecall.core.cli import cli
from rolecall.core.reads import custom_roles, dormant
from rolecall.core.storage.models import Assignment, CustomRole, KnownScope, Restriction
from rolecall.webapp import create_app

PROGRAM = "program-v1:MITx+data"
COURSE = "course-v1:MITx+6.002x+2026"
MODULE = "rolecall_program_dormant"

PLUGIN = """
from rolecall.core import ParsedKey, Permission, Role, ScopeType, hookimpl, split_key


def parse(key):
    fields = split_key(key, "program-v1:", "+", ("org", "slug"))
    return ParsedKey(fields=fields, parent=f"org:{fields['org']}")


@hookimpl
def register_scope_types():
    return [ScopeType(id="program", title="Program", description="A program of courses.",
                      namespace="program-v1", pattern="program-v1:ORG+SLUG",
                      example="program-v1:MITx+data", parse=parse)]


@hookimpl
def register_permissions():
    return [
        Permission(id="program.view", title="View programs", description="See a program.",
                   area="Programs", scope_types=("program", "course")),
        Permission(id="program.edit", title="Edit programs", description="Change a program.",
                   area="Programs", scope_types=("program",), implies=("program.view",)),
    ]


@hookimpl
def register_roles():
    return [Role(id="program_manager", title="Program manager", description="Runs programs.",
                 scope_types=("program", "org"), permissions=("program.edit",))]
"""


class Site:
    """A folder on ``sys.path`` with the ``rolecall-program`` distribution in it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.info = root / "rolecall_program-1.0.dist-info"

    def install(self, body: str = PLUGIN) -> None:
        (self.root / f"{MODULE}.py").write_text(textwrap.dedent(body), encoding="utf-8")
        self.info.mkdir(exist_ok=True)
        (self.info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: rolecall-program\nVersion: 1.0\n", encoding="utf-8"
        )
        (self.info / "entry_points.txt").write_text(
            f"[rolecall]\nprogram = {MODULE}\n", encoding="utf-8"
        )
        self._forget()

    def uninstall(self) -> None:
        shutil.rmtree(self.info)
        (self.root / f"{MODULE}.py").unlink()
        self._forget()

    def break_import(self) -> None:
        self.install("raise ImportError('the program plugin needs a library that is gone')\n")

    def _forget(self) -> None:
        sys.modules.pop(MODULE, None)
        importlib.invalidate_caches()


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    root = tmp_path / "site-packages"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    for variable in ("ROLECALL_STRICT_PLUGINS", "ROLECALL_DISABLE_PLUGINS"):
        monkeypatch.delenv(variable, raising=False)
    created = Site(root)
    created.install()
    yield created
    sys.modules.pop(MODULE, None)
    importlib.invalidate_caches()


def _open(url: str, settings: PluginSettings | None = None) -> Rolecall:
    return Rolecall.open(
        url, plugins=load_plugins(settings or PluginSettings()), background_sync=False, staleness=0
    )


def _store(url: str) -> None:
    """Data of every kind that names what the program plugin registers."""
    with _open(url) as rc:
        rc.add_users(["ada", "bob", "pam", "root"])
        rc.add_scopes([COURSE, PROGRAM])
        rc.assign("root", "platform_admin", "platform")
        rc.assign("ada", "course_staff", COURSE)
        rc.assign("pam", "program_manager", PROGRAM)
        rc.assign("bob", "program_manager", "org:MITx")
        rc.restrict(PROGRAM, ["program.edit"], exempt_roles=["program_manager"], reason="review")
        rc.restrict(COURSE, ["program.view", "courses.edit_course_content"], reason="exam")
        rc.create_role(
            "tutor",
            title="Tutor",
            description="Reads the course and its programs.",
            scope_types=["course"],
            permissions=["courses.view_course", "program.view"],
        )
        rc.assign("bob", "tutor", COURSE)


def _rows(url: str) -> dict[str, object]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return {
                "assignments": connection.scalar(select(func.count()).select_from(Assignment)),
                "restrictions": sorted(
                    (r.scope, tuple(r.permissions))
                    for r in connection.execute(select(Restriction.scope, Restriction.permissions))
                ),
                "scopes": sorted(connection.scalars(select(KnownScope.key))),
                "tutor": list(
                    connection.scalar(
                        select(CustomRole.permissions).where(CustomRole.id == "tutor")
                    )
                ),
            }
    finally:
        engine.dispose()


def _make_absent(site: Site, how: str, monkeypatch: pytest.MonkeyPatch) -> PluginSettings:
    if how == "disabled":
        monkeypatch.setenv("ROLECALL_DISABLE_PLUGINS", "program")
        return PluginSettings(disabled=frozenset({"program"}))
    if how == "uninstalled":
        site.uninstall()
    else:
        site.break_import()
    return PluginSettings()


@pytest.mark.parametrize("how", ["disabled", "uninstalled", "failing"])
def test_a_plugin_s_absence_leaves_its_rows_dormant_and_the_rest_working(
    database_url: str, site: Site, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _store(database_url)
    stored = _rows(database_url)
    settings = _make_absent(site, how, monkeypatch)

    with _open(database_url, settings) as rc:
        assert "program" not in {p.name for p in rc.plugins.plugins if p.status == "loaded"}
        # The rest of the catalogue and every other grant work.
        assert rc.check("ada", "courses.view_course", COURSE)
        assert rc.check("bob", "courses.view_course", COURSE)  # the custom role's other half
        assert not rc.check("ada", "courses.edit_course_content", COURSE)  # the lock holds
        assert rc.check("root", "courses.edit_course_content", "course-v1:MITx+other+2026")
        assert [g.role for g in rc.grants("pam")] == []  # nothing of the plugin's grants
        (tutor,) = custom_roles(rc)
        assert tutor.missing == ("program.view",)
        assert "courses.view_course" in tutor.permissions
        waiting = {(r.kind, r.user, r.role, r.scope): r for r in dormant(rc)}
        assert set(waiting) == {
            ("assignment", "pam", "program_manager", PROGRAM),
            ("assignment", "bob", "program_manager", "org:MITx"),
            ("known_scope", None, None, PROGRAM),
            ("restriction", None, None, PROGRAM),
            ("restriction", None, None, COURSE),
            ("custom_role", None, "tutor", None),
        }
        assert all(r.plugins == ("program",) for r in waiting.values())
        assert waiting[("restriction", None, None, COURSE)].needs == ("permission:program.view",)
        # Writes go on; the service's own writes and listings do not trip over the rows.
        rc.assign("ada", "course_auditor", "course-v1:MITx+7.01x+2026")
        assert rc.who("org:MITx").members == ()

        # The web application starts and answers; the plugin page lists what waits.
        app = create_app(rc, config={"TESTING": True, "ROLECALL_TRUSTED_HEADER": "X-User"})
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        page = client.get("/console/plugins", headers={"X-User": "root"})
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert "pam holds program_manager on program-v1:MITx+data" in text
        assert client.get(f"/console/scopes/{COURSE}", headers={"X-User": "root"}).status_code == (
            200
        )

    # The command line: every command works, doctor and access say what waits.
    runner = CliRunner()
    for args in (
        ["access", "bob"],
        ["doctor"],
        ["who", COURSE],
        ["check", "ada", "courses.view_course", COURSE],
        ["custom-roles", "list"],
        ["restrictions"],
        ["audit", "verify"],
    ):
        result = runner.invoke(cli, ["--database", database_url, *args])
        assert result.exit_code == 0, (args, result.output, result.stderr)
        if args[0] == "access":
            assert "bob holds program_manager on org:MITx: waits for role program_manager" in (
                result.output
            )
        if args[0] == "doctor":
            assert "(plugin program)" in result.output
        if args[0] == "custom-roles":
            assert "missing program.view" in result.output

    # Nothing was deleted or rewritten.
    after = _rows(database_url)
    assert {k: v for k, v in after.items() if k != "assignments"} == {
        k: v for k, v in stored.items() if k != "assignments"
    }
    assert after["assignments"] == stored["assignments"] + 1  # ada's new grant only

    # The plugin returns: everything is alive again.
    monkeypatch.delenv("ROLECALL_DISABLE_PLUGINS", raising=False)
    site.install()
    with _open(database_url) as rc:
        assert rc.check("pam", "program.edit", PROGRAM) is True  # exempt from its restriction
        assert rc.check("bob", "program.view", COURSE) is False  # the course lock denies it
        assert rc.check("bob", "program.edit", "program-v1:MITx+ai") is True  # his org grant
        assert rc.check("root", "program.edit", PROGRAM) is False  # the program's own lock
        assert dormant(rc) == []


def test_another_process_s_writes_for_an_absent_plugin_arrive_dormant(
    database_url: str, site: Site
) -> None:
    _store(database_url)
    with (
        _open(database_url) as writer,
        _open(database_url, PluginSettings(disabled=frozenset({"program"}))) as reader,
    ):
        writer.assign("ada", "program_manager", "program-v1:MITx+ai")
        writer.restrict("program-v1:MITx+ai", ["program.edit"])
        reader.sync()  # the change feed carries rows it cannot place
        kinds = {(r.kind, r.scope) for r in dormant(reader)}
        assert ("assignment", "program-v1:MITx+ai") in kinds
        assert ("restriction", "program-v1:MITx+ai") in kinds
        writer.revoke("ada", "program_manager", "program-v1:MITx+ai")
        reader.sync()
        assert ("assignment", "program-v1:MITx+ai") not in {
            (r.kind, r.scope) for r in dormant(reader)
        }
        assert reader.check("ada", "courses.view_course", COURSE)
