"""``rolecall legacy import`` streams the source a slice of whole users at a time: the answers
and the report are those of the whole source read at once, whatever the slice size."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from rolecall.builtin_plugins.legacy.importer import ImportPlan, plan_import
from rolecall.builtin_plugins.legacy.mapping import RoleMapping
from rolecall.builtin_plugins.legacy.reader import (
    CsvSource,
    DatabaseSource,
    read_database,
)
from rolecall.core import PluginSettings, Rolecall, load_plugins
from rolecall.core.cli import cli

from legacy_db import ACCESS_ROWS, FORUM_ROWS, fill_legacy_database, write_legacy_csv

LISTS = ("create", "exists", "users", "ignored", "problems", "duplicates")


@pytest.fixture
def rc(tmp_path: Path) -> Iterator[Rolecall]:
    plugins = load_plugins(PluginSettings(), entry_points=[])
    with Rolecall.open(
        f"sqlite:///{tmp_path / 'rc.db'}", plugins=plugins, background_sync=False, staleness=0
    ) as service:
        yield service


@pytest.fixture
def legacy_sqlite(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'edxapp.db'}"
    fill_legacy_database(url)
    return url


def invoke(rc: Rolecall, *args: str) -> Result:
    url = rc.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(cli, ["--database", url, "legacy", "import", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def plan_json(plan: ImportPlan) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {
        name: [asdict(r) for r in getattr(plan, name)] for name in LISTS if name != "users"
    }
    out["users"] = [{"username": u, "email": e, "display_name": d} for u, e, d in plan.users]
    return out


@pytest.mark.parametrize("slice_size", ["1", "3", "10000"])
def test_any_slice_size_gives_the_answers_of_the_whole_source(
    rc: Rolecall, legacy_url: str, slice_size: str
) -> None:
    whole = plan_import(rc, read_database(legacy_url), RoleMapping(), staff_admins=True)
    result = invoke(
        rc,
        "--from",
        legacy_url,
        "--staff-admins",
        "--dry-run",
        "--json",
        "--slice-size",
        slice_size,
    )
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert {name: report[name] for name in LISTS} == plan_json(whole)
    assert report["summary"] == whole.summary()


def test_the_real_run_reports_what_the_dry_run_said(rc: Rolecall, legacy_sqlite: str) -> None:
    dry = json.loads(invoke(rc, "--from", legacy_sqlite, "--dry-run", "--json").stdout)
    real = invoke(rc, "--from", legacy_sqlite, "--json", "--slice-size", "2", "--batch-size", "3")
    report = json.loads(real.stdout)
    assert {name: report[name] for name in LISTS} == {name: dry[name] for name in LISTS}
    assert report["summary"] == dry["summary"]
    assert report["batch_id"] is not None
    rc.sync()
    held = {(u, g.role, g.scope) for u, *_ in rc.users() for g in rc.grants(u)}
    assert held == {(g["user"], g["role"], g["scope"]) for g in dry["create"]}
    again = json.loads(invoke(rc, "--from", legacy_sqlite, "--json", "--slice-size", "2").stdout)
    assert again["create"] == []
    assert again["batch_id"] is None
    assert sorted(map(str, again["exists"])) == sorted(map(str, dry["create"]))


def test_the_json_report_is_json_dumps_with_indent_2(rc: Rolecall, legacy_sqlite: str) -> None:
    for args in (("--dry-run",), ()):
        text = invoke(rc, "--from", legacy_sqlite, "--json", "--slice-size", "4", *args).stdout
        assert text == json.dumps(json.loads(text), indent=2) + "\n"


def test_progress_is_a_line_per_slice_when_stderr_is_not_a_terminal(
    rc: Rolecall, legacy_sqlite: str
) -> None:
    total = len(ACCESS_ROWS) + len(FORUM_ROWS)
    result = invoke(rc, "--from", legacy_sqlite, "--slice-size", "5")
    lines = [line for line in result.stderr.splitlines() if line.startswith("importing: ")]
    assert len(lines) > 3
    assert all(f" of {total} rows (" in line and line.endswith(" rows/s") for line in lines)
    assert lines[-1].startswith(f"importing: {total} of {total} rows (100.0%)")
    dry = invoke(rc, "--from", legacy_sqlite, "--dry-run", "--slice-size", "5")
    assert dry.stderr.splitlines()[0].startswith("dry run: ")


def _whole_users(
    source: DatabaseSource, page: int
) -> list[tuple[int | None, list[int], list[int]]]:
    return [
        (g.user_id, [r.id for r in g.access], [r.id for r in g.forum])
        for g in source.groups(page, staff=False)
    ]


def test_pages_keep_each_users_rows_together(legacy_sqlite: str, tmp_path: Path) -> None:
    with DatabaseSource(legacy_sqlite) as source:
        whole = _whole_users(source, 10_000)
        # Pages of one and two rows: users with more rows are read whole all the same.
        assert _whole_users(source, 1) == whole
        assert _whole_users(source, 2) == whole
        slices = list(source.slices(4))
    ids = [uid for uid, *_ in whole]
    assert ids == sorted(ids, key=lambda u: (u is not None, u or 0))
    assert len(ids) == len(set(ids))
    assert sorted(i for _, access, _ in whole for i in access) == [r[0] for r in ACCESS_ROWS]
    assert sorted(i for *_, forum in whole for i in forum) == [r[0] for r in FORUM_ROWS]
    assert [g.user_id for piece in slices for g in piece] == ids
    assert all(sum(g.rows for g in piece[:-1]) < 4 for piece in slices)
    with CsvSource(write_legacy_csv(tmp_path / "csv")) as from_csv:
        assert _whole_users(from_csv, 3) == whole
        assert from_csv.total() == len(ACCESS_ROWS) + len(FORUM_ROWS)
