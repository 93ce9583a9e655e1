"""What-if: the predicted gains and losses of assignments, revocations and role changes, and
their agreement with what really happens once the change is made."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import CoursePlugin, role
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, update

from rolecall.core import BadInputError, GrantRow, Plugins, Role, Rolecall, hookimpl
from rolecall.core.engine import lookups
from rolecall.core.governance.whatif import (
    Change,
    Impact,
    what_if_assign,
    what_if_revoke,
    what_if_role_change,
)
from rolecall.core.storage.database import GENESIS_HASH, make_engine, upgrade
from rolecall.core.storage.models import Base, State

COURSE = "course-v1:MITx+6.002x+2026_T1"
OTHER = "course-v1:MITx+18.01x+2026_T1"
HARVARD = "course-v1:HarvardX+CS50+2026"
LIB = "lib:MITx:physics"
SCOPES = (COURSE, OTHER, HARVARD, LIB)
USERS = ("ada", "bob", "cy", "dee")


@pytest.fixture
def world(rc: Rolecall) -> Rolecall:
    rc.add_users(USERS)
    rc.add_scopes(SCOPES)
    return rc


Snapshot = dict[tuple[str, str], frozenset[str]]


def snapshot(rc: Rolecall) -> Snapshot:
    """Every user's allowed permissions at every known scope, by the real engine (caught up
    once, then asked directly: the service would read the database before each check)."""
    rc.sync()
    index = rc.index
    return {
        (user, scope): frozenset(p for p in index.applicable(scope) if index.check(user, p, scope))
        for user in sorted(index.users)
        for scope in index.known_scopes()
    }


def observed(before: Snapshot, after: Snapshot) -> dict[tuple[str, str], tuple[Any, Any]]:
    """(user, scope) -> (gains, losses) between two snapshots, as an impact would say them."""
    return {
        key: (tuple(sorted(after[key] - before[key])), tuple(sorted(before[key] - after[key])))
        for key in before
        if before[key] != after[key]
    }


def predicted(impact: Impact) -> dict[tuple[str, str], tuple[Any, Any]]:
    return {(c.user, c.scope): (c.gains, c.loses) for c in impact.changes}


def grants(rc: Rolecall) -> list[Any]:
    return [g for user in sorted(rc.index.users) for g in rc.index.grants_of(user)]


# --- assignments ------------------------------------------------------------------------------


def test_an_assignment_predicts_the_gains_and_writes_nothing(world: Rolecall) -> None:
    revision, held = world.revision, grants(world)
    impact = what_if_assign(world.index, [("ada", "editor", COURSE)])
    assert impact == Impact(
        changes=(Change(user="ada", scope=COURSE, gains=("t.edit", "t.view"), via=COURSE),)
    )
    assert impact.summary() == [f"ada gains t.edit, t.view on {COURSE}"]
    assert (world.revision, grants(world)) == (revision, held)
    assert not world.check("ada", "t.view", COURSE)
    assert impact.model_dump(mode="json")["changes"][0]["gains"] == ["t.edit", "t.view"]


def test_an_already_held_role_changes_nothing(world: Rolecall) -> None:
    world.assign("ada", "editor", COURSE)
    impact = what_if_assign(world.index, [("ada", "editor", COURSE)])
    assert impact == Impact()
    assert impact.summary() == ["no one gains or loses any permission"]


def test_permissions_held_through_an_org_grant_are_not_gains(world: Rolecall) -> None:
    world.assign("ada", "staff", "org:MITx")
    assert what_if_assign(world.index, [("ada", "editor", COURSE)]) == Impact()
    impact = what_if_assign(world.index, [("ada", "publisher", COURSE)])
    assert predicted(impact) == {("ada", COURSE): (("t.publish",), ())}


def test_an_org_assignment_reaches_the_known_courses_below_it(world: Rolecall) -> None:
    world.assign("bob", "viewer", OTHER)
    impact = what_if_assign(world.index, [("bob", "editor", "org:MITx")])
    assert predicted(impact) == {
        ("bob", COURSE): (("t.edit", "t.view"), ()),
        ("bob", OTHER): (("t.edit",), ()),
    }
    assert {c.via for c in impact.changes} == {"org:MITx"}
    assert impact.summary() == [
        f"bob gains t.edit on {OTHER} (below org:MITx)",
        f"bob gains t.edit, t.view on {COURSE} (below org:MITx)",
    ]


def test_a_platform_assignment_summarises_many_scopes(world: Rolecall) -> None:
    world.add_scopes(["course-v1:MITx+9.01x+2026", "course-v1:HarvardX+AI+2026"])
    impact = what_if_assign(world.index, [("cy", "grader", "platform")])
    assert len(impact.changes) == 5
    assert impact.summary() == [
        "cy gains t.grade on course-v1:HarvardX+AI+2026, course-v1:HarvardX+CS50+2026, "
        "course-v1:MITx+18.01x+2026_T1 and 2 more scopes (below platform)"
    ]


def test_the_summary_folds_identical_changes_below_a_touched_scope() -> None:
    impact = Impact(
        changes=(
            Change(user="ada", scope="course-v1:A+1+r", gains=("x.view",), via="course-v1:A+1+r"),
            Change(
                user="ada", scope="ccx-v1:A+1+r+ccx@1", gains=("x.view",), via="course-v1:A+1+r"
            ),
            Change(
                user="ada", scope="ccx-v1:A+1+r+ccx@2", loses=("x.edit",), via="course-v1:A+1+r"
            ),
        )
    )
    assert impact.summary() == [
        "ada gains x.view on course-v1:A+1+r (and below)",
        "ada loses x.edit on ccx-v1:A+1+r+ccx@2 (below course-v1:A+1+r)",
    ]


def test_an_expired_grant_assigned_again_is_a_gain(world: Rolecall) -> None:
    past = datetime.now(UTC) - timedelta(days=1)
    world.import_grants(
        [GrantRow("ada", "editor", COURSE, expires_at=past, granted_at=past - timedelta(days=9))]
    )
    impact = what_if_assign(world.index, [("ada", "editor", COURSE)])
    assert predicted(impact) == {("ada", COURSE): (("t.edit", "t.view"), ())}
    assert what_if_revoke(world.index, [("ada", "editor", COURSE)]) == Impact()
    soon = datetime.now(UTC) + timedelta(hours=1)
    timed = what_if_assign(world.index, [("ada", "editor", COURSE)], expires_at=soon)
    assert timed == impact
    with pytest.raises(BadInputError, match="in the past"):
        what_if_assign(world.index, [("ada", "editor", COURSE)], expires_at=past)
    # An expired grant above the scope gives nothing either.
    world.import_grants(
        [GrantRow("bob", "publisher", "org:MITx", expires_at=past, granted_at=past)]
    )
    impact = what_if_assign(world.index, [("bob", "grader", COURSE)])
    assert predicted(impact) == {("bob", COURSE): (("t.grade",), ())}


def test_bad_rows_fail_as_the_service_would(world: Rolecall) -> None:
    with pytest.raises(BadInputError, match="unknown user"):
        what_if_assign(world.index, [("nobody", "editor", COURSE)])
    with pytest.raises(BadInputError, match="cannot be assigned at a library scope"):
        what_if_assign(world.index, [("ada", "editor", LIB)])
    with pytest.raises(BadInputError, match="unknown role"):
        what_if_assign(world.index, [("ada", "wizard", COURSE)])
    with pytest.raises(BadInputError, match="ada does not hold editor on"):
        what_if_revoke(world.index, [("ada", "editor", COURSE)])
    with pytest.raises(BadInputError):
        world.revoke("ada", "editor", COURSE)


def test_a_restriction_keeps_what_it_denies_out_of_the_gains(world: Rolecall) -> None:
    world.restrict(COURSE, ["t.edit"], exempt_roles=["grader"])
    impact = what_if_assign(world.index, [("ada", "publisher", COURSE)])
    assert predicted(impact) == {("ada", COURSE): (("t.view",), ())}
    # An exempt role unlocks what the user's other grants give but the restriction denied.
    world.assign("bob", "publisher", COURSE)
    impact = what_if_assign(world.index, [("bob", "grader", COURSE)])
    assert predicted(impact) == {("bob", COURSE): (("t.edit", "t.grade", "t.publish"), ())}
    # And revoking it locks them again.
    world.assign("bob", "grader", COURSE)
    impact = what_if_revoke(world.index, [("bob", "grader", COURSE)])
    assert predicted(impact) == {("bob", COURSE): ((), ("t.edit", "t.grade", "t.publish"))}


def test_bulk_rows_over_several_users_and_scopes(world: Rolecall) -> None:
    world.assign("bob", "viewer", "org:MITx")
    rows = [
        ("ada", "editor", COURSE),
        ("ada", "grader", HARVARD),
        ("bob", "publisher", OTHER),
        ("bob", "librarian", LIB),
        ("cy", "viewer", "org:MITx"),
        ("ada", "editor", COURSE),  # a repeated row counts once
    ]
    before = snapshot(world)
    impact = what_if_assign(world.index, rows)
    assert predicted(impact) == {
        ("ada", COURSE): (("t.edit", "t.view"), ()),
        ("ada", HARVARD): (("t.grade",), ()),
        ("bob", OTHER): (("t.edit", "t.publish"), ()),
        ("bob", LIB): (("lib.edit", "lib.view"), ()),
        ("cy", COURSE): (("t.view",), ()),
        ("cy", OTHER): (("t.view",), ()),
    }
    assert impact.summary() == [
        f"ada gains t.grade on {HARVARD}",
        f"ada gains t.edit, t.view on {COURSE}",
        f"bob gains t.edit, t.publish on {OTHER}",
        f"bob gains lib.edit, lib.view on {LIB}",
        f"cy gains t.view on {OTHER} and {COURSE} (below org:MITx)",
    ]
    world.assign_many(rows)
    assert observed(before, snapshot(world)) == predicted(impact)


# --- revocations ------------------------------------------------------------------------------


def test_a_revocation_predicts_the_losses(world: Rolecall) -> None:
    world.assign("ada", "publisher", COURSE)
    impact = what_if_revoke(world.index, [("ada", "publisher", COURSE)])
    assert predicted(impact) == {("ada", COURSE): ((), ("t.edit", "t.publish", "t.view"))}
    assert impact.summary() == [f"ada loses t.edit, t.publish, t.view on {COURSE}"]
    assert world.check("ada", "t.publish", COURSE)


def test_no_loss_where_another_grant_still_covers_it(world: Rolecall) -> None:
    world.assign("ada", "editor", "org:MITx")
    world.assign("ada", "publisher", COURSE)
    impact = what_if_revoke(world.index, [("ada", "publisher", COURSE)])
    assert predicted(impact) == {("ada", COURSE): ((), ("t.publish",))}
    world.assign("ada", "editor", COURSE)
    assert what_if_revoke(world.index, [("ada", "editor", COURSE)]) == Impact()
    impact = what_if_revoke(world.index, [("ada", "editor", "org:MITx")])
    assert predicted(impact) == {("ada", OTHER): ((), ("t.edit", "t.view"))}


def test_revoking_several_rows_at_once(world: Rolecall) -> None:
    world.assign_many([("ada", "editor", COURSE), ("ada", "viewer", "org:MITx")])
    both = [("ada", "editor", COURSE), ("ada", "viewer", "org:MITx")]
    impact = what_if_revoke(world.index, both)
    assert predicted(impact) == {
        ("ada", COURSE): ((), ("t.edit", "t.view")),
        ("ada", OTHER): ((), ("t.view",)),
    }
    assert [c.via for c in impact.changes] == ["org:MITx", COURSE]


# --- role changes -----------------------------------------------------------------------------


def test_a_role_change_for_every_holder(world: Rolecall) -> None:
    world.assign("ada", "editor", COURSE)
    world.assign("bob", "editor", "org:MITx")
    world.assign_many([("cy", "editor", COURSE), ("cy", "publisher", COURSE)])
    world.assign("dee", "staff", COURSE)  # includes editor: ignored in v1
    world.restrict(OTHER, ["t.grade"])
    impact = what_if_role_change(world.index, "editor", frozenset({"t.view", "t.grade"}))
    assert predicted(impact) == {
        ("ada", COURSE): (("t.grade",), ("t.edit",)),
        ("bob", COURSE): (("t.grade",), ("t.edit",)),
        ("bob", OTHER): ((), ("t.edit",)),
        ("cy", COURSE): (("t.grade",), ()),
    }
    assert impact.summary() == [
        f"ada gains t.grade and loses t.edit on {COURSE}",
        f"bob loses t.edit on {OTHER} (below org:MITx)",
        f"bob gains t.grade and loses t.edit on {COURSE} (below org:MITx)",
        f"cy gains t.grade on {COURSE}",
    ]
    # The new set is closed under implication, as the registry closes a role's permissions.
    closed = what_if_role_change(world.index, "viewer", frozenset({"t.publish"}))
    assert closed == Impact()  # nobody holds viewer
    world.assign("dee", "viewer", HARVARD)
    closed = what_if_role_change(world.index, "viewer", frozenset({"t.publish"}))
    assert predicted(closed) == {("dee", HARVARD): (("t.edit", "t.publish"), ())}
    with pytest.raises(BadInputError):
        what_if_role_change(world.index, "editor", frozenset({"t.fly"}))
    with pytest.raises(BadInputError):
        what_if_role_change(world.index, "wizard", frozenset())


def test_custom_roles_assigned_revoked_and_edited(world: Rolecall) -> None:
    world.create_role(
        "helper",
        title="Helper",
        description="Helps.",
        scope_types=["course", "org"],
        permissions=["t.view"],
    )
    impact = what_if_assign(world.index, [("ada", "helper", COURSE)])
    assert predicted(impact) == {("ada", COURSE): (("t.view",), ())}
    world.assign_many([("ada", "helper", COURSE), ("bob", "helper", "org:MITx")])
    before = snapshot(world)
    impact = what_if_role_change(world.index, "helper", frozenset({"t.publish"}))
    assert predicted(impact) == {
        ("ada", COURSE): (("t.edit", "t.publish"), ()),
        ("bob", COURSE): (("t.edit", "t.publish"), ()),
        ("bob", OTHER): (("t.edit", "t.publish"), ()),
    }
    reported, _ = world.edit_role("helper", add=["t.publish"], remove=["t.view"])
    assert reported == impact
    assert observed(before, snapshot(world)) == predicted(impact)
    world.retire_role("helper")
    with pytest.raises(BadInputError, match="retired"):
        what_if_assign(world.index, [("cy", "helper", COURSE)])
    impact = what_if_revoke(world.index, [("ada", "helper", COURSE)])
    assert predicted(impact) == {("ada", COURSE): ((), ("t.edit", "t.publish", "t.view"))}


# --- agreement with the real engine -----------------------------------------------------------

ALL_SCOPES = ("platform", "org:MITx", "org:HarvardX", *SCOPES)
ROLES = ("viewer", "editor", "publisher", "grader", "staff", "librarian", "admin")
COURSE_ROLES = ROLES[:5]
VALID = [
    (r, s)
    for r in ROLES
    for s in ALL_SCOPES
    if (r == "admin" and s == "platform")
    or (r == "librarian" and not s.startswith("course"))
    or (r in COURSE_ROLES and not s.startswith("lib"))
]
PERMISSIONS = ("t.view", "t.edit", "t.publish", "t.grade", "lib.view", "lib.edit")

grant_op = st.tuples(
    st.just("grant"),
    st.sampled_from(USERS),
    st.sampled_from(VALID),
    st.sampled_from([None, None, "future", "past"]),
)
restrict_op = st.tuples(
    st.just("restrict"),
    st.sampled_from(ALL_SCOPES),
    st.lists(st.sampled_from([*PERMISSIONS, "*"]), min_size=1, max_size=2, unique=True),
    st.lists(st.sampled_from(ROLES), max_size=2, unique=True),
)
setups = st.lists(st.one_of(grant_op, grant_op, grant_op, restrict_op), max_size=12)
rows = st.lists(st.tuples(st.sampled_from(USERS), st.sampled_from(VALID)), min_size=1, max_size=4)


def clean(engine: Engine) -> None:
    """Empty every table and reset the revision: each example starts from nothing."""
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table is not State.__table__:
                connection.execute(delete(table))
        connection.execute(update(State).values(revision=0, last_hash=GENESIS_HASH))


def set_up(rc: Rolecall, ops: list[tuple[Any, ...]]) -> None:
    rc.add_users(USERS)
    rc.add_scopes(ALL_SCOPES)
    now = datetime.now(UTC)
    for op in ops:
        if op[0] == "grant":
            _, user, (role_id, scope), expiry = op
            if expiry == "past":
                at = now - timedelta(days=2)
                gone = now - timedelta(days=1)
                if rc.index.grant(user, role_id, scope):
                    rc.revoke(user, role_id, scope)  # so that the import below writes it
                rc.import_grants([GrantRow(user, role_id, scope, expires_at=gone, granted_at=at)])
            else:
                soon = now + timedelta(hours=2) if expiry else None
                rc.assign(user, role_id, scope, expires_at=soon)
        else:
            _, scope, listed, exempt = op
            below = set(lookups.types_below(rc.index, rc.registry.scopes.resolve(scope).type))
            if any(
                p != "*" and not set(rc.registry.permissions[p].scope_types) & below for p in listed
            ):
                continue  # a restriction that could never apply there is bad input
            rc.restrict(scope, listed, exempt_roles=exempt)


@pytest.fixture
def migrated(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


AGREEMENT = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@AGREEMENT
@given(
    ops=setups, assigned=rows, revoked=st.lists(st.integers(0, 99), max_size=3), timed=st.booleans()
)
def test_predictions_agree_with_the_engine_after_the_change(
    ops: list[tuple[Any, ...]],
    assigned: list[tuple[str, tuple[str, str]]],
    revoked: list[int],
    timed: bool,
    database_url: str,
    migrated: Engine,
    plugins: Plugins,
) -> None:
    clean(migrated)
    with Rolecall.open(database_url, plugins=plugins, background_sync=False, staleness=0) as rc:
        set_up(rc, ops)
        # Assignments, in one batch.
        batch = [(user, r, s) for user, (r, s) in assigned]
        expires = datetime.now(UTC) + timedelta(hours=2) if timed else None
        before, held = snapshot(rc), grants(rc)
        impact = what_if_assign(rc.index, batch, expires_at=expires)
        assert (snapshot(rc), grants(rc)) == (before, held)  # the index is untouched
        rc.assign_many(batch, expires_at=expires)
        assert observed(before, snapshot(rc)) == predicted(impact), impact.summary()
        # Revocations of existing grants (expired ones included).
        existing = [(g.user, g.role, g.scope) for g in grants(rc)]
        gone = list(dict.fromkeys(existing[i % len(existing)] for i in revoked))
        before = snapshot(rc)
        impact = what_if_revoke(rc.index, gone)
        for user, role_id, scope in gone:
            rc.revoke(user, role_id, scope)
        assert observed(before, snapshot(rc)) == predicted(impact), impact.summary()


class EditedRole(CoursePlugin):
    """The test plugin with one role's permissions replaced (and its inclusions dropped)."""

    def __init__(self, role_id: str, permissions: tuple[str, ...]) -> None:
        self.role_id = role_id
        self.permissions = permissions

    @hookimpl
    def register_roles(self) -> list[Role]:
        return [
            role(r.id, r.scope_types, self.permissions) if r.id == self.role_id else r
            for r in super().register_roles()
        ]


@AGREEMENT
@given(
    ops=setups,
    role_id=st.sampled_from(["viewer", "publisher", "staff", "librarian"]),  # included by none
    new=st.lists(st.sampled_from(PERMISSIONS), max_size=3, unique=True),
    holder=st.tuples(st.sampled_from(USERS), st.integers(0, 99)),
)
def test_role_change_predictions_agree_with_the_engine_with_the_role_edited(
    ops: list[tuple[Any, ...]],
    role_id: str,
    new: list[str],
    holder: tuple[str, int],
    database_url: str,
    migrated: Engine,
    plugins: Plugins,
    plugins_only: Callable[..., Plugins],
) -> None:
    clean(migrated)
    edited = plugins_only(testcourses=EditedRole(role_id, tuple(new)))
    with Rolecall.open(database_url, plugins=plugins, background_sync=False, staleness=0) as rc:
        set_up(rc, ops)
        user, pick = holder  # at least one holder of the role, where it may be assigned
        places = [s for r, s in VALID if r == role_id]
        rc.assign(user, role_id, places[pick % len(places)])
        impact = what_if_role_change(rc.index, role_id, frozenset(new))
        before = snapshot(rc)
        with Rolecall.open(
            database_url, plugins=edited, background_sync=False, staleness=0
        ) as after:
            assert observed(before, snapshot(after)) == predicted(impact), impact.summary()


@AGREEMENT
@given(
    ops=setups,
    first=st.lists(st.sampled_from(PERMISSIONS), min_size=1, max_size=3, unique=True),
    then=st.lists(st.sampled_from(PERMISSIONS), min_size=1, max_size=3, unique=True),
    holders=st.lists(st.tuples(st.sampled_from(USERS), st.sampled_from(ALL_SCOPES)), max_size=4),
)
def test_custom_role_edits_agree_with_the_engine(
    ops: list[tuple[Any, ...]],
    first: list[str],
    then: list[str],
    holders: list[tuple[str, str]],
    database_url: str,
    migrated: Engine,
    plugins: Plugins,
) -> None:
    clean(migrated)
    with Rolecall.open(database_url, plugins=plugins, background_sync=False, staleness=0) as rc:
        set_up(rc, ops)
        kinds = ["platform", "org", "course", "library"]
        rc.create_role("helper", title="H", description="H.", scope_types=kinds, permissions=first)
        if holders:
            rc.assign_many([(user, "helper", scope) for user, scope in holders])
        before = snapshot(rc)
        implied = rc.registry.implied
        impact = what_if_role_change(
            rc.index, "helper", frozenset().union(*(implied[p] for p in then))
        )
        gone = [p for p in first if p not in then]
        reported, _ = rc.edit_role("helper", add=[p for p in then if p not in first], remove=gone)
        assert reported == impact
        assert observed(before, snapshot(rc)) == predicted(impact), impact.summary()
