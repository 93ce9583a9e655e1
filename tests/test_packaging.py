"""The distribution as a user installs it: a wheel in a new virtual environment.

These tests build real wheels and a real virtual environment (dependencies come from the package
index or pip's cache), so they take seconds; they prove the layout promise of the design: one
``rolecall`` namespace, no top-level ``core``, built-ins found without any entry point, and the
``ccx`` plugin found by its entry point alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from support import REPO, write_dist

pytestmark = pytest.mark.slow


def _run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("ROLECALL_", "PYTHON"))}
    child_env.update(env or {})
    result = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        env=child_env,
        cwd=cwd,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheels")
    for project in (REPO, REPO / "plugins" / "ccx", REPO / "plugins" / "teams"):
        _run(
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--disable-pip-version-check",
            "-w",
            out,
            project,
        )
    return out


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory: pytest.TempPathFactory, wheels: Path) -> Path:
    """A new virtual environment with the rolecall wheel and its dependencies, nothing else."""
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=True)
    wheel = next(wheels.glob("rolecall-*.whl"))
    _run(home / "bin" / "pip", "install", "--quiet", "--disable-pip-version-check", wheel)
    return home


def test_the_wheel_maps_the_folders_into_one_namespace(wheels: Path) -> None:
    wheel = next(wheels.glob("rolecall-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "rolecall/core/__init__.py" in names
    assert "rolecall/core/py.typed" in names
    assert "rolecall/builtin_plugins/platform.py" in names
    assert "rolecall/webapp/__init__.py" in names
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"rolecall"}
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "rolecall = rolecall.core.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_rolecall_imports_as_rolecall_core_only(fresh_env: Path, tmp_path: Path) -> None:
    python = fresh_env / "bin" / "python"
    _run(
        python,
        "-c",
        "import rolecall.core, rolecall.builtin_plugins, rolecall.webapp",
        cwd=tmp_path,
    )
    result = subprocess.run(
        [str(python), "-c", "import core"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1
    assert "No module named 'core'" in result.stderr


def test_installed_cli_lists_the_builtins(fresh_env: Path, tmp_path: Path) -> None:
    plugins = json.loads(_run(fresh_env / "bin" / "rolecall", "plugins", "--json", cwd=tmp_path))
    assert [p["name"] for p in plugins] == [
        "platform",
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
    ]
    assert plugins[0]["builtin"] is True
    # The web application is a plugin of rolecall's own distribution, found by its entry point.
    assert plugins[-1]["builtin"] is False
    assert plugins[-1]["distribution"] == "rolecall"


def test_installing_the_ccx_distribution_makes_it_appear(
    fresh_env: Path, wheels: Path, tmp_path: Path
) -> None:
    ccx_wheel = next(wheels.glob("rolecall_ccx-*.whl"))
    target = tmp_path / "site"
    # Installed into its own folder so the shared environment stays as the other tests expect.
    _run(
        fresh_env / "bin" / "pip", "install", "--quiet", "--no-deps", "--target", target, ccx_wheel
    )
    plugins = json.loads(
        _run(
            fresh_env / "bin" / "rolecall",
            "plugins",
            "--json",
            env={"PYTHONPATH": str(target)},
            cwd=tmp_path,
        )
    )
    ccx = next(p for p in plugins if p["name"] == "ccx")
    assert ccx["distribution"] == "rolecall-ccx"
    assert ccx["entry_point"] == "ccx = rolecall_ccx"
    assert ccx["contributes"]["scope_types"] == ["ccx"]
    assert ccx["contributes"]["roles"] == ["ccx_coach"]
    parsed = json.loads(
        _run(
            fresh_env / "bin" / "rolecall",
            "scope",
            "parse",
            "ccx-v1:MITx+6.002x+2026_T1+ccx@3",
            "--json",
            env={"PYTHONPATH": str(target)},
            cwd=tmp_path,
        )
    )
    assert parsed["chain"] == [
        "ccx-v1:MITx+6.002x+2026_T1+ccx@3",
        "course-v1:MITx+6.002x+2026_T1",
        "org:MITx",
        "platform",
    ]


def test_installing_the_teams_distribution_makes_it_appear_with_every_contribution(
    fresh_env: Path, wheels: Path, tmp_path: Path
) -> None:
    teams_wheel = next(wheels.glob("rolecall_teams-*.whl"))
    target = tmp_path / "site"
    _run(
        fresh_env / "bin" / "pip", "install", "--quiet", "--no-deps", "--target", target,
        teams_wheel,
    )  # fmt: skip
    env = {"PYTHONPATH": str(target), "ROLECALL_STRICT_PLUGINS": "1"}
    rolecall = fresh_env / "bin" / "rolecall"
    plugins = json.loads(_run(rolecall, "plugins", "--json", env=env, cwd=tmp_path))
    teams = next(p for p in plugins if p["name"] == "teams")
    assert teams["distribution"] == "rolecall-teams"
    assert teams["entry_point"] == "teams = rolecall_teams"
    assert teams["contributes"]["console_pages"] == ["teams"]
    assert teams["contributes"]["commands"] == ["teams"]
    key = "team-v1:MITx+6.002x+2026_T1+team@blue"
    parsed = json.loads(_run(rolecall, "scope", "parse", key, "--json", env=env, cwd=tmp_path))
    assert parsed["chain"] == [key, "course-v1:MITx+6.002x+2026_T1", "org:MITx", "platform"]


def test_nothing_in_rolecall_imports_the_example_plugins() -> None:
    sources = [
        *REPO.glob("core/**/*.py"),
        *REPO.glob("builtin_plugins/**/*.py"),
        *REPO.glob("webapp/**/*.py"),
    ]
    assert sources
    assert not [p for p in sources if "rolecall_ccx" in p.read_text()]
    assert not [p for p in sources if "rolecall_teams" in p.read_text()]


def test_installed_cli_survives_a_broken_plugin(fresh_env: Path, tmp_path: Path) -> None:
    site = write_dist(
        tmp_path / "site",
        "rolecall-broken",
        "0.1",
        {"broken": "rolecall_broken_pkg"},
        {"rolecall_broken_pkg": "raise RuntimeError('boom')\n"},
    )
    cli = [str(fresh_env / "bin" / "rolecall"), "plugins"]
    base = {k: v for k, v in os.environ.items() if not k.startswith("ROLECALL_")}
    ok = subprocess.run(
        cli,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        env={**base, "PYTHONPATH": str(site)},
    )
    assert ok.returncode == 0
    assert ok.stderr.strip().splitlines() == [
        "rolecall: warning: plugin 'broken' skipped (distribution rolecall-broken 0.1, entry point "
        "broken = rolecall_broken_pkg): import failed: RuntimeError: boom"
    ]
    strict = subprocess.run(
        cli,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        env={**base, "PYTHONPATH": str(site), "ROLECALL_STRICT_PLUGINS": "1"},
    )
    assert strict.returncode != 0
    assert "Traceback" not in strict.stderr
