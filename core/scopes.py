"""Scope keys: from a key string to its type, fields and ancestor chain.

Each scope type contributes a parser; the resolver picks the type by the key's namespace (the
text before the first ``:``), or, for a key with no ``:`` and a ``/`` (Open edX's old-style
course keys, ``MITx/6.002x/2012_Fall``), the one type that claims such keys. It parses the key
once and caches the result, so the check path pays one dictionary lookup per key after its
first sight. The parent chain comes from the key alone: no database is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from .errors import ScopeKeyError
from .records import ParsedKey, Scope, ScopeType

MAX_KEY_LENGTH = 255
"""Longer keys are refused before any parsing."""
MAX_DEPTH = 16
"""A parent chain longer than this means a scope type's parser is wrong (or loops)."""

_PART_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.~-]*")


def show(key: object, limit: int = 80) -> str:
    """``repr`` of a key, shortened so hostile input cannot flood a message or a log line."""
    text = repr(key)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def split_key(key: str, prefix: str, separator: str, names: tuple[str, ...]) -> dict[str, str]:
    """Split ``prefix`` + parts joined by ``separator`` into named fields.

    A helper for scope type parsers: each part is letters, digits and ``_ . ~ -``, starting with a
    letter, digit or underscore. Raises ``ValueError`` with a short reason otherwise::

        >>> split_key("lib:MITx:physics", "lib:", ":", ("org", "library"))
        {'org': 'MITx', 'library': 'physics'}
    """
    if not key.startswith(prefix):
        raise ValueError(f"it does not start with {prefix!r}")
    rest = key[len(prefix) :]
    parts = rest.split(separator) if len(names) > 1 else [rest]
    if len(parts) != len(names):
        raise ValueError(f"it has {len(parts)} part(s) where {len(names)} are needed")
    for name, part in zip(names, parts, strict=True):
        if not part:
            raise ValueError(f"the {name} is empty")
        if not _PART_RE.fullmatch(part):
            raise ValueError(
                f"the {name} {show(part)} may hold only letters, digits and _ . ~ - "
                "(and not start with . ~ -)"
            )
    return dict(zip(names, parts, strict=True))


class _ParentError(ScopeKeyError):
    """A parent a scope type's parser derived does not parse (``key`` is the child)."""


class ScopeResolver:
    """Parses and caches scope keys for a fixed set of scope types."""

    def __init__(
        self,
        scope_types: Iterable[ScopeType],
        cache_size: int = 200_000,
        *,
        plugins: Mapping[str, str] | None = None,
    ) -> None:
        types = list(scope_types)
        self._by_namespace = {ns: t for t in types for ns in t.namespaces}
        self._slash_type = next((t for t in types if t.slash_keys), None)
        self._cache: dict[str, Scope] = {}
        self._cache_size = cache_size
        self._plugins = dict(plugins or {})
        """Scope type id -> the plugin that registered it, named in errors its parser causes."""

    @property
    def namespaces(self) -> tuple[str, ...]:
        return tuple(self._by_namespace)

    def resolve(self, key: str) -> Scope:
        """The parsed scope for ``key``; raises :class:`ScopeKeyError` when it is malformed."""
        try:
            scope = self._cache.get(key)
        except TypeError:  # unhashable: certainly not a key
            scope = None
        if scope is None:
            try:
                scope = self._parse(key, depth=0)
            except _ParentError as exc:
                # An ancestor a parser derived does not parse: name the key asked about.
                reason = exc.reason if exc.key == key else f"scope key {show(key)}: {exc.reason}"
                raise ScopeKeyError(key, reason) from exc
        return scope

    def chain(self, key: str) -> tuple[str, ...]:
        """``key`` and its ancestors, nearest first."""
        return self.resolve(key).chain

    def _parse(self, key: str, depth: int) -> Scope:
        if not isinstance(key, str):
            kind = type(key).__name__
            raise ScopeKeyError(f"<{kind}>", f"a scope key must be text, not {kind}")
        if depth > MAX_DEPTH:
            raise ScopeKeyError(key, f"the parent chain of {show(key)} is too deep")
        if len(key) > MAX_KEY_LENGTH:
            raise ScopeKeyError(
                key, f"scope key {show(key)} is longer than {MAX_KEY_LENGTH} characters"
            )
        namespace, colon, _ = key.partition(":")
        if not colon and "/" in key and self._slash_type is not None:
            scope_type: ScopeType | None = self._slash_type
        else:
            scope_type = self._by_namespace.get(namespace)
        if scope_type is None:
            raise ScopeKeyError(key, self._unknown_message(key))
        try:
            parsed = scope_type.parse(key)
        except ValueError as exc:
            raise ScopeKeyError(
                key,
                f"malformed {scope_type.id} key {show(key)}: {exc}; expected "
                f"{scope_type.pattern}, for example {scope_type.example}",
            ) from None
        except Exception as exc:
            # A bug in the plugin's parser, not bad input: one line naming the plugin (the
            # traceback stays chained, for `--debug`).
            raise ScopeKeyError(
                key,
                f"the {self._parser(scope_type)} failed on {show(key)}: "
                f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}",
            ) from exc
        if not isinstance(parsed, ParsedKey):
            raise ScopeKeyError(
                key,
                f"the {self._parser(scope_type)} returned {type(parsed).__name__} for "
                f"{show(key)}, not ParsedKey",
            )
        chain: tuple[str, ...] = (key,)
        if parsed.parent is not None:
            parent = self._cache.get(parsed.parent)
            if parent is None:
                try:
                    parent = self._parse(parsed.parent, depth + 1)
                except _ParentError:
                    raise  # a parser further up the chain is named already
                except ScopeKeyError as exc:
                    raise _ParentError(
                        key,
                        f"the {self._parser(scope_type)} gives {show(key)} the parent "
                        f"{show(parsed.parent)}, which is not a valid key ({exc.reason})",
                    ) from exc
            chain += parent.chain
        scope = Scope(key=key, type=scope_type.id, fields=dict(parsed.fields), chain=chain)
        if len(self._cache) >= self._cache_size:
            # Crude but bounded: hostile or one-off keys cannot grow the cache without limit.
            self._cache.clear()
        self._cache[key] = scope
        return scope

    def _parser(self, scope_type: ScopeType) -> str:
        """``team parser (plugin 'teams')``, for errors a parser causes."""
        plugin = self._plugins.get(scope_type.id)
        return f"{scope_type.id} parser" + (f" (plugin {plugin!r})" if plugin else "")

    def _unknown_message(self, key: str) -> str:
        examples = ", ".join(dict.fromkeys(t.example for t in self._by_namespace.values()))
        return f"unknown scope key {show(key)}: a valid key looks like one of {examples}"
