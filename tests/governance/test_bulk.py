"""Bulk assign and revoke: per-row results, all or nothing, --partial, --dry-run, files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from rolecall.core import BadInputError, PluginSettings, Rolecall, load_plugins
from rolecall.core.cli import cli

CIRCUITS = "course-v1:MITx+6.002x+2026_T1"
CALCULUS = "course-v1:MITx+18.01x+2026_T1"
CS50 = "course-v1:HarvardX+CS50+2026"


@pytest.fixture(scope="module")
def plugins():  # type: ignore[no-untyped-def]
    return load_plugins(PluginSettings(), entry_points=[])


@pytest.fixture
def rc(tmp_path: Path, plugins) -> Iterator[Rolecall]:  # type: ignore[no-untyped-def]
    service = Rolecall.open(
        f"sqlite:///{tmp_path / 'rc.db'}", plugins=plugins, background_sync=False, staleness=0
    )
    service.add_users(["ada", "olivia", ("bea", "bea@example.org", "Bea"), "cy", "dee"])
    service.assign("ada", "course_admin", CIRCUITS)
    service.assign("olivia", "org_admin", "org:MITx")
    yield service
    service.close()


def statuses(result) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    return [(r.user, r.scope, r.status) for r in result.rows]


def test_one_role_to_many_users_on_many_scopes_in_one_batch(rc: Rolecall) -> None:
    result = rc.bulk("assign", "course_staff", ["bea", "cy"], [CIRCUITS, CALCULUS])
    assert result.applied
    assert statuses(result) == [
        ("bea", CIRCUITS, "ok"),
        ("bea", CALCULUS, "ok"),
        ("cy", CIRCUITS, "ok"),
        ("cy", CALCULUS, "ok"),
    ]
    events = [e for e in rc.audit() if e.batch_id == result.batch_id]
    assert len(events) == 4
    assert {e.revision for e in events} == {result.revision}
    assert rc.check("cy", "courses.publish_course_content", CALCULUS)


def test_every_row_gets_a_status_and_one_failure_writes_nothing(rc: Rolecall) -> None:
    rc.assign("bea", "course_staff", CIRCUITS)
    before = rc.revision
    result = rc.bulk(
        "assign",
        "course_staff",
        ["bea", "nobody", "bad user"],
        [CIRCUITS, "course-v1:broken", "lib:MITx:physics"],
    )
    assert not result.applied
    assert rc.revision == before
    got = {(r.user, r.scope): r.status for r in result.rows}
    assert got[("bea", CIRCUITS)] == "already_has_role"
    assert got[("bea", "course-v1:broken")] == "unknown_scope"
    assert got[("bea", "lib:MITx:physics")] == "role_not_assignable_here"
    assert got[("nobody", CIRCUITS)] == "unknown_user"
    assert got[("bad user", CIRCUITS)] == "unknown_user"
    assert len(result.rows) == 9


def test_partial_applies_the_valid_rows(rc: Rolecall) -> None:
    result = rc.bulk("assign", "course_staff", ["bea", "nobody"], [CIRCUITS], partial=True)
    assert result.applied
    assert rc.index.grant("bea", "course_staff", CIRCUITS) is not None
    assert [r.status for r in result.failed] == ["unknown_user"]


def test_dry_run_reports_and_writes_nothing(rc: Rolecall) -> None:
    before = rc.revision
    result = rc.bulk("assign", "course_staff", ["bea"], [CIRCUITS], dry_run=True)
    assert statuses(result) == [("bea", CIRCUITS, "ok")]
    assert not result.applied
    assert rc.revision == before


def test_users_by_email_and_org_wide_globs(rc: Rolecall) -> None:
    result = rc.bulk("assign", "course_auditor", ["BEA@example.org"], ["course-v1:HarvardX+*"])
    assert statuses(result) == [("bea", "org:HarvardX", "ok")]
    assert rc.check("bea", "courses.view_course", CS50)


def test_delegation_decides_each_row(rc: Rolecall) -> None:
    result = rc.bulk("assign", "course_staff", ["bea"], [CIRCUITS, CS50], as_user="ada")
    assert not result.applied
    got = {r.scope: r for r in result.rows}
    assert got[CIRCUITS].status == "ok"
    assert got[CS50].status == "not_allowed"
    assert "[delegation]" in got[CS50].message
    partial = rc.bulk(
        "assign", "course_staff", ["bea"], [CIRCUITS, CS50], as_user="ada", partial=True
    )
    assert partial.applied
    assert rc.audit(user="bea")[-1].actor == "ada"


def test_bulk_revoke_reports_not_held_and_keeps_the_last_admin(rc: Rolecall) -> None:
    rc.assign("bea", "course_admin", CIRCUITS)
    result = rc.bulk("revoke", "course_admin", ["ada", "bea", "cy"], [CIRCUITS], as_user="olivia")
    got = {r.user: r.status for r in result.rows}
    assert got["cy"] == "not_held"
    assert sorted(got.values()) == ["not_allowed", "not_held", "ok"]  # one admin must stay
    assert not result.applied
    done = rc.bulk("revoke", "course_admin", ["bea"], [CIRCUITS], as_user="olivia")
    assert done.applied
    assert rc.index.grant("bea", "course_admin", CIRCUITS) is None


def test_ten_thousand_rows_in_one_transaction(rc: Rolecall) -> None:
    users = [f"learner{i}" for i in range(2500)]
    rc.add_users(users)
    scopes = [f"course-v1:MITx+C{i}+2026" for i in range(4)]
    result = rc.bulk("assign", "course_auditor", users, scopes)
    assert result.applied
    assert result.counts() == {"ok": 10_000}
    assert len([e for e in rc.audit(scope=scopes[0]) if e.batch_id == result.batch_id]) == 2500
    assert rc.verify_audit().ok


def test_too_many_rows_and_empty_input_are_bad_input(rc: Rolecall) -> None:
    with pytest.raises(BadInputError, match="at least one user"):
        rc.bulk("assign", "course_staff", [], [CIRCUITS])
    with pytest.raises(BadInputError, match="more than 100000 rows"):
        rc.bulk(
            "assign",
            "course_staff",
            [f"u{i}" for i in range(400)],
            [f"course-v1:O+C{i}+R" for i in range(300)],
        )


def test_cli_reads_files_and_exits_1_when_a_row_fails(rc: Rolecall, tmp_path: Path) -> None:
    users = tmp_path / "users.csv"
    users.write_text("username,name\nbea,Bea\n# a comment\ncy,Cy\n")
    scopes = tmp_path / "scopes.txt"
    scopes.write_text(f"{CIRCUITS}\n\n{CALCULUS}\n")
    url = str(rc.engine.url)
    runner = CliRunner()
    ok = runner.invoke(
        cli,
        [
            "--database",
            url,
            "bulk",
            "assign",
            "--role",
            "course_staff",
            "--users-file",
            str(users),
            "--scopes-file",
            str(scopes),
        ],
    )
    assert ok.exit_code == 0, ok.stderr
    assert ok.stdout.splitlines()[-1].startswith("4 rows: 4 ok; applied (revision ")
    bad = runner.invoke(
        cli,
        [
            "--database",
            url,
            "bulk",
            "revoke",
            "--role",
            "course_staff",
            "--users",
            "bea,nobody",
            "--scopes",
            CIRCUITS,
            "--json",
        ],
    )
    assert bad.exit_code == 1
    assert '"status": "unknown_user"' in bad.stdout
    both = runner.invoke(
        cli,
        [
            "--database",
            url,
            "bulk",
            "assign",
            "--role",
            "course_staff",
            "--users",
            "bea",
            "--users-file",
            str(users),
            "--scopes",
            CS50,
        ],
    )
    assert both.exit_code == 2
    assert "give --users or --users-file" in both.stderr


def test_dry_runs_show_who_gains_and_loses_and_write_nothing(rc: Rolecall) -> None:
    url = str(rc.engine.url)
    runner = CliRunner()
    before = rc.revision
    assign = runner.invoke(
        cli,
        ["--database", url, "assign", "bea", "course_editor", CIRCUITS, "--dry-run", "--as", "ada"],
    )
    assert assign.exit_code == 0, assign.stderr
    assert assign.stdout.startswith("bea gains courses.")
    assert "courses.edit_course_content" in assign.stdout
    assert "but it would be refused" not in assign.stdout
    refused = runner.invoke(
        cli, ["--database", url, "assign", "bea", "course_editor", CS50, "--dry-run", "--as", "ada"]
    )
    assert "but it would be refused: ada may not assign course_editor" in refused.stdout
    revoke = runner.invoke(
        cli, ["--database", url, "revoke", "olivia", "org_admin", "org:MITx", "--dry-run"]
    )
    assert revoke.stdout.startswith("olivia loses ")
    bulk = rc.bulk("assign", "course_auditor", ["cy", "dee"], [CIRCUITS], dry_run=True)
    assert bulk.impact is not None
    assert [c.user for c in bulk.impact.changes] == ["cy", "dee"]
    assert rc.revision == before
