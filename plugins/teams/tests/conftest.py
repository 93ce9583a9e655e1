"""Fixtures of the teams plugin's tests: the plugin from this folder, the plugins loaded with
it, and a service on SQLite and on a brand-new PostgreSQL database.

The plugin is loaded from its source folder by path rather than by putting the folder on
``sys.path``: a build leaves ``rolecall_teams.egg-info`` there, which entry-point discovery
would then find in every other test of the session.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from rolecall.core import Plugins, PluginSettings, Rolecall, load_plugins

PLUGIN_DIR = Path(__file__).resolve().parents[1]
COURSE = "course-v1:MITx+6.002x+2026_T1"
OTHER_COURSE = "course-v1:MITx+8.01x+2026_T1"
BLUE = "team-v1:MITx+6.002x+2026_T1+team@blue"
RED = "team-v1:MITx+6.002x+2026_T1+team@red"
ELSEWHERE = "team-v1:MITx+8.01x+2026_T1+team@green"
PASSWORD = "teams test password"  # noqa: S105 - a test account's password


def load_teams() -> ModuleType:
    """``rolecall_teams`` from ``plugins/teams``, imported once under its own name."""
    module = sys.modules.get("rolecall_teams")
    if module is None:
        package = PLUGIN_DIR / "rolecall_teams"
        spec = importlib.util.spec_from_file_location(
            "rolecall_teams", package / "__init__.py", submodule_search_locations=[str(package)]
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["rolecall_teams"] = module
        spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def teams() -> ModuleType:
    return load_teams()


@pytest.fixture(scope="session")
def plugins(teams: ModuleType) -> Plugins:
    """Every built-in, the console's own plugin and ``teams``, strictly: any failure is fatal."""
    from rolecall.webapp import plugin as console_plugin

    return load_plugins(
        PluginSettings(strict=True),
        entry_points=[],
        extra={"console": console_plugin, "teams": teams},
    )


POSTGRES = os.environ.get("ROLECALL_TEST_POSTGRES_URL")
"""A role that may create databases (``make test`` sets it); without it, SQLite only."""


@pytest.fixture(params=["sqlite", "postgresql"] if POSTGRES else ["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: an SQLite file, then (with ``ROLECALL_TEST_POSTGRES_URL``) a
    brand-new PostgreSQL database, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'teams.db'}"
        return
    admin = POSTGRES
    assert admin is not None
    engine = create_engine(admin, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"teams_{uuid.uuid4().hex[:10]}"
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture
def rc(database_url: str, plugins: Plugins, teams: ModuleType) -> Iterator[Rolecall]:
    """A service with ``root`` (platform admin), ``cora`` (teams coordinator of the course),
    ``leo`` (leader of the blue team) and ``lena`` (a learner who leads nothing)."""
    service = Rolecall.open(database_url, plugins=plugins, background_sync=False, staleness=0)
    try:
        for user in ("root", "cora", "leo", "lena"):
            service.add_user(user, email=f"{user}@example.org")
        service.assign("root", "platform_admin", "platform")
        service.assign("cora", "teams_coordinator", COURSE)
        service.assign("leo", "team_leader", BLUE)
        service.add_scopes([BLUE, RED, ELSEWHERE])
        teams.RECENT.clear()
        yield service
    finally:
        service.close()
