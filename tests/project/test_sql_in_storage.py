"""SQL belongs to storage: outside ``core/storage/`` no module imports SQLAlchemy, but for the
few listed here, each with the reason it may."""

from __future__ import annotations

import ast
from pathlib import Path

from support import REPO

ALLOWED = {
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


def _imported_names(path: Path, package: str) -> set[str]:
    """The names a module imports from ``package`` or its submodules (``*`` for the package
    itself, imported whole)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(
                "*"
                for alias in node.names
                if alias.name == package or alias.name.startswith(f"{package}.")
            )
        elif isinstance(node, ast.ImportFrom) and node.module:
            module = "." * node.level + node.module
            if module == package or module.startswith(f"{package}."):
                names.update(alias.name for alias in node.names)
    return names


RUNS_SQL = {"execute", "scalar", "scalars", "exec_driver_sql", "query"}
"""The methods of a session or connection that run a statement."""


def _statements_run(path: Path) -> list[str]:
    """The calls of a method that runs a statement, as ``line: name``."""
    return [
        f"{node.lineno}: {node.func.attr}"
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in RUNS_SQL
    ]


def test_the_unit_of_work_only_opens_the_transaction() -> None:
    """core/writes.py owns the transaction, the write lock and the revision, but opens the
    transaction through storage (``sessions.writing``), takes no table or row helper and runs
    no statement itself: the rows of grants and revocations are written by
    core/storage/grants.py. (That it imports nothing of SQLAlchemy is the test above's.)"""
    writes = REPO / "core/writes.py"
    assert "writing" in _imported_names(writes, ".storage.sessions")
    assert not _imported_names(writes, ".storage.models"), "tables belong to storage"
    assert "models" not in _imported_names(writes, ".storage"), "tables belong to storage"
    assert _imported_names(writes, ".storage.database") <= {"bulk_cache"}, (
        "rows are read and written by core/storage/grants.py"
    )
    assert not _statements_run(writes), "statements belong to core/storage/grants.py"


def test_the_unit_of_works_check_sees_a_statement(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from sqlalchemy import Engine, delete\nfrom sqlalchemy.orm import Session\n")
    assert _imported_names(module, "sqlalchemy") == {"Engine", "delete", "Session"}
    module.write_text("def f():\n    import sqlalchemy.sql\n")
    assert _imported_names(module, "sqlalchemy") == {"*"}
    module.write_text("from .storage.models import State\nfrom .storage.database import rows_in\n")
    assert _imported_names(module, ".storage.models") == {"State"}
    assert _imported_names(module, ".storage.database") == {"rows_in"}
    module.write_text("from .storage import grants\nfrom sqlalchemy_like import select\n")
    assert not _imported_names(module, "sqlalchemy")
    assert not _imported_names(module, ".storage.models")
    module.write_text("def work(session, audit):\n    audit.add(1)\n    grants.insert(session)\n")
    assert not _statements_run(module)
    module.write_text("def work(session):\n    session.connection().exec_driver_sql('x')\n")
    assert _statements_run(module) == ["2: exec_driver_sql"]
