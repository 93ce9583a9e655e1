"""Custom roles and run-time delegation rules: validated, audited, on every process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rolecall.core import (
    BadInputError,
    DelegationRule,
    PluginSettings,
    Rolecall,
    load_plugins,
)
from rolecall.core.governance import NotAllowedError

CIRCUITS = "course-v1:MITx+6.002x+2026_T1"


@pytest.fixture(scope="module")
def plugins():  # type: ignore[no-untyped-def]
    return load_plugins(PluginSettings(), entry_points=[])


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'rc.db'}"


@pytest.fixture
def rc(url: str, plugins) -> Iterator[Rolecall]:  # type: ignore[no-untyped-def]
    service = Rolecall.open(url, plugins=plugins, background_sync=False, staleness=0)
    service.add_users(["root", "olivia", "ada", "eddie"])
    service.assign("root", "platform_admin", "platform")
    service.assign("olivia", "org_admin", "org:MITx")
    service.assign("ada", "course_admin", CIRCUITS)
    yield service
    service.close()


def create_designer(rc: Rolecall, **extra: object) -> int:
    return rc.create_role(
        "designer",
        title="Designer",
        description="Builds content and structure; no grading, no learner data.",
        scope_types=("course", "org"),
        permissions=("courses.edit_course_content", "courses.manage_pages_and_resources"),
        **extra,  # type: ignore[arg-type]
    )


def test_a_custom_role_is_assignable_and_checked_like_any_role(rc: Rolecall) -> None:
    create_designer(rc, as_user="olivia")
    rc.assign("eddie", "designer", CIRCUITS)
    assert rc.check("eddie", "courses.edit_course_content", CIRCUITS)
    assert rc.check("eddie", "courses.view_course", CIRCUITS)  # implied
    assert not rc.check("eddie", "courses.publish_course_content", CIRCUITS)
    assert next(e.action for e in rc.audit() if e.role == "designer") == "role_create"


def test_a_custom_role_can_start_from_a_builtin_role(rc: Rolecall) -> None:
    rc.create_role(
        "auditor_plus",
        title="Auditor plus",
        description="Sees and exports.",
        scope_types=("course",),
        permissions=("courses.export_course",),
        base="course_auditor",
    )
    assert rc.index.role_permissions("course_auditor") < rc.index.role_permissions("auditor_plus")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"role_id": "course_staff"}, "exists already"),
        ({"role_id": "instructor"}, "exists already"),
        ({"permissions": ("courses.nope",)}, "unknown permission"),
        ({"scope_types": ("galaxy",)}, "unknown scope type"),
        ({"permissions": ()}, "at least one permission"),
        ({"role_id": "Bad Id"}, "invalid Role"),
    ],
)
def test_custom_roles_are_validated_like_plugin_roles(
    rc: Rolecall, kwargs: dict[str, object], message: str
) -> None:
    base: dict[str, object] = {
        "role_id": "ok_role",
        "title": "T",
        "description": "D",
        "scope_types": ("course",),
        "permissions": ("courses.view_course",),
    }
    base.update(kwargs)
    role_id = base.pop("role_id")
    before = rc.revision
    with pytest.raises(BadInputError, match=message):
        rc.create_role(role_id, **base)  # type: ignore[arg-type]
    assert rc.revision == before


def test_only_platform_and_org_admins_manage_custom_roles(rc: Rolecall) -> None:
    with pytest.raises(NotAllowedError, match=r"it takes platform\.manage_custom_roles"):
        create_designer(rc, as_user="ada")


def test_a_retired_role_keeps_its_holders_but_is_not_assigned_again(rc: Rolecall) -> None:
    create_designer(rc)
    rc.assign("eddie", "designer", CIRCUITS)
    with pytest.raises(BadInputError, match="held by 1 assignment"):
        rc.delete_role("designer")
    rc.retire_role("designer")
    assert rc.check("eddie", "courses.edit_course_content", CIRCUITS)
    with pytest.raises(BadInputError, match="designer is retired"):
        rc.assign("ada", "designer", CIRCUITS)
    rc.revoke("eddie", "designer", CIRCUITS)
    rc.delete_role("designer")
    with pytest.raises(BadInputError, match="unknown role 'designer'"):
        rc.assign("ada", "designer", CIRCUITS)


def test_explain_names_custom_roles_that_would_grant_it_unless_retired(rc: Rolecall) -> None:
    rc.create_role(
        "pages_keeper",
        title="Pages keeper",
        description="Keeps the course's pages.",
        scope_types=("course",),
        permissions=("courses.manage_pages_and_resources",),
        actor="ops",
    )

    def givers() -> str:
        decision = rc.explain("eddie", "courses.manage_pages_and_resources", CIRCUITS)
        assert not decision.allowed
        return next(m for m in decision.closest_misses if m.startswith("roles that grant"))

    assert givers().startswith("roles that grant it here: pages_keeper, ")  # the smallest
    rc.retire_role("pages_keeper", actor="ops")
    assert "pages_keeper" not in givers()


def test_plugin_roles_cannot_be_edited(rc: Rolecall) -> None:
    with pytest.raises(BadInputError, match="comes from a plugin"):
        rc.edit_role("course_staff", add=("courses.manage_course_team",))


def test_custom_roles_and_rules_reach_another_process(url: str, rc: Rolecall, plugins) -> None:  # type: ignore[no-untyped-def]
    other = Rolecall.open(url, plugins=plugins, background_sync=False, staleness=3600)
    try:
        index = other.index
        create_designer(rc)
        rc.assign("eddie", "designer", CIRCUITS)
        rc.disable_rule("course_admins_manage_course_team")
        other.sync()
        assert other.index is index  # caught up, not reloaded
        assert other.check("eddie", "courses.edit_course_content", CIRCUITS)
        assert "course_admins_manage_course_team" not in other.index.rules()
        reopened = Rolecall.open(url, plugins=plugins, background_sync=False)
        assert reopened.check("eddie", "courses.edit_course_content", CIRCUITS)
        assert "course_admins_manage_course_team" not in reopened.index.rules()
        reopened.close()
    finally:
        other.close()


def test_a_disabled_rule_stops_delegation_and_a_set_rule_starts_it(rc: Rolecall) -> None:
    rc.assign("eddie", "course_auditor", CIRCUITS, as_user="ada")
    rc.disable_rule("course_admins_manage_course_team", as_user="root")
    with pytest.raises(NotAllowedError, match=r"\[delegation\]"):
        rc.assign("eddie", "course_editor", CIRCUITS, as_user="ada")
    rc.set_rule(
        DelegationRule(
            id="course_admins_add_auditors",
            description="Auditors only.",
            holders=("course_admin",),
            assign=("course_auditor",),
            revoke=("course_auditor",),
            scope_types=("course",),
        ),
        as_user="root",
    )
    rc.revoke("eddie", "course_auditor", CIRCUITS, as_user="ada")
    rc.assign("eddie", "course_auditor", CIRCUITS, as_user="ada")


def test_only_platform_admins_change_rules(rc: Rolecall) -> None:
    with pytest.raises(NotAllowedError, match=r"it takes platform\.manage_delegation_rules"):
        rc.disable_rule("course_admins_manage_course_team", as_user="olivia")
    with pytest.raises(BadInputError, match="no delegation rule 'nope'"):
        rc.disable_rule("nope")


def test_the_cli_creates_edits_with_a_what_if_and_retires(rc: Rolecall) -> None:
    from click.testing import CliRunner

    from rolecall.core.cli import cli

    base = ["--database", str(rc.engine.url)]
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, [*base, *args])
        assert result.exit_code == 0, result.stderr
        return result.stdout

    assert run(
        "custom-roles",
        "create",
        "designer",
        "--title",
        "Designer",
        "--description",
        "Builds content.",
        "--scope-type",
        "course",
        "--permission",
        "courses.edit_course_content",
        "--as",
        "olivia",
    ).startswith("created designer")
    run("assign", "eddie", "designer", CIRCUITS)
    preview = run(
        "custom-roles", "edit", "designer", "--add", "courses.publish_course_content", "--dry-run"
    )
    assert preview.startswith(f"eddie gains courses.publish_course_content on {CIRCUITS}")
    assert preview.endswith("dry run: nothing changed\n")
    assert not rc.check("eddie", "courses.publish_course_content", CIRCUITS)
    assert "changed (revision" in run(
        "custom-roles", "edit", "designer", "--add", "courses.publish_course_content"
    )
    rc.sync()
    assert rc.check("eddie", "courses.publish_course_content", CIRCUITS)
    run("custom-roles", "retire", "designer")
    assert "retired" in run("custom-roles", "list")
    assert "course_admins_manage_course_team" in run("rules", "list")
    run("rules", "disable", "course_admins_manage_course_team", "--as", "root")
    assert "course_admins_manage_course_team" not in run("rules", "list")
    refused = runner.invoke(
        cli, [*base, "rules", "disable", "org_admins_manage_their_org", "--as", "ada"]
    )
    assert refused.exit_code == 3
