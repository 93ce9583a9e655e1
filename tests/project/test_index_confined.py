"""Outside ``rolecall.core`` nothing reaches the index: the web application, the built-in
plugins and the plugins ask through the read layer (:mod:`rolecall.core.reads`, which holds the
index steady) or the service (docs/engine.md, "Reads beyond the service")."""

from __future__ import annotations

import ast
from pathlib import Path

from support import REPO

OUTSIDE_CORE = ("webapp", "builtin_plugins", "plugins")
SKIPPED = {"tests", "build", "node_modules", ".venv", "migrations"}


def _sources() -> list[Path]:
    found = []
    for top in OUTSIDE_CORE:
        for path in sorted((REPO / top).rglob("*.py")):
            if SKIPPED.isdisjoint(path.relative_to(REPO).parts):
                found.append(path)
    return found


def reaches_the_index(source: str) -> list[int]:
    """The lines of ``source`` that read an attribute named ``index`` (``rc.index``,
    ``service.index``...); a call of a method named so (``keys.index(k)``) is no reach."""
    tree = ast.parse(source)
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    return sorted(
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "index" and id(node) not in called
    )


def test_the_scan_sees_a_reach_and_lets_a_list_index_call_be() -> None:
    assert reaches_the_index("cells = rc.index.cells_of(user)\n") == [1]
    assert reaches_the_index("x = 1\nguard(service.index)\n") == [2]
    assert reaches_the_index("at = names.index('ada')\n") == []


def test_nothing_outside_core_reaches_the_index() -> None:
    sources = _sources()
    assert any(p.parts[-2:] == ("webapp", "authz.py") for p in sources)  # the scan sees them
    reaches = [
        f"{path.relative_to(REPO)}:{line}"
        for path in sources
        for line in reaches_the_index(path.read_text(encoding="utf-8"))
    ]
    assert reaches == []
