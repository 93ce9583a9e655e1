"""The wizard and the scope page offer only what the viewer may do, take known scopes only
("did you mean", create it), search places instead of listing them all, read many pasted users
by line, and the 403 page says why and who can help (issue 19, points 2 to 4)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import PASSWORD, demo_service, post, sign_in
from flask.testing import FlaskClient

from rolecall.core import Rolecall
from rolecall.webapp.app import create_app

CIRCUITS = "course-v1:MITx+6.002x+2026_T1"
CALCULUS = "course-v1:MITx+18.01x+2026_T1"
CS50 = "course-v1:HarvardX+CS50+2026"
WIZARD = "/console/assign"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Rolecall]:
    rc = demo_service(f"sqlite:///{tmp_path / 'rc.db'}")
    for user in ("grace", "lia"):
        rc.accounts.set_password(user, PASSWORD)
    yield rc
    rc.close()


@pytest.fixture
def client(service: Rolecall) -> FlaskClient:
    return create_app(service, config={"TESTING": True}).test_client()


def holds(rc: Rolecall, user: str, role: str, scope: str) -> bool:
    return any(g.role == role and g.scope == scope for g in rc.grants(user))


def wizard(client: FlaskClient, data: dict[str, object]):  # type: ignore[no-untyped-def]
    return post(client, WIZARD, data, WIZARD)


def as_user(client: FlaskClient, user: str) -> FlaskClient:
    """A client of the same application signed in as ``user``."""
    other = client.application.test_client()
    sign_in(other, user)
    return other


def row(html: str, user: str) -> str:
    """The team table's first row of ``user``."""
    return html.split(f'<th scope="row"><a href="/console/users/{user}">')[1].split("</tr>")[0]


def role_ids(html: str) -> list[str]:
    return re.findall(r'name="role" value="([^"]+)"', html)


# ---------------------------------------------------------------- §2 known scopes


def test_the_wizard_refuses_an_unknown_scope_and_makes_no_empty_one(
    service: Rolecall, client: FlaskClient
) -> None:
    sign_in(client, "olivia")
    typo = "course-v1:MITx+6.002x+2062_T1"
    data = {"users": "bea", "role": "course_auditor", "more_scopes": typo, "step": "where"}
    page = wizard(client, data)
    assert page.status_code == 422
    assert f"{typo}: no scope {typo} is known: create it first" in page.text
    assert f'name="create_scope" value="{typo}"' in page.text  # an org admin may create it
    confirm = wizard(client, {**data, "scope": typo, "step": "preview", "go": "confirm"})
    assert confirm.status_code == 422
    assert not holds(service, "bea", "course_auditor", typo)
    assert not service.index.is_known_scope(typo)


def test_a_key_differing_only_in_case_is_answered_did_you_mean(client: FlaskClient) -> None:
    sign_in(client, "olivia")
    lower = CIRCUITS.lower()
    page = wizard(
        client, {"users": "bea", "role": "course_auditor", "scope": lower, "step": "where"}
    )
    assert page.status_code == 422
    assert f"did you mean {CIRCUITS}?" in page.text
    assert 'name="create_scope"' not in page.text  # a near miss is not offered for creation


def test_creating_the_scope_from_the_wizard_takes_the_permission(
    service: Rolecall, client: FlaskClient
) -> None:
    new, harvard = "course-v1:MITx+New+2027", "course-v1:HarvardX+New+2027"
    data = {"users": "bea", "role": "course_auditor", "step": "where"}
    sign_in(client, "olivia")
    page = wizard(client, {**data, "scope": new, "create_scope": new})
    assert page.status_code == 200
    assert service.index.is_known_scope(new)
    preview = wizard(client, {**data, "scope": new})
    assert "will be given" in preview.text
    # Attacker: olivia (org admin of MITx) creating a HarvardX course is refused, nothing made.
    before = service.revision
    refused = wizard(client, {**data, "scope": harvard, "create_scope": harvard})
    assert refused.status_code == 403
    assert "platform.add_scopes" in refused.text
    assert service.revision == before
    assert not service.index.is_known_scope(harvard)


def test_the_scope_page_of_an_unknown_key_offers_creation_not_members(
    service: Rolecall, client: FlaskClient
) -> None:
    new = "course-v1:MITx+Fresh+2027"
    sign_in(client, "olivia")
    unknown = client.get(f"/console/scopes/{new}")
    assert unknown.status_code == 404
    page = unknown.text
    assert "Not a known course" in page
    assert "Create the course first" in page
    assert f'action="/console/scopes/{new}/members"' not in page
    assert "Back to this course in Studio" not in page
    assert "Add members below" not in page
    assert "Other users with access" not in page
    # Adding members anyway (a crafted post) is refused and makes nothing.
    added = post(
        client, f"/console/scopes/{new}/members", {"users": "bea", "role": "course_auditor"}
    )
    assert added.status_code == 422  # type: ignore[attr-defined]
    assert not service.index.is_known_scope(new)
    post(client, f"/console/scopes/{new}/create", {"title": "Fresh"})
    assert service.index.is_known_scope(new)
    assert f'action="/console/scopes/{new}/members"' in client.get(f"/console/scopes/{new}").text
    ada = as_user(client, "ada")  # a course admin may not create courses
    other = "course-v1:MITx+Ada+2027"
    post(ada, f"/console/scopes/{other}/create", {}, f"/console/scopes/{CIRCUITS}")
    assert not service.index.is_known_scope(other)


def test_did_you_mean_on_the_scope_page_for_each_admin_within_what_they_see(
    service: Rolecall, client: FlaskClient
) -> None:
    wrong_case = CIRCUITS.replace("MITx", "mitx")  # another org's key: org:mitx
    near_miss = CIRCUITS[:-1] + "3"  # one character off
    link = f'href="/console/scopes/{CIRCUITS}"'
    sign_in(client, "olivia")  # org admin of MITx: org:mitx is not hers, so 403, with a hint
    refused = client.get(f"/console/scopes/{wrong_case}")
    assert refused.status_code == 403
    assert "Did you mean" in refused.text
    assert link in refused.text
    unknown = client.get(f"/console/scopes/{near_miss}")  # in her org: the unknown page
    assert unknown.status_code == 404
    assert "Unknown course" in unknown.text
    assert link in unknown.text
    assert 'action="/console/scopes/' + near_miss + '/create"' in unknown.text
    # Never a scope whose team she may not view: CS50 is HarvardX's.
    cs50 = client.get(f"/console/scopes/{CS50.replace('CS50', 'CS5O')}")
    assert cs50.status_code == 403
    assert CS50 not in cs50.text.replace(CS50.replace("CS50", "CS5O"), "")
    admin = as_user(client, "admin")  # the platform admin sees it
    assert f'href="/console/scopes/{CS50}"' in admin.get(f"/console/scopes/{CS50.lower()}").text
    ada = as_user(client, "ada")  # course admin of Circuits: a suggestion, no creation
    page = ada.get(f"/console/scopes/{near_miss}")
    assert page.status_code == 403
    assert link in page.text
    other = ada.get(f"/console/scopes/{CALCULUS.lower()}")
    assert f"/console/scopes/{CALCULUS}" not in other.text  # not hers to see


# ---------------------------------------------------------------- §3 only what they may do


def test_the_roles_offered_are_those_the_delegation_rules_allow(client: FlaskClient) -> None:
    sign_in(client, "ada")  # course admin of Circuits
    offered = role_ids(wizard(client, {"users": "bea", "step": "who"}).text)
    assert "course_staff" in offered
    assert "discussion_administrator" in offered
    for never in ("platform_admin", "org_admin", "course_creator", "library_admin"):
        assert never not in offered
    admin = as_user(client, "admin")
    assert {"platform_admin", "org_admin", "library_admin"} <= set(
        role_ids(wizard(admin, {"users": "bea", "step": "who"}).text)
    )


def test_a_role_not_offered_is_refused_and_nothing_is_written(
    service: Rolecall, client: FlaskClient
) -> None:
    sign_in(client, "ada")
    before = service.revision
    for step in ("role", "where", "preview"):
        data = {"users": "bea", "role": "org_admin", "scope": "org:MITx", "step": step}
        response = wizard(client, {**data, "go": "confirm"})
        assert response.status_code == 422
        assert "You may not give Organization admin (org_admin) anywhere" in response.text
    assert service.revision == before
    assert not holds(service, "bea", "org_admin", "org:MITx")


def test_roles_are_grouped_by_scope_type_with_the_common_course_roles_first(
    client: FlaskClient,
) -> None:
    sign_in(client, "admin")
    html = wizard(client, {"users": "bea", "step": "who"}).text
    legends = re.findall(r"<legend>([^<]+)</legend>", html)
    assert legends[:4] == ["Course roles", "Library roles", "Organization roles", "Platform roles"]
    course = role_ids(html.split("<legend>Course roles</legend>")[1].split("</fieldset>")[0])
    assert course[:4] == ["course_staff", "course_admin", "course_editor", "course_auditor"]


def test_the_scope_page_shows_only_the_actions_that_would_be_accepted(
    client: FlaskClient,
) -> None:
    sign_in(client, "ada")
    html = client.get(f"/console/scopes/{CIRCUITS}").text
    team = html.split('id="add-heading"')[0]
    # ada may not remove her own admin role, nor change it: no buttons on her row.
    ada_row = row(team, "ada")
    assert "Remove" not in ada_row
    assert "Change" not in ada_row
    eddie_row = row(team, "eddie")
    assert "Remove" in eddie_row
    assert 'value="course_staff"' in eddie_row
    # The new role is chosen, never preselected: Change alone changes nothing.
    select = eddie_row.split('name="new_role"')[1].split("</select>")[0]
    assert select.startswith(" required>")
    assert re.findall(r"<option[^>]*>", select)[0] == '<option value="">'
    add_form = html.split('id="add-heading"')[1].split("</form>")[0]
    assert 'value="course_staff"' in add_form
    assert 'value="org_admin"' not in add_form
    assert 'value="platform_admin"' not in add_form
    grace = as_user(client, "grace")  # course staff: sees the team, may change nothing
    html = grace.get(f"/console/scopes/{CIRCUITS}").text
    eddie_row = row(html, "eddie")
    assert "Remove" not in eddie_row
    assert "Change" not in eddie_row
    grace_row = row(html, "grace")
    assert "Remove" in grace_row  # anyone may leave a non-admin role
    assert "You may not give any role on this course" in html


def test_the_403_page_says_why_and_who_can_help(client: FlaskClient) -> None:
    sign_in(client, "ada")
    page = client.get(f"/console/scopes/{CS50}")
    assert page.status_code == 403
    assert "Why:" in page.text
    assert f"Seeing the team of {CS50} takes" in page.text
    assert "courses.view_course_team" in page.text
    helpers = page.text.split("Who can help")[1]
    # The platform admin, whom Circuits' page shows ada; nobody of HarvardX's own.
    assert "<strong>admin</strong>" in helpers
    assert "<strong>hank</strong>" not in helpers
    stu = as_user(client, "stu")  # a forum student of CS50, who may view no team
    page = stu.get(f"/console/scopes/{CS50}")
    assert page.status_code == 403
    assert "<strong>" not in page.text.split("Who can help")[1]
    assert "Ask an administrator of" in page.text
    grace = as_user(client, "grace")  # course staff of Circuits: its page lists olivia above
    page = grace.get(f"/console/scopes/{CALCULUS}")
    assert page.status_code == 403
    helpers = page.text.split("Who can help")[1]
    assert "<strong>olivia</strong>" in helpers
    assert "org:MITx" in helpers
    assert "<strong>admin</strong>" in helpers  # the platform admin, listed there too


def test_the_preview_never_says_they_already_have_it_when_rows_were_refused(
    client: FlaskClient,
) -> None:
    sign_in(client, "ada")
    data = {"users": "bea", "role": "course_auditor", "scope": CS50, "step": "where"}
    preview = wizard(client, data).text
    assert "not allowed" in preview
    assert "they already have these permissions" not in preview
    assert "no assignment here can be made" in preview


# ---------------------------------------------------------------- §4 the wizard at scale


def test_an_org_wildcard_works_as_the_hint_says(service: Rolecall, client: FlaskClient) -> None:
    sign_in(client, "olivia")
    data = {"users": "bea", "role": "course_auditor", "more_scopes": "course-v1:MITx+*"}
    hint = wizard(client, {**data, "step": "role"}).text
    assert "<code>course-v1:MITx+*</code> for every course" in hint
    preview = wizard(client, {**data, "step": "where"})
    assert preview.status_code == 200
    assert "will be given" in preview.text
    courses = sum(1 for k in service.index.descendants("org:MITx") if k.startswith("course-v1:"))
    assert (
        "<code>course-v1:MITx+*</code> becomes one org-wide grant on <code>org:MITx</code>, "
        f"covering {courses} courses, present and future"
    ) in preview.text
    wizard(client, {**data, "scope": "course-v1:MITx+*", "step": "preview", "go": "confirm"})
    assert holds(service, "bea", "course_auditor", "org:MITx")


def test_the_scope_search_pages_only_places_the_viewer_may_use(client: FlaskClient) -> None:
    sign_in(client, "olivia")
    found = client.get("/console/assign/scopes?role=course_staff&q=x").get_json()
    keys = [r["key"] for r in found["results"]]
    assert "org:MITx" in keys
    assert CIRCUITS in keys
    assert CS50 not in keys  # HarvardX: not hers to give
    assert all("HarvardX" not in k and "BerkeleyX" not in k for k in keys)
    calculus = client.get("/console/assign/scopes?role=course_staff&q=calculus").get_json()
    assert [r["key"] for r in calculus["results"]] == [CALCULUS]
    # Without JavaScript: the Search button shows the same matches as checkboxes.
    page = wizard(
        client,
        {"users": "bea", "role": "course_staff", "find": "calc", "step": "where", "go": "search"},
    )
    assert f'name="scope" value="{CALCULUS}"' in page.text
    assert "Matches for" in page.text


def test_many_pasted_users_are_read_by_line(client: FlaskClient) -> None:
    sign_in(client, "olivia")
    pasted = "bea, stu\numa@example.org ghost\nbea\n\nstu@example.org"
    page = wizard(client, {"users": pasted, "step": "who"})
    assert page.status_code == 422
    assert "Line 2: ghost: no user has this username" in page.text
    fixed = wizard(client, {"users": pasted.replace(" ghost", ""), "step": "who"})
    assert fixed.status_code == 200
    assert "Line 3: bea is listed again (first on line 1): given once." in fixed.text
    assert "Line 5: stu@example.org (stu) is listed again (first on line 1)" in fixed.text


def test_the_restrictions_page_403_says_why(client: FlaskClient) -> None:
    sign_in(client, "olivia")
    page = client.get("/console/restrictions")
    assert page.status_code == 403
    assert "takes platform.manage_restrictions on the platform" in page.text
    assert "<strong>admin</strong>" in page.text.split("Who can help")[1]


def test_the_audit_and_user_pages_403_say_why(client: FlaskClient) -> None:
    sign_in(client, "olivia")  # an org admin: no audit log, and no roles of a HarvardX user
    page = client.get("/console/audit")
    assert page.status_code == 403
    assert "Reading the audit log takes console.view_audit_log on the platform" in page.text
    assert "<strong>admin</strong>" in page.text.split("Who can help")[1]
    page = client.get("/console/users/hank")
    assert page.status_code == 403
    assert "Seeing the roles of hank takes the view-team permission" in page.text
