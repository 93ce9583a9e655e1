"""Known scopes: changes that take known scopes only refuse a key nobody created, answer a
key differing only in case with "did you mean", ask a plugin's scope catalogue, and let the
holders of platform.add_scopes create scopes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rolecall.core import (
    PluginSettings,
    Rolecall,
    UnknownScopeError,
    hookimpl,
    load_plugins,
)
from rolecall.core.cli import cli
from rolecall.core.governance import NotAllowedError
from rolecall.core.known_scopes import find, near_matches, one_edit_apart, suggestions
from rolecall.webapp import authz

CIRCUITS = "course-v1:MITx+6.002x+2026_T1"
CS50 = "course-v1:HarvardX+CS50+2026"
PLATFORM_ONLY = "course-v1:MITx+NEW+2027"


class Catalogue:
    """A platform's course list, as the Open edX plugin gives it."""

    courses = {PLATFORM_ONLY: "Brand new", "course-v1:MITx+Quantum+2027": "Quantum"}

    @hookimpl
    def lookup_scopes(self, keys: Sequence[str]) -> list[tuple[str, str | None]]:
        folded = {k.casefold() for k in keys}
        return [(k, t) for k, t in self.courses.items() if k.casefold() in folded]

    @hookimpl
    def find_scopes(self, query: str, limit: int) -> list[tuple[str, str | None]]:
        q = query.casefold()
        hits = [(k, t) for k, t in self.courses.items() if q in k.casefold() or q in t.casefold()]
        return [*hits, ("not a key", None)][:limit]


class Broken:
    @hookimpl
    def lookup_scopes(self, keys: Sequence[str]) -> list[tuple[str, str | None]]:
        raise RuntimeError("the platform is away")


def _open(tmp_path: Path, **extra: object) -> Rolecall:
    plugins = load_plugins(PluginSettings(), entry_points=[], extra=extra)
    service = Rolecall.open(
        f"sqlite:///{tmp_path / 'rc.db'}", plugins=plugins, background_sync=False, staleness=0
    )
    service.add_users(["root", "olivia", "ada", "grace", "eddie"])
    service.add_scopes([CIRCUITS, CS50])
    service.assign("root", "platform_admin", "platform")
    service.assign("olivia", "org_admin", "org:MITx")
    service.assign("ada", "course_admin", CIRCUITS)
    return service


@pytest.fixture
def rc(tmp_path: Path) -> Iterator[Rolecall]:
    service = _open(tmp_path)
    yield service
    service.close()


def test_a_bulk_as_a_user_refuses_an_unknown_key_and_writes_nothing(rc: Rolecall) -> None:
    typo = "course-v1:MITx+6.002x+2026_T2"
    before = rc.revision
    result = rc.bulk("assign", "course_staff", ["grace"], [typo], as_user="olivia", known_only=True)
    (row,) = result.rows
    assert row.status == "unknown_scope"
    assert "create it first" in row.message
    assert not result.applied
    assert rc.revision == before
    assert not rc.index.is_known_scope(typo)  # no empty scope for other admins to see


def test_a_key_differing_only_in_case_is_answered_did_you_mean(rc: Rolecall) -> None:
    lower = CIRCUITS.replace("MITx", "mitx")
    result = rc.bulk("assign", "course_staff", ["grace"], [lower], as_user="ada", known_only=True)
    assert result.rows[0].status == "unknown_scope"
    assert result.rows[0].message == f"no scope {lower} is known: did you mean {CIRCUITS}?"
    with pytest.raises(UnknownScopeError) as caught:
        rc.assign("grace", "course_staff", lower, as_user="ada", known_only=True)
    assert caught.value.suggestion == CIRCUITS
    assert rc.unknown_scope(lower) is not None
    assert rc.unknown_scope(CIRCUITS) is None
    assert rc.grants("grace") == []


def test_known_scopes_pass_and_org_wildcards_name_a_known_org(rc: Rolecall) -> None:
    result = rc.bulk(
        "assign",
        "course_staff",
        ["grace"],
        [CIRCUITS, "course-v1:MITx+*"],
        as_user="olivia",
        known_only=True,
    )
    assert [r.status for r in result.rows] == ["ok", "ok"]
    assert result.applied
    wrong_org = rc.bulk(
        "assign", "course_staff", ["grace"], ["course-v1:MlTx+*"], as_user="root", known_only=True
    )
    assert wrong_org.rows[0].status == "unknown_scope"


def test_the_operator_and_calls_without_known_only_still_make_scopes(rc: Rolecall) -> None:
    new = "course-v1:MITx+Later+2030"
    rc.assign("grace", "course_staff", new)  # the operator: legacy import, bulk loading
    assert rc.index.is_known_scope(new)
    rc.assign("eddie", "course_staff", "course-v1:MITx+Other+2030", as_user="olivia")
    assert rc.check("eddie", "courses.view_course", "course-v1:MITx+Other+2030")


def test_a_scope_catalogue_plugin_makes_platform_scopes_known(tmp_path: Path) -> None:
    rc = _open(tmp_path, catalogue=Catalogue())
    try:
        rc.assign("grace", "course_staff", PLATFORM_ONLY, as_user="olivia", known_only=True)
        assert rc.check("grace", "courses.view_course", PLATFORM_ONLY)
        quantum = "course-v1:MITx+Quantum+2027"  # in the catalogue only
        with pytest.raises(UnknownScopeError) as caught:
            rc.assign("eddie", "course_staff", quantum.lower(), as_user="olivia", known_only=True)
        assert caught.value.suggestion == quantum
        found = find(rc.plugins, "quantum", 10)
        assert found == [("course-v1:MITx+Quantum+2027", "Quantum")]  # malformed keys dropped
    finally:
        rc.close()


def test_a_failing_catalogue_is_logged_and_knows_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rc = _open(tmp_path, broken=Broken())
    try:
        with pytest.raises(UnknownScopeError):
            rc.assign("grace", "course_staff", PLATFORM_ONLY, as_user="olivia", known_only=True)
        assert rc.check("grace", "courses.view_course", CIRCUITS) is False
        assert "failed in lookup_scopes" in caplog.text
    finally:
        rc.close()


def test_creating_a_scope_takes_platform_add_scopes_there(rc: Rolecall) -> None:
    mine, theirs = "course-v1:MITx+New+2027", "course-v1:HarvardX+New+2027"
    rc.add_scopes([(mine, "New course")], as_user="olivia")  # an org admin in her org
    assert rc.index.is_known_scope(mine)
    assert rc.audit(scope=mine)[-1].actor == "olivia"
    before = rc.revision
    for actor, key in (("olivia", theirs), ("ada", "course-v1:MITx+Ada+2027")):
        with pytest.raises(NotAllowedError, match=r"platform\.add_scopes"):
            rc.add_scopes([key], as_user=actor)  # another org; a course admin
        assert not rc.index.is_known_scope(key)
    assert rc.revision == before
    rc.add_scopes([theirs], as_user="root")
    assert rc.index.is_known_scope(theirs)


def test_the_cli_adds_scopes_as_the_operator_or_as_a_user(
    rc: Rolecall, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = str(rc.engine.url)
    monkeypatch.setenv("ROLECALL_DISABLE_PLUGINS", "")
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(cli, ["--database", url, *args])

    harvard, mine = "course-v1:HarvardX+Cli+2027", "course-v1:MITx+Cli+2027"
    refused = run("scopes", "add", harvard, "--as", "olivia")
    assert refused.exit_code == 3, refused.output
    assert "olivia may not create" in refused.stderr
    added = run("scopes", "add", mine, "--title", "By CLI", "--as", "olivia")
    assert added.exit_code == 0, added.stderr
    assert added.output.startswith(f"added {mine}")
    assert run("scopes", "add", mine).output == f"{mine} is known already\n"
    assert run("scopes", "add", harvard).exit_code == 0  # the operator
    rc.sync()
    assert rc.unknown_scope(mine) is None
    assert rc.unknown_scope(harvard) is None


# ---------------------------------------------------------------- "did you mean"


def test_near_matches_are_other_cases_then_one_character_off() -> None:
    assert one_edit_apart("course-v1:mitx+6.002x", "course-v1:mitx+6.002")  # removed
    assert one_edit_apart("course-v1:mitx+6.002x", "course-v1:mitx+6.0002x")  # added
    assert one_edit_apart("course-v1:mitx+6.002x", "course-v1:mitx+6.003x")  # changed
    assert not one_edit_apart("course-v1:mitx+6.002x", "course-v1:mitx+6.013x")
    assert not one_edit_apart("abc", "abc")
    known = [CIRCUITS, CS50, "course-v1:MITx+6.002x+2026_T2", "course-v1:MITx+6.002x+2026"]
    assert near_matches(known, CIRCUITS.lower()) == [CIRCUITS, "course-v1:MITx+6.002x+2026_T2"]
    assert near_matches(known, "course-v1:MITx+6.002x+2026_T3") == [
        CIRCUITS,
        "course-v1:MITx+6.002x+2026_T2",
    ]
    assert near_matches(known, "course-v1:HarvardX+CS50+2026") == []  # never the key itself
    assert near_matches(known, "course-v1:HarvardX+CS51+2027") == []  # two characters off


def test_suggestions_are_within_what_the_caller_may_see(rc: Rolecall) -> None:
    circuits_typo = "course-v1:MITx+6.002x+2026_T"  # one character off, any case
    cs50_typo = "course-v1:harvardx+cs50+2026"
    olivia = lambda keys: authz.can_view_teams(rc, "olivia", keys)  # noqa: E731
    assert suggestions(rc.index, circuits_typo, olivia) == [CIRCUITS]
    assert suggestions(rc.index, cs50_typo, olivia) == []  # HarvardX: not hers to see
    assert suggestions(rc.index, cs50_typo, lambda keys: dict.fromkeys(keys, True)) == [CS50]
    # The console's helper asks the engine whose team the viewer may view.
    assert authz.scope_suggestions(rc, "olivia", CIRCUITS.lower()) == [CIRCUITS]
    assert authz.scope_suggestions(rc, "olivia", cs50_typo) == []
    assert authz.scope_suggestions(rc, "root", cs50_typo) == [CS50]
    assert authz.scope_suggestions(rc, "ada", CIRCUITS.replace("x+", "X+")) == [CIRCUITS]
    assert authz.scope_suggestions(rc, "grace", CIRCUITS.lower()) == []  # holds no role
    assert authz.scope_suggestions(rc, "root", CIRCUITS) == []  # known: nothing to suggest
    assert authz.scope_suggestions(rc, "root", "not a key") == []


def test_the_catalogues_key_differing_in_case_is_suggested(tmp_path: Path) -> None:
    rc = _open(tmp_path, catalogue=Catalogue())
    try:
        quantum = "course-v1:MITx+Quantum+2027"  # in the catalogue only
        assert authz.scope_suggestions(rc, "olivia", quantum.lower()) == [quantum]
    finally:
        rc.close()
