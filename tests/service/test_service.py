"""The `Rolecall` service on SQLite and PostgreSQL: decisions, writes, audit and change feed.

Every test that takes ``rc`` (or ``database_url``) runs twice: on an SQLite file and on a
brand-new PostgreSQL database. The permissions and roles come from ``CoursePlugin`` in
``conftest.py``.
"""

from __future__ import annotations

import gc
import itertools
import logging
import time as real_time
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, func, inspect, select, text, update
from sqlalchemy.pool import NullPool

from rolecall.core import (
    AssignmentEvent,
    BadInputError,
    Plugins,
    Role,
    Rolecall,
    hookimpl,
)
from rolecall.core.storage.database import BULK_CACHE_KIB, GENESIS_HASH, VERSION_TABLE, bulk_cache
from rolecall.core.storage.models import Assignment, AuditEvent, Base, State, User
from rolecall.core.writes import GrantRow

from support import move_engine_clock

ORG = "org:MITx"
ORG2 = "org:HarvardX"
C1 = "course-v1:MITx+c1+2026"
C2 = "course-v1:MITx+c2+2026"
H1 = "course-v1:HarvardX+h1+2026"
L1 = "lib:MITx:physics"
L2 = "lib:HarvardX:chemistry"
ALL_SCOPES = ("platform", ORG, ORG2, C1, C2, H1, L1, L2)
PERMISSIONS = ("t.view", "t.edit", "t.publish", "t.grade", "lib.view", "lib.edit")
HOUR = timedelta(hours=1)


# --- helpers -------------------------------------------------------------------------------


class Clock:
    """Stands in for the ``time`` module inside the index: ``time()`` runs ``offset`` seconds
    ahead of the real clock; everything else is the real module's."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return real_time.time() + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta.total_seconds()

    def __getattr__(self, name: str) -> Any:
        return getattr(real_time, name)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Move the clock the index decides expiry with (and only that clock)."""
    fake = Clock()
    move_engine_clock(monkeypatch, fake)
    return fake


def snapshot(rc: Rolecall) -> dict[str, list[str]]:
    """Every row of every table (and the Alembic version), to prove nothing was written."""
    with rc.engine.connect() as connection:
        found = {
            table.name: sorted(repr(tuple(row)) for row in connection.execute(select(table)))
            for table in Base.metadata.sorted_tables
        }
        found[VERSION_TABLE] = [
            repr(tuple(row))
            for row in connection.execute(text(f"SELECT * FROM {VERSION_TABLE}"))  # noqa: S608
        ]
    return found


def count(rc: Rolecall, model: type[Base]) -> int:
    with rc.engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(model)) or 0)


def audit_rows(rc: Rolecall) -> list[Any]:
    with rc.engine.connect() as connection:
        return list(connection.execute(select(AuditEvent).order_by(AuditEvent.id)))


def later(delta: timedelta = HOUR) -> datetime:
    return datetime.now(UTC) + delta


@pytest.fixture
def people(rc: Rolecall) -> Rolecall:
    rc.add_users(["ada", "bob", "cat", "dan"])
    return rc


@pytest.fixture
def pair(database_url: str, plugins: Plugins) -> Iterator[tuple[Rolecall, Rolecall]]:
    """Two services on one database that never catch up on their own (staleness one hour):
    only their own writes, ``sync()`` or an ``at_least`` token move them forward."""
    a = Rolecall.open(database_url, plugins=plugins, background_sync=False, staleness=3600)
    b = Rolecall.open(database_url, plugins=plugins, background_sync=False, staleness=3600)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


# --- opening -------------------------------------------------------------------------------


def test_open_creates_the_schema_at_revision_zero(rc: Rolecall) -> None:
    tables = set(inspect(rc.engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    with rc.engine.connect() as connection:
        state = connection.execute(select(State.id, State.revision, State.last_hash)).all()
    assert [tuple(row) for row in state] == [(1, 0, GENESIS_HASH)]
    assert rc.revision == 0
    assert count(rc, AuditEvent) == 0


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_sqlite_database_in_memory_is_refused_saying_why(url: str) -> None:
    with pytest.raises(BadInputError, match="in memory, which rolecall cannot use"):
        Rolecall.open(url)


def test_open_without_url_uses_the_environment_variable(
    database_url: str, plugins: Plugins, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROLECALL_DATABASE_URL", database_url)
    with Rolecall.open(plugins=plugins, background_sync=False) as rc:
        rc.add_users(["ada"])
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            assert connection.scalars(select(User.username)).all() == ["ada"]
    finally:
        engine.dispose()


def test_open_without_url_or_variable_uses_rolecall_db_in_the_working_directory(
    tmp_path: Path, plugins: Plugins, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROLECALL_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    with Rolecall.open(plugins=plugins, background_sync=False) as rc:
        rc.add_users(["ada"])
        assert rc.engine.dialect.name == "sqlite"
    assert (tmp_path / "rolecall.db").is_file()
    with Rolecall.open(
        f"sqlite:///{tmp_path / 'rolecall.db'}", plugins=plugins, background_sync=False
    ) as again:
        assert [u[0] for u in again.users()] == ["ada"]


# --- users -------------------------------------------------------------------------------


def test_add_users_is_idempotent(rc: Rolecall) -> None:
    first = rc.add_users(["ada", ("bob", "bob@example.org", "Bob")])
    assert first == 1
    second = rc.add_users([("ada", "ada@example.org", "Ada"), "bob"])
    assert second == first == rc.revision
    assert rc.users() == [("ada", None, None, True), ("bob", "bob@example.org", "Bob", True)]
    assert count(rc, User) == 2
    assert count(rc, AuditEvent) == 2


@pytest.mark.parametrize(
    ("what", "row"),
    [
        ("e-mail", ("ada", "a" * 243 + "@example.org", None)),
        ("display name", ("ada", None, "A" * 256)),
    ],
)
def test_a_text_longer_than_its_column_is_refused_on_every_backend(
    rc: Rolecall, what: str, row: tuple[str, str | None, str | None]
) -> None:
    with pytest.raises(BadInputError, match=f"the {what} is longer than 25[45] characters"):
        rc.add_users([row])
    assert count(rc, User) == 0
    with pytest.raises(BadInputError, match="the title is longer than 255 characters"):
        rc.add_scopes([("course-v1:MITx+6.002x+2026_T1", "T" * 256)])
    # At the limit, stored whole.
    rc.add_users([("ada", "a" * 242 + "@example.org", "A" * 255)])
    assert rc.users()[0][1:3] == ("a" * 242 + "@example.org", "A" * 255)


# --- assignments and decisions ---------------------------------------------------------------


def test_course_grant_allows_on_that_course_only(people: Rolecall) -> None:
    people.assign("ada", "editor", C1)
    assert people.check("ada", "t.edit", C1)
    assert not people.check("ada", "t.edit", C2)
    assert not people.check("bob", "t.edit", C1)


def test_org_grant_covers_its_courses_and_not_another_orgs(people: Rolecall) -> None:
    people.assign("ada", "editor", ORG)
    assert people.check("ada", "t.edit", C1)
    assert people.check("ada", "t.edit", C2)
    assert not people.check("ada", "t.edit", H1)


def test_platform_grant_covers_every_course(people: Rolecall) -> None:
    people.assign("ada", "viewer", "platform")
    assert all(people.check("ada", "t.view", c) for c in (C1, C2, H1))


def test_implied_permissions_are_allowed(people: Rolecall) -> None:
    people.assign("ada", "publisher", C1)
    assert people.check("ada", "t.publish", C1)
    assert people.check("ada", "t.edit", C1)
    assert people.check("ada", "t.view", C1)
    assert not people.check("ada", "t.grade", C1)


def test_included_role_grants_the_permissions_of_the_roles_it_includes(people: Rolecall) -> None:
    people.assign("ada", "staff", C1)
    assert [people.check("ada", p, C1) for p in ("t.view", "t.edit", "t.grade")] == [True] * 3
    assert not people.check("ada", "t.publish", C1)


def test_grants_all_role_holds_every_permission(people: Rolecall) -> None:
    people.assign("ada", "admin", "platform")
    assert all(people.check("ada", p, C1) for p in ("t.view", "t.edit", "t.publish", "t.grade"))
    assert people.check("ada", "lib.edit", L2)


def test_permission_that_does_not_apply_to_the_scope_type_is_denied(people: Rolecall) -> None:
    people.assign("ada", "admin", "platform")
    assert people.check("ada", "lib.view", L1)
    assert not people.check("ada", "t.view", L1)  # a course permission on a library
    assert not people.check("ada", "t.view", ORG)  # nor on the org itself
    decision = people.explain("ada", "t.view", L1)
    assert not decision.allowed
    assert not decision.applies
    assert "does not apply to library" in decision.summary


def test_expiry_is_honoured_at_check_time(people: Rolecall, clock: Clock) -> None:
    people.assign("ada", "editor", C1, expires_at=later())
    people.assign("bob", "editor", C1)
    assert people.check("ada", "t.edit", C1)
    clock.advance(2 * HOUR)
    assert not people.check("ada", "t.edit", C1)
    assert not people.explain("ada", "t.edit", C1).allowed
    assert people.who_can("t.edit", C1) == ["bob"]
    assert people.scopes_where("ada", "t.edit") == []
    assert people.check("bob", "t.edit", C1)  # a permanent grant does not expire


def test_later_expiry_renews_the_grant(people: Rolecall, clock: Clock) -> None:
    people.assign("ada", "editor", C1, expires_at=later())
    before = people.revision
    token = people.assign("ada", "editor", C1, expires_at=later(3 * HOUR))
    assert token == before + 1
    assert count(people, Assignment) == 1
    clock.advance(2 * HOUR)
    assert people.check("ada", "t.edit", C1)


@pytest.mark.parametrize(
    "expires_at",
    [
        pytest.param(datetime.now(UTC) - timedelta(seconds=1), id="past"),
        pytest.param(datetime.now() + HOUR, id="naive"),  # naive on purpose
    ],
)
def test_bad_expiry_is_refused_and_nothing_written(people: Rolecall, expires_at: datetime) -> None:
    before = snapshot(people)
    with pytest.raises(BadInputError, match="expiry"):
        people.assign("ada", "editor", C1, expires_at=expires_at)
    assert snapshot(people) == before
    assert not people.check("ada", "t.edit", C1)


def test_expiry_in_another_time_zone_survives_reopening(
    database_url: str, plugins: Plugins
) -> None:
    # SQLite keeps a datetime's wall clock and drops its zone: the expiry must be stored as UTC.
    new_york = timezone(timedelta(hours=-5))
    expires = datetime.now(new_york) + HOUR
    with Rolecall.open(database_url, plugins=plugins, background_sync=False) as rc:
        rc.add_users(["ada"])
        rc.assign("ada", "editor", C1, expires_at=expires)
        assert rc.check("ada", "t.edit", C1)
    with Rolecall.open(database_url, plugins=plugins, background_sync=False) as reopened:
        (grant,) = reopened.grants("ada")
        assert grant.expires_at == expires
        assert reopened.check("ada", "t.edit", C1)


def test_revoke_removes_the_access(people: Rolecall) -> None:
    people.assign("ada", "editor", ORG)
    people.assign("ada", "viewer", C1)
    token = people.revoke("ada", "editor", ORG)
    assert token == people.revision
    assert not people.check("ada", "t.edit", C1)
    assert people.check("ada", "t.view", C1)  # the other grant stays
    assert count(people, Assignment) == 1
    assert audit_rows(people)[-1].action == "revoke"


def test_revoke_many_removes_what_is_held_and_skips_the_rest(people: Rolecall) -> None:
    people.assign_many([("ada", "editor", ORG), ("bob", "viewer", C1), ("cat", "viewer", C1)])
    before = len(audit_rows(people))
    people.revoke_many(
        [
            ("ada", "editor", ORG),
            ("bob", "viewer", C1),
            ("bob", "editor", C1),  # not held
            ("nobody", "viewer", C1),  # not a known user: nothing to remove either
        ],
        actor="ada",
    )
    assert not people.check("ada", "t.edit", C1)
    assert not people.check("bob", "t.view", C1)
    assert people.check("cat", "t.view", C1)
    assert count(people, Assignment) == 1
    removed = people.audit()[before:]  # the service's reading: usernames, not pseudonyms
    assert sorted((r.action, r.user) for r in removed) == [("revoke", "ada"), ("revoke", "bob")]


def test_assigning_a_held_role_is_a_no_op(people: Rolecall) -> None:
    people.assign("ada", "editor", C1, expires_at=later())
    people.assign("bob", "editor", C1)
    before = snapshot(people)
    revision = people.revision
    assert people.assign("bob", "editor", C1) == revision
    assert people.assign_many([("bob", "editor", C1), ("bob", "editor", C1)]) == revision
    (grant,) = people.grants("ada")
    assert grant.expires_at is not None
    assert people.assign("ada", "editor", C1, expires_at=grant.expires_at) == revision
    assert people.revision == revision
    assert snapshot(people) == before


# --- restrictions -----------------------------------------------------------------------------


def test_restriction_denies_at_its_scope_and_below(people: Rolecall) -> None:
    people.assign("ada", "editor", "platform")
    people.restrict(ORG, ["t.edit"], reason="locked")
    assert not people.check("ada", "t.edit", C1)
    assert not people.check("ada", "t.edit", C2)
    assert people.check("ada", "t.edit", H1)  # another org
    assert people.check("ada", "t.view", C1)  # not listed


def test_restriction_on_a_course_does_not_cover_its_org_siblings(people: Rolecall) -> None:
    people.assign("ada", "editor", ORG)
    people.restrict(C1, ["*"])
    assert not people.check("ada", "t.view", C1)
    assert people.check("ada", "t.view", C2)


def test_exempt_role_passes_a_restriction(people: Rolecall) -> None:
    people.assign("ada", "publisher", ORG)
    people.assign("bob", "editor", C1)
    people.restrict(C1, ["*"], exempt_roles=["publisher"])
    assert people.check("ada", "t.edit", C1)
    assert not people.check("bob", "t.edit", C1)
    assert people.who_can("t.edit", C1) == ["ada"]


def test_exempt_role_held_on_a_descendant_counts_for_that_descendant(people: Rolecall) -> None:
    people.assign("ada", "editor", ORG)
    people.assign("ada", "grader", C1)
    people.restrict(ORG, ["t.edit"], exempt_roles=["grader"])
    assert people.check("ada", "t.edit", C1)
    assert not people.check("ada", "t.edit", C2)


def test_expired_exempt_role_no_longer_exempts(people: Rolecall, clock: Clock) -> None:
    people.assign("ada", "editor", C1)
    people.assign("ada", "grader", C1, expires_at=later())
    people.restrict(C1, ["t.edit"], exempt_roles=["grader"])
    assert people.check("ada", "t.edit", C1)
    clock.advance(2 * HOUR)
    assert not people.check("ada", "t.edit", C1)


def test_deny_beats_allow(people: Rolecall) -> None:
    people.assign("ada", "admin", "platform")
    people.assign("ada", "editor", C1)
    people.restrict(C1, ["t.edit"])
    assert not people.check("ada", "t.edit", C1)
    assert people.who_can("t.edit", C1) == []


def test_denying_edit_also_denies_publish_which_implies_it(people: Rolecall) -> None:
    people.assign("ada", "publisher", C1)
    people.restrict(C1, ["t.edit"])
    assert not people.check("ada", "t.publish", C1)
    assert not people.check("ada", "t.edit", C1)
    assert people.check("ada", "t.view", C1)


def test_unrestrict_restores_access(people: Rolecall) -> None:
    people.assign("ada", "editor", C1)
    people.restrict(ORG, ["*"])
    assert not people.check("ada", "t.edit", C1)
    people.unrestrict(ORG)
    assert people.check("ada", "t.edit", C1)


def test_a_new_restriction_replaces_the_old_one(people: Rolecall) -> None:
    people.assign("ada", "publisher", C1)
    people.restrict(C1, ["t.view"])
    people.restrict(C1, ["t.grade"])
    assert people.check("ada", "t.view", C1)


# --- bad input -------------------------------------------------------------------------------


BAD: dict[str, Callable[[Rolecall], object]] = {
    "assign unknown user": lambda rc: rc.assign("zed", "editor", C1),
    "assign invalid username": lambda rc: rc.assign("a b", "editor", C1),
    "assign unknown role": lambda rc: rc.assign("ada", "no_such_role", C1),
    "assign malformed key": lambda rc: rc.assign("ada", "editor", "course-v1:MITx"),
    "assign unknown key type": lambda rc: rc.assign("ada", "editor", "nope:x"),
    "assign role at a scope type it does not apply to": lambda rc: rc.assign("ada", "admin", C1),
    "assign course role on a library": lambda rc: rc.assign("ada", "editor", L1),
    "check unknown permission": lambda rc: rc.check("ada", "t.nope", C1),
    "check malformed key": lambda rc: rc.check("ada", "t.view", "course-v1:MITx+c1"),
    "explain unknown permission": lambda rc: rc.explain("ada", "t.nope", C1),
    "who_can unknown permission": lambda rc: rc.who_can("t.nope", C1),
    "scopes_where unknown scope type": lambda rc: rc.scopes_where("ada", "t.view", "galaxy"),
    "revoke what is not held": lambda rc: rc.revoke("bob", "editor", C1),
    "revoke from unknown user": lambda rc: rc.revoke("zed", "editor", C1),
    "revoke at malformed key": lambda rc: rc.revoke("ada", "editor", "org:"),
    "assign_many one unknown role": lambda rc: rc.assign_many(
        [("bob", "viewer", C1), ("cat", "editor", C2), ("dan", "nope", C2)]
    ),
    "assign_many one unknown user": lambda rc: rc.assign_many(
        [("bob", "viewer", C1), ("zed", "viewer", C1), ("cat", "viewer", C1)]
    ),
    "assign_many one malformed key": lambda rc: rc.assign_many(
        [("bob", "viewer", C1), ("cat", "viewer", "course-v1:bad")]
    ),
    "assign_many one wrong scope type": lambda rc: rc.assign_many(
        [("bob", "viewer", C1), ("cat", "admin", ORG)]
    ),
    "assign_many one invalid username": lambda rc: rc.assign_many(
        [("bob", "viewer", C1), ("a b", "viewer", C1)]
    ),
    "assign_many one row of two": lambda rc: rc.assign_many([("bob", "viewer", C1), ("cat", C1)]),
    "assign_many one row not a sequence": lambda rc: rc.assign_many([("bob", "viewer", C1), 7]),
    "restrict unknown permission": lambda rc: rc.restrict(C1, ["t.nope"]),
    "restrict unknown exempt role": lambda rc: rc.restrict(C1, ["*"], exempt_roles=["nope"]),
    "restrict nothing": lambda rc: rc.restrict(C1, []),
    "unrestrict without restriction": lambda rc: rc.unrestrict(C2),
}


@pytest.mark.parametrize("call", BAD.values(), ids=BAD.keys())
def test_bad_input_raises_and_writes_nothing(
    people: Rolecall, call: Callable[[Rolecall], object]
) -> None:
    people.assign("ada", "editor", C1)
    people.restrict(C1, ["t.publish"])
    before = snapshot(people)
    revision = people.revision
    with pytest.raises(BadInputError):
        call(people)
    assert snapshot(people) == before
    assert people.revision == revision
    assert people.check("ada", "t.edit", C1)
    assert not people.check("bob", "t.view", C1)
    assert not people.check("cat", "t.view", C1)


# --- bulk -------------------------------------------------------------------------------------


def test_assign_many_loads_20000_rows_in_one_transaction(rc: Rolecall) -> None:
    users = [f"user{i:04d}" for i in range(2_000)]
    courses = [f"course-v1:Bulk+c{i}+2026" for i in range(10)]
    rc.add_users(users)
    before = rc.revision
    token = rc.assign_many(
        [(u, "viewer", c) for u in users for c in courses], actor="loader", reason="import"
    )
    assert token == before + 1 == rc.revision
    assert count(rc, Assignment) == 20_000
    with rc.engine.connect() as connection:
        events = connection.execute(
            select(AuditEvent.revision, AuditEvent.batch_id, AuditEvent.action).where(
                AuditEvent.revision > before
            )
        ).all()
    assert len(events) == 20_000
    assert {(e.revision, e.action) for e in events} == {(token, "assign")}
    batches = {e.batch_id for e in events}
    assert len(batches) == 1
    assert None not in batches
    assert rc.check("user1999", "t.view", courses[9])
    assert not rc.check("user1999", "t.edit", courses[9])
    assert len(rc.who_can("t.view", courses[3])) == 2_000


class AliasPlugin:
    """A role also known by an older name, as the legacy roles are."""

    @hookimpl
    def register_roles(self) -> list[Role]:
        return [
            Role(
                id="coach",
                title="Coach",
                description="Coaches a course.",
                scope_types=("course",),
                permissions=("t.view",),
                aliases=("old_coach",),
            )
        ]


def test_assign_many_takes_rows_of_any_shape_and_names_them_as_stored(
    database_url: str, plugins_with: Callable[..., Plugins]
) -> None:
    with Rolecall.open(
        database_url, plugins=plugins_with(aliases=AliasPlugin()), background_sync=False
    ) as rc:
        rc.add_users(["ada", "bob", "cat", "dan"])
        before = count(rc, AuditEvent)
        # By the older name and by id: one grant, stored under the id.
        rc.assign_many([("ada", "old_coach", C1), ("ada", "coach", C1), ("bob", "old_coach", C1)])
        rc.assign_many([["cat", "viewer", C1]])  # lists, not tuples
        rc.assign_many(row for row in [("dan", "viewer", C2)])  # a generator
        assert count(rc, Assignment) == 4
        assert count(rc, AuditEvent) == before + 4
        with rc.engine.connect() as connection:
            roles = set(connection.scalars(select(Assignment.role)))
        assert roles == {"coach", "viewer"}
        assert rc.check("ada", "t.view", C1)
        assert rc.check("bob", "t.view", C1)
        assert rc.check("cat", "t.view", C1)
        assert rc.check("dan", "t.view", C2)
        assert not rc.check("dan", "t.view", C1)


# --- audit ------------------------------------------------------------------------------------


def test_one_audit_event_per_changed_assignment_each_chained_to_the_previous(
    people: Rolecall,
) -> None:
    start = count(people, AuditEvent)
    token = people.assign_many(
        [("ada", "editor", C1), ("bob", "viewer", ORG), ("ada", "editor", C1)], actor="boss"
    )
    people.assign("bob", "viewer", ORG)  # no change, no event
    people.revoke("ada", "editor", C1, actor="boss", reason="left")
    rows = audit_rows(people)
    # Read through the service, which shows the users the chain names by pseudonym.
    read = people.audit()
    changes = [(r.action, r.user, r.role, r.scope, r.actor, r.revision) for r in read[start:]]
    assert sorted(changes[:2]) == [
        ("assign", "ada", "editor", C1, "boss", token),
        ("assign", "bob", "viewer", ORG, "boss", token),
    ]
    assert changes[2:] == [("revoke", "ada", "editor", C1, "boss", token + 1)]
    assert rows[0].prev_hash == GENESIS_HASH
    for previous, current in itertools.pairwise(rows):
        assert current.prev_hash == previous.hash
    assert len({r.hash for r in rows}) == len(rows)
    with people.engine.connect() as connection:
        assert connection.scalar(select(State.last_hash)) == rows[-1].hash
    assert [r.action for r in people.audit(user="ada")][-1] == "revoke"


def test_verify_audit_accepts_an_intact_chain(people: Rolecall) -> None:
    people.assign("ada", "editor", C1)
    people.restrict(C1, ["t.edit"])
    people.revoke("ada", "editor", C1)
    result = people.verify_audit()
    assert result.ok, result.message
    assert result.events == count(people, AuditEvent)
    assert result.first_bad is None


def _tamper_role(rc: Rolecall, ids: list[int]) -> int:
    with rc.engine.begin() as connection:
        connection.execute(update(AuditEvent).where(AuditEvent.id == ids[3]).values(role="admin"))
    return ids[3]


def _delete_middle(rc: Rolecall, ids: list[int]) -> int:
    with rc.engine.begin() as connection:
        connection.execute(delete(AuditEvent).where(AuditEvent.id == ids[3]))
    return ids[4]  # the first event whose link no longer holds


@pytest.mark.parametrize(
    "tamper", [_tamper_role, _delete_middle], ids=["update role", "delete middle"]
)
def test_tampering_is_detected_naming_the_first_bad_event(
    people: Rolecall, tamper: Callable[[Rolecall, list[int]], int]
) -> None:
    people.assign_many([("ada", "editor", C1), ("bob", "viewer", C1)])
    people.assign("cat", "editor", C2)
    people.revoke("ada", "editor", C1)
    ids = [r.id for r in audit_rows(people)]
    assert len(ids) == 8
    bad = tamper(people, ids)
    result = people.verify_audit()
    assert not result.ok
    assert result.first_bad == bad
    assert f"event {bad}" in result.message


def test_deleting_the_newest_audit_event_is_detected(people: Rolecall) -> None:
    people.assign("ada", "editor", C1)
    people.revoke("ada", "editor", C1)
    last = audit_rows(people)[-1].id
    with people.engine.begin() as connection:
        connection.execute(delete(AuditEvent).where(AuditEvent.id == last))
    result = people.verify_audit()
    assert not result.ok
    assert "newest events were removed" in result.message


def test_verify_audit_closes_its_cursor_when_it_stops_early(
    postgres_url: str, plugins: Plugins
) -> None:
    # PostgreSQL reads the chain through a server-side cursor (yield_per): stopping at the
    # first bad event must still close it.
    with Rolecall.open(postgres_url, plugins=plugins, background_sync=False) as rc:
        rc.add_users(["ada", "bob", "cat"])
        first = audit_rows(rc)[0].id
        with rc.engine.begin() as connection:
            connection.execute(
                update(AuditEvent).where(AuditEvent.id == first).values(user="mallory")
            )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = rc.verify_audit()
            gc.collect()
    assert result.first_bad == first
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


# --- explain ----------------------------------------------------------------------------------


def test_explain_allowed_names_the_assignment_and_the_implication_path(people: Rolecall) -> None:
    before = datetime.now(UTC)
    people.assign("ada", "publisher", ORG, actor="boss")
    decision = people.explain("ada", "t.view", C1)
    assert decision.allowed
    assert decision.applies
    (contribution,) = decision.contributions
    grant = contribution.grant
    assert (grant.user, grant.role, grant.scope, grant.granted_by) == (
        "ada",
        "publisher",
        ORG,
        "boss",
    )
    assert before <= grant.granted_at <= datetime.now(UTC)
    assert contribution.path == ("t.publish", "t.edit", "t.view")
    assert "t.publish -> t.edit -> t.view" in decision.summary
    assert decision.denied_by is None


def test_explain_denied_names_the_restriction(people: Rolecall) -> None:
    people.assign("ada", "editor", C1)
    people.restrict(ORG, ["t.edit"], exempt_roles=["publisher"], reason="term is over")
    decision = people.explain("ada", "t.edit", C1)
    assert not decision.allowed
    assert decision.denied_by is not None
    assert decision.denied_by.scope == ORG
    assert decision.denied_by.permissions == ("t.edit",)
    assert decision.denied_by.exempt_roles == ("publisher",)
    assert decision.denied_by.reason == "term is over"
    assert "restriction on org:MITx" in decision.summary


def test_explain_names_a_role_held_on_a_sibling_course(people: Rolecall) -> None:
    people.assign("ada", "editor", C2)
    decision = people.explain("ada", "t.edit", C1)
    assert not decision.allowed
    assert any("editor" in m and C2 in m for m in decision.closest_misses), decision
    assert not any(H1 in m for m in decision.closest_misses)


def test_explain_names_a_role_held_here_that_lacks_the_permission(people: Rolecall) -> None:
    people.assign("ada", "grader", C1)
    decision = people.explain("ada", "t.edit", C1)
    assert not decision.allowed
    assert f"grader on {C1} is held but does not include t.edit" in decision.closest_misses


def test_explain_names_an_expired_grant(people: Rolecall, clock: Clock) -> None:
    people.assign("ada", "editor", ORG, expires_at=later())
    clock.advance(2 * HOUR)
    decision = people.explain("ada", "t.view", C1)
    assert not decision.allowed
    assert decision.contributions == ()
    assert any(
        m.startswith(f"editor on {ORG} would grant it, but expired at")
        for m in decision.closest_misses
    ), decision


def test_explain_agrees_with_check_everywhere(people: Rolecall, clock: Clock) -> None:
    people.add_scopes([C1, C2, H1, L1, L2])
    people.assign("ada", "publisher", ORG)
    people.assign("ada", "grader", C2, expires_at=later())
    people.assign("bob", "admin", "platform")
    people.assign("bob", "librarian", L1)
    people.assign("cat", "staff", H1)
    people.assign("cat", "viewer", ORG2, expires_at=later(3 * HOUR))
    people.restrict(C2, ["t.edit"], exempt_roles=["grader"])
    people.restrict(ORG2, ["*"], exempt_roles=["viewer"])
    clock.advance(2 * HOUR)
    answers = []
    for user in ("ada", "bob", "cat", "dan"):
        for permission in PERMISSIONS:
            for scope in ALL_SCOPES:
                allowed = people.check(user, permission, scope)
                assert people.explain(user, permission, scope).allowed == allowed
                answers.append(allowed)
    assert any(answers)
    assert not all(answers)


# --- reverse queries --------------------------------------------------------------------------


def test_who_separates_members_from_inherited_access(people: Rolecall) -> None:
    people.assign("ada", "editor", C1)
    people.assign("bob", "viewer", ORG)
    people.assign("cat", "admin", "platform")
    people.assign("dan", "editor", C2)
    team = people.who(C1)
    assert team.scope == C1
    assert [(m.user, [g.role for g in m.grants]) for m in team.members] == [("ada", ["editor"])]
    inherited = {(m.user, g.role, g.scope) for m in team.inherited for g in m.grants}
    assert inherited == {("bob", "viewer", ORG), ("cat", "admin", "platform")}


def test_access_lists_local_and_inherited_roles_with_where_they_come_from(
    people: Rolecall,
) -> None:
    people.add_scopes([C1, C2, H1])
    people.assign("ada", "publisher", ORG)
    people.assign("ada", "grader", C1)
    entries = {(e.scope, e.role, e.via, e.local) for e in people.access("ada")}
    assert entries == {
        (ORG, "publisher", ORG, True),
        (C1, "publisher", ORG, False),
        (C2, "publisher", ORG, False),
        (C1, "grader", C1, True),
    }
    assert all(e.grant.user == "ada" for e in people.access("ada"))
    assert people.access("dan") == []


def test_access_does_not_list_a_role_where_none_of_its_permissions_apply(
    people: Rolecall,
) -> None:
    people.add_scopes([C1, L1])
    people.assign("ada", "publisher", ORG)
    people.assign("ada", "admin", "platform")
    entries = {(e.scope, e.role) for e in people.access("ada")}
    assert (L1, "publisher") not in entries  # a course role means nothing on a library
    assert (C1, "publisher") in entries
    assert (L1, "admin") in entries


def test_who_can_lists_everyone_allowed(people: Rolecall) -> None:
    people.assign("ada", "publisher", ORG)
    people.assign("bob", "viewer", C1)
    people.assign("cat", "editor", C2)
    people.assign("dan", "editor", C1)
    assert people.who_can("t.view", C1) == ["ada", "bob", "dan"]
    assert people.who_can("t.edit", C1) == ["ada", "dan"]
    assert people.who_can("t.publish", C1) == ["ada"]
    assert people.who_can("t.view", L1) == []  # does not apply to libraries
    people.restrict(C1, ["t.edit"], exempt_roles=["publisher"])
    assert people.who_can("t.edit", C1) == ["ada"]


def test_scopes_where_with_and_without_a_scope_type(people: Rolecall) -> None:
    people.add_scopes([C1, C2, H1, L1, L2])
    people.assign("ada", "editor", ORG)
    people.assign("ada", "viewer", H1)
    people.assign("ada", "librarian", L1)
    assert people.scopes_where("ada", "t.view") == sorted([C1, C2, H1])
    assert people.scopes_where("ada", "t.edit") == sorted([C1, C2])
    assert people.scopes_where("ada", "t.view", "course") == sorted([C1, C2, H1])
    assert people.scopes_where("ada", "t.view", "library") == []
    assert people.scopes_where("ada", "lib.view") == [L1]
    assert people.scopes_where("ada", "lib.view", "library") == [L1]
    assert people.scopes_where("bob", "t.view") == []
    people.restrict(C2, ["*"])
    assert people.scopes_where("ada", "t.edit", "course") == [C1]


def test_scopes_where_answers_follow_writes_after_being_cached(people: Rolecall) -> None:
    people.add_scopes([C1, C2, L1])
    people.assign("ada", "viewer", "platform")
    people.assign("ada", "editor", ORG)  # under the platform grant: adds no scope
    people.assign("ada", "viewer", H1)
    assert people.scopes_where("ada", "t.view") == sorted([C1, C2, H1])
    people.add_scopes([H1.replace("h1", "h2")])  # a new scope lands in the cached lists
    assert people.scopes_where("ada", "t.view") == sorted([C1, C2, H1, H1.replace("h1", "h2")])
    assert people.scopes_where("ada", "t.edit") == sorted([C1, C2])
    people.restrict(ORG, ["t.edit"], exempt_roles=["publisher"])
    assert people.scopes_where("ada", "t.edit") == []
    people.assign("ada", "publisher", C2)
    assert people.scopes_where("ada", "t.edit") == [C2]
    people.unrestrict(ORG)
    assert people.scopes_where("ada", "t.edit") == sorted([C1, C2])
    people.revoke("ada", "viewer", "platform")
    assert people.scopes_where("ada", "t.view") == sorted([C1, C2, H1])
    people.revoke("ada", "editor", ORG)
    assert people.scopes_where("ada", "t.view") == sorted([C2, H1])


def test_cached_checks_follow_restrictions_and_scope_types(people: Rolecall) -> None:
    people.assign("ada", "editor", ORG)
    people.assign("bob", "publisher", C1)
    for _ in range(2):  # the second round answers from the check path's cache
        assert people.check("ada", "t.edit", C1)
        assert not people.check("ada", "t.edit", L1)  # does not apply to libraries
        assert not people.check("ada", "t.edit", ORG)  # nor to orgs
    people.restrict(C1, ["t.edit"], exempt_roles=["publisher"])
    for _ in range(2):
        assert not people.check("ada", "t.edit", C1)
        assert people.check("bob", "t.edit", C1)  # exempt
        assert people.check("ada", "t.view", C1)  # not denied by the restriction
        assert people.check("ada", "t.edit", C2)
    people.unrestrict(C1)
    assert people.check("ada", "t.edit", C1)
    assert not people.check("nobody", "t.edit", C1)  # never seen: denied, not an error
    with pytest.raises(BadInputError):
        people.check("ada", "t.nothing", C1)


# --- the change feed --------------------------------------------------------------------------


def test_a_write_elsewhere_is_invisible_until_sync(pair: tuple[Rolecall, Rolecall]) -> None:
    a, b = pair
    a.add_users(["ada"])
    b.sync()
    a.assign("ada", "editor", C1)
    assert not b.check("ada", "t.edit", C1)
    assert b.revision < a.revision
    assert b.sync() == a.revision
    assert b.check("ada", "t.edit", C1)


def test_a_token_makes_the_read_at_least_that_fresh(pair: tuple[Rolecall, Rolecall]) -> None:
    a, b = pair
    a.add_users(["ada"])
    b.sync()
    token = a.assign("ada", "editor", C1)
    assert not b.check("ada", "t.edit", C1)
    assert b.check("ada", "t.edit", C1, at_least=token)
    token = a.revoke("ada", "editor", C1)
    assert b.who_can("t.edit", C1) == ["ada"]
    assert b.who_can("t.edit", C1, at_least=token) == []


def test_catching_up_applies_the_events_without_a_reload(
    pair: tuple[Rolecall, Rolecall], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = pair
    index = b.index

    def no_reload() -> None:
        raise AssertionError("the index was reloaded from the tables")

    monkeypatch.setattr(b, "_load", no_reload)
    a.add_users(["ada", "bob"])
    a.add_scopes([C1, C2])
    a.assign("ada", "publisher", ORG)
    a.assign("bob", "editor", C1, expires_at=later())
    a.assign("bob", "viewer", C2)
    a.revoke("bob", "viewer", C2)
    token = a.restrict(C2, ["t.edit"], exempt_roles=["grader"], reason="locked")
    assert b.check("ada", "t.publish", C1, at_least=token)
    assert b.index is index
    assert b.revision == a.revision
    for user in ("ada", "bob"):
        for permission in ("t.view", "t.edit", "t.publish"):
            for scope in (C1, C2, H1):
                assert b.check(user, permission, scope) == a.check(user, permission, scope)
        assert b.access(user) == a.access(user)
        assert b.grants(user) == a.grants(user)
    assert b.users() == a.users()
    assert b.scopes_where("ada", "t.edit") == a.scopes_where("ada", "t.edit") == [C1]
    token = a.unrestrict(C2)
    assert b.scopes_where("ada", "t.edit", at_least=token) == [C1, C2]
    assert b.index is index


def test_a_token_newer_than_the_database_is_refused(pair: tuple[Rolecall, Rolecall]) -> None:
    a, b = pair
    a.add_users(["ada"])
    with pytest.raises(BadInputError, match="newer than the database"):
        b.check("ada", "t.view", C1, at_least=a.revision + 1)


def test_assign_with_a_lagging_index_still_grants(pair: tuple[Rolecall, Rolecall]) -> None:
    # Whether the role is already held is decided from the rows, not from b's lagging index.
    a, b = pair
    a.add_users(["ada"])
    a.assign("ada", "editor", C1)
    b.sync()
    a.revoke("ada", "editor", C1)  # b has not caught up: it still sees the grant
    token = b.assign("ada", "editor", C1)
    assert a.check("ada", "t.edit", C1, at_least=token)
    assert count(a, Assignment) == 1


def test_renewal_with_a_lagging_index_keeps_index_and_tables_in_agreement(
    pair: tuple[Rolecall, Rolecall], database_url: str, plugins: Plugins
) -> None:
    # b still sees the grant a revoked: renewing it must not log an assignment with no row.
    a, b = pair
    a.add_users(["ada"])
    a.assign("ada", "editor", C1, expires_at=later())
    b.sync()
    a.revoke("ada", "editor", C1)
    token = b.assign("ada", "editor", C1, expires_at=later(2 * HOUR))
    held = a.check("ada", "t.edit", C1, at_least=token)
    with Rolecall.open(database_url, plugins=plugins, background_sync=False) as fresh:
        assert fresh.check("ada", "t.edit", C1) == held
    assert count(a, Assignment) == (1 if held else 0)


class RacingRestrictions(dict[str, Any]):
    """An index's restriction map that lets another thread's write land at a chosen moment:
    just after the check path has looked ``key`` up (and found it absent)."""

    def __init__(self, original: dict[str, Any], key: str) -> None:
        super().__init__(original)
        self.key = key
        self.meanwhile: Callable[[], None] | None = None

    def __contains__(self, key: object) -> bool:
        found = super().__contains__(key)
        if key == self.key and self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()
        return found


def test_a_restriction_applied_while_a_check_runs_is_not_lost(people: Rolecall) -> None:
    # The check path caches, per scope, whether a restriction sits on its chain; a flag
    # computed across a concurrent restriction change must not be kept.
    people.assign("ada", "editor", C1)
    index = people.index
    racing = RacingRestrictions(index._restrictions, "platform")
    index._restrictions = racing
    # The sync thread applies a restriction on C1 while a request thread's check of C1 is
    # between reading the restriction map and caching what it read.
    racing.meanwhile = lambda: index.put_restriction(C1, ["*"], [], "locked")
    people.check("ada", "t.edit", C1)  # may go either way: it started before the change
    assert racing.meanwhile is None  # the change did land during that check
    assert people.explain("ada", "t.edit", C1).denied_by is not None
    assert not people.check("ada", "t.edit", C1)


# --- the assignment_changed hook --------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.events: list[AssignmentEvent] = []
        self.services: list[object] = []

    @hookimpl
    def assignment_changed(self, event: AssignmentEvent, rolecall: object) -> None:
        self.events.append(event)
        self.services.append(rolecall)


class Broken:
    @hookimpl
    def assignment_changed(self, event: AssignmentEvent) -> None:
        raise RuntimeError(f"cannot forward {event.user}")


def test_assignment_changed_is_called_once_per_assignment_change(
    database_url: str, plugins_with: Callable[..., Plugins]
) -> None:
    recorder = Recorder()
    with Rolecall.open(
        database_url, plugins=plugins_with(recorder=recorder), background_sync=False
    ) as rc:
        rc.add_users(["ada", "bob"])
        rc.add_scopes([C1])
        rc.restrict(C2, ["*"])
        assert recorder.events == []
        first = rc.assign_many(
            [("ada", "editor", C1), ("bob", "viewer", ORG)], actor="boss", reason="joined"
        )
        rc.assign("ada", "editor", C1)  # no change: no event
        second = rc.revoke("bob", "viewer", ORG, reason="moved", actor="boss")
        assert all(isinstance(e, AssignmentEvent) for e in recorder.events)
        seen = [(e.action, e.user, e.role, e.scope, e.actor, e.revision) for e in recorder.events]
        assert sorted(seen[:2]) == [
            ("assign", "ada", "editor", C1, "boss", first),
            ("assign", "bob", "viewer", ORG, "boss", first),
        ]
        assert seen[2:] == [("revoke", "bob", "viewer", ORG, "boss", second)]
        assert [e.reason for e in recorder.events] == ["joined", "joined", "moved"]
        assert all(s is rc for s in recorder.services)


def test_a_failing_hook_is_logged_and_neither_undoes_nor_blocks_the_change(
    database_url: str, plugins_with: Callable[..., Plugins], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="rolecall.service")
    recorder = Recorder()
    plugins = plugins_with(broken=Broken(), recorder=recorder)
    with Rolecall.open(database_url, plugins=plugins, background_sync=False) as rc:
        rc.add_users(["ada"])
        token = rc.assign("ada", "editor", C1)
        assert rc.check("ada", "t.edit", C1)
        assert count(rc, Assignment) == 1
        assert [(e.user, e.revision) for e in recorder.events] == [("ada", token)]
    failures = [r for r in caplog.records if r.name == "rolecall.service"]
    assert len(failures) == 1
    assert "broken" in failures[0].getMessage()
    assert failures[0].exc_info is not None
    assert "cannot forward ada" in caplog.text
    with Rolecall.open(database_url, plugins=plugins, background_sync=False) as again:
        assert again.check("ada", "t.edit", C1)


def test_an_assignment_id_is_never_given_twice(rc: Rolecall) -> None:
    rc.add_users(["ada", "bob"])
    rc.assign("ada", "editor", "course-v1:MITx+6.002x+2026_T1")
    first = rc.index.grant("ada", "editor", "course-v1:MITx+6.002x+2026_T1")
    assert first is not None
    rc.revoke("ada", "editor", "course-v1:MITx+6.002x+2026_T1")  # the highest id goes
    rc.assign("bob", "editor", "course-v1:MITx+6.002x+2026_T1")
    second = rc.index.grant("bob", "editor", "course-v1:MITx+6.002x+2026_T1")
    assert second is not None
    assert second.id > first.id
    ids = [e.details["id"] for e in rc.audit() if e.action in ("assign", "revoke")]
    assert ids == [first.id, first.id, second.id]


def test_check_many_answers_each_check_in_order(people: Rolecall) -> None:
    c1, c2 = "course-v1:MITx+6.002x+2026_T1", "course-v1:MITx+18.01x+2026_T1"
    token = people.assign("ada", "editor", c1)
    checks = [
        ("ada", "t.edit", c1),
        ("ada", "t.publish", c1),
        ("ada", "t.view", c2),
        ("bob", "t.view", c1),
        ("ada", "t.view", c1),
    ]
    assert people.check_many(checks, at_least=token) == [True, False, False, False, True]
    assert people.check_many(checks) == [people.check(*c) for c in checks]
    with pytest.raises(BadInputError, match=r"unknown permission 't\.nope'"):
        people.check_many([("ada", "t.view", c1), ("ada", "t.nope", c1)])


def test_a_bulk_write_leaves_the_garbage_collector_as_it_found_it(people: Rolecall) -> None:
    # Writes of many rows pause the cyclic collector while they build the rows and the
    # index; it must come back on afterwards, and stay off if the caller had it off.
    names = [f"bulk{i}" for i in range(1500)]
    assert gc.isenabled()
    people.add_users(names[:1000])
    assert gc.isenabled()
    gc.disable()
    try:
        people.assign_many([(n, "viewer", C1) for n in names[:1000]])
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(BadInputError):  # a failing bulk write switches it back on too
        people.assign_many([(n, "viewer", C1) for n in names])
    assert gc.isenabled()
    assert people.check("bulk999", "t.view", C1)


def test_a_bulk_write_gives_back_the_page_cache(database_url: str) -> None:
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            before = (
                connection.exec_driver_sql("PRAGMA cache_size").scalar()
                if (connection.dialect.name == "sqlite")
                else None
            )
            with bulk_cache(connection):
                if before is not None:
                    inside = connection.exec_driver_sql("PRAGMA cache_size").scalar()
                    assert inside == -BULK_CACHE_KIB
            if before is not None:
                assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == before
    finally:
        engine.dispose()


def test_the_writers_index_after_grants_equals_a_replay_of_their_events(
    database_url: str, plugins: Plugins
) -> None:
    """The writing process updates its own index from the grants it wrote, not from their
    audit events; another process replays the events. Both must end with the same grants:
    new cells, a second role in a cell, timed grants, renewals and imports."""
    later = datetime.now(UTC) + timedelta(days=30)
    users = ["u1", "u2", "u3", "u4"]
    with (
        Rolecall.open(database_url, plugins=plugins, background_sync=False, staleness=0) as other,
        Rolecall.open(
            database_url, plugins=plugins, background_sync=False, staleness=3600
        ) as writer,
    ):
        writes: list[Callable[[], int]] = [
            lambda: writer.add_users(users),
            lambda: writer.assign_many(
                [("u1", "viewer", C1), ("u2", "editor", C1), ("u1", "editor", C1)]
            ),
            lambda: writer.assign_many(
                [("u3", "viewer", C2), ("u1", "grader", C2)], expires_at=later
            ),
            lambda: writer.assign_many(
                [("u1", "viewer", C1)], expires_at=later + timedelta(days=1)
            ),
            lambda: writer.assign_many([("u3", "viewer", C2)]),  # renewed without an expiry
            lambda: writer.import_grants(
                [
                    GrantRow(
                        "u4",
                        "staff",
                        H1,
                        granted_by="legacy",
                        granted_at=datetime(2024, 5, 1, 8, 30, tzinfo=UTC),
                    ),
                    GrantRow("u4", "viewer", C1, expires_at=later, reason="imported"),
                ]
            ),
        ]
        for write in writes:
            # One write at a time, as the writer applied them (a replay of several writes at
            # once may order a cell's grants differently, which no answer depends on).
            assert write() == other.sync()
        for user in users:
            assert writer.grants(user) == other.grants(user), user
        for scope in (C1, C2, H1, ORG):
            assert writer.who(scope) == other.who(scope), scope
        assert writer.check("u1", "t.view", C1)
        assert writer.check("u3", "t.view", C2)
        assert writer.check("u4", "t.grade", H1)
