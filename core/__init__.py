"""rolecall's core: the public API plugins and applications use.

Plugins import only from here::

    from rolecall.core import Permission, Role, ScopeType, hookimpl

Importing this package is light: it loads the records, the hook markers, the errors, scope keys
and the registry (pydantic and pluggy), never SQLAlchemy, click, Flask or Alembic. The service
(:class:`Rolecall`), the accounts, plugin loading and the bulk helpers are imported the first time
one of their names is used (``from rolecall.core import Rolecall`` works as before). The helpers
for plugin commands (``service_of``, ``json_option``, ``echo_table``...) live in
:mod:`rolecall.core.cli`.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

from .engine import AccessEntry, Decision, GrantInfo, Team, TeamMember
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
from .usernames import check_username, skeleton

if TYPE_CHECKING:
    from .accounts import Accounts, TokenInfo
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
    from .service import AuditRecord, Rolecall
    from .storage.database import database_url, migrate_database
    from .writes import GrantRow

_LAZY: dict[str, str] = {
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
    "AuditRecord": ".service",
    "GrantRow": ".writes",
    "Rolecall": ".service",
    "database_url": ".storage.database",
    "migrate_database": ".storage.database",
}
"""Names whose modules load SQLAlchemy, click or importlib-metadata: imported on first use."""

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
