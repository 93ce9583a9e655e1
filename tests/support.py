"""Helpers shared by the tests: fake installed distributions and running the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def write_dist(
    site: Path,
    name: str,
    version: str,
    entry_points: dict[str, str],
    modules: dict[str, str],
) -> Path:
    """Write an installed distribution (a ``.dist-info`` folder and its modules) into ``site``,
    exactly as pip would leave it, so importlib-metadata discovers its ``rolecall`` entry
    points when ``site`` is on ``sys.path``."""
    site.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (site / f"{module}.py").write_text(source)
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = "".join(f"{ep} = {target}\n" for ep, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[rolecall]\n{lines}")
    return site


KEY_SETTINGS = ("ROLECALL_KEY_FILE", "ROLECALL_SECRET_KEY")


def child_environment() -> dict[str, str]:
    """This process's environment for a child process, without rolecall's settings but for
    where the keys are: a child on the test's database signs and verifies with its keys."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith("ROLECALL_") or k in KEY_SETTINGS
    }


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    pythonpath: Path | None = None,
    cwd: Path | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``rolecall`` console script in a child process."""
    # The test's keys stay (the key file the test's own service uses); no other setting does.
    kept = ("ROLECALL_KEY_FILE", "ROLECALL_SECRET_KEY")
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("ROLECALL_") or k in kept}
    if pythonpath is not None:
        child_env["PYTHONPATH"] = str(pythonpath)
    child_env.update(env or {})
    return subprocess.run(
        [str(BIN / "rolecall"), *args],
        capture_output=True,
        text=True,
        env=child_env,
        cwd=cwd,
        input=input,
        timeout=60,
        check=False,
    )


def inner_pytest(
    tmp_path: Path, source: str, env: dict[str, str], plugin: str
) -> subprocess.CompletedProcess[str]:
    """``source`` as ``test_two_uses.py`` in a pytest session of its own in ``tmp_path``, with
    ``env``, the tests folder importable and the hooks of the module ``plugin`` loaded (``pg``,
    ``mariadb``): how a database fixture behaves when its server is set, unset or away."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_two_uses.py").write_text(source)
    tests = str(Path(__file__).resolve().parent)
    env = {**env, "PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")])}
    quick = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-ra", "-p", plugin, *quick, "-W", "error"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def move_engine_clock(monkeypatch: Any, fake: object) -> None:
    """Give every module of the decision engine that reads the clock (expiry) ``fake`` as its
    ``time`` module."""
    from rolecall.core.engine import explain, index, lookups, reverse, tables

    for module in (explain, index, lookups, reverse, tables):
        monkeypatch.setattr(module, "time", fake)
