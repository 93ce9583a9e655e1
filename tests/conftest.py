"""Shared fixtures: a small test plugin, the loaded plugins, and a service on SQLite and
PostgreSQL.

The test plugin (:class:`CoursePlugin`) registers:

- ``t.view``; ``t.edit`` implies ``t.view``; ``t.publish`` implies ``t.edit``; ``t.grade``: all
  applying to courses only;
- ``lib.view``; ``lib.edit`` implies ``lib.view``: libraries only;
- roles ``viewer``, ``editor``, ``publisher``, ``grader`` (course, org, platform); ``staff``
  (includes ``editor`` and ``grader``); ``librarian`` (library, org, platform); ``admin``
  (``grants_all``, platform only).

``database_url`` is parametrized: every test that uses it (or ``rc``) runs on an SQLite file, on
a brand-new PostgreSQL database and on a brand-new MariaDB database; ``server_url`` on the two
servers only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from rolecall.builtin_plugins import BUILTIN_PLUGINS
from rolecall.core import (
    Permission,
    Plugins,
    PluginSettings,
    Role,
    Rolecall,
    hookimpl,
    load_plugins,
)
from rolecall.core.storage.database import make_engine
from rolecall.core.storage.sessions import Engine

import mariadb
import pg
from legacy_db import legacy_url  # noqa: F401
from mariadb import mariadb_url, mysqldb_url  # noqa: F401
from pg import postgres_url  # noqa: F401

# Without ROLECALL_TEST_POSTGRES_URL (or ROLECALL_TEST_MYSQL_URL) the tests needing that server
# are skipped at collection, with one line each in the short summary (``make test`` sets both).


# ``make test`` runs the suite on several pytest-xdist workers with ``--dist loadgroup``: each
# test goes to whichever worker is free, except for the groups of :func:`_group`, whose tests run
# one after the other on one worker.
SERIAL = {
    # Forked workers, gunicorn and billiard pools, timed propagation between processes.
    "tests/storage/test_fork.py",
    "tests/storage/test_concurrency.py",
    "tests/storage/test_notices.py",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not pg.CONFIGURED:
        pg.skip_unconfigured(items, pg.needs_postgres, pg.SKIP_REASON)
    if not mariadb.CONFIGURED:
        pg.skip_unconfigured(items, mariadb.needs_mariadb, mariadb.SKIP_REASON)
    # The first worker tells the controller's scheduler the groups (pytest-xdist's own
    # xdist_group marks no longer reach it: it renames the tests, which pytest 9.2 ignores).
    groups_file = getattr(config, "workerinput", {}).get("rolecall_groups")
    if groups_file and config.workerinput["workerid"] == "gw0":
        groups = {}
        for item in items:
            group = _group(item, item.path.relative_to(config.rootpath).as_posix())
            if group is not None:
                groups[item.nodeid] = group
        Path(groups_file).write_text(json.dumps(groups))


@pytest.hookimpl(optionalhook=True)  # without pytest-xdist, never called
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist, on the controller, for each worker: where the first one writes the groups."""
    node.workerinput["rolecall_groups"] = str(_groups_file(node.config))


@pytest.hookimpl(optionalhook=True)  # without pytest-xdist, never called
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With ``--dist loadgroup``: pytest-xdist's scheduler by scope, a scope being a test's group
    (:func:`_group`) or, for a test in none, the test itself."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    path = _groups_file(config)

    class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:
                self.groups = json.loads(path.read_text())
            return self.groups.get(nodeid, nodeid)

    return GroupScheduling(config, log)


def _groups_file(config: pytest.Config) -> Path:
    return Path(config._tmp_path_factory.getbasetemp()) / "xdist-groups.json"


def _group(item: pytest.Item, module: str) -> str | None:
    """The group of a test that must not be spread over workers, or None.

    - The modules of :data:`SERIAL` are one group.
    - Tests using a session-scoped fixture of a folder's ``conftest.py`` (the browser tests'
      Chromium and their data set of thousands of courses) are that folder's group: each
      worker would build its own.
    - Tests using a module- or class-scoped fixture (wheels, virtual environments) are their
      module's group, so it is built once.

    The fixtures of pytest's plugins (their baseid is empty) and those of this file (the key
    file, cheap) do not count."""
    if module in SERIAL:
        return "serial"
    info = getattr(item, "_fixtureinfo", None)
    definitions = [d for defs in info.name2fixturedefs.values() for d in defs] if info else []
    shared = [d for d in definitions if d.baseid and d.scope != "function"]
    for definition in shared:
        if definition.scope in ("session", "package") and definition.baseid != "tests":
            return definition.baseid
    if any(d.scope in ("module", "class") for d in shared):
        return module
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    pg.fold_skip(report, pg.SKIP_REASON, pg.__file__)
    pg.fold_skip(report, mariadb.SKIP_REASON, mariadb.__file__)
    return report


COURSE_ROLE_TYPES = ("course", "org", "platform")


def permission(pid: str, scope_types: tuple[str, ...], implies: tuple[str, ...] = ()) -> Permission:
    return Permission(
        id=pid,
        title=f"Title of {pid}",
        description=f"Description of {pid}.",
        area="Testing",
        scope_types=scope_types,
        implies=implies,
    )


def role(
    rid: str,
    scope_types: tuple[str, ...],
    permissions: tuple[str, ...] = (),
    *,
    includes: tuple[str, ...] = (),
    grants_all: bool = False,
) -> Role:
    return Role(
        id=rid,
        title=f"Title of {rid}",
        description=f"Description of {rid}.",
        scope_types=scope_types,
        permissions=permissions,
        includes=includes,
        grants_all=grants_all,
    )


class CoursePlugin:
    """The test plugin: a few course and library permissions and the roles built from them."""

    @hookimpl
    def register_permissions(self) -> list[Permission]:
        return [
            permission("t.view", ("course",)),
            permission("t.edit", ("course",), ("t.view",)),
            permission("t.publish", ("course",), ("t.edit",)),
            permission("t.grade", ("course",)),
            permission("lib.view", ("library",)),
            permission("lib.edit", ("library",), ("lib.view",)),
        ]

    @hookimpl
    def register_roles(self) -> list[Role]:
        return [
            role("viewer", COURSE_ROLE_TYPES, ("t.view",)),
            role("editor", COURSE_ROLE_TYPES, ("t.edit",)),
            role("publisher", COURSE_ROLE_TYPES, ("t.publish",)),
            role("grader", COURSE_ROLE_TYPES, ("t.grade",)),
            role("staff", COURSE_ROLE_TYPES, includes=("editor", "grader")),
            role("librarian", ("library", "org", "platform"), ("lib.edit",)),
            role("admin", ("platform",), grants_all=True),
        ]


ONLY_PLATFORM = PluginSettings(disabled=frozenset(BUILTIN_PLUGINS) - {"platform"})
"""The built-in ``platform`` plugin (the scope types) and none of the others, whose roles and
aliases (``staff``...) are not what these tests are about."""


def load_only(**extra: object) -> Plugins:
    """The ``platform`` plugin and ``extra`` (name -> plugin object); no entry points, no
    environment. Fails unless every one of them loaded."""
    loaded = load_plugins(ONLY_PLATFORM, entry_points=[], extra=extra)
    failed = [(p.name, p.error) for p in loaded.plugins if p.status == "failed"]
    assert not failed, failed
    assert all(loaded.info(name) is not None for name in extra)
    return loaded


def make_plugins(**extra: object) -> Plugins:
    """The ``platform`` plugin, the test plugin and ``extra``."""
    return load_only(testcourses=CoursePlugin(), **extra)


@pytest.fixture
def plugins() -> Plugins:
    return make_plugins()


@pytest.fixture
def plugins_with() -> Callable[..., Plugins]:
    """``plugins_with(name=plugin_object, ...)``: the test plugins and these extra ones."""
    return make_plugins


@pytest.fixture
def plugins_only() -> Callable[..., Plugins]:
    """``plugins_only(name=plugin_object, ...)``: the ``platform`` plugin and these, without the
    test plugin."""
    return load_only


@pytest.fixture(autouse=True, scope="session")
def _test_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The keys (session and audit) of every test's databases: one key file outside them all,
    as one installation has (``ROLECALL_KEY_FILE``, which :func:`support.child_environment`
    keeps for child processes). Set for the whole session, so that services made by fixtures
    of any scope use it too."""
    path = tmp_path_factory.mktemp("keys") / "rolecall.keys"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ROLECALL_KEY_FILE", str(path))
        patch.delenv("ROLECALL_SECRET_KEY", raising=False)
        yield path


@pytest.fixture
def key_file(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A key file of the test's own (``ROLECALL_KEY_FILE`` for the test), for a test that
    changes or inspects it."""
    path = tmp_path_factory.mktemp("own-keys") / "rolecall.keys"
    monkeypatch.setenv("ROLECALL_KEY_FILE", str(path))
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'rolecall.db'}"


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database: an SQLite file, a brand-new PostgreSQL database, then a brand-new
    MariaDB database."""
    return str(request.getfixturevalue(SERVERS[request.param]))


SERVERS = {
    "sqlite": "sqlite_url",
    "postgresql": "postgres_url",
    "mariadb": "mariadb_url",
    "mysqldb": "mysqldb_url",
}
"""Each backend's fixture of an empty database (``mysqldb``: MariaDB through mysqlclient, which
``tests/storage/test_mysql.py`` adds to its ``database_url``)."""


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test's empty database (``database_url``: three backends), disposed
    after the test."""
    created = make_engine(database_url)
    try:
        yield created
    finally:
        created.dispose()


@pytest.fixture(params=["postgresql", "mariadb"])
def server_url(request: pytest.FixtureRequest) -> str:
    """An empty database on a database server: PostgreSQL, then MariaDB (for the tests of
    several processes, killed connections and a server away, which SQLite has no part in)."""
    return str(request.getfixturevalue(SERVERS[request.param]))


@pytest.fixture
def rc(database_url: str, plugins: Plugins) -> Iterator[Rolecall]:
    """A service on ``database_url`` that catches up on every read (staleness 0)."""
    service = Rolecall.open(database_url, plugins=plugins, background_sync=False, staleness=0)
    try:
        yield service
    finally:
        service.close()


@pytest.fixture
def console_service(tmp_path: Path) -> Iterator[Rolecall]:
    """A service on the console's demo data (``console_support.demo_service``), in an SQLite
    file of its own."""
    from console_support import demo_service

    service = demo_service(f"sqlite:///{tmp_path / 'console.db'}")
    yield service
    service.close()


@pytest.fixture
def console_app(console_service: Rolecall) -> Any:
    """The web application around ``console_service``, for Flask's test client."""
    from rolecall.webapp.app import create_app

    return create_app(console_service, config={"TESTING": True})
