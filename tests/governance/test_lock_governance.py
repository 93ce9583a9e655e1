"""Locks never lock out the people who may lift them, and "deny everything" means a scope's
actions, not its governance (docs/governance.md, "Restrictions and governance").

Every answer is asked of the check, explain, the reverse queries, the what-if and the
delegation rules, so that they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rolecall.core import PluginSettings, Rolecall, load_plugins
from rolecall.core.governance import NotAllowedError
from rolecall.core.governance.whatif import what_if_assign
from rolecall.core.plugins import Plugins

ORG = "org:MITx"
COURSE = "course-v1:MITx+6.002x+2026"
OTHER = "course-v1:MITx+8.01x+2026"
VIEW_TEAM = "courses.view_course_team"
MANAGE_TEAM = "courses.manage_course_team"
PUBLISH = "courses.publish_course_content"
EDIT = "courses.edit_course_content"
LIFT = "platform.manage_restrictions"


@pytest.fixture(scope="module")
def plugins() -> Plugins:
    return load_plugins(PluginSettings(), entry_points=[])


@pytest.fixture
def rc(tmp_path: Path, plugins: Plugins) -> Iterator[Rolecall]:
    service = Rolecall.open(
        f"sqlite:///{tmp_path / 'rc.db'}", plugins=plugins, background_sync=False, staleness=0
    )
    service.add_users(["root", "olivia", "carl", "bob", "dana", "eve"])
    service.add_scopes([COURSE, OTHER])
    service.assign("root", "platform_admin", "platform")
    service.assign("olivia", "org_admin", ORG)
    service.assign("carl", "course_admin", COURSE)
    service.assign("bob", "course_staff", COURSE)
    try:
        yield service
    finally:
        service.close()


def test_deny_everything_denies_the_scopes_actions(rc: Rolecall) -> None:
    rc.restrict(COURSE, ["*"], reason="frozen")
    for user in ("root", "olivia", "carl", "bob"):
        assert not rc.check(user, PUBLISH, COURSE), user
        assert not rc.check(user, EDIT, COURSE), user
    assert rc.check("olivia", EDIT, OTHER)  # a course beside it is not locked


def test_deny_everything_leaves_governance_of_the_scope(rc: Rolecall) -> None:
    rc.restrict(COURSE, ["*"], reason="frozen")
    # Seeing and managing the team is governance: the lock keeps it for whoever holds it.
    for user in ("root", "olivia", "carl"):
        assert rc.check(user, VIEW_TEAM, COURSE), user
        assert rc.check(user, MANAGE_TEAM, COURSE), user
    assert rc.check("bob", VIEW_TEAM, COURSE)
    assert not rc.check("bob", MANAGE_TEAM, COURSE)  # never held
    assert rc.explain("root", VIEW_TEAM, COURSE).allowed
    assert COURSE in rc.scopes_where("olivia", VIEW_TEAM, "course")
    assert {"root", "olivia", "carl", "bob"} <= set(rc.who_can(VIEW_TEAM, COURSE))
    governance = rc.index.governance
    assert {VIEW_TEAM, MANAGE_TEAM, LIFT, "platform.view_org_team"} <= governance
    assert PUBLISH not in governance
    assert EDIT not in governance


def test_deny_everything_on_the_platform_leaves_the_lock_liftable(rc: Rolecall) -> None:
    rc.restrict("platform", ["*"], reason="maintenance")
    assert not rc.check("root", PUBLISH, COURSE)
    assert rc.check("root", LIFT, "platform")
    assert rc.check("root", VIEW_TEAM, COURSE)
    rc.unrestrict("platform", as_user="root")
    assert rc.check("root", PUBLISH, COURSE)


def test_a_lock_naming_the_team_never_stops_its_lifters(rc: Rolecall) -> None:
    rc.restrict(COURSE, [VIEW_TEAM], reason="hidden during the exam")
    # Denied to the team, and to the org admin, who may not lift it...
    for user in ("olivia", "carl", "bob"):
        assert not rc.check(user, VIEW_TEAM, COURSE), user
        assert not rc.explain(user, VIEW_TEAM, COURSE).allowed
    # ...never to whoever may lift it: they see the scope and lift the lock.
    assert rc.check("root", VIEW_TEAM, COURSE)
    decision = rc.explain("root", VIEW_TEAM, COURSE)
    assert decision.allowed
    assert decision.denied_by is None
    assert COURSE in rc.scopes_where("root", VIEW_TEAM, "course")
    assert rc.who_can(VIEW_TEAM, COURSE) == ["root"]
    # Managing the team is no part of seeing the scope: it stays denied (manage implies view).
    assert not rc.check("root", MANAGE_TEAM, COURSE)
    rc.unrestrict(COURSE, as_user="root")
    assert rc.check("bob", VIEW_TEAM, COURSE)


def test_lifting_locks_is_never_denied(rc: Rolecall) -> None:
    rc.restrict("platform", [LIFT], reason="no more locks")
    assert rc.check("root", LIFT, "platform")
    assert rc.index.restriction("platform") is not None
    rc.unrestrict("platform", as_user="root")
    assert rc.index.restriction("platform") is None


def test_whoever_holds_the_lifting_permission_is_the_one_not_locked_out(rc: Rolecall) -> None:
    rc.restrict(COURSE, [VIEW_TEAM], reason="hidden")
    rc.create_role(
        "lock_keeper",
        title="Lock keeper",
        description="Locks and unlocks scopes.",
        scope_types=["platform"],
        permissions=[LIFT],
    )
    rc.assign("dana", "lock_keeper", "platform")
    rc.assign("dana", "course_staff", COURSE)
    assert rc.check("dana", VIEW_TEAM, COURSE)  # holds it, and may lift the lock
    rc.assign("eve", "course_staff", COURSE)
    assert not rc.check("eve", VIEW_TEAM, COURSE)


def test_the_what_if_agrees_with_the_check_about_lifters(rc: Rolecall) -> None:
    rc.restrict(COURSE, [VIEW_TEAM], reason="hidden")
    rc.assign("eve", "course_staff", COURSE)
    impact = what_if_assign(rc.index, [("eve", "platform_admin", "platform")])
    gains = {(c.scope, p) for c in impact.changes if c.user == "eve" for p in c.gains}
    assert (COURSE, VIEW_TEAM) in gains
    assert (COURSE, PUBLISH) not in gains  # course staff publish already
    assert not rc.check("eve", VIEW_TEAM, COURSE)
    rc.assign("eve", "platform_admin", "platform")
    assert rc.check("eve", VIEW_TEAM, COURSE)


def test_the_platform_admin_gives_roles_on_a_course_locked_against_everything(
    rc: Rolecall,
) -> None:
    rc.restrict(COURSE, ["*"], reason="frozen")
    rc.assign("eve", "course_staff", COURSE, as_user="root")
    rc.revoke("eve", "course_staff", COURSE, as_user="root")
    rc.assign("eve", "course_staff", COURSE, as_user="olivia")


# ------------------------------------------------------------------ no false escalation


def test_a_grant_adding_nothing_beyond_an_exempt_role_is_no_escalation(rc: Rolecall) -> None:
    rc.restrict(COURSE, [PUBLISH], exempt_roles=["course_admin"], reason="exam")
    rc.assign("dana", "course_admin", ORG)
    assert rc.check("dana", PUBLISH, COURSE)  # exempt
    assert not rc.check("olivia", PUBLISH, COURSE)  # the org admin is not
    # course_staff on the org gives dana nothing she cannot do already: allowed, one grant
    # and org-wide alike.
    rc.assign("dana", "course_staff", ORG, as_user="olivia")
    rc.revoke("dana", "course_staff", ORG, as_user="olivia")
    result = rc.bulk("assign", "course_staff", ["dana"], ["course-v1:MITx+*"], as_user="olivia")
    assert result.applied, result.rows
    assert rc.check("dana", PUBLISH, COURSE)


def test_a_grant_freeing_the_grantee_from_the_lock_is_still_escalation(rc: Rolecall) -> None:
    rc.restrict(COURSE, [PUBLISH], exempt_roles=["course_admin"], reason="exam")
    # eve can publish nowhere under the lock: course_admin would free her.
    rc.assign("eve", "course_staff", ORG)
    with pytest.raises(NotAllowedError) as excinfo:
        rc.assign("eve", "course_admin", ORG, as_user="olivia")
    assert excinfo.value.refusal.rule == "no-escalation"
    assert PUBLISH in str(excinfo.value)
    # Nor may olivia give the exempt role itself to someone who holds it already above: her
    # grant would keep freeing its holder once the other is gone.
    rc.assign("dana", "course_admin", ORG)
    with pytest.raises(NotAllowedError):
        rc.assign("dana", "course_admin", COURSE, as_user="olivia")
    assert not rc.check("eve", PUBLISH, COURSE)
