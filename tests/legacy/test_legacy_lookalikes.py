"""The import's look-alike and retired-user checks ask the database a slice at a time (the
stored skeletons of migration 0011), never a table of every user: across slices, against the
users stored, in a dry run and a real run, on a loader or a service keeping its users, the
problems are the same."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest

from rolecall.builtin_plugins.legacy.importer import ImportPlan, plan_import, stream_import
from rolecall.builtin_plugins.legacy.mapping import RoleMapping
from rolecall.builtin_plugins.legacy.reader import AccessRow, LegacyData, LegacyUser, MemorySource
from rolecall.core import (
    BadInputError,
    GrantRow,
    Plugins,
    PluginSettings,
    Rolecall,
    load_plugins,
)
from rolecall.core.governance.lifecycle import retire_user
from rolecall.core.reads.stored import stored_lookalikes, stored_users

from legacy_db import C1

# Legacy users, in the order the source reads them (by id); one access row each.
NAMES = (
    "dora",  # stored already: its row exists or is created, never a problem
    "DORA",  # a look-alike of the stored dora
    "eve",  # new: planned
    "gone",  # retired in rolecall
    "frank",  # new: planned
    "EVE",  # a look-alike of eve, planned in an earlier slice
    "\uff45\uff56\uff45",  # full-width eve: the same
    "Frank",  # a look-alike of frank
    "Zoe",  # new
)
LOOKALIKES = {"DORA": "dora", "EVE": "eve", "\uff45\uff56\uff45": "eve", "Frank": "frank"}


def legacy() -> LegacyData:
    data = LegacyData()
    for uid, name in enumerate(NAMES, start=1):
        data.users[uid] = LegacyUser(uid, name, f"{uid}@example.org", "A", "B", False, True)
        data.access.append(AccessRow(uid, uid, "MITx", C1, "staff"))
    return data


@pytest.fixture
def builtins() -> Plugins:
    return load_plugins(PluginSettings(), entry_points=[])


def open_service(url: str, plugins: Plugins, *, keep_grants: bool = True) -> Rolecall:
    return Rolecall.open(
        url, plugins=plugins, background_sync=False, staleness=0, keep_grants=keep_grants
    )


@pytest.fixture
def stored(database_url: str, builtins: Plugins) -> str:
    """A database holding dora and the retired gone."""
    with open_service(database_url, builtins) as rc:
        rc.add_users(["dora", "gone"])
        retire_user(rc, "gone")
    return database_url


def expected_problems() -> list[tuple[int, str, str]]:
    found = []
    for uid, name in enumerate(NAMES, start=1):
        if name in LOOKALIKES:
            found.append((uid, "invalid_username", f"looks like the user {LOOKALIKES[name]!r}"))
        elif name == "gone":
            found.append((uid, "retired_user", "gone is retired in rolecall"))
    return found


def problems(plans: list[ImportPlan]) -> list[tuple[int, str, str]]:
    found = []
    for plan in plans:
        for p in plan.problems:
            text = "gone is retired in rolecall" if p.kind == "retired_user" else p.reason
            if p.kind == "invalid_username":
                text = text[text.index("looks like") :].split(" (")[0]
            found.append((p.row_id, p.kind, text))
    return found


def as_json(plans: list[ImportPlan]) -> dict[str, list[Any]]:
    return {
        name: [r if isinstance(r, tuple) else asdict(r) for p in plans for r in getattr(p, name)]
        for name in ("create", "exists", "users", "ignored", "problems", "duplicates")
    }


@pytest.mark.parametrize("keep_grants", [False, True], ids=["loader", "service"])
def test_lookalikes_across_slices_and_against_stored_users(
    stored: str, builtins: Plugins, keep_grants: bool
) -> None:
    with open_service(stored, builtins, keep_grants=keep_grants) as rc:
        whole = plan_import(rc, legacy(), RoleMapping())
        assert problems([whole]) == expected_problems()
        assert [name for name, _, _ in whole.users] == ["eve", "frank", "Zoe"]
        dry: list[ImportPlan] = []
        assert (
            stream_import(
                rc, MemorySource(legacy()), RoleMapping(), dry.append, dry_run=True, slice_size=1
            )
            is None
        )
        assert len(dry) == len(NAMES)  # a slice per user
        assert as_json(dry) == as_json([whole])
        real: list[ImportPlan] = []
        result = stream_import(rc, MemorySource(legacy()), RoleMapping(), real.append, slice_size=1)
        assert result is not None
        assert (result.users_created, result.grants_created) == (3, 4)  # dora's is created too
        # Each slice's new users are written before the next is planned: the later look-alikes
        # are found among the stored users then, with the same answers.
        assert as_json(real) == as_json(dry)
        assert sorted(n for n, *_ in rc.users()) == ["Zoe", "dora", "eve", "frank", "gone"]
        again = plan_import(rc, legacy(), RoleMapping())
        assert problems([again]) == expected_problems()
        assert again.users == []
        assert again.create == []


def test_a_loader_refuses_lookalikes_from_the_stored_names(stored: str, builtins: Plugins) -> None:
    with open_service(stored, builtins, keep_grants=False) as loader:
        for names, other in ((["Dora"], "dora"), (["ann", "ANN"], "ann"), (["\uff47one"], "gone")):
            with pytest.raises(BadInputError, match=f"looks like the user '{other}'"):
                loader.add_users(names)
        loader.import_users([("ann", None, None)])
        with pytest.raises(BadInputError, match="looks like the user 'ann'"):
            loader.import_users([("Ann", None, None)])
        loader.add_users(["dora", "bob"])  # existing names are left as they are
        assert stored_users(loader, ["ann", "bob", "dora", "gone", "Ann"]) == {
            "ann": True,
            "bob": True,
            "dora": True,
            "gone": False,
        }
        assert stored_lookalikes(loader, ["ANN", "ann", "eve", "Gone"]) == {
            "ANN": "ann",
            "Gone": "gone",
        }
        # An erased user's row takes its placeholder's skeleton with its name.
        loader.add_users(["ivy"])
        retire_user(loader, "ivy", erase=True, retired_username="retired__user_ivy")
        assert stored_lookalikes(loader, ["IVY", "Retired__User_Ivy"]) == {
            "Retired__User_Ivy": "retired__user_ivy"
        }
        loader.add_users(["IVY"])
        # Its index keeps only the inactive users (a retired one may be given nothing).
        assert sorted(loader.index.users) == ["gone", "retired__user_ivy"]
        assert len(loader.index.pseudonyms) == 2
        with pytest.raises(BadInputError, match="gone is retired"):
            loader.import_grants([GrantRow("gone", "course_staff", C1)])
    with open_service(stored, builtins) as rc:
        assert sorted(rc.index.users) == ["IVY", "ann", "bob", "dora", "gone", "retired__user_ivy"]
        with pytest.raises(BadInputError, match="looks like the user 'bob'"):
            rc.add_users(["BOB"])


def test_a_loader_hears_a_user_retired_elsewhere(stored: str, builtins: Plugins) -> None:
    with (
        open_service(stored, builtins, keep_grants=False) as loader,
        open_service(stored, builtins) as other,
    ):
        other.add_users(["hal"])
        loader.sync()
        assert "hal" not in loader.index.users
        retire_user(other, "hal")
        loader.sync()
        assert loader.index.users["hal"].active is False
        assert plan_import(loader, legacy_of("hal"), RoleMapping()).problems[0].kind == (
            "retired_user"
        )


def legacy_of(name: str) -> LegacyData:
    data = LegacyData()
    data.users[1] = LegacyUser(1, name, None, "", "", False, True)
    data.access.append(AccessRow(1, 1, "MITx", C1, "staff"))
    return data
