"""The decision rule, step by step, as ``rolecall.core.engine`` states it.

Each question is asked twice and explained once: the first ask of a scope goes through the
slow path (which fills the scope's cache entry), the second through the compiled fast path
where the rule lets it, and ``explain`` decides the long way; all three must agree. The
permissions and roles come from ``CoursePlugin`` in ``conftest.py`` (``t.publish`` implies
``t.edit`` implies ``t.view``; ``staff`` includes ``editor`` and ``grader``; ``admin`` holds
every permission, at the platform only).
"""

from __future__ import annotations

import re
import time as real_time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import rolecall.core.engine as engine
import rolecall.core.engine.index as index_module
from rolecall.core import BadInputError, Plugins, Rolecall
from rolecall.core.engine import Index

from support import move_engine_clock

ORG = "org:MITx"
COURSE = "course-v1:MITx+c1+2026"
SIBLING = "course-v1:MITx+c2+2026"
OTHER_ORG_COURSE = "course-v1:HarvardX+h1+2026"
LIBRARY = "lib:MITx:physics"


class Clock:
    """The index's ``time`` module, running ``offset`` seconds ahead of the real clock."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return real_time.time() + self.offset

    def __getattr__(self, name: str) -> Any:
        return getattr(real_time, name)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    move_engine_clock(monkeypatch, fake)
    return fake


@pytest.fixture
def people(rc: Rolecall) -> Rolecall:
    rc.add_users(["ada", "bob", "cat"])
    return rc


def decide(rc: Rolecall, user: str, permission: str, scope: str) -> bool:
    """The answer of the first check, the second check and explain, which must agree."""
    first = rc.check(user, permission, scope)
    second = rc.check(user, permission, scope)
    explained = rc.explain(user, permission, scope).allowed
    assert first == second == explained, (first, second, explained)
    return first


# ---------------------------------------------------------------------- step 1


def test_step_1_an_unregistered_permission_is_bad_input_not_a_denial(people: Rolecall) -> None:
    people.assign("ada", "admin", "platform")
    for scope in (COURSE, COURSE):  # a scope not seen yet, then its cached entry
        with pytest.raises(BadInputError, match=r"t\.fly"):
            people.check("ada", "t.fly", scope)


def test_step_1_a_user_never_seen_is_denied_not_an_error(people: Rolecall) -> None:
    people.assign("ada", "editor", COURSE)
    assert decide(people, "ada", "t.edit", COURSE)
    for _ in range(2):  # the cached scope and the first sight of it
        assert not decide(people, "nobody", "t.edit", COURSE)
    assert people.explain("nobody", "t.edit", COURSE).summary == (
        "denied: nobody has no grants in rolecall (a user rolecall has never seen holds no role)"
    )
    assert people.scopes_where("nobody", "t.edit") == []


def test_step_1_a_known_user_without_grants_is_denied(people: Rolecall) -> None:
    assert not decide(people, "bob", "t.view", COURSE)


def test_step_1_a_malformed_key_is_bad_input_not_a_denial(people: Rolecall) -> None:
    with pytest.raises(BadInputError):
        people.check("ada", "t.view", "course-v1:no-plus-signs")


def test_step_1_a_permission_that_does_not_apply_to_the_scope_type_is_denied(
    people: Rolecall,
) -> None:
    people.assign("ada", "admin", "platform")  # every permission, everywhere below
    assert decide(people, "ada", "t.edit", COURSE)
    assert not decide(people, "ada", "t.edit", LIBRARY)
    assert not decide(people, "ada", "lib.edit", COURSE)
    assert decide(people, "ada", "lib.edit", LIBRARY)


# ---------------------------------------------------------------------- step 2


def test_step_2_an_assignment_on_the_scope_or_an_ancestor_allows(people: Rolecall) -> None:
    people.assign("ada", "editor", COURSE)
    people.assign("bob", "editor", ORG)
    people.assign("cat", "editor", "platform")
    for user in ("ada", "bob", "cat"):
        assert decide(people, user, "t.edit", COURSE)
    assert not decide(people, "ada", "t.edit", SIBLING)  # not a sibling
    assert not decide(people, "ada", "t.edit", ORG)  # not above the assignment
    assert not decide(people, "bob", "t.edit", OTHER_ORG_COURSE)  # not another org
    assert decide(people, "cat", "t.edit", OTHER_ORG_COURSE)


def test_step_2_the_roles_closed_permission_set_counts(people: Rolecall) -> None:
    people.assign("ada", "publisher", COURSE)  # t.publish implies t.edit implies t.view
    people.assign("bob", "staff", COURSE)  # includes editor and grader
    assert decide(people, "ada", "t.view", COURSE)
    assert not decide(people, "ada", "t.grade", COURSE)
    assert decide(people, "bob", "t.view", COURSE)
    assert decide(people, "bob", "t.grade", COURSE)
    assert not decide(people, "bob", "t.publish", COURSE)


def test_step_2_an_expired_assignment_allows_nothing(people: Rolecall, clock: Clock) -> None:
    people.assign("ada", "editor", ORG, expires_at=datetime.now(UTC) + timedelta(hours=1))
    assert decide(people, "ada", "t.edit", COURSE)
    clock.offset = timedelta(hours=2).total_seconds()
    assert not decide(people, "ada", "t.edit", COURSE)


# ---------------------------------------------------------------------- step 3


def test_step_3_a_restriction_on_the_scope_or_an_ancestor_denies(people: Rolecall) -> None:
    people.assign("ada", "publisher", ORG)
    people.restrict(ORG, ["t.publish"])
    people.restrict(SIBLING, ["t.view"])
    assert not decide(people, "ada", "t.publish", COURSE)  # restricted above
    assert not decide(people, "ada", "t.publish", ORG)  # restricted here
    assert decide(people, "ada", "t.edit", COURSE)  # not listed, nor implying a listed one
    assert decide(people, "ada", "t.view", COURSE)  # the sibling's restriction is not above


def test_step_3_a_restriction_denies_what_implies_a_listed_permission(people: Rolecall) -> None:
    people.assign("ada", "publisher", COURSE)
    people.restrict(COURSE, ["t.edit"])
    assert not decide(people, "ada", "t.edit", COURSE)
    assert not decide(people, "ada", "t.publish", COURSE)  # publish implies edit
    assert decide(people, "ada", "t.view", COURSE)  # implied by edit, not implying it


def test_step_3_an_unexpired_exempt_role_on_the_chain_lifts_the_restriction(
    people: Rolecall, clock: Clock
) -> None:
    people.assign("ada", "publisher", COURSE)
    people.assign("bob", "publisher", COURSE)
    people.assign("ada", "grader", ORG)  # exempt, held on an ancestor
    people.assign("bob", "grader", SIBLING)  # exempt, but off the chain
    people.assign("cat", "publisher", COURSE)
    people.assign("cat", "grader", COURSE, expires_at=datetime.now(UTC) + timedelta(hours=1))
    people.restrict("platform", ["t.publish"], exempt_roles=["grader"])
    assert decide(people, "ada", "t.publish", COURSE)
    assert not decide(people, "bob", "t.publish", COURSE)
    assert decide(people, "cat", "t.publish", COURSE)
    clock.offset = timedelta(hours=2).total_seconds()
    assert not decide(people, "cat", "t.publish", COURSE)


def test_step_3_deny_beats_allow_and_lifting_it_restores_access(people: Rolecall) -> None:
    people.assign("ada", "admin", "platform")
    assert decide(people, "ada", "t.grade", COURSE)
    people.restrict(COURSE, ["*"])
    assert not decide(people, "ada", "t.grade", COURSE)
    people.unrestrict(COURSE)
    assert decide(people, "ada", "t.grade", COURSE)


# ---------------------------------------------------------------------- the map


def test_every_place_the_rules_docstring_names_exists(plugins: Plugins) -> None:
    """The engine's docstring says where each step of the rule lives; each place it names is
    still there (an ``Index`` method or attribute, or a name in the index module)."""
    doc = engine.__doc__ or ""
    assert "The decision rule" in doc
    assert "Where each step lives" in doc
    methods = set(re.findall(r":meth:`Index\.(\w+)`", doc)) | set(
        re.findall(r":attr:`Index\.(\w+)`", doc)
    )
    attributes = set(re.findall(r"``(_\w+)(?:\[|``)", doc))
    classes = set(re.findall(r":class:`(\w+)`", doc))
    assert {"_compile_check", "_check_slow", "_place", "_restricting"} <= methods
    assert {"_fast", "_by_user", "_role_perms"} <= attributes
    built = Index(plugins.registry)
    missing = [m for m in methods if not callable(getattr(built, m, None))]
    missing += [a for a in attributes if not hasattr(built, a)]
    missing += [c for c in classes if not hasattr(index_module, c)]
    assert missing == []


# ---------------------------------------------------------------------- throughout an org


def test_throughout_an_org_counts_only_what_holds_on_the_org_and_above(people: Rolecall) -> None:
    """``check_throughout`` (an org-wide glob such as ``course-v1:MITx+*``): allowed where the
    grants on the org or the platform give the permission for that type, and it agrees with
    a check on a course of the org that holds nothing of its own."""
    people.assign("ada", "editor", ORG)
    people.assign("bob", "editor", COURSE)  # one course is not the whole org
    people.assign("cat", "librarian", ORG)
    fresh = "course-v1:MITx+nothing-here+2026"
    for user in ("ada", "bob", "cat"):
        assert people.check_throughout(user, "t.edit", ORG, "course") == decide(
            people, user, "t.edit", fresh
        )
    assert people.check_throughout("ada", "t.edit", ORG, "course")
    assert not people.check_throughout("bob", "t.edit", ORG, "course")
    assert not people.check_throughout("ada", "t.edit", "org:HarvardX", "course")
    assert not people.check_throughout("ada", "t.edit", ORG, "library")  # not of that type
    assert people.check_throughout("cat", "lib.edit", ORG, "library")
    assert not people.check_throughout("ada", "t.publish", ORG, "course")


def test_throughout_an_org_follows_its_restrictions_not_those_of_one_course(
    people: Rolecall,
) -> None:
    people.assign("ada", "editor", ORG)
    people.restrict(COURSE, ["t.edit"])
    assert people.check_throughout("ada", "t.edit", ORG, "course")
    people.restrict(ORG, ["t.edit"], exempt_roles=["staff"])
    assert not people.check_throughout("ada", "t.edit", ORG, "course")
    people.assign("ada", "staff", ORG)  # exempt
    assert people.check_throughout("ada", "t.edit", ORG, "course")


def test_throughout_the_platform_and_bad_input(people: Rolecall) -> None:
    people.assign("ada", "admin", "platform")
    assert people.check_throughout("ada", "t.publish", "platform", "course")
    assert not people.check_throughout("nobody", "t.view", "platform", "course")
    with pytest.raises(BadInputError):
        people.check_throughout("ada", "no.such", ORG, "course")
