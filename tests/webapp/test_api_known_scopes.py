"""The REST API takes known scopes only: a grant on a key nobody created is refused with
unknown_scope ("did you mean" for a case-only difference), and POST /scopes creates one for
the holders of platform.add_scopes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_api import COURSE, Api, error_of, make_api


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    """On SQLite, PostgreSQL and MariaDB."""
    made = make_api(database_url)
    yield made
    made.rc.close()


def test_a_grant_on_an_unknown_scope_is_refused_and_makes_nothing(api: Api) -> None:
    typo = "course-v1:MITx+6.002x+2062_T1"
    before = api.rc.revision
    body = {"user": "carol", "role": "course_staff", "scope": typo}
    error = error_of(api.post("assignments", "dan", body), 422)
    assert error["code"] == "unknown_scope"
    assert "create it first" in error["message"]
    assert error["details"] == {"scope": typo, "did_you_mean": None}
    lower = {**body, "scope": COURSE.lower()}
    error = error_of(api.post("assignments", "dan", lower), 422)
    assert error["details"]["did_you_mean"] == COURSE
    assert api.rc.revision == before
    assert not api.rc.index.is_known_scope(typo)


def test_bulk_rows_on_unknown_scopes_say_so(api: Api) -> None:
    body = {
        "action": "assign",
        "role": "course_staff",
        "users": ["carol"],
        "scopes": [COURSE, COURSE.lower()],
    }
    response = api.post("assignments/bulk", "dan", body)
    assert response.status_code == 200, response.get_data(as_text=True)
    rows = response.get_json()["rows"]
    assert [r["status"] for r in rows] == ["ok", "unknown_scope"]
    assert rows[1]["message"].endswith(f"did you mean {COURSE}?")
    assert response.get_json()["applied"] is False  # all or nothing


def test_creating_a_scope_takes_platform_add_scopes(api: Api) -> None:
    new, harvard = "course-v1:MITx+New+2027", "course-v1:HarvardX+New+2027"
    created = api.post("scopes", "dan", {"key": new, "title": "New"})  # org admin of MITx
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["created"] is True
    assert created.get_json()["title"] == "New"
    again = api.post("scopes", "dan", {"key": new})
    assert again.status_code == 200
    assert again.get_json()["created"] is False
    granted = api.post(
        "assignments", "dan", {"user": "carol", "role": "course_staff", "scope": new}
    )
    assert granted.status_code == 201
    before = api.rc.revision
    for caller, key in (("dan", harvard), ("ada", "course-v1:MITx+Ada+2027")):
        error = error_of(api.post("scopes", caller, {"key": key}), 403)
        assert error["code"] == "not_allowed"
        assert "platform.add_scopes" in error["message"]
        assert not api.rc.index.is_known_scope(key)
    assert api.rc.revision == before


def test_did_you_mean_names_only_a_scope_the_caller_may_view(api: Api) -> None:
    """A key one case off another org's course: the suggestion would tell eve (HarvardX) that
    MITx has that course; she is answered as for any unknown key."""
    body = {"user": "carol", "role": "course_auditor", "scope": COURSE.lower()}
    response = api.post("assignments", "eve", body)
    if response.status_code == 422:
        error = error_of(response, 422)
        assert error["details"] == {"scope": COURSE.lower(), "did_you_mean": None}
        assert COURSE not in error["message"]
    else:
        assert response.status_code == 403
        assert COURSE not in response.get_data(as_text=True)
    seen = error_of(api.post("assignments", "root", body), 422)
    assert seen["details"]["did_you_mean"] == COURSE
    bulk = {
        "action": "assign",
        "role": "course_auditor",
        "users": ["carol"],
        "scopes": [COURSE.lower()],
    }
    rows = api.post("assignments/bulk", "eve", bulk)
    assert COURSE not in rows.get_data(as_text=True)
