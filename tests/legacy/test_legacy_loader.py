"""``rolecall legacy import`` writes on a loader (``Rolecall.open(keep_grants=False)``): it
keeps none of the grants it writes, nor those stored, nor the active users, in its index, so
the import's memory does not grow with them; every other service sees them through its
catch-up, and the answers are those of a service keeping them."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rolecall.builtin_plugins.legacy.importer import ImportPlan, plan_import, stream_import
from rolecall.builtin_plugins.legacy.mapping import RoleMapping
from rolecall.builtin_plugins.legacy.reader import DatabaseSource, read_database
from rolecall.core import BadInputError, Plugins, PluginSettings, Rolecall, load_plugins
from rolecall.core.cli import cli, run_with
from rolecall.core.reads.stored import stored_grants

from legacy_db import C1, fill_legacy_database

LISTS = ("create", "exists", "users", "ignored", "problems", "duplicates")


@pytest.fixture
def builtins() -> Plugins:
    return load_plugins(PluginSettings(), entry_points=[])


@pytest.fixture
def legacy_sqlite(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'edxapp.db'}"
    fill_legacy_database(url)
    return url


def service(url: str, plugins: Plugins, *, keep_grants: bool = True) -> Rolecall:
    return Rolecall.open(
        url, plugins=plugins, background_sync=False, staleness=0, keep_grants=keep_grants
    )


def in_index(rc: Rolecall) -> set[tuple[str, str, str]]:
    """Every grant the service's index holds (without catching up)."""
    return {(u, g.role, g.scope) for u in list(rc.index.users) for g in rc.index.grants_of(u)}


def keys(grants: Any) -> set[tuple[str, str, str]]:
    return {(g.user, g.role, g.scope) for g in grants}


def plan_json(plan: ImportPlan) -> dict[str, list[Any]]:
    return {
        name: [r if isinstance(r, tuple) else asdict(r) for r in getattr(plan, name)]
        for name in LISTS
    }


def test_a_loader_keeps_none_of_the_grants_it_writes(
    database_url: str, builtins: Plugins, legacy_sqlite: str
) -> None:
    with (
        service(database_url, builtins) as normal,
        service(database_url, builtins, keep_grants=False) as loader,
    ):
        planned = plan_import(normal, read_database(legacy_sqlite), RoleMapping())
        written = keys(planned.create)
        assert written
        with DatabaseSource(legacy_sqlite) as source:
            result = stream_import(
                loader, source, RoleMapping(), lambda plan: None, slice_size=3, batch_size=2
            )
        assert result is not None
        assert result.grants_created == len(written)
        assert result.revision == loader.revision
        # Written through the unit of work, kept out of the loader's index, the users too
        # (the look-alike check of the names that follow reads the stored ones).
        assert in_index(loader) == set()
        assert {name for name, _, _ in planned.users} <= {name for name, *_ in loader.users()}
        assert all(not record.active for record in loader.index.users.values())
        stored = stored_grants(loader, [name for name, *_ in loader.users()])
        assert {(u, r, s) for u, held in stored.items() for r, s in held} == written
        # A service keeping its grants sees every one through its catch-up.
        assert in_index(normal) == set()
        normal.sync()
        assert in_index(normal) == written


def test_a_loader_on_an_imported_state_answers_as_a_service_holding_the_grants(
    database_url: str, builtins: Plugins, legacy_sqlite: str
) -> None:
    with service(database_url, builtins) as normal, DatabaseSource(legacy_sqlite) as source:
        stream_import(normal, source, RoleMapping(), lambda plan: None, slice_size=4)
        held = in_index(normal)
        users = set(normal.index.users)
    assert held
    with service(database_url, builtins, keep_grants=False) as loader:
        assert in_index(loader) == set()  # the stored grants are not read into it
        assert {name for name, *_ in loader.users()} == users
        assert not any(record.active for record in loader.index.users.values())
        again = plan_import(loader, read_database(legacy_sqlite), RoleMapping())
        assert again.create == []
        assert again.users == []
        assert keys(again.exists) == held
        with DatabaseSource(legacy_sqlite) as source:
            second = stream_import(loader, source, RoleMapping(), lambda plan: None)
        assert second is not None
        assert second.grants_created == second.users_created == 0
    with service(database_url, builtins) as normal:
        assert plan_json(plan_import(normal, read_database(legacy_sqlite), RoleMapping())) == (
            plan_json(again)
        )


def test_a_loader_writes_as_the_operator_only(sqlite_url: str, builtins: Plugins) -> None:
    with service(sqlite_url, builtins, keep_grants=False) as loader:
        loader.add_users(["ada", "bob"])
        loader.assign("ada", "course_staff", C1)
        assert in_index(loader) == set()
        assert stored_grants(loader, ["ada", "bob"]) == {"ada": {("course_staff", C1)}}
        with pytest.raises(BadInputError, match="loader"):
            loader.assign("bob", "course_staff", C1, as_user="ada")
        assert stored_grants(loader, ["bob"]) == {}


def test_the_import_command_writes_on_a_loader(
    sqlite_url: str, builtins: Plugins, legacy_sqlite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Rolecall] = []
    real_open = Rolecall.open

    def recording(*args: Any, **kwargs: Any) -> Rolecall:
        opened.append(real_open(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(Rolecall, "open", recording)
    result = CliRunner().invoke(
        cli, ["--database", sqlite_url, "legacy", "import", "--from", legacy_sqlite]
    )
    assert result.exit_code == 1, result.output  # the fixture's problem rows
    assert [rc.keep_grants for rc in opened] == [False]
    with service(sqlite_url, builtins) as normal:
        assert in_index(normal) == keys(
            plan_import(normal, read_database(legacy_sqlite), RoleMapping()).exists
        )
        assert in_index(normal)


def test_under_a_host_the_import_writes_on_the_hosts_service(
    sqlite_url: str, builtins: Plugins, legacy_sqlite: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with service(sqlite_url, builtins) as host:
        planned = keys(plan_import(host, read_database(legacy_sqlite), RoleMapping()).create)
        assert run_with(host, ["legacy", "import", "--from", legacy_sqlite]) == 1
        assert in_index(host) == planned  # its own writes, kept as every write of a service is
