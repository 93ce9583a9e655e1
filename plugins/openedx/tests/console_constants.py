"""The admin console's own idea of each role, read from its source (``../shared/vendor``, or
``ROLECALL_ADMIN_CONSOLE_SRC``): for the course and library roles it knows, the permissions it
draws for each (``src/authz-module/roles-permissions/<type>/constants.ts``: the permission
constants and each role's list in ``rolesObject`` / ``libraryRolesObject``)."""

from __future__ import annotations

import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DEFAULT_SOURCE = REPO.parent / "shared" / "vendor" / "frontend-app-admin-console"


def console_source() -> Path:
    return Path(os.environ.get("ROLECALL_ADMIN_CONSOLE_SRC") or DEFAULT_SOURCE)


_CONSTANTS = re.compile(r"export const (\w+_PERMISSIONS) = \{(?P<body>.*?)\};", re.S)
_PAIR = re.compile(r"(\w+):\s*'([\w.]+)'")
_ROLE = re.compile(
    r"role:\s*'(\w+)',\s*contextType:\s*'\w+',\s*scope:\s*'',\s*permissions:\s*\[(?P<perms>[^\]]*)\]",
    re.S,
)
_REF = re.compile(r"(\w+_PERMISSIONS)\.(\w+)")


def roles_of(kind: str) -> dict[str, set[str]]:
    """Role id -> the permission ids the console lists for it, for ``course`` or
    ``library``."""
    text = (
        console_source() / "src/authz-module/roles-permissions" / kind / "constants.ts"
    ).read_text()
    names = {
        (block.group(1), key): value
        for block in _CONSTANTS.finditer(text)
        for key, value in _PAIR.findall(block.group("body"))
    }
    found: dict[str, set[str]] = {}
    for match in _ROLE.finditer(text):
        found[match.group(1)] = {names[ref] for ref in _REF.findall(match.group("perms"))}
    return found


def known_permissions(kind: str) -> set[str]:
    """Every permission id the console has a label for, for ``course`` or ``library``."""
    text = (
        console_source() / "src/authz-module/roles-permissions" / kind / "constants.ts"
    ).read_text()
    return {
        value
        for block in _CONSTANTS.finditer(text)
        for _, value in _PAIR.findall(block.group("body"))
    }
