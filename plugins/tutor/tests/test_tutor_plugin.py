"""tutor-contrib-rolecall with the real Tutor: ``tutor plugins enable rolecall`` and ``tutor config
save`` into a new project root, then the files Tutor rendered there (LMS and Studio settings, the
openedx image's Dockerfile, the MFE plugin's build), and the init job's command as Tutor hands it
to Docker (a stand-in ``docker`` records it: no Docker engine runs here, and no image is built).

docs/openedx.md's Tutor commands run here as written, but those that need Docker.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tutorrolecall.plugin import _admin_console_at_authz

TUTOR = Path(sys.executable).parent / "tutor"
DOCS = Path(__file__).resolve().parents[3] / "docs" / "openedx.md"
SETTINGS = [
    f"apps/openedx/settings/{service}/{mode}.py"
    for service in ("lms", "cms")
    for mode in ("production", "development")
]
NEEDS_DOCKER = ("tutor images build", "tutor local launch")
FAKE_DOCKER = """#!{python}
import json, os, sys
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if "ls" in sys.argv:  # `docker compose ls --format json`: no project is running
    print("[]")
"""


class Tutor:
    """The ``tutor`` command on a project root of its own, plugins from this environment only."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "tutor-root"
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        docker = bin_dir / "docker"
        docker.write_text(FAKE_DOCKER.format(python=sys.executable))
        docker.chmod(0o755)
        self.docker_log = tmp_path / "docker.log"
        (tmp_path / "tutor-plugins").mkdir()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TUTOR_")},
            "TUTOR_ROOT": str(self.root),
            "TUTOR_PLUGINS_ROOT": str(tmp_path / "tutor-plugins"),
            "PATH": f"{bin_dir}{os.pathsep}{TUTOR.parent}{os.pathsep}{os.environ['PATH']}",
            "FAKE_DOCKER_LOG": str(self.docker_log),
        }

    def __call__(self, *args: str) -> str:
        return self.shell(subprocess.list2cmdline([str(TUTOR), *args]))

    def shell(self, command: str) -> str:
        result = subprocess.run(
            ["bash", "-c", f"set -eu\n{command}"],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
        return result.stdout

    def config(self) -> dict[str, object]:
        config = yaml.safe_load((self.root / "config.yml").read_text())
        assert isinstance(config, dict)
        return config

    def rendered(self, path: str) -> str:
        return (self.root / "env" / path).read_text()

    def docker_calls(self) -> list[list[str]]:
        lines = self.docker_log.read_text().splitlines() if self.docker_log.exists() else []
        return [json.loads(line) for line in lines]


@pytest.fixture
def tutor(tmp_path: Path) -> Tutor:
    return Tutor(tmp_path)


def tutor_commands() -> list[str]:
    """The commands of docs/openedx.md's *With Tutor* block, one a line, comments dropped."""
    section = re.split(r"\n##+ ", DOCS.read_text().split("\n### With Tutor\n", 1)[1])[0]
    [block] = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def test_the_documented_commands_render_rolecall_into_lms_studio_and_the_image(
    tutor: Tutor,
) -> None:
    commands = tutor_commands()
    assert commands[0].startswith("pip install ")  # this environment has it (make's stamp)
    assert [c for c in commands if c.startswith(NEEDS_DOCKER)]
    for command in commands[1:]:
        if not command.startswith(NEEDS_DOCKER):
            tutor.shell(command)

    config = tutor.config()
    key = config["ROLECALL_SECRET_KEY"]
    assert isinstance(key, str)
    assert re.fullmatch(r"[A-Za-z0-9]{48}", key)
    # The documented requirements, both distributions, one pip install after the platform's.
    requirements = config["ROLECALL_PIP_REQUIREMENTS"]
    assert isinstance(requirements, list)
    assert [r.split(" @ ")[0] for r in requirements] == ["rolecall", "rolecall-openedx"]
    dockerfile = tutor.rendered("build/openedx/Dockerfile")
    install = "    $PIP_COMMAND install " + " ".join(f"'{r}'" for r in requirements) + "\n"
    assert install in dockerfile
    assert dockerfile.index("requirements/edx/base.txt") < dockerfile.index(install)

    # LMS and Studio, production and development: the key and the platform's database.
    url = (
        f"mysql+mysqldb://openedx:{config['OPENEDX_MYSQL_PASSWORD']}@mysql:3306/openedx"
        "?charset=utf8mb4"
    )
    for path in SETTINGS:
        text = tutor.rendered(path)
        compile(text, path, "exec")
        assert f'\nROLECALL_SECRET_KEY = "{key}"\n' in text, path
        assert f'\nROLECALL_DATABASE_URL = "{url}"\n' in text, path

    # The init job: `tutor local do init --limit rolecall` ran rolecall's migrations in LMS.
    runs = [c for c in tutor.docker_calls() if "run" in c]
    assert runs
    assert runs[-1][-5:] == ["lms-job", "sh", "-e", "-c", "./manage.py lms rolecall_migrate"]


def test_the_key_is_generated_once(tutor: Tutor) -> None:
    tutor("plugins", "enable", "rolecall")
    tutor("config", "save")
    key = tutor.config()["ROLECALL_SECRET_KEY"]
    tutor("config", "save")
    assert tutor.config()["ROLECALL_SECRET_KEY"] == key
    assert f'ROLECALL_SECRET_KEY = "{key}"' in tutor.rendered(SETTINGS[0])
    tutor("config", "save", "--set", "ROLECALL_SECRET_KEY=" + "k" * 40)
    assert 'ROLECALL_SECRET_KEY = "' + "k" * 40 + '"' in tutor.rendered(SETTINGS[1])


def test_by_default_the_image_installs_rolecall_openedx_of_the_plugins_version(
    tutor: Tutor,
) -> None:
    tutor("plugins", "enable", "rolecall")
    tutor("config", "save")
    assert "$PIP_COMMAND install 'rolecall-openedx==0.1.0'\n" in tutor.rendered(
        "build/openedx/Dockerfile"
    )


def test_with_the_mfe_plugin_the_admin_console_is_served_at_authz(tutor: Tutor) -> None:
    tutor("plugins", "enable", "mfe", "rolecall")
    tutor("config", "save")
    dockerfile = tutor.rendered("plugins/mfe/build/mfe/Dockerfile")
    assert "frontend-app-admin-console.git" in dockerfile
    assert "ENV PUBLIC_PATH='/authz/'" in dockerfile
    assert "admin-console-src" not in dockerfile  # moved, not built twice
    assert "path /authz /authz/*" in tutor.rendered("plugins/mfe/apps/mfe/Caddyfile")
    lms = tutor.rendered("apps/openedx/settings/lms/production.py")
    mfe_host = tutor.config().get("MFE_HOST", "apps.local.openedx.io")
    assert f'ADMIN_CONSOLE_MICROFRONTEND_URL = "http://{mfe_host}/authz"' in lms
    assert "/admin-console" not in lms
    lms_dev = tutor.rendered("apps/openedx/settings/lms/development.py")
    assert f'ADMIN_CONSOLE_MICROFRONTEND_URL = "http://{mfe_host}:2025/authz"' in lms_dev
    compile(lms_dev, "lms/development.py", "exec")


def test_without_the_mfe_plugin_no_micro_frontend_setting(tutor: Tutor) -> None:
    tutor("plugins", "enable", "rolecall")
    tutor("plugins", "disable", "mfe")
    tutor("config", "save")
    plugins = tutor.config()["PLUGINS"]
    assert isinstance(plugins, list)
    assert "rolecall" in plugins
    assert "mfe" not in plugins
    for path in SETTINGS:
        text = tutor.rendered(path)
        assert "ADMIN_CONSOLE_MICROFRONTEND_URL" not in text
        assert "ROLECALL_SECRET_KEY" in text


def test_the_console_entry_moves_to_authz() -> None:
    console = {"repository": "https://example.org/admin-console.git", "port": 2025}
    apps = _admin_console_at_authz({"admin-console": console, "learning": {"port": 2000}})
    assert apps == {"learning": {"port": 2000}, "authz": console}
    # Without the MFE plugin's own entry, Open edX's console is added.
    assert _admin_console_at_authz({})["authz"]["repository"].endswith(
        "/frontend-app-admin-console.git"
    )
