"""Helpers shared by the console tests: a service on the demo data with the ``ccx`` plugin from
the source tree, a Flask test client, signing in and reading the CSRF token of a page."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

from flask import Flask
from flask.testing import FlaskClient

from rolecall.core import Plugins, PluginSettings, Rolecall, load_plugins
from rolecall.core.demo import load_demo

REPO = Path(__file__).resolve().parents[1]
CCX_DIR = REPO / "plugins" / "ccx"
PASSWORD = "correct horse battery"  # noqa: S105 - a test account's password
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def ccx_module() -> ModuleType:
    """``rolecall_ccx`` from the source tree, loaded by path: putting its folder on
    ``sys.path`` would also make its egg-info visible to entry-point discovery elsewhere."""
    name = "rolecall_ccx_console_tests"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(
            name, CCX_DIR / "rolecall_ccx" / "__init__.py"
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


def demo_plugins() -> Plugins:
    """The built-in plugins, the console's own and ``ccx``; no other entry point."""
    from rolecall.webapp import plugin as console_plugin

    return load_plugins(
        PluginSettings(), entry_points=[], extra={"console": console_plugin, "ccx": ccx_module()}
    )


def demo_service(url: str) -> Rolecall:
    rc = Rolecall.open(url, plugins=demo_plugins(), background_sync=False, staleness=0)
    load_demo(rc)
    for user in ("admin", "olivia", "ada", "eddie", "stu"):
        rc.accounts.set_password(user, PASSWORD)
    rc.add_user("nobody", email="nobody@example.org")
    rc.accounts.set_password("nobody", PASSWORD)
    return rc


def token(html: str) -> str:
    found = _TOKEN.search(html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: FlaskClient, user: str, password: str = PASSWORD) -> None:
    page = client.get("/console/login")
    response = client.post(
        "/console/login",
        data={"username": user, "password": password, "csrf_token": token(page.text)},
    )
    assert response.status_code == 302, response.text


def post(client: FlaskClient, url: str, data: dict[str, object], page: str = "/console/") -> object:
    """POST ``data`` with the session's CSRF token (read from ``page``)."""
    html = client.get(page).text
    return client.post(url, data={**data, "csrf_token": token(html)})


def client_of(app: Flask, user: str) -> FlaskClient:
    """A test client of ``app`` signed in as ``user``."""
    client = app.test_client()
    sign_in(client, user)
    return client
