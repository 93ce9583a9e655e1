"""``import rolecall.core`` is light: what a plugin needs, without the database, CLI or web layers.

Each check runs in a fresh interpreter, so what other tests imported does not count.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "sqlalchemy",
    "click",
    "flask",
    "alembic",
    "importlib_metadata",
    "rolecall.core.service",
    "rolecall.core.storage",
    "rolecall.core.cli",
    "rolecall.core.accounts",
    "rolecall.core.plugins",
    "rolecall.webapp",
    "rolecall.builtin_plugins",
)


def _python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _loaded_after(statement: str) -> set[str]:
    out = _python(f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))")
    return set(json.loads(out))


def test_importing_the_core_loads_no_database_cli_or_web_module() -> None:
    loaded = _loaded_after("import rolecall.core")
    assert "pluggy" in loaded  # hookimpl is pluggy's marker
    # The records and the engine's answers are pydantic models, loaded on first use.
    assert not {"pydantic", "rolecall.core.records", "rolecall.core.engine"} & loaded
    found = sorted(m for m in loaded for heavy in HEAVY if m == heavy or m.startswith(heavy + "."))
    assert found == []


def test_a_plugin_import_builds_no_pydantic_model() -> None:
    """The records' models (and the engine's answers') are built on first use, so importing
    them neither builds a validator nor loads pydantic's plugin loader, which reads every
    installed distribution's metadata."""
    loaded = _loaded_after(
        "from rolecall.core import Decision, Permission, Role, ScopeType, Team, hookimpl"
    )
    assert {"pydantic", "rolecall.core.records", "rolecall.core.engine.decisions"} <= loaded
    assert "pydantic.plugin._loader" not in loaded
    assert "importlib.metadata" not in loaded
    out = _python(
        "import sys\n"
        "from rolecall.core import Permission\n"
        "Permission(id='x.y', title='Y', description='d', area='A', scope_types=('course',))\n"
        "print('pydantic.plugin._loader' in sys.modules)"
    )
    assert out.strip() == "True"  # built, and so validated, on first use


def test_a_plugin_module_declaring_records_and_hooks_stays_light() -> None:
    loaded = _loaded_after(
        "import rolecall.builtin_plugins.grading, rolecall.builtin_plugins.platform"
    )
    assert not {"sqlalchemy", "click", "flask", "rolecall.core.service"} & loaded


def test_every_public_name_resolves_and_the_heavy_ones_load_on_first_use() -> None:
    out = _python(
        "import json, sys\n"
        "import rolecall.core as core\n"
        "before = 'sqlalchemy' in sys.modules\n"
        "missing = [n for n in core.__all__ if getattr(core, n, None) is None]\n"
        "from rolecall.core import Rolecall\n"
        "print(json.dumps([before, missing, Rolecall.__module__, 'sqlalchemy' in sys.modules,\n"
        "                  sorted(set(core.__all__) - set(dir(core)))]))"
    )
    before, missing, module, after, undiscoverable = json.loads(out)
    assert before is False
    assert missing == []
    assert module == "rolecall.core.service"
    assert after is True
    assert undiscoverable == []


def test_importing_the_core_changes_nothing_process_wide() -> None:
    out = _python(
        "import gc, json, logging\n"
        "handlers = list(logging.getLogger().handlers); level = logging.getLogger().level\n"
        "import rolecall.core\n"
        "print(json.dumps([gc.isenabled(), logging.getLogger().handlers == handlers,\n"
        "                  logging.getLogger().level == level]))"
    )
    assert json.loads(out) == [True, True, True]


def test_an_unknown_name_is_an_attribute_error() -> None:
    import rolecall.core

    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        _ = rolecall.core.nothing_here  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "name", ["echo_json", "echo_table", "json_option", "plugins_of", "service_of"]
)
def test_the_command_helpers_live_in_the_cli_package(name: str) -> None:
    import rolecall.core
    import rolecall.core.cli

    assert name in rolecall.core.cli.__all__
    assert name not in rolecall.core.__all__
    with pytest.warns(DeprecationWarning, match="import it from rolecall.core.cli"):
        old = getattr(rolecall.core, name)
    assert old is getattr(rolecall.core.cli, name)
