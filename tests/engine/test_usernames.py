"""Usernames: no '/' (it breaks the console's addresses), and no look-alike of a known user
(the same once NFKC-normalised and case-folded), wherever users are added."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from rolecall.builtin_plugins.legacy import LegacyAPI
from rolecall.builtin_plugins.legacy.importer import plan_import
from rolecall.builtin_plugins.legacy.mapping import RoleMapping
from rolecall.builtin_plugins.legacy.reader import COLUMNS, read_csv
from rolecall.core import BadInputError, PluginSettings, Rolecall, load_plugins
from rolecall.core.engine import known

from support import run_cli

FULL_WIDTH_ADA = "\uff41\uff44\uff41"  # "ada" in full-width letters
LIGATURE = "\ufb01nn"  # "finn" with the "fi" ligature


@pytest.mark.parametrize(
    "name",
    ["ada", "Ada.Lovelace@example.org", "grace_hopper", "o'brien", "x-1+2", "\u00e9lodie"],
)
def test_plain_names_stay_valid(rc: Rolecall, name: str) -> None:
    rc.add_user(name)
    assert name in rc.index.users


@pytest.mark.parametrize("name", ["a/b", "/", "ada/..", ".", ".."])
def test_names_that_break_console_addresses_are_refused(rc: Rolecall, name: str) -> None:
    with pytest.raises(BadInputError, match="may not contain '/'"):
        rc.add_user(name)
    assert name not in rc.index.users


@pytest.mark.parametrize(
    ("known", "lookalike"),
    [("ada", "Ada"), ("ada", "ADA"), ("ada", FULL_WIDTH_ADA), ("finn", LIGATURE)],
)
def test_a_lookalike_of_a_known_user_is_refused(rc: Rolecall, known: str, lookalike: str) -> None:
    rc.add_user(known)
    events = len(rc.audit())
    with pytest.raises(BadInputError, match="looks like the user"):
        rc.add_user(lookalike)
    assert lookalike not in rc.index.users
    assert len(rc.audit()) == events
    rc.add_user(known)  # the name itself is still welcome (and changes nothing)


def test_lookalikes_within_one_batch_are_refused_whole(rc: Rolecall) -> None:
    with pytest.raises(BadInputError, match="looks like the user"):
        rc.add_users(["bob", "carol", "Bob"])
    assert not {"bob", "carol", "Bob"} & set(rc.index.users)


def test_a_lookalike_added_by_another_process_is_seen(database_url: str, plugins: object) -> None:
    """The refusal is decided under the write lock on a caught-up index: a name added by
    another service of the same database since this one last looked is a known name."""
    first = Rolecall.open(database_url, plugins=plugins, background_sync=False, staleness=60)
    second = Rolecall.open(database_url, plugins=plugins, background_sync=False, staleness=60)
    try:
        known.lookalike(second.index, "warm")  # its look-alike table exists before the other write
        first.add_user("dora")
        with pytest.raises(BadInputError, match="looks like the user 'dora'"):
            second.add_user("DORA")
    finally:
        first.close()
        second.close()


def test_import_users_refuses_lookalikes(rc: Rolecall) -> None:
    rc.add_user("ada")
    with pytest.raises(BadInputError, match="looks like"):
        rc.import_users([(FULL_WIDTH_ADA, None, None)])
    assert FULL_WIDTH_ADA not in rc.index.users


def test_create_admin_refuses_a_lookalike(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rc.db'}"
    assert run_cli("--database", url, "users", "add", "root").returncode == 0
    result = run_cli("--database", url, "create-admin", "Root", input="a long password\n")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "looks like the user 'root'" in result.stderr
    listed = run_cli("--database", url, "users", "list", "--json")
    assert [u["username"] for u in json.loads(listed.stdout)] == ["root"]


def test_legacy_compat_refuses_a_lookalike(tmp_path: Path) -> None:
    plugins = load_plugins(PluginSettings(), entry_points=[])
    rc = Rolecall.open(f"sqlite:///{tmp_path / 'rc.db'}", plugins=plugins, background_sync=False)
    try:
        rc.add_user("ada")
        with pytest.raises(BadInputError, match="looks like"):
            LegacyAPI(rc, actor="lms").allow_access("course-v1:MITx+6.002x+2026_T1", "Ada", "staff")
        assert "Ada" not in rc.index.users
    finally:
        rc.close()


def test_legacy_import_reports_a_lookalike_and_imports_the_rest(tmp_path: Path) -> None:
    plugins = load_plugins(PluginSettings(), entry_points=[])
    rc = Rolecall.open(
        f"sqlite:///{tmp_path / 'rc.db'}", plugins=plugins, background_sync=False, staleness=0
    )
    try:
        rc.add_user("ada")
        folder = tmp_path / "csv"
        folder.mkdir()
        tables = {
            "auth_user": [[1, FULL_WIDTH_ADA, "", "", "", 0, 1], [2, "grace", "", "", "", 0, 1]],
            "student_courseaccessrole": [
                [1, 1, "MITx", "course-v1:MITx+6.002x+2026_T1", "staff"],
                [2, 2, "MITx", "course-v1:MITx+6.002x+2026_T1", "staff"],
            ],
            "django_comment_client_role": [],
            "django_comment_client_role_users": [],
        }
        for table, rows in tables.items():
            with (folder / f"{table}.csv").open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(COLUMNS[table])
                writer.writerows(rows)
        plan = plan_import(rc, read_csv(folder), RoleMapping())
        assert [(p.kind, p.row_id) for p in plan.problems] == [("invalid_username", 1)]
        assert "looks like the user 'ada'" in plan.problems[0].reason
        assert [u[0] for u in plan.users] == ["grace"]
    finally:
        rc.close()
