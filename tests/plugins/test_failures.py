"""Failures that say what happened: a plugin's own exception is one line naming the plugin,
``--debug`` (or ``ROLECALL_DEBUG=1``) shows the traceback, and ``rolecall serve``'s log holds
the exception and traceback of a console page that raised, an API 500 and an
``assignment_changed`` hook that raised.

Everything runs for real: the ``rolecall`` console script, and ``rolecall serve`` on 127.0.0.1
spoken to over HTTP.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from support import BIN, run_cli, write_dist

BOOM_PLUGIN = """
import click
from rolecall.core import ConsolePage, ParsedKey, Permission, ScopeType, hookimpl


def parse(key):
    if key.endswith("!"):
        raise TypeError("'NoneType' object is not subscriptable")
    return ParsedKey(fields={}, parent="platform")


@hookimpl
def register_scope_types():
    return [ScopeType(id="crash", title="Crash", description="Parses badly.", namespace="crash",
                      pattern="crash:X", example="crash:x", parse=parse)]


@hookimpl
def register_permissions():
    return [Permission(id="boom.view", title="View", description="See.", area="Boom",
                       scope_types=("platform",))]


@click.command("boom")
def boom():
    "Fail."
    raise RuntimeError("the boom command broke")


@hookimpl
def register_commands():
    return [boom]


def page(viewer, rolecall):
    raise KeyError("the boom page broke")


@hookimpl
def register_console_pages():
    return [ConsolePage(id="boom", title="Boom", description="Fails.", permission="boom.view",
                        render=page)]


@hookimpl
def assignment_changed(event):
    raise RuntimeError(f"the boom hook broke on {event.role}")
"""

HINT = " (--debug or ROLECALL_DEBUG=1 shows the traceback)"
COURSE = "course-v1:MITx+6.002x+2026_T1"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return write_dist(
        tmp_path / "site",
        "rolecall-boom",
        "0.1",
        {"boom": "rolecall_boom_fail"},
        {"rolecall_boom_fail": BOOM_PLUGIN},
    )


# ---------------------------------------------------------------------------- the command line


def test_a_plugin_command_that_raises_is_one_line_naming_the_plugin(site: Path) -> None:
    result = run_cli("boom", pythonpath=site)
    assert result.returncode == 5
    assert result.stderr == (
        "rolecall: plugin error: plugin 'boom' failed in its command 'boom': "
        f"RuntimeError: the boom command broke{HINT}\n"
    )


@pytest.mark.parametrize(
    ("args", "env"), [(("--debug", "boom"), {}), (("boom",), {"ROLECALL_DEBUG": "1"})]
)
def test_debug_shows_the_traceback_of_a_plugin_command(
    site: Path, args: tuple[str, ...], env: dict[str, str]
) -> None:
    result = run_cli(*args, pythonpath=site, env=env)
    assert result.returncode == 5
    lines = result.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert 'raise RuntimeError("the boom command broke")' in result.stderr
    assert lines[-1] == (
        "rolecall: plugin error: plugin 'boom' failed in its command 'boom': "
        "RuntimeError: the boom command broke"
    )


def test_a_parser_that_raises_is_one_line_naming_the_plugin(site: Path) -> None:
    result = run_cli("scope", "parse", "crash:x!", pythonpath=site)
    assert result.returncode == 2
    assert result.stderr == (
        "rolecall: error: the crash parser (plugin 'boom') failed on 'crash:x!': "
        "TypeError: 'NoneType' object is not subscriptable\n"
    )
    debug = run_cli("--debug", "scope", "parse", "crash:x!", pythonpath=site)
    assert debug.returncode == 2
    assert "Traceback (most recent call last):" in debug.stderr
    assert "raise TypeError(\"'NoneType' object is not subscriptable\")" in debug.stderr


def test_a_raising_hook_is_logged_with_its_cause_and_the_change_is_made(
    site: Path, tmp_path: Path
) -> None:
    database = f"sqlite:///{tmp_path / 'hook.db'}"
    assert run_cli("--database", database, "users", "add", "ada").returncode == 0
    result = run_cli(
        "--database", database, "assign", "ada", "course_staff", COURSE, pythonpath=site
    )
    assert result.returncode == 0
    assert result.stderr == (
        "rolecall: error: plugin 'boom' failed in assignment_changed: "
        "RuntimeError: the boom hook broke on course_staff\n"
    )
    access = run_cli("--database", database, "access", "ada", "--json")
    assert [e["role"] for e in json.loads(access.stdout)] == ["course_staff"]  # it was made
    debug = run_cli(
        "--database", database, "revoke", "ada", "course_staff", COURSE,
        pythonpath=site, env={"ROLECALL_DEBUG": "yes"},
    )  # fmt: skip
    assert debug.returncode == 0
    assert debug.stderr.splitlines()[0] == (
        "rolecall: error: plugin 'boom' failed in assignment_changed: "
        "RuntimeError: the boom hook broke on course_staff"
    )
    assert "Traceback (most recent call last):" in debug.stderr
    assert 'raise RuntimeError(f"the boom hook broke on {event.role}")' in debug.stderr


# ---------------------------------------------------------------------------- the server's log


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """``rolecall serve`` in a child process, its standard error in a file."""

    def __init__(self, database: str, site: Path, log: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self._log = log.open("w")
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("ROLECALL_")}
        child_env["PYTHONPATH"] = str(site)
        self.process = subprocess.Popen(
            [str(BIN / "rolecall"), "--database", database, "serve", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env=child_env,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=5):  # noqa: S310
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"the server did not start:\n{self.log()}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text()


@pytest.fixture
def server(site: Path, tmp_path: Path) -> Iterator[tuple[Server, str]]:
    """A server with the boom plugin, an admin ``root`` (password ``secret-words-1``) and a
    token acting as her."""
    database = f"sqlite:///{tmp_path / 'served.db'}"
    made = run_cli("--database", database, "create-admin", "root", input="secret-words-1\n")
    assert made.returncode == 0, made.stderr
    token = run_cli("--database", database, "tokens", "create", "root", "--json")
    assert token.returncode == 0, token.stderr
    known = run_cli("--database", database, "scopes", "add", COURSE)  # the API's grants need it
    assert known.returncode == 0, known.stderr
    running = Server(database, site, tmp_path / "server.log")
    try:
        yield running, json.loads(token.stdout)["token"]
    finally:
        if running.process.poll() is None:
            running.stop()


def _request(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> urllib.request.Request:
    return urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310 - http only


def _open(
    request: urllib.request.Request | str, opener: urllib.request.OpenerDirector
) -> tuple[int, str]:
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_a_console_page_that_raises_is_in_the_servers_log(server: tuple[Server, str]) -> None:
    running, _ = server
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    _, form = _open(f"{running.base}/console/login", opener)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf is not None
    body = urllib.parse.urlencode(
        {"csrf_token": csrf.group(1), "username": "root", "password": "secret-words-1"}
    ).encode()
    status, _ = _open(_request(f"{running.base}/console/login", body), opener)
    assert status == 200
    status, page = _open(f"{running.base}/console/plugins/boom", opener)
    assert status == 500
    assert "the error is in the server log" in page
    running.stop()
    log = running.log()
    assert (
        "rolecall: error: plugin 'boom': console page 'boom' failed: "
        "KeyError: 'the boom page broke'" in log
    )
    assert "Traceback (most recent call last):" in log
    assert 'raise KeyError("the boom page broke")' in log


def test_an_api_500_and_a_raising_hook_are_in_the_servers_log(
    server: tuple[Server, str], tmp_path: Path
) -> None:
    running, token = server
    opener = urllib.request.build_opener()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    grant = json.dumps({"user": "root", "role": "course_staff", "scope": COURSE}).encode()
    status, _ = _open(
        _request(f"{running.base}/api/v1/assignments", grant, headers),
        opener,
    )
    assert status == 201  # the hook's failure never undoes the change
    # A row the database hands back in a shape nothing can read: the API answers 500.
    with sqlite3.connect(tmp_path / "served.db") as db:
        db.execute("UPDATE rolecall_audit SET at = 'not a time'")
    status, body = _open(_request(f"{running.base}/api/v1/audit", headers=headers), opener)
    assert status == 500
    assert json.loads(body)["error"]["code"] == "internal_error"
    running.stop()
    log = running.log()
    assert (
        "rolecall: error: plugin 'boom' failed in assignment_changed: "
        "RuntimeError: the boom hook broke on course_staff" in log
    )
    assert 'raise RuntimeError(f"the boom hook broke on {event.role}")' in log
    assert "rolecall: error: unexpected error on GET /api/v1/audit: ValueError:" in log
    assert log.count("Traceback (most recent call last):") >= 2
