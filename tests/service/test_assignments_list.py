"""The assignments listing of the read layer (``rolecall.core.reads.list_assignments``): every
column sorts and pages by cursor, rows without a granter or an expiry included; a cursor stays
put when rows are added; what someone may see (``SeenScopes``) bounds a page, a count and an
export alike. On SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rolecall.core import BadInputError, Rolecall
from rolecall.core.reads import (
    ASSIGNMENT_SORTS,
    SeenScopes,
    count_assignments,
    iter_assignments,
    list_assignments,
)

MIT = ("course-v1:MITx+6.002x+2026_T1", "course-v1:MITx+8.01x+2026_T1")
HARVARD = "course-v1:HarvardX+CS50+2026"
SOON = datetime(2031, 1, 1, tzinfo=UTC)


@pytest.fixture
def grants(rc: Rolecall) -> Rolecall:
    """Eight grants: some made by the operator (no granter), some without an expiry."""
    rc.add_users([(name, f"{name}@example.org", name.title()) for name in "abcdefg"])
    rc.add_scopes([*MIT, HARVARD])
    rc.assign("a", "viewer", MIT[0], actor="zed")
    rc.assign("b", "editor", MIT[0], expires_at=SOON + timedelta(days=3))
    rc.assign("c", "grader", MIT[1], actor="amy", expires_at=SOON)
    rc.assign("d", "staff", HARVARD, actor="amy")
    rc.assign("e", "viewer", HARVARD, expires_at=SOON + timedelta(days=1))
    rc.assign("f", "editor", "org:MITx", actor="zed", expires_at=SOON)
    rc.assign("g", "librarian", "platform")
    rc.assign("a", "grader", HARVARD, actor="bob")
    return rc


def _everything(rc: Rolecall, sort: str, **filters: Any) -> list[int]:
    return [r.id for r in list_assignments(rc, sort=sort, limit=500, **filters).items]


def _paged(rc: Rolecall, sort: str, limit: int, **filters: Any) -> list[int]:
    seen: list[int] = []
    cursor = None
    while True:
        page = list_assignments(rc, sort=sort, limit=limit, cursor=cursor, **filters)
        seen += [r.id for r in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return seen


def _value(row: Any, name: str) -> Any:
    return {"user": row.user}.get(name, getattr(row, name))


@pytest.mark.parametrize("sort", ASSIGNMENT_SORTS)
def test_every_sort_pages_through_every_row_once_in_order(grants: Rolecall, sort: str) -> None:
    rows = list_assignments(grants, sort=sort, limit=500).items
    name = sort.lstrip("-")
    descending = sort.startswith("-")
    # Empty values after every value ascending, before them descending; ties by id.
    keys = [(_value(r, name) is None, _value(r, name) or "", r.id) for r in rows]
    if name == "id":
        keys = [(False, "", r.id) for r in rows]
    assert keys == sorted(keys, reverse=descending), sort
    for limit in (1, 2, 3):
        assert _paged(grants, sort, limit) == [r.id for r in rows], (sort, limit)


def test_rows_without_a_granter_or_an_expiry_come_last_ascending(grants: Rolecall) -> None:
    by_granter = list_assignments(grants, sort="granted_by", limit=500).items
    assert [r.granted_by for r in by_granter] == [
        "amy",
        "amy",
        "bob",
        "zed",
        "zed",
        None,
        None,
        None,
    ]
    by_expiry = list_assignments(grants, sort="-expires_at", limit=500).items
    assert [r.expires_at is None for r in by_expiry][:4] == [True, True, True, True]
    assert [r.user for r in by_expiry][4:] == ["b", "e", "f", "c"]


@pytest.mark.parametrize("sort", ["user", "-role", "granted_by", "-expires_at", "-granted_at"])
def test_a_cursor_stays_put_when_rows_are_added_before_it(grants: Rolecall, sort: str) -> None:
    first = list_assignments(grants, sort=sort, limit=3)
    before = _everything(grants, sort)
    grants.add_user("aa")
    grants.assign("aa", "viewer", MIT[1], actor="aaron", expires_at=SOON + timedelta(days=9))
    grants.assign("aa", "editor", HARVARD)
    rest = _paged_from(grants, sort, first.next_cursor)
    # Every row after the third of the first page is given once; the new rows, wherever
    # they sort after it, too; none of the first page again.
    assert not {r.id for r in first.items} & set(rest)
    assert set(before[3:]) <= set(rest)
    assert len(rest) == len(set(rest))


def _paged_from(rc: Rolecall, sort: str, cursor: str | None) -> list[int]:
    seen: list[int] = []
    while cursor is not None:
        page = list_assignments(rc, sort=sort, limit=2, cursor=cursor)
        seen += [r.id for r in page.items]
        cursor = page.next_cursor
    return seen


def test_filters_by_granter_user_text_and_scope_text(grants: Rolecall) -> None:
    def users(**filters: Any) -> list[tuple[str, str]]:
        return [(r.user, r.role) for r in list_assignments(grants, sort="user", **filters).items]

    assert users(granted_by="amy") == [("c", "grader"), ("d", "staff")]
    assert users(who="B@EXAMPLE") == [("b", "editor")]
    assert users(who="%") == []  # a LIKE wildcard is text to find
    assert users(scope_text="8.01X") == [("c", "grader")]
    assert users(scope_text="mitx", who="F") == [("f", "editor")]
    with pytest.raises(BadInputError):
        list_assignments(grants, who=" ")


def test_what_someone_may_see_bounds_the_page_the_count_and_the_export(grants: Rolecall) -> None:
    mit = SeenScopes(frozenset({"org:MITx", *MIT}), user="e", own=frozenset({HARVARD}))
    expected = [("a", MIT[0]), ("b", MIT[0]), ("c", MIT[1]), ("e", HARVARD), ("f", "org:MITx")]

    def rows(seen: SeenScopes, **filters: Any) -> list[tuple[str, str]]:
        return [
            (r.user, r.scope) for r in iter_assignments(grants, sort="user", seen=seen, **filters)
        ]

    assert rows(mit) == expected
    assert count_assignments(grants, seen=mit) == (5, False)
    # Filters narrow what may be seen, never widen it.
    assert rows(mit, scope=HARVARD) == [("e", HARVARD)]
    assert rows(mit, org="HarvardX") == [("e", HARVARD)]
    assert count_assignments(grants, seen=mit, who="d") == (0, False)
    # A platform viewer told of one scope it may not view, and holding a grant there.
    hidden = SeenScopes(None, hidden=frozenset({HARVARD}), user="d", own=frozenset({HARVARD}))
    assert [r for r in rows(hidden) if r[1] == HARVARD] == [("d", HARVARD)]
    assert len(rows(hidden)) == 6
    nothing = SeenScopes(frozenset())
    assert rows(nothing) == []
    assert count_assignments(grants, seen=nothing) == (0, False)
    assert len(rows(SeenScopes(None))) == 8


def test_a_long_list_of_scopes_gives_the_same_rows(grants: Rolecall) -> None:
    # More than a twentieth of the known scopes: the query walks the sort's index instead.
    many = frozenset({*MIT, HARVARD, "org:MITx", "platform"})
    for sort in ("user", "-granted_at", "expires_at"):
        assert _paged(grants, sort, 2, seen=SeenScopes(many)) == _everything(grants, sort)
        few = SeenScopes(frozenset({MIT[0]}))
        assert _everything(grants, sort, seen=few) == _everything(grants, sort, scope=MIT[0])


def test_the_count_stops_at_its_limit(grants: Rolecall) -> None:
    assert count_assignments(grants) == (8, False)
    assert count_assignments(grants, most=5) == (5, True)
    assert count_assignments(grants, most=8) == (8, False)


def test_a_cursor_of_another_sort_or_altered_is_bad_input(grants: Rolecall) -> None:
    cursor = list_assignments(grants, sort="granted_at", limit=1).next_cursor
    assert cursor is not None
    with pytest.raises(BadInputError, match="keep the sort"):
        list_assignments(grants, sort="expires_at", cursor=cursor)
    with pytest.raises(BadInputError, match="not one this listing gave out"):
        list_assignments(grants, sort="granted_at", cursor=cursor[:-4] + "AAAA")
