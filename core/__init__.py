"""rolecall's core: the public API plugins and applications use.

Plugins import only from here::

    from rolecall.core import Permission, Role, ScopeType, hookimpl

Importing this package is light: it loads the hook markers and the errors (pluggy), never
SQLAlchemy, click, Flask or Alembic. Every other name is imported the first time it is used
(``from rolecall.core import Permission`` or ``Rolecall`` works as before): the records, the
engine's answers, scope keys and the registry (pydantic, whose models are built on first use),
the service (:class:`Rolecall`), the accounts, plugin loading and the bulk helpers.
``benchmarks/import_cost.py`` measures the import against pluggy's. The helpers
for plugin commands (``service_of``, ``json_option``, ``echo_table``...) live in
:mod:`rolecall.core.cli`.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

from .errors import (
    BadInputError,
    DatabaseSetupError,
    PluginError,
    RegistryError,
    RolecallError,
    ScopeKeyError,
    StorageError,
    UnknownScopeError,
)
from .hookspecs import hookimpl

if TYPE_CHECKING:
    from .accounts import Accounts, TokenInfo
    from .engine import AccessEntry, Decision, GrantInfo, Team, TeamMember
    from .governance import NotAllowedError
    from .governance.bulk import org_wide
    from .plugins import (
        ENTRY_POINT_GROUP,
        PluginInfo,
        Plugins,
        PluginSettings,
        load_plugins,
        make_plugin_manager,
    )
    from .reads.audit import AuditRecord
    from .records import (
        AssignmentEvent,
        ConsolePage,
        DelegationRule,
        DerivedRole,
        ParsedKey,
        Permission,
        PermissionFactory,
        Risk,
        Role,
        Scope,
        ScopeType,
    )
    from .registry import Contribution, Registry, build_registry
    from .scopes import ScopeResolver, split_key
    from .service import Rolecall
    from .storage.database import database_url, migrate_database
    from .usernames import check_username, skeleton
    from .writes import GrantRow

_LAZY: dict[str, str] = {
    **dict.fromkeys(("AccessEntry", "Decision", "GrantInfo", "Team", "TeamMember"), ".engine"),
    **dict.fromkeys(
        (
            "AssignmentEvent",
            "ConsolePage",
            "DelegationRule",
            "DerivedRole",
            "ParsedKey",
            "Permission",
            "PermissionFactory",
            "Risk",
            "Role",
            "Scope",
            "ScopeType",
        ),
        ".records",
    ),
    **dict.fromkeys(("Contribution", "Registry", "build_registry"), ".registry"),
    **dict.fromkeys(("ScopeResolver", "split_key"), ".scopes"),
    **dict.fromkeys(("check_username", "skeleton"), ".usernames"),
    "Accounts": ".accounts",
    "TokenInfo": ".accounts",
    "NotAllowedError": ".governance",
    "org_wide": ".governance.bulk",
    "ENTRY_POINT_GROUP": ".plugins",
    "PluginInfo": ".plugins",
    "PluginSettings": ".plugins",
    "Plugins": ".plugins",
    "load_plugins": ".plugins",
    "make_plugin_manager": ".plugins",
    "AuditRecord": ".reads.audit",
    "GrantRow": ".writes",
    "Rolecall": ".service",
    "database_url": ".storage.database",
    "migrate_database": ".storage.database",
}
"""Names imported on first use: their modules load pydantic (the records, the engine's
answers, the registry), SQLAlchemy, click or importlib-metadata."""

_MOVED: dict[str, str] = {
    "echo_json": ".cli",
    "echo_table": ".cli",
    "json_option": ".cli",
    "plugins_of": ".cli",
    "service_of": ".cli",
}
"""The command-line helpers, which now live in :mod:`rolecall.core.cli`; still found here, with a
:class:`DeprecationWarning`."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        module = _MOVED.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        warnings.warn(
            f"rolecall.core.{name} has moved: import it from rolecall.core.cli",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(module, __name__), name)
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later look-ups find it without calling this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "ENTRY_POINT_GROUP",
    "AccessEntry",
    "Accounts",
    "AssignmentEvent",
    "AuditRecord",
    "BadInputError",
    "ConsolePage",
    "Contribution",
    "DatabaseSetupError",
    "Decision",
    "DelegationRule",
    "DerivedRole",
    "GrantInfo",
    "GrantRow",
    "NotAllowedError",
    "ParsedKey",
    "Permission",
    "PermissionFactory",
    "PluginError",
    "PluginInfo",
    "PluginSettings",
    "Plugins",
    "Registry",
    "RegistryError",
    "Risk",
    "Role",
    "Rolecall",
    "RolecallError",
    "Scope",
    "ScopeKeyError",
    "ScopeResolver",
    "ScopeType",
    "StorageError",
    "Team",
    "TeamMember",
    "TokenInfo",
    "UnknownScopeError",
    "build_registry",
    "check_username",
    "database_url",
    "hookimpl",
    "load_plugins",
    "make_plugin_manager",
    "migrate_database",
    "org_wide",
    "skeleton",
    "split_key",
]
