"""Derived roles: held by whoever an outside source names, never stored per user; consulted only
after the stored grants deny; restrictions apply; explain names the source; who and who_can say
what they cannot list; the legacy import leaves forum Student rows to them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rolecall.builtin_plugins.legacy.importer import plan_import
from rolecall.builtin_plugins.legacy.mapping import RoleMapping
from rolecall.builtin_plugins.legacy.reader import read_database
from rolecall.core import (
    DerivedRole,
    Plugins,
    PluginSettings,
    Rolecall,
    hookimpl,
    load_plugins,
)

from legacy_db import C1 as LEGACY_C1
from legacy_db import fill_legacy_database

C1 = "course-v1:MITx+6.002x+2026_T1"
C2 = "course-v1:MITx+18.01x+2026_T1"


class Enrollment:
    """An outside source: who is enrolled where, and every question asked of it."""

    def __init__(self, members: set[tuple[str, str]]) -> None:
        self.members = members
        self.asked: list[tuple[str, str]] = []
        self.fail = False
        self.answer: object = None

    def holds(self, user: str, course: str) -> bool:
        self.asked.append((user, course))
        if self.fail:
            raise RuntimeError("enrollment service is down")
        if self.answer is not None:
            return self.answer  # type: ignore[return-value]
        return (user, course) in self.members

    @hookimpl
    def register_derived_roles(self) -> list[DerivedRole]:
        return [
            DerivedRole(
                role="viewer",
                source="enrollment",
                description="enrolled in the course",
                scope_types=("course",),
                holds=self.holds,
            )
        ]


@pytest.fixture
def source() -> Enrollment:
    return Enrollment({("lea", C1)})


@pytest.fixture
def derived_rc(
    database_url: str, plugins_with: Callable[..., Plugins], source: Enrollment
) -> Iterator[Rolecall]:
    service = Rolecall.open(
        database_url,
        plugins=plugins_with(enrollment_source=source),
        background_sync=False,
        staleness=0,
    )
    try:
        yield service
    finally:
        service.close()


def test_the_source_says_who_holds_the_role(derived_rc: Rolecall, source: Enrollment) -> None:
    rc = derived_rc
    # lea is not a rolecall user at all: every learner of the platform is like her.
    for _ in range(2):  # the first sight of the scope, and the cached one
        assert rc.check("lea", "t.view", C1)
        assert not rc.check("lea", "t.edit", C1)  # not in the derived role's set
        assert not rc.check("lea", "t.view", C2)  # the source does not name her there
        assert not rc.check("max", "t.view", C1)
    assert "lea" not in {u for u, *_ in rc.users()}  # nothing was stored


def test_stored_grants_decide_first(derived_rc: Rolecall, source: Enrollment) -> None:
    rc = derived_rc
    rc.add_user("ada")
    rc.assign("ada", "editor", C1)
    source.asked.clear()
    for _ in range(2):
        assert rc.check("ada", "t.view", C1)
    assert source.asked == []  # allowed by the stored grant: the source is never asked
    assert not rc.check("ada", "t.grade", C1)  # not a derived permission: never asked either
    assert source.asked == []
    assert not rc.check("ada", "t.view", C2)  # denied by the stored grants: now it is asked
    assert source.asked == [("ada", C2)]


def test_restrictions_apply_to_derived_roles(derived_rc: Rolecall) -> None:
    rc = derived_rc
    rc.restrict(C1, ["t.view"])
    assert not rc.check("lea", "t.view", C1)
    assert rc.explain("lea", "t.view", C1).allowed is False
    rc.unrestrict(C1)
    rc.restrict(C1, ["t.view"], exempt_roles=["viewer"])
    assert rc.check("lea", "t.view", C1)
    rc.unrestrict(C1)
    rc.restrict("org:MITx", ["*"])
    assert not rc.check("lea", "t.view", C1)


def test_explain_names_the_source(derived_rc: Rolecall) -> None:
    decision = derived_rc.explain("lea", "t.view", C1)
    assert decision.allowed
    assert decision.summary == (
        f"allowed: lea holds viewer on {C1} through enrollment: enrolled in the course "
        "(a derived role, not stored)"
    )
    assert decision.derived is not None
    assert (decision.derived.role, decision.derived.scope) == ("viewer", C1)
    assert decision.contributions == ()
    assert not derived_rc.explain("lea", "t.view", C2).allowed


def test_who_and_who_can_say_what_they_cannot_list(derived_rc: Rolecall) -> None:
    rc = derived_rc
    note = (
        "also every user enrollment names here (enrolled in the course) holds viewer: "
        "rolecall cannot list them"
    )
    assert rc.who(C1).not_listed == (note,)
    assert rc.who("org:MITx").not_listed == ()  # the source names users on courses only
    assert rc.who_can("t.view", C1) == []
    assert rc.not_listed(C1, "t.view") == (note,)
    assert rc.not_listed(C1, "t.grade") == ()


def test_a_failing_source_denies_and_is_logged(
    derived_rc: Rolecall, source: Enrollment, caplog: pytest.LogCaptureFixture
) -> None:
    source.fail = True
    with caplog.at_level(logging.WARNING, logger="rolecall.engine"):
        assert not derived_rc.check("lea", "t.view", C1)
    assert "source enrollment failed" in caplog.text
    assert "enrollment service is down" not in caplog.text  # the error's kind, not its text


def test_a_source_must_answer_true_itself(derived_rc: Rolecall, source: Enrollment) -> None:
    source.answer = "yes"  # truthy, but not True: not a member
    assert not derived_rc.check("lea", "t.view", C1)


def test_a_derived_role_naming_no_role_is_refused(
    plugins_with: Callable[..., Plugins],
) -> None:
    class Broken:
        @hookimpl
        def register_derived_roles(self) -> list[DerivedRole]:
            return [
                DerivedRole(
                    role="nobody_role",
                    source="x",
                    description="d",
                    scope_types=("course",),
                    holds=lambda u, s: True,
                )
            ]

    from rolecall.builtin_plugins import BUILTIN_PLUGINS

    loaded = load_plugins(
        PluginSettings(disabled=frozenset(BUILTIN_PLUGINS) - {"platform"}),
        entry_points=[],
        extra={"broken": Broken()},
    )
    info = loaded.info("broken")
    assert info is not None
    assert info.status == "failed"
    assert "names unknown role 'nobody_role'" in (info.error or "")


def test_the_record_checks_its_fields() -> None:
    with pytest.raises(ValueError, match="not a lowercase name"):
        DerivedRole(role="Bad", source="s", description="d", scope_types=("course",), holds=max)
    with pytest.raises(ValueError, match="scope_types"):
        DerivedRole(role="r", source="s", description="d", scope_types=(), holds=max)


def test_the_legacy_import_leaves_forum_student_rows_to_the_derived_role(tmp_path: Path) -> None:
    class Forum:
        @hookimpl
        def register_derived_roles(self) -> list[DerivedRole]:
            return [
                DerivedRole(
                    role="discussion_student",
                    source="enrollment",
                    description="enrolled in the course",
                    scope_types=("course",),
                    holds=lambda user, course: (user, course) == ("tim", LEGACY_C1),
                )
            ]

    legacy = f"sqlite:///{tmp_path / 'edxapp.db'}"
    fill_legacy_database(legacy)
    plugins = load_plugins(PluginSettings(), entry_points=[], extra={"forum": Forum()})
    with Rolecall.open(
        f"sqlite:///{tmp_path / 'rc.db'}", plugins=plugins, background_sync=False, staleness=0
    ) as rc:
        plan = plan_import(rc, read_database(legacy), RoleMapping())
        assert not [g for g in plan.create if g.role == "discussion_student"]
        derived = [p for p in plan.ignored if p.kind == "derived"]
        assert [(p.table, p.row_id) for p in derived] == [("django_comment_client_role_users", 5)]
        assert "held through enrollment" in derived[0].reason
        assert rc.check("tim", "discussion.vote", LEGACY_C1)  # through the source
        assert not rc.check("tim", "discussion.vote", "course-v1:MITx+18.01x+2026_T1")
    # Without a derived role the Student row is stored as before.
    with Rolecall.open(
        f"sqlite:///{tmp_path / 'rc2.db'}",
        plugins=load_plugins(PluginSettings(), entry_points=[]),
        background_sync=False,
        staleness=0,
    ) as rc:
        plan = plan_import(rc, read_database(legacy), RoleMapping())
        assert [g.row_id for g in plan.create if g.role == "discussion_student"] == [5]
