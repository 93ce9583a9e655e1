"""Look-ups of known names: a user's look-alike username, a scope key known in another
case. Both keep a table built on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..usernames import skeleton

if TYPE_CHECKING:
    from .index import Index


def lookalike(index: Index, name: str) -> str | None:
    """A known user whose name is a look-alike of ``name`` but not ``name`` itself
    (:func:`rolecall.core.usernames.skeleton`), or None."""
    if index._skeletons is None:
        found: dict[str, str] = {}
        for known in index.users:
            found.setdefault(skeleton(known), known)
        index._skeletons = found
    other = index._skeletons.get(skeleton(name))
    return other if other is not None and other != name else None


def known_scope_ignoring_case(index: Index, key: str) -> str | None:
    """The known scope whose key equals ``key`` ignoring case (the first in key order when
    several do), or ``None``; the map behind it is rebuilt only when the known scopes
    change."""
    cached = index._folded
    if cached is None or cached[0] != index._scopes_generation:
        folded: dict[str, str] = {}
        for known in index.known_scopes():
            folded.setdefault(known.casefold(), known)
        cached = index._folded = (index._scopes_generation, folded)
    return cached[1].get(key.casefold())
