"""rolecall.core.reads.allows and the team-visibility rule: the one reading of "may they?" that
the guards, the console, the REST APIs and has_perm share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import rolecall.webapp.plugin
from rolecall.core import BadInputError, PluginSettings, Rolecall, load_plugins
from rolecall.core.reads import (
    VIEW_PLATFORM_TEAM,
    allows,
    may_view_team,
    may_view_teams,
    team_permission,
)

CIRCUITS = "course-v1:MITx+6.002x+2026_T1"
CS50 = "course-v1:HarvardX+CS50+2026"
EDIT = "courses.edit_course_content"


@pytest.fixture
def rc(tmp_path: Path) -> Iterator[Rolecall]:
    plugins = load_plugins(
        PluginSettings(), entry_points=[], extra={"console": rolecall.webapp.plugin}
    )
    service = Rolecall.open(
        f"sqlite:///{tmp_path / 'rc.db'}", plugins=plugins, background_sync=False, staleness=0
    )
    service.add_users(["root", "ada"])
    service.add_scopes([CIRCUITS, CS50])
    service.assign("root", "platform_admin", "platform")
    service.assign("ada", "course_admin", CIRCUITS)
    yield service
    service.close()


def test_allows_is_the_check_where_bad_input_is_a_no(rc: Rolecall) -> None:
    assert allows(rc, "ada", EDIT, CIRCUITS) is True
    assert allows(rc, "ada", EDIT, CS50) is False
    with rc.reading() as index:  # a guard asks the index it holds
        assert allows(index, "ada", EDIT, CIRCUITS) is True
    with pytest.raises(BadInputError):
        rc.check("ada", "courses.no_such_permission", CIRCUITS)
    assert allows(rc, "ada", "courses.no_such_permission", CIRCUITS) is False
    assert allows(rc, "nobody", EDIT, CIRCUITS) is False
    assert allows(rc, "ada", EDIT, "course-v1:broken") is False
    with pytest.raises(BadInputError):  # strict: the caller reports a bad key
        allows(rc, "ada", EDIT, "course-v1:broken", strict=True)
    assert allows(rc, "ada", "courses.no_such_permission", "course-v1:broken", strict=True) is False


def test_team_visibility_is_the_type_permission_else_the_platform_team(rc: Rolecall) -> None:
    permission, where = team_permission(rc.registry, CIRCUITS)
    assert where == CIRCUITS
    assert permission == rc.registry.scope_types["course"].team_permission
    assert team_permission(rc.registry, "platform")[1] == "platform"
    assert may_view_team(rc, "ada", CIRCUITS) is True
    assert may_view_team(rc, "ada", CS50) is False
    assert may_view_teams(rc, "ada", [CIRCUITS, CS50]) == {CIRCUITS: True, CS50: False}
    assert may_view_teams(rc, "root", [CIRCUITS, CS50]) == {CIRCUITS: True, CS50: True}
    assert may_view_teams(rc, "nobody", [CIRCUITS]) == {CIRCUITS: False}
    with pytest.raises(BadInputError):
        may_view_teams(rc, "root", ["widget:1"])
    # A key no loaded plugin places (a dormant plugin's): the platform team's viewers see it.
    assert may_view_teams(rc, "root", ["widget:1"], unplaced=True) == {"widget:1": True}
    assert may_view_teams(rc, "ada", ["widget:1"], unplaced=True) == {"widget:1": False}
    assert allows(rc, "root", VIEW_PLATFORM_TEAM, "platform") is True
