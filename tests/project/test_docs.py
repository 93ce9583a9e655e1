"""The docs promise what the code does: every hook documented, the README plugin runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

from rolecall.core import hookspecs

from support import REPO, run_cli, write_dist


def _hook_names() -> list[str]:
    return sorted(
        name
        for name in dir(hookspecs)
        if callable(getattr(hookspecs, name)) and hasattr(getattr(hookspecs, name), "rolecall_spec")
    )


def test_every_hook_has_a_docstring_example_and_a_section_in_the_plugin_docs() -> None:
    docs = (REPO / "docs" / "plugins.md").read_text()
    names = _hook_names()
    assert names == [
        "assignment_changed",
        "find_scopes",
        "lookup_scopes",
        "register_commands",
        "register_console_pages",
        "register_delegation_rules",
        "register_derived_roles",
        "register_permissions",
        "register_roles",
        "register_scope_types",
    ]
    for name in names:
        assert re.search(rf"^### `{name}\(", docs, re.MULTILINE), f"{name} is not documented"
        assert "Example" in (getattr(hookspecs, name).__doc__ or ""), f"{name} has no example"


def test_the_readme_plugin_is_complete_and_loads(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Write a plugin", 1)[1]
    source = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    entry_point = re.search(r'^notes = "(\w+)"$', section, re.MULTILINE)
    assert source is not None
    assert entry_point is not None
    site = write_dist(
        tmp_path / "site",
        "rolecall-notes",
        "1.0",
        {"notes": entry_point.group(1)},
        {entry_point.group(1): source.group(1)},
    )
    result = run_cli("plugins", "--json", pythonpath=site, env={"ROLECALL_STRICT_PLUGINS": "1"})
    assert result.returncode == 0, result.stderr
    notes = next(p for p in json.loads(result.stdout) if p["name"] == "notes")
    assert notes["contributes"]["roles"] == ["note_keeper"]
