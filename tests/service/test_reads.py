"""The read layer (``rolecall.core.reads``): one definition of each read, one locking
discipline, and the interfaces reading run-time state through it."""

from __future__ import annotations

import ast
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from rolecall.core import DelegationRule, PluginSettings, Rolecall, load_plugins
from rolecall.core.cli.main import cli
from rolecall.core.reads import (
    CustomRoleRow,
    custom_roles,
    delegation_rules,
    restriction,
    restrictions,
)
from rolecall.core.storage.models import State

ROOT = Path(__file__).resolve().parents[2]
COURSE = "course-v1:MITx+6.002x+2026_T1"


def test_custom_roles_gives_each_role_its_retirement_and_closed_permissions(rc: Rolecall) -> None:
    rc.create_role(
        "tutor",
        title="Tutor",
        description="Edits the course.",
        scope_types=("course",),
        permissions=("t.edit",),
    )
    rc.create_role(
        "marker",
        title="Marker",
        description="Grades.",
        scope_types=("course",),
        permissions=("t.grade",),
    )
    rc.retire_role("marker")
    tutor, marker = rc.role("tutor"), rc.role("marker")
    assert custom_roles(rc) == [
        CustomRoleRow(marker, True, frozenset({"t.grade"})),
        CustomRoleRow(tutor, False, frozenset({"t.edit", "t.view"})),
    ]


def test_restrictions_are_listed_by_scope_and_found_by_key(rc: Rolecall) -> None:
    rc.restrict("org:MITx", ["t.publish"], exempt_roles=["staff"])
    rc.restrict(COURSE, ["t.grade"], reason="exam week")
    assert [(r.scope, r.permissions) for r in restrictions(rc)] == [
        (COURSE, ("t.grade",)),
        ("org:MITx", ("t.publish",)),
    ]
    found = restriction(rc, "org:MITx")
    assert found is not None
    assert found.exempt_roles == ("staff",)
    assert restriction(rc, "org:HarvardX") is None


@pytest.fixture
def builtin(tmp_path: Path) -> Iterator[tuple[Rolecall, list[str]]]:
    """A service with the built-in plugins on an SQLite file, and the CLI's arguments for it."""
    url = f"sqlite:///{tmp_path / 'reads.db'}"
    plugins = load_plugins(PluginSettings(), entry_points=[])
    service = Rolecall.open(url, plugins=plugins, background_sync=False, staleness=0)
    service.add_users(["root"])
    service.assign("root", "platform_admin", "platform")
    try:
        yield service, ["--database", url]
    finally:
        service.close()


def _cli_json(base: list[str], *args: str) -> object:
    result = CliRunner().invoke(cli, [*base, *args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_the_cli_lists_custom_roles_rules_and_restrictions_as_the_read_layer_does(
    builtin: tuple[Rolecall, list[str]],
) -> None:
    rc, base = builtin
    rc.create_role(
        "designer",
        title="Designer",
        description="Builds content.",
        scope_types=("course",),
        permissions=("courses.edit_course_content",),
    )
    rc.create_role(
        "retiree",
        title="Retiree",
        description="Retired at once.",
        scope_types=("course",),
        permissions=("courses.view_course_team",),
    )
    rc.retire_role("retiree")
    rc.restrict(COURSE, ["courses.publish_course_content"], exempt_roles=["course_admin"])
    rc.disable_rule("course_admins_manage_course_team", as_user="root")
    rc.set_rule(
        DelegationRule(
            id="course_admins_add_auditors",
            description="Course admins add auditors.",
            holders=("course_admin",),
            assign=("course_auditor",),
            revoke=("course_auditor",),
            scope_types=("course",),
        ),
        as_user="root",
    )

    assert _cli_json(base, "custom-roles", "list") == [
        {**row.role.model_dump(mode="json"), "retired": row.retired, "missing": list(row.missing)}
        for row in custom_roles(rc)
    ]
    assert _cli_json(base, "restrictions") == [r.model_dump(mode="json") for r in restrictions(rc)]
    rules = _cli_json(base, "rules", "list")
    assert rules == [
        {**row.rule.model_dump(mode="json"), "changed": row.source == "stored"}
        for row in delegation_rules(rc)
        if row.enabled
    ]
    assert isinstance(rules, list)
    changed = {rule["id"] for rule in rules if rule["changed"]}
    assert changed == {"course_admins_add_auditors"}
    assert "course_admins_manage_course_team" not in {rule["id"] for rule in rules}
    table = CliRunner().invoke(cli, [*base, "custom-roles", "list"]).stdout
    designer = next(line for line in table.splitlines() if line.startswith("designer"))
    closed = next(r for r in custom_roles(rc) if r.role.id == "designer").permissions
    assert f" {len(closed)} " in designer
    assert "active" in designer


def test_reading_holds_the_index_steady_until_the_block_ends(rc: Rolecall) -> None:
    """A write commits while a read holds the index: the index takes the write in only once
    the read is done, so everything the read saw is one revision."""
    rc.add_users(["ada"])
    before = rc.revision
    writer = threading.Thread(target=rc.assign, args=("ada", "editor", COURSE))
    with rc.reading() as index:
        writer.start()
        with Session(rc.engine) as session:
            # Wait for the commit (the write takes no lock of this process until then).
            for _ in range(6000):
                if (session.scalar(select(State.revision)) or 0) > before:
                    break
                session.rollback()
                writer.join(0.01)
            else:
                pytest.fail("the write never committed")
        assert index.revision == before
        assert index.grant("ada", "editor", COURSE) is None
        assert writer.is_alive()
    writer.join()
    assert rc.revision == before + 1
    assert rc.index.grant("ada", "editor", COURSE) is not None


# ---------------------------------------------------------------------- the layering


def _sources(*folders: str) -> Iterator[tuple[Path, ast.Module]]:
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            yield path, ast.parse(path.read_text(), str(path))


SERVICE_NAMES = {"rc", "service", "rolecall", "svc"}
"""The names the code base gives a Rolecall; ``self.rc`` and ``service_of(ctx)`` too."""


def _is_service(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in SERVICE_NAMES
    if isinstance(node, ast.Attribute):
        return node.attr in SERVICE_NAMES
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id in {"service", "service_of", "rc"}
    return False


def test_no_module_but_the_service_uses_its_private_members() -> None:
    """Writes go through the public unit of work (``rc.writes``), reads through the public
    read layer. The service itself is ``core/service.py`` and the modules holding functions
    bound as its methods (see docs/engine.md, "Reads beyond the service")."""
    found = []
    service = {
        ROOT / "core" / name
        for name in ("service.py", "syncing.py", "governance/rules.py", "governance/bulk.py")
    }
    for path, tree in _sources("core", "webapp", "builtin_plugins", "plugins"):
        if path in service:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and _is_service(node.value)
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert found == []


RUN_TIME_STATE = {
    "custom_roles",
    "retired_roles",
    "stored_rules",
    "restrictions",
    "restriction",
    "rules",
}


def test_the_interfaces_read_run_time_state_through_the_read_layer() -> None:
    """The console, the API and the CLI list custom roles, rules and restrictions with
    ``rolecall.core.reads``, never from the index; the read layer itself reads the index only
    through ``Rolecall.reading()``."""
    found = []
    for path, tree in _sources("webapp", "core/cli", "core/reads"):
        in_reads = "reads" in path.relative_to(ROOT).parts
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if in_reads and node.attr == "index" and _is_service(node.value):
                found.append(f"{where} .index outside Rolecall.reading()")
            if not in_reads and node.attr in RUN_TIME_STATE and _names_index(node.value):
                found.append(f"{where} index.{node.attr}")
    assert found == []


def _names_index(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "index") or (
        isinstance(node, ast.Attribute) and node.attr == "index"
    )
