"""The console's changes, on SQLite and on PostgreSQL: adding members, changing and removing
roles, the wizard, custom roles and restrictions, each made as the viewer under the delegation
rules, with refusals shown in words."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from console_support import demo_service, post, sign_in
from flask.testing import FlaskClient

from rolecall.core import Rolecall
from rolecall.core.reads import restrictions
from rolecall.webapp.app import create_app

CIRCUITS = "course-v1:MITx+6.002x+2026_T1"
CALCULUS = "course-v1:MITx+18.01x+2026_T1"
CS50 = "course-v1:HarvardX+CS50+2026"


@pytest.fixture
def service(database_url: str) -> Iterator[Rolecall]:
    rc = demo_service(database_url)
    yield rc
    rc.close()


@pytest.fixture
def client(service: Rolecall) -> FlaskClient:
    return create_app(service, config={"TESTING": True}).test_client()


def holds(rc: Rolecall, user: str, role: str, scope: str) -> bool:
    return any(g.role == role and g.scope == scope for g in rc.grants(user))


def test_a_course_admin_adds_several_members_at_once(
    service: Rolecall, client: FlaskClient
) -> None:
    sign_in(client, "ada")
    page = f"/console/scopes/{CIRCUITS}"
    response = post(
        client,
        f"{page}/members",
        {"users": "bea, stu\nlin@example.org", "role": "course_beta_tester"},
        page,
    )
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert all(holds(service, u, "course_beta_tester", CIRCUITS) for u in ("bea", "stu", "lin"))
    html = client.get(page).text
    assert "Course beta tester (course_beta_tester) given to bea, stu, lin" in html
    assert service.audit(user="stu")[-1].actor == "ada"


def test_adding_an_unknown_user_changes_nothing_and_keeps_the_input(
    service: Rolecall, client: FlaskClient
) -> None:
    sign_in(client, "ada")
    page = f"/console/scopes/{CIRCUITS}"
    response = post(
        client, f"{page}/members", {"users": "bea ghost", "role": "course_beta_tester"}, page
    )
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert "ghost: no user" in response.text  # type: ignore[attr-defined]
    assert ">bea ghost</textarea>" in response.text  # type: ignore[attr-defined]
    assert not holds(service, "bea", "course_beta_tester", CIRCUITS)


def test_a_refused_assignment_says_why_and_who_could(
    service: Rolecall, client: FlaskClient
) -> None:
    sign_in(client, "ada")
    page = f"/console/scopes/{CIRCUITS}"
    response = post(client, f"{page}/members", {"users": "bea", "role": "org_admin"}, page)
    assert response.status_code in (403, 422)  # type: ignore[attr-defined]
    assert not holds(service, "bea", "org_admin", CIRCUITS)


def test_removing_a_member_is_audited(service: Rolecall, client: FlaskClient) -> None:
    sign_in(client, "ada")
    page = f"/console/scopes/{CIRCUITS}"
    response = post(client, f"{page}/remove", {"user": "eddie", "role": "course_editor"}, page)
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert not holds(service, "eddie", "course_editor", CIRCUITS)
    event = service.audit(user="eddie")[-1]
    assert (event.action, event.actor, event.scope) == ("revoke", "ada", CIRCUITS)


def test_removing_the_last_admin_is_refused_in_words(
    service: Rolecall, client: FlaskClient
) -> None:
    sign_in(client, "ada")
    page = f"/console/scopes/{CIRCUITS}"
    post(client, f"{page}/remove", {"user": "ada", "role": "course_admin"}, page)
    html = client.get(page).text
    assert "ada keeps course_admin" in html
    assert holds(service, "ada", "course_admin", CIRCUITS)


def test_an_org_wide_grant_cannot_be_removed_from_a_course_page(
    service: Rolecall, client: FlaskClient
) -> None:
    sign_in(client, "ada")
    page = f"/console/scopes/{CIRCUITS}"
    html = client.get(page).text
    others = html.split("Other users with access", 1)[1]
    assert "audrey" in others
    assert "Remove" not in others
    response = post(
        client,
        "/console/scopes/org:MITx/remove",
        {"user": "audrey", "role": "course_auditor"},
        page,
    )
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert holds(service, "audrey", "course_auditor", "org:MITx")


def test_changing_a_role_gives_the_new_one_and_removes_the_old(
    service: Rolecall, client: FlaskClient
) -> None:
    sign_in(client, "ada")
    page = f"/console/scopes/{CIRCUITS}"
    post(
        client,
        f"{page}/change",
        {"user": "eddie", "role": "course_editor", "new_role": "course_auditor"},
        page,
    )
    assert holds(service, "eddie", "course_auditor", CIRCUITS)
    assert not holds(service, "eddie", "course_editor", CIRCUITS)
    assert "eddie now holds course_auditor instead of course_editor" in client.get(page).text


def test_a_refused_change_leaves_the_member_as_they_were(
    service: Rolecall, client: FlaskClient
) -> None:
    sign_in(client, "ada")
    page = f"/console/scopes/{CIRCUITS}"
    before = service.revision
    post(
        client,
        f"{page}/change",
        {"user": "ada", "role": "course_admin", "new_role": "course_staff"},
        page,
    )
    assert "ada keeps course_admin" in client.get(page).text
    assert holds(service, "ada", "course_admin", CIRCUITS)
    assert not holds(service, "ada", "course_staff", CIRCUITS)  # not given, then kept
    assert service.revision == before


def _wizard(client: FlaskClient, data: dict[str, object]) -> FlaskClient:
    return post(client, "/console/assign", data, "/console/assign")  # type: ignore[return-value]


def test_the_wizard_walks_who_role_where_preview_confirm(
    service: Rolecall, client: FlaskClient
) -> None:
    sign_in(client, "olivia")
    who = {"users": "bea\nstu, uma@example.org"}
    step = _wizard(client, {**who, "step": "who"})
    assert "Which role?" in step.text  # type: ignore[attr-defined]
    step = _wizard(client, {**who, "role": "course_auditor", "step": "role"})
    assert "Where?" in step.text  # type: ignore[attr-defined]
    where = {**who, "role": "course_auditor", "scope": [CIRCUITS, CALCULUS]}
    preview = _wizard(client, {**where, "step": "where"})
    assert "will be given" in preview.text  # type: ignore[attr-defined]
    assert "Assign 6 role(s)" in preview.text  # type: ignore[attr-defined]
    # The what-if reads as one line for the three users on the two courses.
    assert "<strong>bea, stu, uma</strong> on 2 scopes" in preview.text  # type: ignore[attr-defined]
    assert "View course content <code>courses.view_course</code>" in preview.text  # type: ignore[attr-defined]
    assert not holds(service, "bea", "course_auditor", CIRCUITS)
    done = _wizard(client, {**where, "step": "preview", "go": "confirm"})
    assert done.status_code == 302  # type: ignore[attr-defined]
    for user in ("bea", "stu", "uma"):
        for scope in (CIRCUITS, CALCULUS):
            assert holds(service, user, "course_auditor", scope)
    assert "6 assignment(s) for 3 user(s) on 2 scope(s)" in client.get("/console/assign/done").text


def test_the_wizard_keeps_input_and_names_bad_users(client: FlaskClient) -> None:
    sign_in(client, "olivia")
    step = _wizard(client, {"users": "bea ghost", "step": "who"})
    assert step.status_code == 422  # type: ignore[attr-defined]
    assert "ghost: no user has this username" in step.text  # type: ignore[attr-defined]
    assert ">bea ghost</textarea>" in step.text  # type: ignore[attr-defined]


def test_the_wizard_preview_shows_refusals_and_offers_the_allowed_rows(
    service: Rolecall, client: FlaskClient
) -> None:
    sign_in(client, "olivia")
    data = {"users": "bea", "role": "course_auditor", "scope": [CIRCUITS, CS50]}
    preview = _wizard(client, {**data, "step": "where"})
    assert "not allowed" in preview.text  # type: ignore[attr-defined]
    assert "allowed role(s) only" in preview.text  # type: ignore[attr-defined]
    _wizard(client, {**data, "step": "preview", "go": "confirm", "partial": "1"})
    assert holds(service, "bea", "course_auditor", CIRCUITS)
    assert not holds(service, "bea", "course_auditor", CS50)


def test_the_wizard_gives_an_org_wide_role(service: Rolecall, client: FlaskClient) -> None:
    sign_in(client, "admin")
    data = {
        "users": "stu",
        "role": "course_auditor",
        "scope": ["org:HarvardX"],
        "step": "preview",
        "go": "confirm",
    }
    assert _wizard(client, data).status_code == 302  # type: ignore[attr-defined]
    assert holds(service, "stu", "course_auditor", "org:HarvardX")


def test_custom_roles_are_created_previewed_edited_retired_and_deleted(
    service: Rolecall, client: FlaskClient
) -> None:
    sign_in(client, "admin")
    created = post(
        client,
        "/console/roles/new",
        {
            "id": "reviewer",
            "title": "Reviewer",
            "description": "Reads course content.",
            "scope_type": ["course"],
            "permission": ["courses.view_course"],
        },
        "/console/roles/new",
    )
    assert created.status_code == 302  # type: ignore[attr-defined]
    service.assign("grace", "reviewer", CIRCUITS)
    edit = "/console/roles/reviewer/edit"
    form = {
        "title": "Reviewer",
        "description": "Reads course content.",
        "permission": ["courses.view_course", "courses.view_course_team"],
    }
    preview = post(client, edit, {**form, "go": "preview"}, edit)
    assert "What this change would do" in preview.text  # type: ignore[attr-defined]
    assert "courses.view_course_team" not in service.role("reviewer").permissions
    post(client, edit, {**form, "go": "save"}, edit)
    assert "courses.view_course_team" in service.role("reviewer").permissions
    post(client, "/console/roles/reviewer/delete", {}, "/console/roles")
    assert "reviewer was not deleted" in client.get("/console/roles").text
    post(client, "/console/roles/reviewer/retire", {}, "/console/roles")
    assert "retired" in client.get("/console/roles").text


def test_a_course_admin_may_not_create_custom_roles(client: FlaskClient) -> None:
    sign_in(client, "ada")
    roles = client.get("/console/roles").text
    assert "New custom role" not in roles  # offered only to those who may define roles
    assert "/console/roles/new" not in roles
    editor = client.get("/console/roles/new")
    assert editor.status_code == 403
    assert "platform.manage_custom_roles" in editor.text
    response = post(
        client,
        "/console/roles/new",
        {
            "id": "x_role",
            "title": "X",
            "description": "X.",
            "scope_type": ["course"],
            "permission": ["courses.view_course"],
        },
        "/console/roles",
    )
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert "platform.manage_custom_roles" in response.text  # type: ignore[attr-defined]


def test_new_custom_role_is_offered_to_platform_and_org_admins(client: FlaskClient) -> None:
    for user in ("admin", "olivia"):
        other = client.application.test_client()
        sign_in(other, user)
        assert "New custom role" in other.get("/console/roles").text
        assert other.get("/console/roles/new").status_code == 200


def test_restrictions_lock_and_unlock_a_course(service: Rolecall, client: FlaskClient) -> None:
    sign_in(client, "admin")
    post(
        client,
        "/console/restrictions",
        {"scope": CS50, "everything": "1", "exempt": ["course_admin"], "reason": "audit"},
        "/console/restrictions",
    )
    assert [r.scope for r in restrictions(service) if r.scope == CS50] == [CS50]
    assert not service.check("dara", "instructor.research", CS50)
    assert "is locked" in client.get("/console/restrictions").text
    post(client, "/console/restrictions/remove", {"scope": CS50}, "/console/restrictions")
    assert CS50 not in [r.scope for r in restrictions(service)]
    assert service.check("dara", "instructor.research", CS50)
