"""What a caller is told about other scopes' members: refusals, bulk rows and explanations name
only the users and scopes the caller may view, in the API and in the console.

On the demo data: olivia is the org admin of MITx; harriet, added here, the org admin of
HarvardX; dara holds course_data_researcher on CS50 (HarvardX); eddie, a MITx course editor,
also edits CS50. Olivia may not view HarvardX's teams.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_support import PASSWORD, demo_service, sign_in, token
from flask import Flask
from flask.testing import FlaskClient

from rolecall.core import Rolecall
from rolecall.webapp.app import create_app

CIRCUITS = "course-v1:MITx+6.002x+2026_T1"
PHYSICS = "course-v1:MITx+8.01x+2026_T1"
CS50 = "course-v1:HarvardX+CS50+2026"
HARVARD_ADMINS = ("harriet", "admin")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Rolecall]:
    rc = demo_service(f"sqlite:///{tmp_path / 'leaks.db'}")
    rc.add_user("harriet")
    rc.assign("harriet", "org_admin", "org:HarvardX")
    rc.assign("eddie", "course_editor", CS50)
    yield rc
    rc.close()


@pytest.fixture
def app(service: Rolecall) -> Flask:
    return create_app(service, config={"TESTING": True})


def call(app: Flask, service: Rolecall, user: str, method: str, path: str, **kw: Any) -> Any:
    bearer = service.accounts.create_token(user)[1]
    url = "/api/v1/" + path.replace("+", "%2B")
    return app.test_client().open(
        url, method=method, headers={"Authorization": f"Bearer {bearer}"}, **kw
    )


def names_in(text: str) -> set[str]:
    return set(re.findall(r"[a-z_]+", text))


# ------------------------------------------------------------------ refusals


def test_an_api_refusal_names_no_one_of_another_org(service: Rolecall, app: Flask) -> None:
    response = call(
        app,
        service,
        "olivia",
        "POST",
        "assignments",
        json={"user": "uma", "role": "course_staff", "scope": CS50},
    )
    assert response.status_code == 403
    error = response.get_json()["error"]
    assert error["details"]["rule"] == "delegation"
    assert error["details"]["could"] == []
    assert not names_in(error["message"]) & set(HARVARD_ADMINS), error["message"]
    assert "could be done by" not in error["message"]


def test_an_api_refusal_still_names_the_team_the_caller_may_view(
    service: Rolecall, app: Flask
) -> None:
    """eddie may view his course's team: who could make the change there is no secret."""
    response = call(
        app,
        service,
        "eddie",
        "POST",
        "assignments",
        json={"user": "uma", "role": "course_staff", "scope": CIRCUITS},
    )
    assert response.status_code == 403
    error = response.get_json()["error"]
    assert error["details"]["could"] == ["ada", "admin", "olivia"]
    assert error["message"].endswith("it could be done by: ada, admin, olivia")


# ------------------------------------------------------------------ bulk rows


BULK = {
    "action": "assign",
    "role": "course_data_researcher",
    "users": ["dara", "uma"],
    "scopes": [CS50, CIRCUITS],
    "dry_run": True,
}


def _rows(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["user"], r["scope"]): r for r in rows}


def test_bulk_dry_run_rows_tell_nothing_of_another_orgs_members(
    service: Rolecall, app: Flask
) -> None:
    response = call(app, service, "olivia", "POST", "assignments/bulk", json=BULK)
    assert response.status_code == 200
    rows = _rows(response.get_json()["rows"])
    # dara already holds the role on CS50: olivia, who may not assign it there, is told only
    # that, exactly as for uma, who does not.
    assert rows[("dara", CS50)]["status"] == rows[("uma", CS50)]["status"] == "not_allowed"
    assert rows[("dara", CS50)]["message"] == rows[("uma", CS50)]["message"]
    for row in rows.values():
        assert not names_in(row["message"]) & set(HARVARD_ADMINS), row
    assert rows[("dara", CIRCUITS)]["status"] == rows[("uma", CIRCUITS)]["status"] == "ok"


def test_bulk_rows_stay_whole_for_a_caller_who_may_view(service: Rolecall, app: Flask) -> None:
    response = call(app, service, "harriet", "POST", "assignments/bulk", json=BULK)
    rows = _rows(response.get_json()["rows"])
    assert rows[("dara", CS50)]["status"] == "already_has_role"
    assert rows[("uma", CS50)]["status"] == "ok"


def test_the_wizard_preview_tells_nothing_of_another_orgs_members(
    service: Rolecall, app: Flask
) -> None:
    client: FlaskClient = app.test_client()
    sign_in(client, "olivia", PASSWORD)
    page = client.get("/console/assign")
    response = client.post(
        "/console/assign",
        data={
            "csrf_token": token(page.text),
            "step": "where",
            "users": "dara\numa",
            "role": "course_data_researcher",
            "scope": [CS50, CIRCUITS],
            "reason": "",
            "expires": "",
        },
    )
    text = response.get_data(as_text=True)
    assert "already" not in text.lower(), text
    assert "harriet" not in text
    assert "not allowed" in text.lower() or "may not assign" in text


# ------------------------------------------------------------------ explain


def _misses(app: Flask, service: Rolecall, caller: str) -> list[str]:
    response = call(
        app,
        service,
        caller,
        "GET",
        f"explain?user=eddie&permission=courses.edit_course_content&scope={PHYSICS}",
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    misses: list[str] = response.get_json()["closest_misses"]
    return misses


def test_explain_names_no_grant_on_another_orgs_scope(service: Rolecall, app: Flask) -> None:
    misses = _misses(app, service, "olivia")
    assert not [m for m in misses if "HarvardX" in m], misses
    assert any(m.startswith(f"course_editor on {CIRCUITS}") for m in misses), misses
    assert misses[-1].startswith("roles that grant it here")


def test_explain_names_every_grant_to_who_may_view_it(service: Rolecall, app: Flask) -> None:
    admin = _misses(app, service, "admin")
    assert any(m.startswith(f"course_editor on {CS50}") for m in admin), admin
    own = _misses(app, service, "eddie")  # about oneself: one's own grants, all of them
    assert own == admin


# ------------------------------------------------------------------ creating a scope


def test_creating_a_known_scope_tells_a_caller_who_may_not_nothing(
    service: Rolecall, app: Flask
) -> None:
    """olivia may not create scopes in HarvardX: asking to create CS50, which exists, is
    answered exactly as asking to create a HarvardX course nobody created (status, headers and
    body, the key it names aside), never 200 with the course's title."""
    unknown = "course-v1:HarvardX+CS51+2026"
    answers = []
    for key in (CS50, unknown):
        body = {"key": key, "title": "Anything"}
        response = call(app, service, "olivia", "POST", "scopes", json=body)
        text = response.get_data(as_text=True)
        answers.append((response.status_code, dict(response.headers), text.replace(key, "KEY")))
    assert answers[0] == answers[1]
    status, _, text = answers[0]
    assert status == 403
    assert "Introduction to Computer Science" not in text
    assert not service.index.is_known_scope(unknown)
    # Who may create it is still told it exists, and its title.
    response = call(app, service, "harriet", "POST", "scopes", json={"key": CS50})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["created"] is False
    assert response.get_json()["title"] == "Introduction to Computer Science"
