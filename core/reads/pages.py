"""Pages, cursors and fresh-enough reads: what every listing of the read layer shares.

Cursors are opaque to callers (URL-safe base64 of the sort and the last key shown) and belong
to the sort they were made with; a cursor from another sort, or one that was altered, is bad
input. A page starts after the last key shown, so rows added or removed in between do not shift
it, and page 1,000 costs what page 1 costs.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..errors import BadInputError
from ..scopes import show

if TYPE_CHECKING:
    from .source import RevisionSource

T = TypeVar("T")

MAX_LIMIT = 500
DEFAULT_LIMIT = 50
MAX_QUERY = 200
"""The longest search text a listing or a search takes."""


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; ``next_cursor`` is None on the last page."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(sort: str, key: Sequence[Any]) -> str:
    """An opaque cursor for the row whose sort key is ``key``."""
    raw = json.dumps({"s": sort, "k": list(key)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, types: Sequence[type]) -> list[Any]:
    """The key stored in ``cursor``, checked against ``sort`` and the key's ``types``."""
    problem = "the cursor is not one this listing gave out"
    if not isinstance(cursor, str) or len(cursor) > 2000:
        raise BadInputError(problem)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise BadInputError(problem) from exc
    if not isinstance(data, dict) or not isinstance(data.get("k"), list):
        raise BadInputError(problem)
    if data.get("s") != sort:
        raise BadInputError(
            f"the cursor belongs to the sort {show(data.get('s'))}, not {sort!r}: keep the sort "
            "of the page it came from"
        )
    key: list[Any] = data["k"]
    # bool is an int subclass: refuse it where an int is wanted.
    if len(key) != len(types) or not all(
        isinstance(v, t) and not (t is int and isinstance(v, bool))
        for v, t in zip(key, types, strict=True)
    ):
        raise BadInputError(problem)
    return key


def check_limit(limit: int, most: int = MAX_LIMIT) -> int:
    """``limit``, if it is a whole number from 1 to ``most``; else bad input."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= most:
        raise BadInputError(f"limit must be a whole number from 1 to {most}, not {limit!r}")
    return limit


def require_revision(rc: RevisionSource, at_least: int | None) -> int:
    """Read-your-writes for listings: catch up when the caller's revision token is newer than
    this process's index, and refuse a token newer than the database. Returns the revision."""
    if at_least is not None and at_least > rc.revision:
        rc.sync()
        if at_least > rc.revision:
            raise BadInputError(
                f"revision token {at_least} is newer than the database's revision {rc.revision}"
            )
    return rc.revision
