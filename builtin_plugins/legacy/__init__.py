"""The ``legacy`` plugin: the legacy Open edX roles, imported, exported and emulated.

- ``rolecall legacy import`` reads ``student_courseaccessrole`` and the forum role tables (from a
  live edx-platform database or a CSV export) and makes the grants they mean;
  ``rolecall legacy export`` writes rolecall's grants back as those rows, for a rollback;
  ``rolecall legacy mapping`` shows which rolecall role each legacy name becomes.
- :class:`LegacyAPI` and the module-level functions keep the legacy instructor access API
  (``allow_access``, ``revoke_access``, ``list_with_level``, ``is_beta_tester``,
  ``update_forum_role``, ``list_forum_members``) working on rolecall.

It contributes no permissions or roles: the legacy role names are aliases of the roles of the
other built-in plugins. See docs/migration.md.
"""

from __future__ import annotations

import click

from rolecall.core import hookimpl

from .commands import legacy_group
from .compat import (
    FORUM_ROLES,
    LEVELS,
    LegacyAPI,
    RoleDoesNotExist,
    allow_access,
    configure,
    default_api,
    is_beta_tester,
    is_forum_role,
    list_forum_members,
    list_with_level,
    revoke_access,
    update_forum_role,
)
from .mapping import DEFAULT_COURSE_ROLES, DEFAULT_FORUM_ROLES, RoleMapping, load_mapping


@hookimpl
def register_commands() -> list[click.Command]:
    return [legacy_group]


__all__ = [
    "DEFAULT_COURSE_ROLES",
    "DEFAULT_FORUM_ROLES",
    "FORUM_ROLES",
    "LEVELS",
    "LegacyAPI",
    "RoleDoesNotExist",
    "RoleMapping",
    "allow_access",
    "configure",
    "default_api",
    "is_beta_tester",
    "is_forum_role",
    "list_forum_members",
    "list_with_level",
    "load_mapping",
    "register_commands",
    "revoke_access",
    "update_forum_role",
]
