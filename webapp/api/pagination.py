"""Cursor pagination of lists held in memory (the catalogue, a team, a user's access).

Database listings (assignments, audit) page with keyset queries in
:mod:`rolecall.core.listing`; these lists use the same opaque cursors: the sort key of the last
item shown, so a page starts after it even if items were added or removed in between.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import TypeVar

from rolecall.core.listing import decode_cursor, encode_cursor

T = TypeVar("T")


def paginate(
    items: Sequence[T],
    key: Callable[[T], tuple[str, ...]],
    *,
    name: str,
    width: int,
    limit: int,
    cursor: str | None,
) -> tuple[list[T], str | None]:
    """The page of ``items`` after ``cursor`` and the cursor of the next page (None on the
    last). ``key`` gives each item a unique tuple of ``width`` strings to sort by; ``name``
    tells the cursors of different lists apart."""
    ordered = sorted(items, key=key)
    start = 0
    if cursor is not None:
        last = tuple(decode_cursor(cursor, name, [str] * width))
        start = bisect.bisect_right([key(item) for item in ordered], last)
    page = ordered[start : start + limit]
    more = start + limit < len(ordered)
    return page, encode_cursor(name, list(key(page[-1]))) if more and page else None
