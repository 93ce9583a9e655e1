"""Locks in the console: a lock never shuts out the people who may lift it, and "who can help"
names only people who could give the access that is missing, there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import PASSWORD, demo_service, post, sign_in
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from rolecall.core import Rolecall
from rolecall.webapp.app import create_app

CIRCUITS = "course-v1:MITx+6.002x+2026_T1"
CALCULUS = "course-v1:MITx+18.01x+2026_T1"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Rolecall]:
    rc = demo_service(f"sqlite:///{tmp_path / 'rc.db'}")
    rc.add_users(["pete"])
    rc.assign("pete", "course_admin", "platform")  # an admin role, yet no help with the log
    for user in ("grace", "pete"):
        rc.accounts.set_password(user, PASSWORD)
    yield rc
    rc.close()


@pytest.fixture
def app_client(service: Rolecall) -> FlaskClient:
    return create_app(service, config={"TESTING": True}).test_client()


def signed_in(client: FlaskClient, user: str) -> FlaskClient:
    other = client.application.test_client()
    sign_in(other, user)
    return other


def helpers(html: str) -> str:
    return html.split("Who can help")[1].split("</section>")[0]


def test_deny_everything_leaves_the_platform_admin_the_course_page(
    service: Rolecall, app_client: FlaskClient
) -> None:
    service.restrict(CIRCUITS, ["*"], reason="frozen")
    admin = signed_in(app_client, "admin")
    page = admin.get(f"/console/scopes/{CIRCUITS}")
    assert page.status_code == 200
    assert "ada" in page.text
    olivia = signed_in(app_client, "olivia")  # the org admin sees it too: governance
    assert olivia.get(f"/console/scopes/{CIRCUITS}").status_code == 200
    # The lock is lifted from the restrictions page by whoever may lift it.
    response = post(
        admin, "/console/restrictions/remove", {"scope": CIRCUITS}, "/console/restrictions"
    )
    assert isinstance(response, TestResponse)
    assert response.status_code == 302
    assert service.index.restriction(CIRCUITS) is None


def test_a_lock_on_the_team_leaves_its_lifters_the_page(
    service: Rolecall, app_client: FlaskClient
) -> None:
    service.restrict(CIRCUITS, ["courses.view_course_team"], reason="exam")
    ada = signed_in(app_client, "ada")  # the course admin is locked out of the team...
    page = ada.get(f"/console/scopes/{CIRCUITS}")
    assert page.status_code == 403
    found = helpers(page.text)
    # ...and only those who may lift the lock are named: the org admin could give a role,
    # but the lock would deny it too.
    assert "<strong>admin</strong>" in found
    assert "<strong>olivia</strong>" not in found
    admin = signed_in(app_client, "admin")
    assert admin.get(f"/console/scopes/{CIRCUITS}").status_code == 200


def test_who_can_help_with_the_restrictions_and_the_log_is_the_platform_admin(
    app_client: FlaskClient,
) -> None:
    olivia = signed_in(app_client, "olivia")
    for address in ("/console/restrictions", "/console/audit"):
        page = olivia.get(address)
        assert page.status_code == 403, address
        found = helpers(page.text)
        assert "<strong>admin</strong>" in found, address
        assert "<strong>pete</strong>" not in found, address  # course admin on the platform


def test_who_can_help_on_a_course_names_those_who_could_give_its_team_view(
    app_client: FlaskClient,
) -> None:
    grace = signed_in(app_client, "grace")
    page = grace.get(f"/console/scopes/{CALCULUS}")
    assert page.status_code == 403
    found = helpers(page.text)
    assert "<strong>olivia</strong>" in found
    assert "<strong>admin</strong>" in found
    # pete (course admin on the platform) could give course staff there: he may be named, as
    # grace may see him listed above her course. Nobody named could not give it.
    for name in ("ada",):
        assert f"<strong>{name}</strong>" not in found
