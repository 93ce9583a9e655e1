"""Cursor pagination of lists held in memory (the catalogue, a team, a user's access).

Database listings (assignments, audit) page with keyset queries in :mod:`rolecall.core.reads`;
these lists use the same opaque cursors: the sort key of the last item shown, so a page starts
after it even if items were added or removed in between. Every list view pages through
:func:`paginate`, with the request's query (``limit`` and ``cursor``) as it came::

    page = paginate(query, items, lambda p: (p.id,), name="permissions")
    return PermissionList(items=page.items, next_cursor=page.next_cursor)
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from typing import TypeVar

from rolecall.core.reads import Page, decode_cursor, encode_cursor

from .schemas import PageQuery

T = TypeVar("T")


def paginate(
    query: PageQuery,
    items: Iterable[T],
    key: Callable[[T], tuple[str, ...]],
    *,
    name: str,
    width: int = 1,
) -> Page[T]:
    """The page of ``items`` after the query's ``cursor``, at most its ``limit`` long, and the
    cursor of the next page (None on the last). ``key`` gives each item a unique tuple of
    ``width`` strings to sort by; ``name`` tells the cursors of different lists apart."""
    ordered = sorted(items, key=key)
    start = 0
    if query.cursor is not None:
        last = tuple(decode_cursor(query.cursor, name, [str] * width))
        start = bisect.bisect_right([key(item) for item in ordered], last)
    page = ordered[start : start + query.limit]
    more = start + query.limit < len(ordered)
    return Page(page, encode_cursor(name, list(key(page[-1]))) if more and page else None)
