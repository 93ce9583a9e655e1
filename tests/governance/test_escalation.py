"""No escalation by any path: a delegated change is judged on everything it reaches.

A grant on an org gives its permissions on every course and library below it, and a grant of a
role a restriction exempts frees its holder's other permissions there. The ``survey`` plugin
below has an org-level role whose permissions are course permissions, a lock exemption role,
and a delegation rule that lets its org roles assign all of them: with the grant's own scope
type alone, every refusal here would have been allowed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rolecall.core import (
    DelegationRule,
    Permission,
    PluginSettings,
    Role,
    Rolecall,
    hookimpl,
    load_plugins,
)
from rolecall.core.cli import cli
from rolecall.core.governance import NotAllowedError
from rolecall.core.governance.lifecycle import remove_scope, retire_user
from rolecall.core.plugins import Plugins

C1 = "course-v1:MITx+survey1+2026"
C2 = "course-v1:MITx+survey2+2026"
HARVARD = "course-v1:HarvardX+survey3+2026"
MITX = "org:MITx"
SURVEY_ROLES = (
    "survey_org_lead",
    "survey_org_viewer",
    "survey_warden",
    "survey_editor",
    "survey_viewer",
)


def _permission(pid: str, title: str, kinds: tuple[str, ...], *implies: str) -> Permission:
    return Permission(
        id=pid,
        title=title,
        description=f"{title}.",
        area="Surveys",
        scope_types=kinds,
        implies=implies,
    )


def _role(rid: str, kinds: tuple[str, ...], *permissions: str, admin: bool = False) -> Role:
    return Role(
        id=rid,
        title=rid.replace("_", " ").capitalize(),
        description=f"The {rid} role.",
        scope_types=kinds,
        permissions=permissions,
        admin=admin,
    )


class SurveyPlugin:
    @hookimpl
    def register_permissions(self) -> list[Permission]:
        return [
            _permission("survey.view", "View surveys", ("course", "library")),
            _permission("survey.edit", "Edit surveys", ("course", "library"), "survey.view"),
            _permission("survey.see_org", "See the org's surveys", ("org",)),
        ]

    @hookimpl
    def register_roles(self) -> list[Role]:
        return [
            # On an org, it gives course permissions on every course of the org.
            _role("survey_org_lead", ("org",), "survey.see_org", "survey.edit", admin=True),
            _role("survey_org_viewer", ("org",), "survey.see_org", "survey.view"),
            _role("survey_warden", ("course", "org"), "survey.view"),
            _role("survey_editor", ("course", "org"), "survey.edit"),
            _role("survey_viewer", ("course", "org"), "survey.view"),
        ]

    @hookimpl
    def register_delegation_rules(self) -> list[DelegationRule]:
        return [
            DelegationRule(
                id="survey_org_roles_manage_surveys",
                description="The survey org roles manage every survey role in their org.",
                holders=("survey_org_lead", "survey_org_viewer"),
                assign=SURVEY_ROLES,
                revoke=SURVEY_ROLES,
                scope_types=("org", "course"),
            )
        ]


@pytest.fixture(scope="module")
def plugins() -> Plugins:
    return load_plugins(PluginSettings(), entry_points=[], extra={"survey": SurveyPlugin()})


@pytest.fixture
def rc(tmp_path: Path, plugins: Plugins) -> Iterator[Rolecall]:
    service = Rolecall.open(
        f"sqlite:///{tmp_path / 'rc.db'}", plugins=plugins, background_sync=False, staleness=0
    )
    service.add_users(["root", "olivia", "lena", "harriet", "ada", "grace", "eddie"])
    service.add_scopes([C1, C2, HARVARD])
    service.assign("root", "platform_admin", "platform")
    service.assign("olivia", "survey_org_viewer", MITX)
    service.assign("lena", "survey_org_lead", MITX)
    service.assign("harriet", "org_admin", "org:HarvardX")
    service.assign("olivia", "org_admin", MITX)
    try:
        yield service
    finally:
        service.close()


def refused(excinfo: pytest.ExceptionInfo[NotAllowedError]) -> tuple[str, str]:
    return excinfo.value.refusal.rule, str(excinfo.value)


# ------------------------------------------------------------------ grants reach below their scope


def test_an_org_grant_needs_the_course_permissions_it_gives_on_every_course(rc: Rolecall) -> None:
    # olivia holds every permission survey_org_lead has *on the org*; not survey.edit below it.
    with pytest.raises(NotAllowedError) as excinfo:
        rc.assign("eddie", "survey_org_lead", MITX, as_user="olivia")
    rule, message = refused(excinfo)
    assert rule == "no-escalation"
    assert f"it grants survey.edit on every course of {MITX}" in message
    assert not rc.check("eddie", "survey.edit", C1)


def test_an_actor_holding_the_permissions_below_makes_the_org_grant(rc: Rolecall) -> None:
    rc.assign("eddie", "survey_org_lead", MITX, as_user="lena")
    assert rc.check("eddie", "survey.edit", C2)


def test_a_bulk_org_wide_grant_is_judged_on_every_course(rc: Rolecall) -> None:
    result = rc.bulk("assign", "survey_org_lead", ["eddie"], ["course-v1:MITx+*"], as_user="olivia")
    assert not result.applied
    assert [(r.scope, r.status) for r in result.rows] == [(MITX, "not_allowed")]
    assert "survey.edit on every course" in result.rows[0].message


def test_assign_many_as_a_user_is_judged_on_every_course(rc: Rolecall) -> None:
    with pytest.raises(NotAllowedError):
        rc.assign_many([("eddie", "survey_org_lead", MITX)], as_user="olivia")
    assert rc.grants("eddie") == []


def test_a_role_change_to_an_org_role_is_judged_on_every_course(rc: Rolecall) -> None:
    rc.assign("eddie", "survey_viewer", MITX)
    with pytest.raises(NotAllowedError) as excinfo:
        rc.change_role("eddie", "survey_viewer", "survey_org_lead", MITX, as_user="olivia")
    assert refused(excinfo)[0] == "no-escalation"
    assert [g.role for g in rc.grants("eddie")] == ["survey_viewer"]


# ------------------------------------------------------------------ restrictions and exemptions


def test_a_grant_that_frees_the_grantee_from_a_lock_takes_an_exempt_actor(rc: Rolecall) -> None:
    rc.restrict(C1, ["survey.edit"], exempt_roles=["survey_warden"], reason="exam")
    rc.assign("grace", "survey_editor", C1)
    assert not rc.check("grace", "survey.edit", C1)
    # lena may edit surveys in MITx, but not on the locked course: the warden role would free
    # grace's edit there.
    with pytest.raises(NotAllowedError) as excinfo:
        rc.assign("grace", "survey_warden", C1, as_user="lena")
    rule, message = refused(excinfo)
    assert rule == "no-escalation"
    assert f"survey.edit on {C1}" in message
    assert not rc.check("grace", "survey.edit", C1)


def test_a_bulk_grant_that_frees_the_grantee_from_a_lock_is_refused(rc: Rolecall) -> None:
    rc.restrict(C1, ["survey.edit"], exempt_roles=["survey_warden"], reason="exam")
    rc.assign("grace", "survey_editor", C1)
    result = rc.bulk("assign", "survey_warden", ["grace", "eddie"], [C1], as_user="lena")
    assert {r.user: r.status for r in result.rows} == {"grace": "not_allowed", "eddie": "ok"}
    assert not result.applied
    assert not rc.check("grace", "survey.edit", C1)


def test_an_exempt_role_that_frees_nothing_may_be_given(rc: Rolecall) -> None:
    rc.restrict(C1, ["survey.edit"], exempt_roles=["survey_warden"], reason="exam")
    rc.assign("eddie", "survey_warden", C1, as_user="lena")
    assert rc.check("eddie", "survey.view", C1)
    assert not rc.check("eddie", "survey.edit", C1)


def test_a_lock_on_the_org_is_judged_where_the_grantee_is_exempt_below_it(rc: Rolecall) -> None:
    rc.restrict(MITX, ["survey.edit"], exempt_roles=["survey_warden"], reason="audit")
    rc.assign("grace", "survey_warden", C1)  # exempt on C1 only
    with pytest.raises(NotAllowedError) as excinfo:
        rc.assign("grace", "survey_editor", MITX, as_user="lena")
    assert f"survey.edit on {C1}" in refused(excinfo)[1]
    assert not rc.check("grace", "survey.edit", C1)
    # Someone exempt nowhere gains nothing lena lacks: allowed.
    rc.assign("eddie", "survey_editor", MITX, as_user="lena")
    assert not rc.check("eddie", "survey.edit", C2)


def test_a_lock_does_not_let_an_actor_give_what_it_never_held(rc: Rolecall) -> None:
    # Nobody edits C1 while it is locked, but lifting the lock later must not leave eddie above
    # olivia: she never held survey.edit, so she may not give it.
    rc.restrict(C1, ["survey.edit"], reason="exam")
    with pytest.raises(NotAllowedError) as excinfo:
        rc.assign("eddie", "survey_editor", C1, as_user="olivia")
    assert refused(excinfo)[0] == "no-escalation"


# ------------------------------------------------------------------ custom roles


def test_an_org_admin_may_not_edit_a_custom_role_held_outside_her_org(rc: Rolecall) -> None:
    rc.create_role(
        "tutor",
        title="Tutor",
        description="Reads the course.",
        scope_types=["course"],
        permissions=["courses.view_course"],
    )
    rc.assign("ada", "tutor", HARVARD)
    before = rc.revision
    for change in (
        lambda: rc.edit_role("tutor", add=["survey.view"], as_user="olivia"),
        lambda: rc.retire_role("tutor", as_user="olivia"),
    ):
        with pytest.raises(NotAllowedError) as excinfo:
            change()
        rule, message = refused(excinfo)
        assert rule == "no-escalation"
        assert f"ada holds it on {HARVARD}" in message
    assert rc.revision == before
    # HarvardX's admin may, for a permission she holds there.
    rc.edit_role("tutor", add=["courses.view_course_team"], as_user="harriet")
    assert rc.check("ada", "courses.view_course_team", HARVARD)


def test_an_org_admin_may_not_add_a_permission_she_lacks(rc: Rolecall) -> None:
    rc.create_role(
        "tutor",
        title="Tutor",
        description="Reads the course.",
        scope_types=["course"],
        permissions=["courses.view_course"],
        as_user="olivia",
    )
    rc.assign("ada", "tutor", C1)
    with pytest.raises(NotAllowedError):
        rc.edit_role("tutor", add=["survey.edit"], as_user="olivia")
    assert not rc.check("ada", "survey.edit", C1)
    rc.edit_role("tutor", add=["survey.view"], as_user="olivia")  # she holds it in MITx
    assert rc.check("ada", "survey.view", C1)


def test_a_platform_admin_may_change_any_custom_role(rc: Rolecall) -> None:
    rc.create_role(
        "tutor",
        title="Tutor",
        description="Reads the course.",
        scope_types=["course"],
        permissions=["courses.view_course"],
    )
    rc.assign("ada", "tutor", HARVARD)
    rc.assign("grace", "tutor", C1)
    rc.edit_role("tutor", add=["survey.edit"], as_user="root")
    rc.retire_role("tutor", as_user="root")
    assert rc.check("ada", "survey.edit", HARVARD)


# ------------------------------------------------------------------ restrictions, scopes, users


def test_restrictions_made_as_a_user_take_the_permission(rc: Rolecall) -> None:
    with pytest.raises(NotAllowedError, match=r"platform\.manage_restrictions"):
        rc.restrict(C1, ["survey.edit"], as_user="olivia")
    rc.restrict(C1, ["survey.edit"], as_user="root")
    with pytest.raises(NotAllowedError, match=r"platform\.manage_restrictions"):
        rc.unrestrict(C1, as_user="olivia")
    assert rc.index.restriction(C1) is not None
    rc.unrestrict(C1, as_user="root")
    assert rc.index.restriction(C1) is None


def test_removing_a_scope_as_a_user_takes_the_permission_and_every_removal(rc: Rolecall) -> None:
    rc.assign("ada", "survey_editor", C1)
    with pytest.raises(NotAllowedError, match=r"platform\.remove_scopes"):
        remove_scope(rc, C1, as_user="lena")
    assert rc.check("ada", "survey.edit", C1)
    remove_scope(rc, C1, as_user="root")
    assert rc.grants("ada") == []


def test_retiring_a_user_as_a_user_takes_the_permission_and_keeps_an_admin(rc: Rolecall) -> None:
    with pytest.raises(NotAllowedError, match=r"platform\.retire_users"):
        retire_user(rc, "eddie", as_user="olivia")
    assert rc.index.users["eddie"].active
    # harriet is the only admin of HarvardX: retiring her would leave it with none.
    with pytest.raises(NotAllowedError) as excinfo:
        retire_user(rc, "harriet", as_user="root")
    assert refused(excinfo)[0] == "last-admin"
    with pytest.raises(NotAllowedError) as excinfo:
        retire_user(rc, "root", as_user="root")
    assert refused(excinfo)[0] == "own-admin-role"
    retire_user(rc, "eddie", as_user="root")
    assert not rc.index.users["eddie"].active


def test_a_change_made_as_a_user_without_a_guard_is_refused_by_the_unit_of_work(
    rc: Rolecall,
) -> None:
    with pytest.raises(TypeError, match="needs the guard"):
        rc.writes.run("olivia", lambda session, audit: None, as_user="olivia")


def test_the_cli_makes_restrictions_removals_and_retirements_as_a_user(
    rc: Rolecall, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = str(rc.engine.url)
    monkeypatch.setenv("ROLECALL_DISABLE_PLUGINS", "")
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(cli, ["--database", url, *args])

    for args in (
        ("restrict", C1, "--as", "olivia"),
        ("scopes", "remove", C1, "--as", "lena"),
        ("users", "retire", "eddie", "--as", "olivia"),
    ):
        result = run(*args)
        assert result.exit_code == 3, (args, result.output, result.stderr)
        assert f"rolecall: not allowed: {args[-1]} may not" in result.stderr
    assert run("restrict", C1, "--as", "root").exit_code == 0
    assert run("unrestrict", C1, "--as", "olivia").exit_code == 3
    assert run("unrestrict", C1, "--as", "root").exit_code == 0
    assert run("users", "retire", "eddie", "--as", "root").exit_code == 0
    assert run("scopes", "remove", C1, "--as", "root").exit_code == 0
