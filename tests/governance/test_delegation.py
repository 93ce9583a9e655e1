"""Delegation rules and guards, with the built-in catalogue and its default rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rolecall.core import (
    BadInputError,
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

CIRCUITS = "course-v1:MITx+6.002x+2026_T1"
CALCULUS = "course-v1:MITx+18.01x+2026_T1"
CS50 = "course-v1:HarvardX+CS50+2026"


@pytest.fixture(scope="module")
def plugins():  # type: ignore[no-untyped-def]
    return load_plugins(PluginSettings(), entry_points=[])


@pytest.fixture
def rc(tmp_path: Path, plugins) -> Iterator[Rolecall]:  # type: ignore[no-untyped-def]
    service = Rolecall.open(
        f"sqlite:///{tmp_path / 'rc.db'}", plugins=plugins, background_sync=False, staleness=0
    )
    service.add_users(["root", "olivia", "ada", "grace", "eddie", "dan", "zoe", "lia"])
    service.add_scopes([CIRCUITS, CALCULUS, CS50, "lib:MITx:physics"])
    service.assign("root", "platform_admin", "platform")
    service.assign("olivia", "org_admin", "org:MITx")
    service.assign("ada", "course_admin", CIRCUITS)
    service.assign("grace", "course_staff", CIRCUITS)
    service.assign("dan", "discussion_administrator", CIRCUITS)
    service.assign("lia", "library_admin", "lib:MITx:physics")
    yield service
    service.close()


def refusal(excinfo: pytest.ExceptionInfo[NotAllowedError]) -> tuple[str, str]:
    return excinfo.value.refusal.rule, str(excinfo.value)


def test_a_course_admin_assigns_on_their_course(rc: Rolecall) -> None:
    rc.assign("eddie", "course_editor", CIRCUITS, as_user="ada")
    assert rc.check("eddie", "courses.edit_course_content", CIRCUITS)
    assert rc.audit(user="eddie")[-1].actor == "ada"


def test_a_course_admin_cannot_assign_on_another_course(rc: Rolecall) -> None:
    with pytest.raises(NotAllowedError) as excinfo:
        rc.assign("eddie", "course_editor", CALCULUS, as_user="ada")
    rule, message = refusal(excinfo)
    assert rule == "delegation"
    assert message.startswith(f"ada may not assign course_editor on {CALCULUS}: no delegation rule")
    assert message.endswith("it could be done by: olivia, root")


def test_course_staff_may_not_assign_at_all(rc: Rolecall) -> None:
    with pytest.raises(NotAllowedError, match=r"\[delegation\]; it could be done by: ada"):
        rc.assign("eddie", "course_auditor", CIRCUITS, as_user="grace")


def test_a_refusal_writes_nothing(rc: Rolecall) -> None:
    before = (rc.revision, len(rc.audit()))
    with pytest.raises(NotAllowedError):
        rc.assign("eddie", "course_editor", CS50, as_user="ada")
    assert (rc.revision, len(rc.audit())) == before
    assert rc.index.grant("eddie", "course_editor", CS50) is None


def test_no_escalation_an_actor_cannot_grant_a_permission_it_lacks(rc: Rolecall) -> None:
    # The forum rule lets discussion admins assign group moderators, but group moderators hold
    # group_* permissions a discussion admin does not have.
    assert not rc.check("dan", "discussion.group_edit_content", CIRCUITS)
    with pytest.raises(NotAllowedError) as excinfo:
        rc.assign("eddie", "discussion_group_moderator", CIRCUITS, as_user="dan")
    rule, message = refusal(excinfo)
    assert rule == "no-escalation"
    assert "discussion.group_delete_comment" in message
    assert "which dan does not hold there" in message
    rc.assign("eddie", "discussion_moderator", CIRCUITS, as_user="dan")  # held: allowed


def test_granting_discussion_administrator_takes_a_course_admin(rc: Rolecall) -> None:
    with pytest.raises(NotAllowedError, match=r"\[delegation\]"):
        rc.assign("eddie", "discussion_administrator", CIRCUITS, as_user="dan")
    rc.assign("eddie", "discussion_administrator", CIRCUITS, as_user="ada")
    assert rc.index.grant("eddie", "discussion_administrator", CIRCUITS) is not None


def test_an_org_admin_manages_every_course_of_the_org_and_not_others(rc: Rolecall) -> None:
    rc.assign("eddie", "course_staff", CALCULUS, as_user="olivia")
    rc.assign("zoe", "library_author", "lib:MITx:physics", as_user="olivia")
    with pytest.raises(NotAllowedError):
        rc.assign("eddie", "course_staff", CS50, as_user="olivia")


def test_only_a_platform_admin_grants_platform_admin(rc: Rolecall) -> None:
    with pytest.raises(NotAllowedError, match="could be done by: root"):
        rc.assign("zoe", "platform_admin", "platform", as_user="olivia")
    rc.assign("zoe", "platform_admin", "platform", as_user="root")


def test_an_admin_cannot_remove_their_own_admin_role(rc: Rolecall) -> None:
    rc.assign("eddie", "course_admin", CIRCUITS)  # not the last admin
    with pytest.raises(NotAllowedError) as excinfo:
        rc.revoke("ada", "course_admin", CIRCUITS, as_user="ada")
    rule, message = refusal(excinfo)
    assert rule == "own-admin-role"
    assert message.startswith(f"ada cannot remove their own course_admin role on {CIRCUITS}")
    assert "could be done by: eddie, olivia, root" in message


def test_the_last_admin_of_a_scope_stays(rc: Rolecall) -> None:
    with pytest.raises(NotAllowedError) as excinfo:
        rc.revoke("ada", "course_admin", CIRCUITS, as_user="olivia")
    assert refusal(excinfo) == (
        "last-admin",
        f"ada is the last admin of {CIRCUITS}: assign another admin there first [last-admin]",
    )
    rc.assign("eddie", "course_admin", CIRCUITS, as_user="olivia")
    rc.revoke("ada", "course_admin", CIRCUITS, as_user="olivia")
    assert rc.index.grant("ada", "course_admin", CIRCUITS) is None


def test_anyone_may_leave_a_non_admin_role(rc: Rolecall) -> None:
    rc.revoke("grace", "course_staff", CIRCUITS, as_user="grace")
    assert not rc.check("grace", "courses.view_course", CIRCUITS)


def test_an_org_grant_is_not_removed_by_rights_from_a_course(rc: Rolecall) -> None:
    rc.assign("zoe", "course_auditor", "org:MITx")
    with pytest.raises(NotAllowedError) as excinfo:
        rc.revoke("zoe", "course_auditor", "org:MITx", as_user="ada")
    rule, message = refusal(excinfo)
    assert rule == "lower-scope"
    assert f"ada's rights come from course_admin on {CIRCUITS}, below it" in message
    assert message.endswith("it could be done by: olivia, root")
    rc.revoke("zoe", "course_auditor", "org:MITx", as_user="olivia")


def test_changing_a_role_is_one_change(rc: Rolecall, tmp_path: Path, plugins) -> None:  # type: ignore[no-untyped-def]
    revision = rc.change_role("grace", "course_staff", "course_editor", CIRCUITS, as_user="ada")
    held = {(g.role, g.scope) for g in rc.grants("grace")}
    assert held == {("course_editor", CIRCUITS)}
    events = [e for e in rc.audit(user="grace") if e.revision == revision]
    # One change in the log: two change_role events of one batch, each naming the other role.
    assert [(e.action, e.details["op"], e.role) for e in events] == [
        ("change_role", "revoke", "course_staff"),
        ("change_role", "assign", "course_editor"),
    ]
    assert events[0].details["to_role"] == "course_editor"
    assert events[1].details["from_role"] == "course_staff"
    assert {(e.actor, e.batch_id is not None) for e in events} == {("ada", True)}
    assert len({e.batch_id for e in events}) == 1
    # another process takes the change from the audit log to the same answers
    with Rolecall.open(
        f"sqlite:///{tmp_path / 'rc.db'}", plugins=plugins, background_sync=False
    ) as other:
        assert {(g.role, g.scope) for g in other.grants("grace")} == held
        assert other.check("grace", "courses.edit_course_content", CIRCUITS)
    assert rc.verify_audit().ok


def test_a_change_whose_removal_is_refused_changes_nothing(rc: Rolecall) -> None:
    before = (rc.revision, len(rc.audit()))
    with pytest.raises(NotAllowedError, match=r"own course_admin role|last admin"):
        rc.change_role("ada", "course_admin", "course_staff", CIRCUITS, as_user="ada")
    assert (rc.revision, len(rc.audit())) == before
    assert {(g.role, g.scope) for g in rc.grants("ada")} == {("course_admin", CIRCUITS)}


def test_a_change_whose_grant_is_refused_changes_nothing(rc: Rolecall) -> None:
    rc.revoke("grace", "course_staff", CIRCUITS, as_user="grace")  # leaving is allowed...
    rc.assign("grace", "course_staff", CIRCUITS)
    before = (rc.revision, len(rc.audit()))
    with pytest.raises(NotAllowedError, match="may not assign course_auditor"):
        rc.change_role("grace", "course_staff", "course_auditor", CIRCUITS, as_user="grace")
    assert (rc.revision, len(rc.audit())) == before  # ...but not in exchange for a grant
    assert {(g.role, g.scope) for g in rc.grants("grace")} == {("course_staff", CIRCUITS)}


def test_changing_a_role_not_held_or_to_itself_is_bad_input(rc: Rolecall) -> None:
    before = (rc.revision, len(rc.audit()))
    with pytest.raises(BadInputError, match="eddie does not hold course_staff"):
        rc.change_role("eddie", "course_staff", "course_editor", CIRCUITS, as_user="ada")
    with pytest.raises(BadInputError, match="choose another"):
        rc.change_role("grace", "course_staff", "course_staff", CIRCUITS, as_user="ada")
    with pytest.raises(BadInputError):
        rc.change_role("grace", "course_staff", "org_admin", CIRCUITS)  # not a course role
    assert (rc.revision, len(rc.audit())) == before
    assert not rc.grants("eddie")


def test_a_change_to_a_role_already_held_only_removes_the_old(rc: Rolecall) -> None:
    rc.assign("grace", "course_editor", CIRCUITS)
    rc.change_role("grace", "course_staff", "course_editor", CIRCUITS, actor="ops")
    assert {(g.role, g.scope) for g in rc.grants("grace")} == {("course_editor", CIRCUITS)}
    last = rc.audit(user="grace")[-1]
    assert (last.action, last.details["op"], last.details["to_role"]) == (
        "change_role",
        "revoke",
        "course_editor",
    )


def test_an_unknown_actor_is_bad_input(rc: Rolecall) -> None:
    with pytest.raises(ValueError, match="unknown user 'mallory'"):
        rc.assign("eddie", "course_editor", CIRCUITS, as_user="mallory")


def test_the_operator_is_not_bound_by_the_rules(rc: Rolecall) -> None:
    rc.assign("zoe", "platform_admin", "platform", actor="installer")
    assert rc.audit(user="zoe")[-1].actor == "installer"


class SensitivePlugin:
    @hookimpl
    def register_permissions(self) -> list[Permission]:
        return [
            Permission(
                id="vault.open",
                title="Open",
                description="Open the vault.",
                area="Vault",
                scope_types=("course",),
            )
        ]

    @hookimpl
    def register_roles(self) -> list[Role]:
        return [
            Role(
                id="keyholder",
                title="Keyholder",
                description="Opens the vault.",
                scope_types=("course",),
                permissions=("vault.open",),
                revocable_by=("warden",),
            ),
            Role(
                id="warden",
                title="Warden",
                description="Guards keyholders.",
                scope_types=("course", "org"),
                permissions=("vault.open",),
            ),
            Role(
                id="clerk",
                title="Clerk",
                description="Manages keyholders' paperwork.",
                scope_types=("course",),
                permissions=("vault.open",),
            ),
        ]

    @hookimpl
    def register_delegation_rules(self) -> list[DelegationRule]:
        return [
            DelegationRule(
                id="clerks_and_wardens",
                description="Both manage keyholders.",
                holders=("clerk", "warden"),
                assign=("keyholder",),
                revoke=("keyholder",),
                scope_types=("course",),
            )
        ]


def test_a_sensitive_role_is_revoked_only_by_its_named_roles(tmp_path: Path) -> None:
    plugins = load_plugins(PluginSettings(), entry_points=[], extra={"vault": SensitivePlugin()})
    with Rolecall.open(
        f"sqlite:///{tmp_path / 'v.db'}", plugins=plugins, background_sync=False
    ) as rc:
        rc.add_users(["kay", "clara", "walt"])
        rc.assign("kay", "keyholder", CIRCUITS)
        rc.assign("clara", "clerk", CIRCUITS)
        rc.assign("walt", "warden", "org:MITx")
        with pytest.raises(NotAllowedError) as excinfo:
            rc.revoke("kay", "keyholder", CIRCUITS, as_user="clara")
        assert refusal(excinfo) == (
            "sensitive-role",
            f"keyholder is sensitive: only a holder of warden on {CIRCUITS} or above may revoke "
            "it [sensitive-role]; it could be done by: walt",
        )
        rc.revoke("kay", "keyholder", CIRCUITS, as_user="walt")


def test_the_cli_acts_as_a_user_and_exits_3_on_a_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rc: Rolecall
) -> None:
    url = str(rc.engine.url)
    monkeypatch.delenv("ROLECALL_DISABLE_PLUGINS", raising=False)
    runner = CliRunner()
    refused = runner.invoke(
        cli, ["--database", url, "assign", "eddie", "course_editor", CS50, "--as", "ada"]
    )
    assert refused.exit_code == 3
    assert refused.stderr.startswith("rolecall: not allowed: ada may not assign course_editor")
    done = runner.invoke(
        cli, ["--database", url, "assign", "eddie", "course_editor", CIRCUITS, "--as", "ada"]
    )
    assert done.exit_code == 0, done.stderr
    left = runner.invoke(
        cli, ["--database", url, "revoke", "eddie", "course_editor", CIRCUITS, "--as", "eddie"]
    )
    assert left.exit_code == 0, left.stderr


ACTORS = ("root", "olivia", "ada", "grace", "eddie", "dan", "zoe", "lia")
ROLES = (
    "course_auditor",
    "course_editor",
    "course_staff",
    "course_admin",
    "course_data_researcher",
    "discussion_moderator",
    "discussion_group_moderator",
    "discussion_administrator",
    "library_user",
    "library_admin",
    "org_admin",
    "course_creator",
)
SCOPES = (CIRCUITS, CALCULUS, CS50, "org:MITx", "lib:MITx:physics")
operation = st.tuples(
    st.sampled_from(("assign", "revoke")),
    st.sampled_from(ACTORS),
    st.sampled_from(ACTORS),
    st.sampled_from(ROLES),
    st.sampled_from(SCOPES),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(operation, min_size=1, max_size=12))
def test_no_sequence_of_delegated_changes_grants_what_the_actor_lacks(
    tmp_path_factory: pytest.TempPathFactory,
    plugins,
    steps,  # type: ignore[no-untyped-def]
) -> None:
    path = tmp_path_factory.mktemp("prop") / "rc.db"
    with Rolecall.open(f"sqlite:///{path}", plugins=plugins, background_sync=False) as rc:
        rc.add_users(ACTORS)
        rc.assign("olivia", "org_admin", "org:MITx")
        rc.assign("ada", "course_admin", CIRCUITS)
        rc.assign("dan", "discussion_administrator", CIRCUITS)
        for action, actor, user, role, scope in steps:
            kind = rc.registry.scopes.resolve(scope).type
            if kind not in rc.registry.roles[role].scope_types:
                continue
            # A role's own marker permissions (not_inherited: the legacy ids) say which role it
            # is; whoever may give its real permissions may give it.
            markers = frozenset(rc.registry.roles[role].not_inherited)
            held_before = {
                p: rc.check(actor, p, scope)
                for p in (rc.registry.role_permissions[role] - markers) & rc.index.applicable(scope)
            }
            try:
                if action == "assign":
                    rc.assign(user, role, scope, as_user=actor)
                else:
                    rc.revoke(user, role, scope, as_user=actor)
            except NotAllowedError:
                continue
            except ValueError:  # revoking what is not held
                continue
            if action == "assign":
                assert all(held_before.values()), (actor, role, scope, held_before)
            # Nobody but the platform admin (none exists here) ever holds a platform role.
            assert not rc.index.cells_of(actor).get("platform")
