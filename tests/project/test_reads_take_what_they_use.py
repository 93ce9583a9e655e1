"""The read layer takes what it uses, not the service: no module in ``core/reads/`` imports
``rolecall.core.service`` (not even for the type checker) or names ``Rolecall``; each read's
first argument is one of the small protocols of :mod:`rolecall.core.reads.source`, which the
service satisfies (mypy checks that at every call)."""

from __future__ import annotations

import ast

from support import REPO

READS = REPO / "core" / "reads"
PACKAGE = "rolecall.core.reads"
SERVICE = "rolecall.core.service"


def _imported_from(node: ast.ImportFrom) -> str:
    """The absolute name of the module ``node`` imports from, for a module of the read layer."""
    if node.level == 0:
        return node.module or ""
    parts = PACKAGE.split(".")
    base = parts[: len(parts) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _quoted_annotations(tree: ast.AST) -> list[tuple[int, ast.AST]]:
    """The annotations written as strings (``rc: "Rolecall"``), parsed, with their lines."""
    texts: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        annotations: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        for annotation in annotations:
            for part in ast.walk(annotation) if annotation is not None else ():
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    texts.append((part.lineno, part.value))
    found: list[tuple[int, ast.AST]] = []
    for line, text in texts:
        try:
            found.append((line, ast.parse(text, mode="eval")))
        except SyntaxError:
            continue
    return found


def reaches_the_service(source: str) -> list[int]:
    """The lines of ``source`` (a module of the read layer) that import the service module, or
    import or name its class ``Rolecall`` (in code or in an annotation, quoted or not)."""
    tree = ast.parse(source)
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
            if any(n == SERVICE or n.startswith(f"{SERVICE}.") for n in names):
                lines.add(node.lineno)
        elif isinstance(node, ast.ImportFrom):
            module = _imported_from(node)
            aliases = {alias.name for alias in node.names}
            if (
                module == SERVICE
                or module.startswith(f"{SERVICE}.")
                or (module == "rolecall.core" and "service" in aliases)
                or "Rolecall" in aliases
            ):
                lines.add(node.lineno)
        elif (isinstance(node, ast.Name) and node.id == "Rolecall") or (
            isinstance(node, ast.Attribute) and node.attr == "Rolecall"
        ):
            lines.add(node.lineno)
    for line, parsed in _quoted_annotations(tree):
        if any(isinstance(n, ast.Name) and n.id == "Rolecall" for n in ast.walk(parsed)):
            lines.add(line)
    return sorted(lines)


def test_the_scan_sees_the_service_however_it_is_reached() -> None:
    typed = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..service import Rolecall\n"
    )
    assert reaches_the_service(typed) == [3]
    assert reaches_the_service("from ..service import AuditRecord\n") == [1]
    assert reaches_the_service("def f():\n    from .. import service\n") == [2]
    assert reaches_the_service("import rolecall.core.service\n") == [1]
    assert reaches_the_service("from rolecall.core.service import Rolecall\n") == [1]
    assert reaches_the_service("from rolecall.core import Rolecall\n") == [1]
    assert reaches_the_service("x = 1\n\n\ndef f(rc: Rolecall) -> None: ...\n") == [4]
    assert reaches_the_service("import rolecall.core as c\nc.Rolecall\n") == [2]
    assert reaches_the_service("x = 1\ndef f(rc: 'Rolecall') -> 'list[Rolecall]': ...\n") == [2]
    # What the layer may use: its own protocols, storage, the engine, a docstring's mention.
    fine = (
        '"""Read on :class:`Rolecall`, the service."""\n'
        "from .source import IndexSource\n"
        "from ..storage import audit_log\n"
        "from ..engine import Index\n"
        "def f(rc: IndexSource, index: 'Index') -> None: ...\n"
    )
    assert reaches_the_service(fine) == []


def test_no_read_imports_or_names_the_service() -> None:
    modules = sorted(READS.glob("*.py"))
    assert {"__init__.py", "lookup.py", "source.py"} <= {p.name for p in modules}
    reaches = [
        f"{path.relative_to(REPO)}:{line}"
        for path in modules
        for line in reaches_the_service(path.read_text(encoding="utf-8"))
    ]
    assert reaches == [], "type the read's argument with a protocol of core/reads/source.py"
