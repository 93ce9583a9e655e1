"""A bulk write costs the same few statements whatever its size: nothing is asked of the
database once per row (a user's pseudonym for its audit event was, once per new user)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from rolecall.core import Rolecall


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
