"""A bulk write costs the same few statements whatever its size: nothing is asked of the
database once per row (a user's pseudonym for its audit event was, once per new user)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event

from rolecall.core import GrantRow, Rolecall
from rolecall.core.governance.lifecycle import expire, remove_scope

C1 = "course-v1:MITx+6.002x+2026_T1"
C2 = "course-v1:MITx+6.003x+2026_T1"


@contextmanager
def _statements(rc: Rolecall) -> Iterator[list[str]]:
    """The statements sent to the database inside (executemany counted once)."""
    sent: list[str] = []

    def count(connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(rc.engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(rc.engine, "before_cursor_execute", count)


def _sent(rc: Rolecall, write: Callable[[list[str]], object], names: list[str]) -> int:
    with _statements(rc) as sent:
        write(names)
    return len(sent)


def test_adding_users_sends_as_many_statements_for_ten_as_for_three_hundred(
    rc: Rolecall,
) -> None:
    few = _sent(rc, rc.add_users, [f"few{i}" for i in range(10)])
    many = _sent(rc, rc.add_users, [f"many{i}" for i in range(300)])
    assert many == few, f"{few} statements for 10 users, {many} for 300"


def test_importing_users_sends_as_many_statements_for_ten_as_for_three_hundred(
    rc: Rolecall,
) -> None:
    def imported(names: list[str]) -> object:
        return rc.import_users((name, f"{name}@example.com", None) for name in names)

    few = _sent(rc, imported, [f"few{i}" for i in range(10)])
    many = _sent(rc, imported, [f"many{i}" for i in range(300)])
    assert many == few, f"{few} statements for 10 users, {many} for 300"


def _holders(rc: Rolecall, scope: str, names: list[str], *, expired: bool = False) -> None:
    """``names`` added, each holding ``editor`` on ``scope`` (expired an hour ago if asked)."""
    rc.add_users(names)
    until = datetime.now(UTC) - timedelta(hours=1) if expired else None
    rc.import_grants([GrantRow(name, "editor", scope, expires_at=until) for name in names])


def test_expiring_sends_as_many_statements_for_ten_users_as_for_three_hundred(
    rc: Rolecall,
) -> None:
    _holders(rc, C1, [f"few{i}" for i in range(10)], expired=True)
    with _statements(rc) as few:
        assert len(expire(rc)) == 10
    _holders(rc, C2, [f"many{i}" for i in range(300)], expired=True)
    with _statements(rc) as many:
        assert len(expire(rc)) == 300
    assert len(many) == len(few), f"{len(few)} statements for 10 users, {len(many)} for 300"


def test_removing_a_scope_sends_as_many_statements_for_ten_holders_as_for_three_hundred(
    rc: Rolecall,
) -> None:
    _holders(rc, C1, [f"few{i}" for i in range(10)])
    _holders(rc, C2, [f"many{i}" for i in range(300)])
    with _statements(rc) as few:
        remove_scope(rc, C1)
    with _statements(rc) as many:
        remove_scope(rc, C2)
    assert len(many) == len(few), f"{len(few)} statements for 10 holders, {len(many)} for 300"


def test_revoking_many_sends_as_many_statements_for_ten_holders_as_for_three_hundred(
    rc: Rolecall,
) -> None:
    few = [f"few{i}" for i in range(10)]
    many = [f"many{i}" for i in range(300)]
    _holders(rc, C1, few)
    _holders(rc, C1, many)
    with _statements(rc) as few_sent:
        rc.revoke_many([(name, "editor", C1) for name in few])
    with _statements(rc) as many_sent:
        rc.revoke_many([(name, "editor", C1) for name in many])
    assert not rc.who(C1).members
    assert len(many_sent) == len(few_sent), f"{len(few_sent)} for 10, {len(many_sent)} for 300"
