"""The distribution as a user installs it: a wheel in a new virtual environment.

These tests build real wheels and a real virtual environment (dependencies come from the package
index or pip's cache), so they take seconds; they prove the layout promise of the design: one
``rolecall`` namespace, no top-level ``core``, built-ins found without any entry point, and the
``ccx`` plugin found by its entry point alone; ``rolecall-openedx`` installs with its
dependencies, by the commands docs/openedx.md gives (``make dist`` and its wheels, or the
checkout), without the console or a database driver, under edx-platform's pins, and LMS and
Studio find it by their entry points.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from support import REPO, write_dist

pytestmark = pytest.mark.slow


def _run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    # Nor an enclosing make's flags (`make test` runs this file, which runs `make dist`).
    child_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ROLECALL_", "PYTHON", "MAKE", "MFLAGS"))
    }
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
    for project in (REPO, *(REPO / "plugins" / name for name in ("ccx", "teams", "openedx"))):
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


DOCS = REPO / "docs" / "openedx.md"
PINS = REPO.parent / "shared" / "reference" / "edx-platform-pins.txt"
"""The versions edx-platform pins for what a plugin app shares with it (beside the repository,
as ``../shared``)."""
NOT_IN_THE_PLATFORM = ("flask", "werkzeug", "psycopg", "psycopg-binary", "pymysql")
"""The console's and the drivers' packages: extras, never brought into LMS and Studio."""


def install_commands(marker: str) -> str:
    """The shell block of docs/openedx.md's *Install* section that holds ``marker``."""
    text = DOCS.read_text()
    section = re.split(r"\n##+ ", text.split("\n## Install\n", 1)[1])[0]  # not With Tutor
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    [block] = [b for b in blocks if marker in b]
    return block


def run_documented(block: str, home: Path, cwd: Path) -> None:
    """``block`` in bash as written, with the virtual environment ``home`` first on the path
    (its ``pip`` is the LMS's). ``make`` runs on this repository from ``cwd``, its ``dist/``
    there, the test environment's stamp taken as current."""
    script = (
        "set -eu\n"
        f'make() {{ command make -C "{REPO}" -o .venv/.installed DIST="$PWD/dist" "$@"; }}\n'
        + block
    )
    path = f"{home / 'bin'}{os.pathsep}{os.environ['PATH']}"
    _run("bash", "-c", script, env={"PATH": path, "VIRTUAL_ENV": str(home)}, cwd=cwd)


def not_in_the_platform(home: Path) -> list[str]:
    """The console's and the drivers' packages installed in the environment ``home``."""
    out = _run(home / "bin" / "python", "-m", "pip", "list", "--format=json")
    installed = {p["name"].lower().replace("_", "-") for p in json.loads(out)}
    return sorted(installed & set(NOT_IN_THE_PLATFORM))


@pytest.fixture(scope="module")
def openedx_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment where docs/openedx.md's commands installed rolecall-openedx
    from the wheels `make dist` built, with their dependencies (Django, DRF, bridgekeeper,
    edx-opaque-keys, edx-django-utils, openedx-events), as in LMS and Studio."""
    home = tmp_path_factory.mktemp("venv-openedx")
    venv.create(home, with_pip=True)
    run_documented(install_commands("make dist"), home, cwd=home.parent)
    return home


@pytest.fixture(scope="module")
def openedx_checkout_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same, installed straight from the checkout by docs/openedx.md's other command."""
    home = tmp_path_factory.mktemp("venv-openedx-checkout")
    venv.create(home, with_pip=True)
    run_documented(install_commands("pip install ."), home, cwd=REPO)
    return home


OPENEDX_SOURCE = REPO / "plugins" / "openedx" / "rolecall_openedx"


def test_the_openedx_wheel_holds_every_module_and_both_entry_points(wheels: Path) -> None:
    wheel = zipfile.ZipFile(next(wheels.glob("rolecall_openedx-*.whl")))
    names = set(wheel.namelist())
    sources = {
        f"rolecall_openedx/{p.relative_to(OPENEDX_SOURCE).as_posix()}"
        for p in OPENEDX_SOURCE.rglob("*.py")
    }
    assert "rolecall_openedx/management/commands/rolecall_retire_user.py" in sources
    assert sources <= names  # a new subpackage missing from [tool.setuptools] fails here
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"rolecall_openedx"}  # not the tests' Django project
    entry_points = wheel.read(
        next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    ).decode()
    for group in ("lms.djangoapp", "cms.djangoapp"):
        assert f"[{group}]\nrolecall_openedx = rolecall_openedx.apps:RolecallOpenedxConfig" in (
            entry_points
        )


OPENEDX_CHECK = """
import django
from django.conf import settings
from importlib.metadata import entry_points
from edx_django_utils.plugins import add_plugins, get_plugin_apps
import sys, types

for group in ("lms.djangoapp", "cms.djangoapp"):
    [found] = [e for e in entry_points(group=group) if e.name == "rolecall_openedx"]
    assert found.load().__name__ == "RolecallOpenedxConfig", found
    assert "rolecall_openedx.apps.RolecallOpenedxConfig" in get_plugin_apps(group)

lms = types.ModuleType("lms_settings")
sys.modules["lms_settings"] = lms
add_plugins("lms_settings", "lms.djangoapp", "production")
settings.configure(
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes",
                    *get_plugin_apps("lms.djangoapp")],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    AUTHENTICATION_BACKENDS=lms.AUTHENTICATION_BACKENDS,
    ROLECALL_DATABASE_URL="sqlite:///rolecall.db",  # in the working folder
)
django.setup()
import rolecall_openedx.authz_api, rolecall_openedx.drf, rolecall_openedx.events
import rolecall_openedx.retirement, rolecall_openedx.rules
from rolecall_openedx.service import get_rolecall
from rolecall_openedx.keys import scope_key
from django.contrib.auth.models import User

rc = get_rolecall()
rc.add_user("ada")
rc.assign("ada", "course_staff", "course-v1:MITx+6.002x+2026_T1")
ada = User(username="ada", is_active=True)
print(ada.has_perm("courses.edit_course_content", "course-v1:MITx+6.002x+2026_T1"),
      scope_key("MITx/6.002x/2012_Fall"), django.get_version())
"""


def test_make_dist_builds_both_wheels_and_sdists_with_their_versions(openedx_env: Path) -> None:
    versions = {
        name: re.search(r'^version = "(.+)"', (root / "pyproject.toml").read_text(), re.M)
        for name, root in (("rolecall", REPO), ("rolecall_openedx", REPO / "plugins" / "openedx"))
    }
    built = sorted(p.name for p in (openedx_env.parent / "dist").iterdir())
    expected = []
    for name, found in versions.items():
        assert found is not None
        expected += [f"{name}-{found[1]}-py3-none-any.whl", f"{name}-{found[1]}.tar.gz"]
    assert built == sorted(expected)


def test_the_wheels_resolve_under_edx_platforms_pins(wheels: Path, tmp_path: Path) -> None:
    """What pip would install for both wheels in an environment held to the platform's pins:
    no conflict (pip fails on one), and nothing of the console's or the drivers'."""
    if not PINS.is_file():
        pytest.skip(f"no {PINS} (the platform's pins, beside the repository)")
    report = tmp_path / "report.json"
    _run(
        sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
        "--disable-pip-version-check", "--report", report, "-c", PINS,
        next(wheels.glob("rolecall-*.whl")), next(wheels.glob("rolecall_openedx-*.whl")),
    )  # fmt: skip
    installed = {
        i["metadata"]["name"].lower().replace("_", "-"): i["metadata"]["version"]
        for i in json.loads(report.read_text())["install"]
    }
    assert {"rolecall", "rolecall-openedx", "django", "sqlalchemy"} <= set(installed)
    assert sorted(set(installed) & set(NOT_IN_THE_PLATFORM)) == []
    pins = dict(
        line.split("==")
        for line in PINS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    shared = {name: installed[name] for name in pins if name in installed}
    assert shared == {name: pins[name] for name in shared}
    assert {"django", "djangorestframework", "edx-django-utils", "pydantic", "click"} <= set(shared)


def test_installed_rolecall_openedx_is_found_by_lms_and_studio(
    openedx_env: Path, tmp_path: Path
) -> None:
    assert not_in_the_platform(openedx_env) == []
    out = _run(openedx_env / "bin" / "python", "-c", OPENEDX_CHECK, cwd=tmp_path).split()
    assert out[:2] == ["True", "MITx/6.002x/2012_Fall"]
    assert out[2].startswith("5.2")  # the newest Django the pin allows
    # rolecall's own command line came with it, its plugins loaded as in a bare install.
    plugins = json.loads(_run(openedx_env / "bin" / "rolecall", "plugins", "--json", cwd=tmp_path))
    assert "discussion" in [p["name"] for p in plugins]


def test_rolecall_openedx_installed_from_the_checkout_is_found_by_lms_and_studio(
    openedx_checkout_env: Path, tmp_path: Path
) -> None:
    assert not_in_the_platform(openedx_checkout_env) == []
    out = _run(openedx_checkout_env / "bin" / "python", "-c", OPENEDX_CHECK, cwd=tmp_path).split()
    assert out[:2] == ["True", "MITx/6.002x/2012_Fall"]


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


def test_rolecall_alone_has_no_console_and_serve_says_which_extra(
    fresh_env: Path, tmp_path: Path
) -> None:
    assert not_in_the_platform(fresh_env) == []
    result = subprocess.run(
        [str(fresh_env / "bin" / "rolecall"), "serve"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "rolecall: error: rolecall serve needs the console, which is not installed (no module "
        "'flask'): pip install 'rolecall[console]'"
    ]


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
    assert {"ccx_coach", "ccx_staff", "ccx_admin"} <= set(ccx["contributes"]["roles"])
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
