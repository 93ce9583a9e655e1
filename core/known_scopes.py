"""Known scopes: which keys name a scope that exists, "did you mean", and the scope catalogue.

A scope is **known** when rolecall knows it (recorded with ``add_scopes``, holding a grant or
a restriction, or above one: :meth:`Index.is_known_scope`) or when a plugin's scope catalogue
has it (the ``lookup_scopes`` hook: inside Open edX, the platform's course list). Changes made
in the console and the REST API take known scopes only (``known_only=True`` on
:meth:`Rolecall.assign`, :meth:`Rolecall.assign_many` and :meth:`Rolecall.bulk`), so a typo
never makes an empty scope that other admins then see: an unknown key is refused with
:class:`UnknownScopeError`, which names the known key it differs from only in case ("did you
mean ..."), or says to create the scope first (``add_scopes``, as the operator or as a user
holding ``platform.add_scopes`` there).

    from rolecall.core.known_scopes import lookup

    known = lookup(rc.plugins, rc.index, ["course-v1:mitx+6.002x+2026_T1"])
    problem = known.problem(rc.index, "course-v1:mitx+6.002x+2026_T1")
    # UnknownScopeError('no scope ... is known: did you mean course-v1:MITx+6.002x+2026_T1?')

The operator's programmatic paths (``add_scopes``, ``import_grants``, legacy import, bulk
loading, and ``assign``/``bulk`` without ``known_only``) are not restricted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .engine import known
from .errors import BadInputError, UnknownScopeError

if TYPE_CHECKING:
    from .engine import Index
    from .plugins import Plugins

log = logging.getLogger("rolecall.service")

LOOKUP_BATCH = 500
"""Keys per ``lookup_scopes`` call."""

SUGGESTIONS = 5
"""Near matches offered for an unknown key, at most."""


def _call(plugins: Plugins, hook: str, **arguments: Any) -> list[tuple[str, str | None]]:
    """Every implementation's (key, title) pairs, plugin by plugin, each plugin called through
    pluggy (:func:`~rolecall.core.plugins.call_own`); a failing plugin is logged and adds
    nothing."""
    from .plugins import call_own, implementers

    manager = plugins.manager
    found: list[tuple[str, str | None]] = []
    for name, plugin in implementers(manager, hook):
        try:
            mine: list[tuple[str, str | None]] = []
            for result in call_own(manager, hook, plugin, **arguments):
                for item in result or ():
                    if isinstance(item, str):
                        mine.append((item, None))
                    else:
                        key, title = item
                        mine.append((str(key), None if title is None else str(title)))
            found.extend(mine)
        except Exception:
            log.exception("plugin %r failed in %s", name, hook)
    return found


@dataclass(frozen=True)
class KnownScopes:
    """What the scope catalogue said about some keys: casefolded key -> the catalogue's key.
    Judged against an index, so the decision under the write lock sees every committed
    write."""

    catalogue: Mapping[str, str] = field(default_factory=dict)

    def problem(self, index: Index, key: str) -> UnknownScopeError | None:
        """``None`` when ``key`` (resolved) is known; else the error to raise or report."""
        if index.is_known_scope(key) or self.catalogue.get(key.casefold()) == key:
            return None
        near = known.known_scope_ignoring_case(index, key) or self.catalogue.get(key.casefold())
        return UnknownScopeError(key, near if near != key else None)

    def require(self, index: Index, keys: Iterable[str]) -> None:
        """Raise the first key's problem, if any."""
        for key in keys:
            problem = self.problem(index, key)
            if problem is not None:
                raise problem


def lookup(plugins: Plugins, index: Index, keys: Iterable[str]) -> KnownScopes:
    """Ask the scope catalogue about the (resolved) ``keys`` the index does not know."""
    wanted = [k for k in dict.fromkeys(keys) if not index.is_known_scope(k)]
    found: dict[str, str] = {}
    for start in range(0, len(wanted), LOOKUP_BATCH):
        batch = wanted[start : start + LOOKUP_BATCH]
        for key, _title in _call(plugins, "lookup_scopes", keys=batch):
            found.setdefault(key.casefold(), key)
    return KnownScopes(found)


def catalogue_of(plugins: Plugins, index: Index, scopes: Iterable[str]) -> KnownScopes:
    """What the scope catalogue says of the well-formed ``scopes`` (org wildcards as their
    org); malformed keys are left for the validation to report."""
    from .governance.bulk import org_wide

    registry = plugins.registry
    keys = []
    for given in scopes:
        try:
            keys.append(registry.scopes.resolve(org_wide(given.strip(), registry)).key)
        except BadInputError:
            continue
    return lookup(plugins, index, keys)


def unknown_scope(plugins: Plugins, index: Index, scope: str) -> UnknownScopeError | None:
    """``None`` when the (well-formed) ``scope`` is known, by rolecall or by a plugin's scope
    catalogue; else the error a change taking known scopes only would raise ("did you mean
    ..." when a known key differs only in case). Raises :class:`BadInputError` for a
    malformed key."""
    from .governance.bulk import org_wide

    registry = plugins.registry
    key = registry.scopes.resolve(org_wide(scope.strip(), registry)).key
    return lookup(plugins, index, [key]).problem(index, key)


def find(plugins: Plugins, query: str, limit: int) -> list[tuple[str, str | None]]:
    """The scope catalogue's matches for ``query`` (well-formed keys only), at most ``limit``
    from each plugin."""
    resolve = plugins.registry.scopes.resolve
    found: list[tuple[str, str | None]] = []
    for key, title in _call(plugins, "find_scopes", query=query, limit=limit):
        try:
            found.append((resolve(key).key, title))
        except BadInputError:
            continue
    return found


def one_edit_apart(a: str, b: str) -> bool:
    """Whether ``b`` is ``a`` with one character changed, added or removed."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) > len(b):
        a, b = b, a
    start = 0
    while start < len(a) and a[start] == b[start]:
        start += 1
    if len(a) == len(b):
        return a[start + 1 :] == b[start + 1 :]
    return a[start:] == b[start + 1 :]


def near_matches(known: Iterable[str], key: str) -> list[str]:
    """The ``known`` keys near ``key``: equal to it ignoring case, then one character off
    (changed, added or removed, ignoring case), each group in key order; ``key`` itself
    never."""
    folded = key.casefold()
    same_case: list[str] = []
    one_off: list[str] = []
    for candidate in known:
        if candidate == key or abs(len(candidate) - len(key)) > 1:
            continue
        other = candidate.casefold()
        if other == folded:
            same_case.append(candidate)
        elif one_edit_apart(folded, other):
            one_off.append(candidate)
    return sorted(same_case) + sorted(one_off)


def suggestions(
    index: Index,
    key: str,
    visible: Callable[[Sequence[str]], Mapping[str, bool]],
    *,
    catalogue: KnownScopes | None = None,
    limit: int = SUGGESTIONS,
) -> list[str]:
    """The "did you mean" of an unknown key: the known scopes near ``key``
    (:func:`near_matches`, the catalogue's key differing only in case included) that
    ``visible`` allows, at most ``limit``. ``visible`` answers for a batch of keys whether
    the caller may see each (in the console: view its team), so no key is suggested that the
    caller may not see."""
    near = near_matches(index.known_scopes(), key)
    listed = catalogue.catalogue.get(key.casefold()) if catalogue is not None else None
    if listed is not None and listed != key and listed not in near:
        near.insert(0, listed)
    near = near[: limit * 10]  # a short key may be near many: ask about the first few
    if not near:
        return []
    allowed = visible(near)
    return [k for k in near if allowed.get(k, False)][:limit]
