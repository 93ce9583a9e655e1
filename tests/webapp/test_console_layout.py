"""The console's lists and layout (issue 19, section 6) through Flask's test client: "Other
users with access" lists only grants that give something at the scope; the team and the other
users are paged with counts; the permission matrix has role titles and a filter by plugin and
functional area; the user page offers change and remove where the delegation rules would
accept them, and its writes go through the guarded path (attackers refused, nothing written)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import PASSWORD, demo_service, post, sign_in
from flask.testing import FlaskClient

from rolecall.core import Rolecall
from rolecall.webapp.app import create_app
from rolecall.webapp.console.scopes import PAGE_SIZE

CIRCUITS = "course-v1:MITx+6.002x+2026_T1"
CALCULUS = "course-v1:MITx+18.01x+2026_T1"
CS50 = "course-v1:HarvardX+CS50+2026"
LIBRARY = "lib:HarvardX:cs-problems"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Rolecall]:
    rc = demo_service(f"sqlite:///{tmp_path / 'layout.db'}")
    yield rc
    rc.close()


@pytest.fixture
def service(database_url: str) -> Iterator[Rolecall]:
    rc = demo_service(database_url)
    yield rc
    rc.close()


def client_of(rc: Rolecall, user: str) -> FlaskClient:
    client = create_app(rc, config={"TESTING": True}).test_client()
    sign_in(client, user)
    return client


def section(html: str, heading_id: str) -> str:
    """The HTML of the page's section labelled by ``heading_id``."""
    start = html.index(f'aria-labelledby="{heading_id}"')
    end = html.find("<section", start)
    return html[start : end if end != -1 else len(html)]


def holds(rc: Rolecall, user: str, role: str, scope: str) -> bool:
    return any(g.role == role and g.scope == scope for g in rc.grants(user))


# ---------------------------------------------------------------- other users with access


def test_who_lists_an_ancestors_grant_only_where_its_role_gives_something(
    demo: Rolecall,
) -> None:
    # carlos is a course creator on org:HarvardX: he may create courses there, but sees none.
    inherited = {(m.user, g.role) for m in demo.who(CS50).inherited for g in m.grants}
    assert ("carlos", "course_creator") not in inherited
    assert ("hank", "course_staff") in inherited
    assert ("admin", "platform_admin") in inherited
    # A course role on the org reaches its courses but not its libraries.
    on_library = {m.user for m in demo.who(LIBRARY).inherited}
    assert "hank" not in on_library
    assert "admin" in on_library
    # On the org itself carlos is a member of the team.
    assert "carlos" in {m.user for m in demo.who("org:HarvardX").members}


def test_the_scope_page_lists_only_the_other_users_who_reach_it(demo: Rolecall) -> None:
    html = client_of(demo, "admin").get(f"/console/scopes/{CS50}").text
    others = section(html, "others-heading")
    assert "hank" in others
    assert "carlos" not in others
    org = client_of(demo, "admin").get("/console/scopes/org:HarvardX").text
    assert "carlos" in section(org, "team-heading")


# ---------------------------------------------------------------- paging


def crowd(rc: Rolecall, count: int, role: str, scope: str) -> list[str]:
    names = [f"staff{i:04d}" for i in range(count)]
    rc.add_users([(n, f"{n}@example.org", None) for n in names], actor="admin")
    rc.assign_many([(n, role, scope) for n in names], actor="admin")
    return names


def test_the_other_users_with_access_are_paged_with_counts(demo: Rolecall) -> None:
    names = crowd(demo, 120, "course_auditor", "org:MITx")
    client = client_of(demo, "admin")
    first = section(client.get(f"/console/scopes/{CIRCUITS}").text, "others-heading")
    # audrey, olivia, admin, sam_support and the 120 new auditors
    assert "124 users holding 124 roles above this course that reach it" in first
    assert f"users 1\N{EN DASH}{PAGE_SIZE} are shown" in first
    assert first.count('<th scope="row">') == PAGE_SIZE
    assert "page 1 of 3" in first
    assert f"/console/scopes/{CIRCUITS}?others=2#others-heading" in first
    last = section(client.get(f"/console/scopes/{CIRCUITS}?others=3").text, "others-heading")
    assert last.count('<th scope="row">') == 124 - 2 * PAGE_SIZE
    assert "page 3 of 3" in last
    shown = set(re.findall(r"/console/users/(staff\d+)", last))
    assert shown
    assert shown <= set(names)
    # Past the end, or nonsense: the nearest page.
    assert "page 3 of 3" in client.get(f"/console/scopes/{CIRCUITS}?others=99").text
    assert "page 1 of 3" in client.get(f"/console/scopes/{CIRCUITS}?others=-2").text


def test_the_team_is_paged_and_keeps_the_other_lists_page(demo: Rolecall) -> None:
    crowd(demo, 60, "course_staff", "org:MITx")
    client = client_of(demo, "admin")
    html = client.get("/console/scopes/org:MITx?team=2&others=1").text
    team = section(html, "team-heading")
    # olivia, audrey and the 60: the second page holds the last 12
    assert "62 users holding 62 roles on this org" in team
    assert team.count('<th scope="row">') == 62 - PAGE_SIZE
    assert "/console/scopes/org:MITx?team=1&amp;others=1#team-heading" in team
    assert "Pages of the team" in team


def test_a_short_list_has_no_pages(demo: Rolecall) -> None:
    html = client_of(demo, "admin").get(f"/console/scopes/{CIRCUITS}").text
    assert "Pages of" not in html
    assert "are shown" not in html


# ---------------------------------------------------------------- the matrix


def test_the_matrix_heads_its_columns_with_role_titles(demo: Rolecall) -> None:
    html = client_of(demo, "admin").get("/console/roles/matrix").text
    assert '<span class="role-title">Course auditor</span> <code>course_auditor</code>' in html
    assert 'role="region" aria-label="Permission matrix"' in html
    assert html.count("<thead>") == 1  # one table: one header row to keep in view


def test_the_matrix_filters_by_plugin_and_by_area_without_script(demo: Rolecall) -> None:
    client = client_of(demo, "admin")
    html = client.get("/console/roles/matrix?plugin=discussion").text
    rows = re.findall(r'<th scope="row">[^<]*<code>([^<]+)</code>', html)
    assert rows
    assert all(p.startswith("discussion.") for p in rows)
    columns = re.findall(r"</span> <code>([a-z_]+)</code></th>", html)
    assert "discussion_moderator" in columns
    assert "course_auditor" not in columns  # holds no discussion permission
    assert '<option value="discussion" selected>' in html
    graded = client.get("/console/roles/matrix?area=Grading").text
    assert re.findall(r'<th scope="rowgroup"[^>]*><span>([^<]+)</span>', graded) == ["Grading"]
    assert "discussion." not in graded.split("<table", 1)[1]
    both = client.get("/console/roles/matrix?plugin=discussion&area=Grading").text
    assert "No permission of discussion is in the area Grading" in both
    # Unknown values are ignored: everything is shown.
    every = client.get("/console/roles/matrix?plugin=nope&area=%3Cscript%3E").text
    assert every.count('scope="rowgroup"') > 20
    assert "<script>" not in every.split("</head>", 1)[1]


# ---------------------------------------------------------------- the user page


def actions(html: str) -> list[str]:
    return re.findall(r'class="danger">Remove<span class="visually-hidden"> ([^<]+)</span>', html)


def offered(html: str, role: str, scope: str) -> list[str]:
    """The roles offered in place of ``role`` on ``scope`` on a user page."""
    forms = re.findall(r'<form method="post" action="[^"]+/change".*?</form>', html, re.S)
    for form in forms:
        if f'name="role" value="{role}"' in form and f'name="scope" value="{scope}"' in form:
            return re.findall(r'<option value="([^"]+)"', form)
    return []


def test_the_user_page_offers_change_and_remove_only_where_they_would_be_accepted(
    demo: Rolecall,
) -> None:
    admin = client_of(demo, "admin").get("/console/users/eddie").text
    assert sorted(actions(admin)) == [
        f"course_editor on {CALCULUS}",
        f"course_editor on {CIRCUITS}",
    ]
    assert "course_staff" in offered(admin, "course_editor", CIRCUITS)
    # ada is a course admin of Circuits: she sees and may change eddie's role there only.
    ada = client_of(demo, "ada").get("/console/users/eddie").text
    assert actions(ada) == [f"course_editor on {CIRCUITS}"]
    choices = offered(ada, "course_editor", CIRCUITS)
    assert "course_staff" in choices
    for role in choices:
        assert demo.delegation().may_assign("ada", role, CIRCUITS, "eddie") is None
    # olivia is the last org admin of MITx: no one is offered to remove it.
    assert "org_admin on org:MITx" not in actions(
        client_of(demo, "admin").get("/console/users/olivia").text
    )
    # eddie may leave his own roles, but give himself none.
    own = client_of(demo, "eddie").get("/console/users/eddie").text
    assert len(actions(own)) == 2
    assert offered(own, "course_editor", CIRCUITS) == []


def test_the_user_page_changes_and_removes_a_role_as_the_viewer(
    service: Rolecall,
) -> None:
    client = client_of(service, "olivia")
    page = "/console/users/eddie"
    response = post(
        client,
        f"{page}/change",
        {"role": "course_editor", "scope": CALCULUS, "new_role": "course_staff"},
        page,
    )
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert holds(service, "eddie", "course_staff", CALCULUS)
    assert not holds(service, "eddie", "course_editor", CALCULUS)
    assert (
        f"eddie now holds course_staff instead of course_editor on {CALCULUS}"
        in client.get(page).text
    )
    assert service.audit(user="eddie")[-1].actor == "olivia"
    response = post(client, f"{page}/remove", {"role": "course_editor", "scope": CIRCUITS}, page)
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert not holds(service, "eddie", "course_editor", CIRCUITS)
    assert f"course_editor removed from eddie on {CIRCUITS}" in client.get(page).text


def test_attackers_on_the_user_page_are_refused_and_nothing_is_written(
    service: Rolecall,
) -> None:
    service.accounts.set_password("grace", PASSWORD)
    before = sorted((g.role, g.scope) for g in service.grants("eddie"))
    revision = service.revision
    page = "/console/users/eddie"
    # ada may view Circuits' team only: eddie's Calculus grant is not hers to see or touch.
    ada = client_of(service, "ada")
    for url, data in (
        (f"{page}/remove", {"role": "course_editor", "scope": CALCULUS}),
        (
            f"{page}/change",
            {"role": "course_editor", "scope": CALCULUS, "new_role": "course_staff"},
        ),
    ):
        assert post(ada, url, data, page).status_code == 403  # type: ignore[attr-defined]
    # stu may not view eddie at all.
    stu = client_of(service, "stu")
    data = {"role": "course_editor", "scope": CIRCUITS}
    assert post(stu, f"{page}/remove", data, "/console/users/stu").status_code == 403  # type: ignore[attr-defined]
    # eddie may not make himself course admin: the guarded path refuses, in words.
    eddie = client_of(service, "eddie")
    response = post(
        eddie,
        f"{page}/change",
        {"role": "course_editor", "scope": CIRCUITS, "new_role": "course_admin"},
        page,
    )
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert "eddie keeps course_editor" in eddie.get(page).text
    # grace (course staff on Circuits) sees eddie there but may not remove an editor.
    grace = client_of(service, "grace")
    post(grace, f"{page}/remove", {"role": "course_editor", "scope": CIRCUITS}, page)
    assert "eddie keeps course_editor" in grace.get(page).text
    # Without the CSRF token, even the platform admin changes nothing.
    admin = client_of(service, "admin")
    assert admin.post(f"{page}/remove", data=data).status_code == 400
    assert sorted((g.role, g.scope) for g in service.grants("eddie")) == before
    assert service.revision == revision
