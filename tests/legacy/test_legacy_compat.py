"""The legacy instructor access functions, on rolecall: legacy behaviour, audited and
delegated changes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from rolecall.builtin_plugins import legacy
from rolecall.builtin_plugins.legacy import LegacyAPI, RoleDoesNotExist, compat
from rolecall.core import BadInputError, PluginSettings, Rolecall, load_plugins
from rolecall.core.governance import NotAllowedError

C1 = "course-v1:MITx+6.002x+2026_T1"
C2 = "course-v1:MITx+18.01x+2026_T1"
H1 = "course-v1:HarvardX+CS50+2026"


@dataclass(frozen=True)
class Course:
    id: str


@dataclass(frozen=True)
class User:
    username: str
    email: str


@pytest.fixture
def rc(database_url: str) -> Iterator[Rolecall]:
    plugins = load_plugins(PluginSettings(), entry_points=[])
    with Rolecall.open(
        database_url, plugins=plugins, background_sync=False, staleness=0
    ) as service:
        service.add_users(["ada", "grace", "barbara", "frances"])
        yield service


@pytest.fixture
def api(rc: Rolecall) -> LegacyAPI:
    return LegacyAPI(rc, actor="lms")


@pytest.mark.parametrize(
    ("level", "role"),
    [("instructor", "course_admin"), ("staff", "course_staff"), ("beta", "course_beta_tester")],
)
def test_allow_and_revoke_each_level(api: LegacyAPI, rc: Rolecall, level: str, role: str) -> None:
    api.allow_access(C1, "grace", level)
    assert [(g.role, g.scope) for g in rc.grants("grace")] == [(role, C1)]
    assert api.list_with_level(C1, level) == ["grace"]
    api.revoke_access(C1, "grace", level)
    assert rc.grants("grace") == []
    assert api.list_with_level(C1, level) == []


def test_allow_twice_and_revoke_what_is_not_held_change_nothing(
    api: LegacyAPI, rc: Rolecall
) -> None:
    api.allow_access(C1, "grace", "staff")
    events = rc.audit()
    api.allow_access(C1, "grace", "staff")
    api.revoke_access(C1, "grace", "instructor")
    api.revoke_access(C1, "nobody", "beta")
    assert rc.audit() == events


def test_an_unknown_level_raises_value_error(api: LegacyAPI) -> None:
    with pytest.raises(ValueError, match="unrecognized level 'owner'"):
        api.allow_access(C1, "grace", "owner")
    assert api.list_with_level(C1, "owner") == []


def test_changes_are_audited_with_the_actor(api: LegacyAPI, rc: Rolecall) -> None:
    api.allow_access(C1, "grace", "staff")
    event = rc.audit()[-1]
    assert (event.action, event.actor, event.user, event.role, event.scope) == (
        "assign",
        "lms",
        "grace",
        "course_staff",
        C1,
    )


def test_acting_as_a_user_follows_the_delegation_rules(api: LegacyAPI, rc: Rolecall) -> None:
    api.allow_access(C1, "ada", "instructor")
    as_ada = api.acting_as(User("ada", "ada@example.org"))
    as_ada.allow_access(C1, "grace", "staff")
    assert rc.audit()[-1].actor == "ada"
    with pytest.raises(NotAllowedError):
        api.acting_as("grace").allow_access(C1, "barbara", "instructor")
    with pytest.raises(NotAllowedError):
        as_ada.allow_access(C2, "barbara", "staff")  # ada has no role on C2
    assert api.list_with_level(C1, "instructor") == ["ada"]


def test_list_with_level_is_the_course_itself(api: LegacyAPI) -> None:
    api.allow_access(C1, "grace", "staff")
    api.allow_access("course-v1:MITx+*", "barbara", "staff")
    api.allow_access(C1, "frances", "instructor")
    assert api.list_with_level(C1, "staff") == ["grace"]
    assert api.list_with_level("course-v1:MITx+*", "staff") == ["barbara"]


def test_glob_scopes_are_org_wide(api: LegacyAPI, rc: Rolecall) -> None:
    api.allow_access("course-v1:MITx+*", "grace", "staff")
    api.allow_access("lib:MITx:*", "barbara", "beta")
    assert {(g.role, g.scope) for g in rc.grants("grace")} == {("course_staff", "org:MITx")}
    assert {(g.role, g.scope) for g in rc.grants("barbara")} == {("course_beta_tester", "org:MITx")}
    assert rc.check("grace", "instructor.enroll", C2)
    assert not rc.check("grace", "instructor.enroll", H1)


def test_is_beta_tester_on_the_course_or_its_org(api: LegacyAPI) -> None:
    api.allow_access(Course(C1), "barbara", "beta")
    api.allow_access("course-v1:HarvardX+*", "grace", "beta")
    api.allow_access(C1, "ada", "instructor")
    assert api.is_beta_tester("barbara", C1)
    assert not api.is_beta_tester("barbara", C2)
    assert api.is_beta_tester(User("grace", "g@example.org"), H1)
    assert not api.is_beta_tester("ada", C1)  # instructors are not beta testers
    assert not api.is_beta_tester("nobody", C1)


def test_a_user_rolecall_does_not_know_is_added(api: LegacyAPI, rc: Rolecall) -> None:
    api.allow_access(Course(C1), User("linus", "linus@example.org"), "staff")
    assert ("linus", "linus@example.org", None, True) in rc.users()
    assert api.list_with_level(C1, "staff") == ["linus"]


def test_a_refused_change_adds_no_user(api: LegacyAPI, rc: Rolecall) -> None:
    """The user is added only once the assignment it is added for is allowed: a refused
    change (by the delegation rules, or a role that cannot be held there) leaves no user row
    and no audit event."""
    api.allow_access(C1, "ada", "instructor")
    as_ada = api.acting_as("ada")
    events = len(rc.audit())
    with pytest.raises(NotAllowedError):
        as_ada.allow_access(C2, User("linus", "linus@example.org"), "staff")  # no role on C2
    with pytest.raises(NotAllowedError):
        as_ada.update_forum_role(H1, "margaret", "Moderator", "allow")
    with pytest.raises(BadInputError, match="cannot be assigned"):
        api.allow_access("lib:MITx:physics", "linus", "instructor")
    assert {u[0] for u in rc.users()} == {"ada", "grace", "barbara", "frances"}
    assert len(rc.audit()) == events
    as_ada.allow_access(C1, User("linus", "linus@example.org"), "staff")  # allowed: added
    assert api.list_with_level(C1, "staff") == ["linus"]


def test_update_forum_role_allow_and_revoke(api: LegacyAPI, rc: Rolecall) -> None:
    api.update_forum_role(C1, "frances", "Moderator", "allow")
    api.update_forum_role(C1, "grace", "Community TA", "allow")
    assert api.list_forum_members(C1, "Moderator") == ["frances"]
    assert api.list_forum_members(C1, "Community TA") == ["grace"]
    assert rc.check("frances", "discussion.edit_content", C1)
    api.update_forum_role(C1, "frances", "Moderator", "revoke")
    assert api.list_forum_members(C1, "Moderator") == []
    assert not rc.check("frances", "discussion.edit_content", C1)


def test_update_forum_role_rejects_a_bad_action_and_an_unknown_role(api: LegacyAPI) -> None:
    with pytest.raises(ValueError, match="unrecognized action 'promote'"):
        api.update_forum_role(C1, "frances", "Moderator", "promote")
    with pytest.raises(RoleDoesNotExist):
        api.update_forum_role(C1, "frances", "Wizard", "allow")
    assert api.list_forum_members(C1, "Wizard") == []
    assert api.list_forum_members(C1, "Moderator") == []


def test_granting_forum_administrator_takes_instructor_access(api: LegacyAPI, rc: Rolecall) -> None:
    api.allow_access(C1, "ada", "instructor")
    api.allow_access(C1, "grace", "staff")
    with pytest.raises(NotAllowedError):
        api.acting_as("grace").update_forum_role(C1, "frances", "Administrator", "allow")
    api.acting_as("ada").update_forum_role(C1, "frances", "Administrator", "allow")
    assert api.list_forum_members(C1, "Administrator") == ["frances"]


def test_is_forum_role() -> None:
    assert legacy.is_forum_role("Group Moderator")
    assert not legacy.is_forum_role("staff")


def test_module_functions_need_a_configured_default(
    rc: Rolecall, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compat, "_default", None)
    with pytest.raises(RuntimeError, match="configure"):
        legacy.allow_access(C1, "grace", "staff")
    legacy.configure(rc, actor="lms")
    legacy.allow_access(C1, "grace", "staff")
    legacy.update_forum_role(C1, "frances", "Moderator", "allow")
    assert legacy.list_with_level(C1, "staff") == ["grace"]
    assert legacy.list_forum_members(C1, "Moderator") == ["frances"]
    legacy.allow_access(C1, "barbara", "beta")
    assert legacy.is_beta_tester("barbara", C1)
    legacy.revoke_access(C1, "grace", "staff")
    assert legacy.list_with_level(C1, "staff") == []
    assert {e.actor for e in rc.audit() if e.action in ("assign", "revoke")} == {"lms"}
