"""Record the public surface of openedx-authz's API from its source, with ``ast`` (nothing of it
is imported, so any version can be read, whatever Python it needs).

    python openedx_authz_surface.py CHECKOUT [--commit SHA] > openedx_authz_surface.json

CHECKOUT is a working tree of https://github.com/openedx/openedx-authz. The output names the
repository, the version (``openedx_authz/__init__.py``), the commit (``git rev-parse HEAD`` in
CHECKOUT, or ``--commit``) and the files read, then:

- ``functions``: every function ``openedx_authz.api`` re-exports (the ``__all__`` of each module
  its ``__init__.py`` star-imports), with its module and parameters (name, kind, default as
  source text);
- ``classes``: the data classes of ``openedx_authz.api.data``'s ``__all__``, and those the API
  modules import from it, with what each offers, its bases' members included: its fields in
  constructor order (attrs classes), class constants, properties, public methods with their
  kind and parameters, and enum members.

``tests/test_authz_api.py`` compares ``rolecall_openedx.authz_api`` with the JSON.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPOSITORY = "https://github.com/openedx/openedx-authz"
PACKAGE = "openedx_authz"
DATA_MODULES = ("openedx_authz/api/data.py", "openedx_authz/data.py")
"""Where the data classes are defined (``api/data.py`` imports the base ones from ``data.py``)."""


def _module(root: Path, relative: str) -> ast.Module:
    return ast.parse((root / relative).read_text(encoding="utf-8"), filename=relative)


def _all(tree: ast.Module) -> list[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            return [str(v) for v in value]
    raise ValueError("no __all__")


def _star_imports(tree: ast.Module) -> list[str]:
    return [
        node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        and node.module
        and any(alias.name == "*" for alias in node.names)
    ]


def _source(node: ast.expr | None) -> str | None:
    return None if node is None else ast.unparse(node)


def _params(args: ast.arguments, *, skip_first: bool) -> list[dict[str, Any]]:
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += list(args.defaults)
    rows: list[dict[str, Any]] = []
    for i, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        kind = "POSITIONAL_ONLY" if i < len(args.posonlyargs) else "POSITIONAL_OR_KEYWORD"
        rows.append({"name": arg.arg, "kind": kind, "default": _source(default)})
    if args.vararg is not None:
        rows.append({"name": args.vararg.arg, "kind": "VAR_POSITIONAL", "default": None})
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        rows.append({"name": arg.arg, "kind": "KEYWORD_ONLY", "default": _source(kw_default)})
    if args.kwarg is not None:
        rows.append({"name": args.kwarg.arg, "kind": "VAR_KEYWORD", "default": None})
    return rows[1:] if skip_first else rows


def _decorators(node: ast.FunctionDef | ast.ClassDef) -> set[str]:
    names = set()
    for d in node.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        names.add(ast.unparse(target).rsplit(".", 1)[-1])
    return names


def _is_classvar(annotation: ast.expr) -> bool:
    target = annotation.value if isinstance(annotation, ast.Subscript) else annotation
    return ast.unparse(target).rsplit(".", 1)[-1] == "ClassVar"


def _own(node: ast.ClassDef) -> dict[str, Any]:
    """What the class body itself defines."""
    attrs_class = "define" in _decorators(node)
    bases = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]
    fields: list[list[str | None]] = []
    constants: dict[str, str | None] = {}
    properties: list[str] = []
    methods: dict[str, dict[str, Any]] = {}
    for item in node.body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            name = item.target.id
            if _is_classvar(item.annotation) or not attrs_class:
                constants[name] = _source(item.value)
            else:
                fields.append([name, _source(item.value)])
        elif isinstance(item, ast.Assign):
            for target in item.targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = _source(item.value)
        elif isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
            decorators = _decorators(item)
            if decorators & {"property", "cached_property"}:
                properties.append(item.name)
                continue
            kind = (
                "classmethod"
                if "classmethod" in decorators
                else "staticmethod"
                if "staticmethod" in decorators
                else "method"
            )
            methods[item.name] = {
                "kind": kind,
                "params": _params(item.args, skip_first=kind != "staticmethod"),
            }
    return {
        "bases": bases,
        "attrs": attrs_class,
        "enum": "Enum" in bases,
        "fields": fields,
        "constants": constants,
        "properties": properties,
        "methods": methods,
    }


def _classes(root: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for relative in DATA_MODULES:
        if not (root / relative).exists():  # older versions define them all in api/data.py
            continue
        for node in _module(root, relative).body:
            if isinstance(node, ast.ClassDef):
                found.setdefault(node.name, {"file": relative, **_own(node)})
    return found


def _effective(name: str, own: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The class's members with those of its bases (base first, the subclass overriding)."""
    entry = own[name]
    fields: dict[str, str | None] = {}
    constants: dict[str, str | None] = {}
    members: dict[str, Any] = {}  # name: "property" or a method's record
    for base in entry["bases"]:
        if base in own:
            inherited = _effective(base, own)
            fields.update(dict(inherited["fields"]))
            constants.update(inherited["constants"])
            members.update(dict.fromkeys(inherited["properties"], "property"))
            members.update(inherited["methods"])
    fields.update(dict(entry["fields"]))
    constants.update(entry["constants"])
    members.update(dict.fromkeys(entry["properties"], "property"))
    members.update(entry["methods"])
    return {
        "bases": entry["bases"],
        "file": entry["file"],
        "enum": entry["enum"],
        "fields": [[k, v] for k, v in fields.items()],
        "constants": constants,
        "properties": sorted(k for k, v in members.items() if v == "property"),
        "methods": {k: v for k, v in sorted(members.items()) if v != "property"},
    }


def surface(root: Path, commit: str | None = None) -> dict[str, Any]:
    init = _module(root, f"{PACKAGE}/__init__.py")
    version = next(
        ast.literal_eval(node.value)
        for node in init.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)
    )
    if commit is None:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        )
        commit = done.stdout.strip() or None
    api_init = f"{PACKAGE}/api/__init__.py"
    modules = _star_imports(_module(root, api_init))
    files = [api_init]
    functions: dict[str, dict[str, Any]] = {}
    wanted_classes: list[str] = []
    for module in modules:
        relative = module.replace(".", "/") + ".py"
        files.append(relative)
        tree = _module(root, relative)
        exported = _all(tree)
        if module.endswith(".data"):
            wanted_classes += exported
            continue
        defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        for name in exported:
            if name in defs:
                functions[name] = {
                    "module": module,
                    "params": _params(defs[name].args, skip_first=False),
                }
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module == f"{PACKAGE}.api.data":
                wanted_classes += [alias.name for alias in node.names]
    own = _classes(root)
    files += [m for m in DATA_MODULES if m not in files and (root / m).exists()]
    classes = {name: _effective(name, own) for name in dict.fromkeys(wanted_classes)}
    return {
        "about": (
            f"The public surface of openedx-authz {version} ({REPOSITORY}, commit {commit}), "
            f"read with ast from {', '.join(files)}. Regenerate from a checkout: python "
            "plugins/openedx/tests/openedx_authz_surface.py CHECKOUT > "
            "plugins/openedx/tests/openedx_authz_surface.json"
        ),
        "repository": REPOSITORY,
        "version": version,
        "commit": commit,
        "files": files,
        "functions": dict(sorted(functions.items())),
        "classes": dict(sorted(classes.items())),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="a working tree of openedx-authz")
    parser.add_argument("--commit", help="the commit it is (else: git rev-parse HEAD there)")
    args = parser.parse_args(argv)
    json.dump(surface(args.checkout, args.commit), sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
