"""The registry commands of the ``rolecall`` CLI, run as the real console script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import run_cli, write_dist

GOOD_PLUGIN = """
from rolecall.core import Permission, Role, hookimpl

@hookimpl
def register_permissions():
    return [
        Permission(id="notes.view_notes", title="View notes", description="Read notes.",
                   area="Notes", scope_types=("course",)),
        Permission(id="notes.edit_notes", title="Edit notes", description="Change notes.",
                   area="Notes", scope_types=("course",), implies=("notes.view_notes",)),
    ]

@hookimpl
def register_roles():
    return [Role(id="note_taker", title="Note taker", description="Keeps the notes.",
                 scope_types=("course", "org"), permissions=("notes.edit_notes",),
                 aliases=("scribe",))]
"""

BROKEN_PLUGIN = "import rolecall_no_such_module  # noqa\n"


@pytest.fixture
def good_site(tmp_path: Path) -> Path:
    return write_dist(
        tmp_path / "site",
        "rolecall-notes",
        "2.0.1",
        {"notes": "rolecall_notes_cli"},
        {"rolecall_notes_cli": GOOD_PLUGIN},
    )


@pytest.fixture
def broken_site(good_site: Path) -> Path:
    return write_dist(
        good_site,
        "rolecall-broken",
        "0.1",
        {"broken": "rolecall_broken_cli"},
        {"rolecall_broken_cli": BROKEN_PLUGIN},
    )


def test_plugins_lists_the_builtins() -> None:
    result = run_cli("plugins")
    assert result.returncode == 0, result.stderr
    assert "platform (built-in rolecall.builtin_plugins.platform): loaded" in result.stdout
    assert "scope types: platform, org, course, library" in result.stdout


def test_plugins_json_describes_a_third_party_plugin(good_site: Path) -> None:
    result = run_cli("plugins", "--json", pythonpath=good_site)
    assert result.returncode == 0, result.stderr
    notes = next(p for p in json.loads(result.stdout) if p["name"] == "notes")
    assert notes["builtin"] is False
    assert notes["distribution"] == "rolecall-notes"
    assert notes["version"] == "2.0.1"
    assert notes["entry_point"] == "notes = rolecall_notes_cli"
    assert notes["status"] == "loaded"
    assert notes["hooks"] == ["register_permissions", "register_roles"]
    assert notes["contributes"]["permissions"] == ["notes.view_notes", "notes.edit_notes"]
    assert notes["contributes"]["roles"] == ["note_taker"]


def test_a_broken_plugin_prints_one_line_and_the_cli_still_works(broken_site: Path) -> None:
    result = run_cli("plugins", pythonpath=broken_site)
    assert result.returncode == 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("rolecall: warning: plugin 'broken' skipped")
    assert "distribution rolecall-broken 0.1" in lines[0]
    assert "entry point broken = rolecall_broken_cli" in lines[0]
    assert "No module named 'rolecall_no_such_module'" in lines[0]
    assert "Traceback" not in result.stderr
    assert "notes 2.0.1" in result.stdout
    assert "broken 0.1 (distribution rolecall-broken 0.1" in result.stdout
    assert "error: import failed: ModuleNotFoundError" in result.stdout


def test_a_broken_plugin_is_fatal_under_strict_mode(broken_site: Path) -> None:
    result = run_cli("plugins", pythonpath=broken_site, env={"ROLECALL_STRICT_PLUGINS": "1"})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("rolecall: plugin error: plugin 'broken' skipped")
    assert "Traceback" not in result.stderr


def test_a_missing_required_plugin_is_fatal() -> None:
    result = run_cli("plugins", env={"ROLECALL_REQUIRE_PLUGINS": "ccx"})
    assert result.returncode == 2
    assert result.stderr == "rolecall: plugin error: required plugin 'ccx' is not installed\n"


def test_a_disabled_plugin_is_listed_as_disabled(good_site: Path) -> None:
    result = run_cli("plugins", pythonpath=good_site, env={"ROLECALL_DISABLE_PLUGINS": "notes"})
    assert result.returncode == 0, result.stderr
    assert "notes 2.0.1 (distribution rolecall-notes 2.0.1, entry point" in result.stdout
    assert "): disabled" in result.stdout
    roles = run_cli("roles", pythonpath=good_site, env={"ROLECALL_DISABLE_PLUGINS": "notes"})
    assert "note_taker" not in roles.stdout


def test_disabling_the_platform_plugin_is_refused() -> None:
    result = run_cli("plugins", env={"ROLECALL_DISABLE_PLUGINS": "platform"})
    assert result.returncode == 2
    assert "the 'platform' plugin cannot be disabled" in result.stderr


def test_permissions_table_and_plugin_filter(good_site: Path) -> None:
    result = run_cli("permissions", "--plugin", "notes", pythonpath=good_site)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "PERMISSION",
        "AREA",
        "SCOPE",
        "TYPES",
        "IMPLIES",
        "RISKS",
        "PLUGIN",
    ]
    assert lines[1].split() == [
        "notes.edit_notes",
        "Notes",
        "course",
        "notes.view_notes",
        "-",
        "notes",
    ]
    assert lines[2].split() == ["notes.view_notes", "Notes", "course", "-", "-", "notes"]
    assert len(lines) == 3


def test_permissions_json_includes_the_closed_implications(good_site: Path) -> None:
    result = run_cli("permissions", "--json", pythonpath=good_site)
    edit = next(p for p in json.loads(result.stdout) if p["id"] == "notes.edit_notes")
    assert edit["implies_closed"] == ["notes.view_notes"]
    assert edit["plugin"] == "notes"


def test_permissions_of_an_unknown_plugin_exit_2() -> None:
    result = run_cli("permissions", "--plugin", "nope")
    assert result.returncode == 2
    assert (
        result.stderr == "rolecall: error: no plugin named 'nope'; `rolecall plugins` lists them\n"
    )


def test_roles_table_json_and_matrix(good_site: Path) -> None:
    table = run_cli("roles", pythonpath=good_site)
    row = next(line for line in table.stdout.splitlines() if line.startswith("note_taker"))
    assert row.split() == ["note_taker", "Note", "taker", "course,", "org", "2", "scribe", "notes"]
    as_json = json.loads(run_cli("roles", "--json", pythonpath=good_site).stdout)
    role = next(r for r in as_json if r["id"] == "note_taker")
    assert role["closed_permissions"] == ["notes.edit_notes", "notes.view_notes"]
    only_platform = ",".join(
        (
            "libraries",
            "discussion",
            "grading",
            "enrollment",
            "certificates",
            "communications",
            "analytics",
            "authoring",
            "delegation",
            "legacy",
            "console",
        )
    )
    matrix = run_cli(
        "roles", "--matrix", pythonpath=good_site, env={"ROLECALL_DISABLE_PLUGINS": only_platform}
    ).stdout.splitlines()
    assert matrix[0].split() == ["PERMISSION", "NOTE_TAKER", "PLATFORM_ADMIN"]
    assert matrix[1].split() == ["notes.edit_notes", "x", "x"]


def test_scope_parse_shows_type_and_chain() -> None:
    result = run_cli("scope", "parse", "course-v1:MITx+6.002x+2026_T1")
    assert result.returncode == 0
    assert "type:   course" in result.stdout
    assert "chain:  course-v1:MITx+6.002x+2026_T1 -> org:MITx -> platform" in result.stdout
    as_json = json.loads(run_cli("scope", "parse", "lib:MITx:physics", "--json").stdout)
    assert as_json == {
        "key": "lib:MITx:physics",
        "type": "library",
        "fields": {"org": "MITx", "library": "physics"},
        "parent": "org:MITx",
        "chain": ["lib:MITx:physics", "org:MITx", "platform"],
    }


@pytest.mark.parametrize("key", ["course-v1:MITx", "lib::x", "org:", "nonsense"])
def test_scope_parse_of_a_bad_key_exits_2_with_one_line(key: str) -> None:
    result = run_cli("scope", "parse", key)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("rolecall: error: ")
    assert "for example" in result.stderr or "looks like" in result.stderr


def test_unknown_command_and_bad_option_exit_2() -> None:
    assert run_cli("no-such-command").returncode == 2
    assert run_cli("roles", "--bogus").returncode == 2


def test_plugin_commands_are_added_to_the_cli(tmp_path: Path) -> None:
    site = write_dist(
        tmp_path / "site",
        "rolecall-hello",
        "1.0",
        {"hello": "rolecall_hello_cli"},
        {
            "rolecall_hello_cli": (
                "import click\nfrom rolecall.core import hookimpl\n\n"
                "@click.command('hello')\ndef hello():\n    click.echo('hello from a plugin')\n\n"
                "@hookimpl\ndef register_commands():\n    return [hello]\n"
            )
        },
    )
    result = run_cli("hello", pythonpath=site)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello from a plugin\n"
    assert "hello" in run_cli("--help", pythonpath=site).stdout


def test_serve_without_the_console_installed_says_which_extra_to_install(tmp_path: Path) -> None:
    # Flask made absent: a module of that name that fails as a missing one does.
    site = tmp_path / "site"
    site.mkdir()
    (site / "flask.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'flask'\", name='flask')\n"
    )
    result = run_cli("serve", "--port", "1", pythonpath=site, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "rolecall: error: rolecall serve needs the console, which is not installed (no module "
        "'flask'): pip install 'rolecall[console]'"
    ]
