"""A plugin's scope type is on a par with the built-in ones.

- Platform admins manage every scope type, those of plugins included (the built-in rule covers
  ``*``): a platform admin assigns ``ccx_coach`` on a custom course.
- Who may see a scope's team is declared by its scope type (``ScopeType.team_permission``): a
  program manager sees and manages her program's team through the API and the console.
- Administration comes from permissions: custom roles take ``platform.manage_custom_roles``,
  which a plugin role may hold, not a list of role ids.
- An org wildcard works for any scope type that declares one (``ScopeType.org_wildcard``).
- A restriction naming a permission that can never apply on or below its scope is bad input.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from console_support import demo_plugins

from rolecall.core import (
    BadInputError,
    DelegationRule,
    ParsedKey,
    Permission,
    PluginSettings,
    Role,
    Rolecall,
    ScopeType,
    hookimpl,
    load_plugins,
    split_key,
)
from rolecall.core.governance import NotAllowedError
from rolecall.webapp import create_app
from rolecall.webapp import plugin as console_plugin

PROGRAM = "program-v1:MITx+data"


def parse_program(key: str) -> ParsedKey:
    fields = split_key(key, "program-v1:", "+", ("org", "slug"))
    return ParsedKey(fields=fields, parent=f"org:{fields['org']}")


class ProgramPlugin:
    @hookimpl
    def register_scope_types(self) -> list[ScopeType]:
        return [
            ScopeType(
                id="program",
                title="Program",
                description="A program of courses.",
                namespace="program-v1",
                pattern="program-v1:ORG+SLUG",
                example="program-v1:MITx+data",
                parse=parse_program,
                team_permission="program.view_team",
                org_wildcard="program-v1:{org}+*",
            )
        ]

    @hookimpl
    def register_permissions(self) -> list[Permission]:
        return [
            Permission(
                id="program.view_team",
                title="View the program team",
                description="See who holds roles on the program.",
                area="Programs",
                scope_types=("program",),
            ),
            Permission(
                id="program.edit",
                title="Edit the program",
                description="Change the program.",
                area="Programs",
                scope_types=("program",),
            ),
        ]

    @hookimpl
    def register_roles(self) -> list[Role]:
        return [
            Role(
                id="program_manager",
                title="Program manager",
                description="Runs a program and its team.",
                scope_types=("program",),
                permissions=("program.view_team", "program.edit"),
            ),
            Role(
                id="program_director",
                title="Program director",
                description="Designs the org's program roles.",
                scope_types=("org",),
                permissions=("platform.manage_custom_roles",),
            ),
            Role(
                id="program_member",
                title="Program member",
                description="Works on a program.",
                scope_types=("program", "org"),
                permissions=("program.edit",),
            ),
        ]

    @hookimpl
    def register_delegation_rules(self) -> list[DelegationRule]:
        return [
            DelegationRule(
                id="program_managers_manage_members",
                description="Program managers manage their program's members.",
                holders=("program_manager",),
                assign=("program_member",),
                revoke=("program_member",),
                scope_types=("program",),
            )
        ]


@pytest.fixture
def rc(tmp_path: Path) -> Iterator[Rolecall]:
    plugins = load_plugins(
        PluginSettings(),
        entry_points=[],
        extra={"console": console_plugin, "program": ProgramPlugin()},
    )
    service = Rolecall.open(
        f"sqlite:///{tmp_path / 'rc.db'}", plugins=plugins, background_sync=False, staleness=0
    )
    service.add_users(["root", "pam", "mo", "eve"])
    service.add_scopes([PROGRAM])
    service.assign("root", "platform_admin", "platform")
    service.assign("pam", "program_manager", PROGRAM)
    service.assign("pam", "program_director", "org:MITx")
    service.assign("mo", "program_member", PROGRAM)
    try:
        yield service
    finally:
        service.close()


def test_a_platform_admin_manages_a_plugin_s_scope_type(tmp_path: Path) -> None:
    ccx = "ccx-v1:MITx+6.002x+2026_T1+ccx@3"
    with Rolecall.open(
        f"sqlite:///{tmp_path / 'ccx.db'}", plugins=demo_plugins(), background_sync=False
    ) as rc:
        rc.add_users(["root", "coach"])
        rc.assign("root", "platform_admin", "platform")
        rc.assign("coach", "ccx_coach", ccx, as_user="root")
        assert rc.check("coach", "ccx.edit_schedule", ccx)
        rc.revoke("coach", "ccx_coach", ccx, as_user="root")
        assert not rc.check("coach", "ccx.edit_schedule", ccx)


def test_the_scope_type_says_who_sees_a_team_in_the_api_and_the_console(rc: Rolecall) -> None:
    app = create_app(rc, config={"TESTING": True, "ROLECALL_TRUSTED_HEADER": "X-User"})
    client = app.test_client()
    tokens = {name: rc.accounts.create_token(name)[1] for name in ("pam", "eve")}
    path = f"/api/v1/scopes/{quote(PROGRAM)}/team"
    seen = client.get(path, headers={"Authorization": f"Bearer {tokens['pam']}"})
    assert seen.status_code == 200, seen.get_data(as_text=True)
    assert {m["user"] for m in seen.get_json()["members"]} == {"pam", "mo"}
    refused = client.get(path, headers={"Authorization": f"Bearer {tokens['eve']}"})
    assert refused.status_code == 403
    page = client.get(f"/console/scopes/{PROGRAM}", headers={"X-User": "pam"})
    assert page.status_code == 200
    assert "mo" in page.get_data(as_text=True)
    assert client.get(f"/console/scopes/{PROGRAM}", headers={"X-User": "eve"}).status_code == 403
    # She removes a member the rules let her remove, through the API.
    (grant,) = [g for g in rc.grants("mo") if g.scope == PROGRAM]
    gone = client.delete(
        f"/api/v1/assignments/{grant.id}", headers={"Authorization": f"Bearer {tokens['pam']}"}
    )
    assert gone.status_code in (200, 204), gone.get_data(as_text=True)
    assert rc.grants("mo") == []


def test_custom_roles_take_a_permission_a_plugin_role_may_hold(rc: Rolecall) -> None:
    rc.create_role(
        "program_reviewer",
        title="Program reviewer",
        description="Edits a program.",
        scope_types=["program"],
        permissions=["program.edit"],
        as_user="pam",
    )
    with pytest.raises(NotAllowedError, match=r"platform\.manage_custom_roles"):
        rc.create_role(
            "program_helper",
            title="Program helper",
            description="Edits a program.",
            scope_types=["program"],
            permissions=["program.edit"],
            as_user="mo",
        )


def test_an_org_wildcard_works_for_a_plugin_s_scope_type(rc: Rolecall) -> None:
    result = rc.bulk("assign", "program_member", ["eve"], ["program-v1:MITx+*"])
    assert [(r.scope, r.status) for r in result.rows] == [("org:MITx", "ok")]
    assert rc.check("eve", "program.edit", "program-v1:MITx+robotics")


def test_a_restriction_that_could_never_apply_is_bad_input(rc: Rolecall) -> None:
    with pytest.raises(BadInputError, match="never on or below a library scope"):
        rc.restrict("lib:MITx:physics", ["courses.edit_course_content"])
    with pytest.raises(BadInputError, match="never on or below a course scope"):
        rc.restrict("course-v1:MITx+6.002x+2026", ["program.edit"])
    rc.restrict("org:MITx", ["program.edit"])  # programs sit below an org: it applies there
    assert not rc.check("mo", "program.edit", PROGRAM)


def test_a_program_manager_sees_her_members_access_in_her_program_only(rc: Rolecall) -> None:
    harvard = "course-v1:HarvardX+stats+2026"
    rc.assign("mo", "course_auditor", harvard)
    app = create_app(rc, config={"TESTING": True, "ROLECALL_TRUSTED_HEADER": "X-User"})
    client = app.test_client()
    tokens = {name: rc.accounts.create_token(name)[1] for name in ("pam", "eve")}
    seen = client.get(
        "/api/v1/users/mo/access", headers={"Authorization": f"Bearer {tokens['pam']}"}
    )
    assert seen.status_code == 200, seen.get_data(as_text=True)
    assert {item["scope"] for item in seen.get_json()["items"]} == {PROGRAM}
    refused = client.get(
        "/api/v1/users/mo/access", headers={"Authorization": f"Bearer {tokens['eve']}"}
    )
    assert refused.status_code == 403
    page = client.get("/console/users/mo", headers={"X-User": "pam"})
    assert page.status_code == 200
    assert PROGRAM in page.get_data(as_text=True)
    assert harvard not in page.get_data(as_text=True)
    assert client.get("/console/users/mo", headers={"X-User": "eve"}).status_code == 403
