"""SQL belongs to storage: outside ``core/storage/`` no module imports SQLAlchemy, but for the
few listed here, each with the reason it may."""

from __future__ import annotations

import ast
from pathlib import Path

from support import REPO

ALLOWED = {
    "core/writes.py": "the unit of work: it owns the transaction, the write lock and the "
    "revision, but writes no rows itself (core/storage/grants.py does)",
    "builtin_plugins/legacy/reader.py": "it reads the legacy system's own database",
    "builtin_plugins/legacy/exporter.py": "it writes the legacy system's own database",
    "plugins/openedx/rolecall_openedx/database.py": "it turns Django's DATABASES setting into "
    "a database URL",
}
"""Module (from the repository's root) -> why it may import SQLAlchemy."""

ROOTS = (
    "core",
    "webapp",
    "builtin_plugins",
    *(f"plugins/{p}" for p in ("ccx", "openedx", "teams", "tutor")),
)


def _sources() -> list[Path]:
    found = []
    for root in ROOTS:
        for path in sorted((REPO / root).rglob("*.py")):
            parts = path.relative_to(REPO).parts
            if "tests" in parts or "build" in parts or any(p.startswith(".") for p in parts):
                continue
            found.append(path)
    return found


def _imports_sqlalchemy(path: Path) -> bool:
    """Whether the module imports SQLAlchemy anywhere (at the top, in a function, or for the
    type checker only)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(name == "sqlalchemy" or name.startswith("sqlalchemy.") for name in names):
            return True
    return False


def test_only_storage_and_the_listed_modules_import_sqlalchemy() -> None:
    importing = {str(path.relative_to(REPO)) for path in _sources() if _imports_sqlalchemy(path)}
    outside = sorted(
        name for name in importing if not name.startswith("core/storage/") and name not in ALLOWED
    )
    assert not outside, f"SQL outside core/storage/ (move it into a repository there): {outside}"
    # The list only shrinks: an exception no longer needed is taken off it.
    stale = sorted(name for name in ALLOWED if name not in importing)
    assert not stale, f"these no longer import SQLAlchemy: take them off ALLOWED: {stale}"


def test_the_check_sees_an_import_wherever_it_is(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from sqlalchemy.orm import Session\n"
    )
    assert _imports_sqlalchemy(module)
    module.write_text("def f():\n    import sqlalchemy\n")
    assert _imports_sqlalchemy(module)
    module.write_text("from .storage.sessions import Session\nimport sqlalchemy_utils_like\n")
    assert not _imports_sqlalchemy(module)
