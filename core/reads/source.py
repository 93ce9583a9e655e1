"""What the reads take: each read's first argument is typed with the smallest of these
protocols that holds what it uses. The service (:class:`rolecall.core.Rolecall`) holds them all
and is what the interfaces pass; any other object holding what a protocol names will do, and
this layer never imports the service.

- :class:`IndexSource`: the index, held steady while a block reads it (``reading``);
- :class:`ScopeSource`: that and the registry, which places a scope key;
- :class:`DormantSource`: the index and ``contributions`` (which plugin registered what);
- :class:`CatalogueSource`: the index and the plugins (the scope catalogue's hook);
- :class:`HoldingsSource`: the index, the registry and ``access`` (the roles reaching a user);
- :class:`TableSource`: the database engine, for a read of the tables;
- :class:`AuditSource`: the engine and the registry;
- :class:`GrantSource`: the engine, the registry and ``role`` (a role by id or alias);
- :class:`ListingSource`: everything the assignment listings use: the engine, the index, the
  registry and ``role``;
- :class:`RevisionSource`: the index's ``revision`` and ``sync`` (read-your-writes).

:mod:`.access` has its own two (``Checks``, ``ChecksMany``), which an index satisfies too.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..engine import AccessEntry, Index
    from ..plugins import Plugins
    from ..records import Role
    from ..registry import Registry
    from ..storage.sessions import Engine


class IndexSource(Protocol):
    """The index, held steady while a block reads it: the catch-up and this process's own
    writes wait until the block ends (the service's ``reading``)."""

    def reading(self) -> AbstractContextManager[Index]: ...


class ScopeSource(IndexSource, Protocol):
    """The index and the registry (scope types, roles, permissions, rules)."""

    @property
    def registry(self) -> Registry: ...


class DormantSource(IndexSource, Protocol):
    """The index and which plugin registered what, as the database remembers it."""

    def contributions(self) -> Mapping[tuple[str, str], str]: ...


class CatalogueSource(IndexSource, Protocol):
    """The index and the loaded plugins (whose scope catalogue answers look-ups)."""

    @property
    def plugins(self) -> Plugins: ...


class HoldingsSource(ScopeSource, Protocol):
    """The index, the registry and the roles reaching a user, scope by scope."""

    def access(self, user: str) -> list[AccessEntry]: ...


class TableSource(Protocol):
    """The database engine: a read of the tables opens its own session on it."""

    @property
    def engine(self) -> Engine: ...


class AuditSource(TableSource, Protocol):
    """The engine and the registry (which places the scopes the log names)."""

    @property
    def registry(self) -> Registry: ...


class GrantSource(TableSource, Protocol):
    """The engine, the registry and a role by id or alias, custom roles included."""

    @property
    def registry(self) -> Registry: ...

    def role(self, name: str) -> Role: ...


class ListingSource(GrantSource, ScopeSource, Protocol):
    """What the assignment listings use: the engine, the index, the registry and roles."""


class RevisionSource(Protocol):
    """The index's revision, and the catch-up that brings it to the database's."""

    @property
    def revision(self) -> int: ...

    def sync(self) -> int: ...
