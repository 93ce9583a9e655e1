"""rolecall's core: the public API plugins and applications use.

Plugins import only from here::

    from rolecall.core import Permission, Role, ScopeType, hookimpl
"""

from .accounts import Accounts, TokenInfo
from .cli.main import plugins_of, service_of
from .cli.output import echo_json, echo_table, json_option
from .engine import AccessEntry, Decision, GrantInfo, Team, TeamMember
from .errors import (
    BadInputError,
    DatabaseSetupError,
    PluginError,
    RegistryError,
    RolecallError,
    ScopeKeyError,
    StorageError,
)
from .governance.bulk import org_wide
from .hookspecs import hookimpl
from .plugins import (
    ENTRY_POINT_GROUP,
    PluginInfo,
    Plugins,
    PluginSettings,
    load_plugins,
    make_plugin_manager,
)
from .records import (
    AssignmentEvent,
    ConsolePage,
    DelegationRule,
    ParsedKey,
    Permission,
    Risk,
    Role,
    Scope,
    ScopeType,
)
from .registry import Contribution, Registry, build_registry
from .scopes import ScopeResolver, split_key
from .service import AuditRecord, Rolecall
from .storage.database import database_url
from .writes import GrantRow

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
    "GrantInfo",
    "GrantRow",
    "ParsedKey",
    "Permission",
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
    "build_registry",
    "database_url",
    "echo_json",
    "echo_table",
    "hookimpl",
    "json_option",
    "load_plugins",
    "make_plugin_manager",
    "org_wide",
    "plugins_of",
    "service_of",
    "split_key",
]
