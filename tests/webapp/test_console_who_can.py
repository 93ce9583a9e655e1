"""Who can do X here, and why (through Flask's test client): the scope page's permission filter
lists who may, with the grant that gives it and where it is held, and links to the explanation;
a locked scope's page lists who is still allowed and why; the user page does not say a role
"can" do what a lock denies; the attackers see nothing of another org."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import demo_service, sign_in
from flask.testing import FlaskClient

from rolecall.core import Rolecall
from rolecall.webapp.app import create_app

CIRCUITS = "course-v1:MITx+6.002x+2026_T1"
CS50 = "course-v1:HarvardX+CS50+2026"
LOCKED = "course-v1:BerkeleyX+CS169.1x+2026_T1"
PUBLISH = "courses.publish_course_content"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Rolecall]:
    rc = demo_service(f"sqlite:///{tmp_path / 'who_can.db'}")
    yield rc
    rc.close()


def add(rc: Rolecall, *names: str) -> None:
    rc.add_users([(n, f"{n}@example.org", None) for n in names], actor="admin")


def client_of(rc: Rolecall, user: str) -> FlaskClient:
    client = create_app(rc, config={"TESTING": True}).test_client()
    sign_in(client, user)
    return client


def section(html: str, heading_id: str) -> str:
    start = html.index(f'aria-labelledby="{heading_id}"')
    end = html.find("<section", start)
    return html[start : end if end != -1 else len(html)]


def rows(html: str) -> dict[str, list[str]]:
    """The "who can" table: user -> the text of each of their rows."""
    found: dict[str, list[str]] = {}
    table = section(html, "can-heading")
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        cells = [
            re.sub(r"<[^>]+>|\s+", " ", c).strip()
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        if cells and cells[0] != "User":
            found.setdefault(cells[0], []).append(" | ".join(cells[1:]))
    return found


def who_can_page(client: FlaskClient, scope: str, permission: str = PUBLISH) -> str:
    response = client.get(f"/console/scopes/{scope}?permission={permission}")
    assert response.status_code == 200, response.text
    return response.text


def test_the_scope_page_lists_who_can_publish_with_the_grant_and_where_it_is_held(
    demo: Rolecall,
) -> None:
    html = who_can_page(client_of(demo, "admin"), CIRCUITS)
    found = rows(html)
    assert set(found) == set(demo.who_can(PUBLISH, CIRCUITS))
    assert set(found) == {"ada", "admin", "grace", "olivia"}
    assert "course_admin" in found["ada"][0]
    assert "this course" in found["ada"][0]
    assert "org_admin" in found["olivia"][0]
    assert "its organization" in found["olivia"][0]
    assert "platform_admin" in found["admin"][0]
    assert "the platform" in found["admin"][0]
    assert "4 users may publish course content" in html
    # Explanations one click away.
    link = re.search(r'href="(/console/explain\?user=grace&amp;[^"]+)"', html)
    assert link is not None
    explained = client_of(demo, "admin").get(link.group(1).replace("&amp;", "&")).text
    assert "Allowed" in explained
    assert "course_staff" in explained
    assert PUBLISH in explained


def test_the_permission_filter_offers_only_the_scope_types_permissions(demo: Rolecall) -> None:
    client = client_of(demo, "admin")
    html = client.get(f"/console/scopes/{CIRCUITS}").text
    assert f'value="{PUBLISH}"' in html
    assert 'value="content_libraries.publish_library_content"' not in html
    html = who_can_page(client, CIRCUITS, "content_libraries.publish_library_content")
    assert "is not a permission of a course" in html
    assert not rows(html)


def test_the_who_can_list_is_paged(demo: Rolecall) -> None:
    add(demo, *(f"staff{i:02}" for i in range(60)))
    demo.assign_many([(f"staff{i:02}", "course_staff", CIRCUITS) for i in range(60)])
    client = client_of(demo, "admin")
    first = who_can_page(client, CIRCUITS)
    assert "64 users may publish" in first
    assert len(rows(first)) == 50
    second = client.get(f"/console/scopes/{CIRCUITS}?permission={PUBLISH}&can=2").text
    assert len(rows(second)) == 14
    assert not set(rows(first)) & set(rows(second))


def test_the_explain_view_answers_why_and_why_not(demo: Rolecall) -> None:
    client = client_of(demo, "admin")
    html = client.get(
        "/console/explain", query_string={"user": "grace", "permission": PUBLISH, "scope": CIRCUITS}
    ).text
    assert "Allowed" in html
    assert "course_staff" in html
    html = client.get(
        "/console/explain", query_string={"user": "grace", "permission": PUBLISH, "scope": CS50}
    ).text
    assert "Denied" in html
    assert "What came closest" in html


def test_a_locked_scope_lists_who_is_still_allowed_and_why(demo: Rolecall) -> None:
    add(demo, "zed")
    demo.assign("zed", "course_staff", LOCKED)
    client = client_of(demo, "admin")
    html = who_can_page(client, LOCKED)
    notice = html[html.index('class="notice"') : html.index('id="can-heading"')]
    assert "Still allowed" in notice
    assert "priya" in notice
    assert "course_admin" in notice
    assert "zed" not in notice
    found = rows(html)
    # The lock denies publishing to everyone but course admins: zed (course staff) and the
    # platform admin may not, priya may, and the page says she is exempt.
    assert set(found) == {"priya"} == set(demo.who_can(PUBLISH, LOCKED))
    assert "exempt from the lock" in found["priya"][0]


def test_the_user_page_does_not_say_a_role_can_do_what_a_lock_denies(demo: Rolecall) -> None:
    add(demo, "zed")
    demo.assign("zed", "course_staff", LOCKED)
    demo.assign("zed", "course_staff", CIRCUITS)
    html = client_of(demo, "admin").get("/console/users/zed").text
    cells = re.findall(r"<details>(.*?)</details>", html, re.S)
    on_locked, on_open = (c for c in cells)  # sorted by scope: Berkeley, then MITx
    assert "Denied here by a lock" in on_locked
    can = on_locked[on_locked.index('class="can"') : on_locked.index('class="locked"')]
    assert "Publish course content" not in can
    assert "Edit course content" not in can
    locked = on_locked[on_locked.index('class="locked"') :]
    assert "Publish course content" in locked
    assert LOCKED in locked
    assert "Denied here by a lock" not in on_open
    assert "Publish course content" in on_open
    # priya's course admin role is exempt: nothing is held back.
    html = client_of(demo, "admin").get("/console/users/priya").text
    assert "Denied here by a lock" not in html


def test_another_orgs_admin_sees_nothing_of_it(demo: Rolecall) -> None:
    client = client_of(demo, "olivia")  # org admin of MITx
    refused = client.get(f"/console/scopes/{CS50}?permission={PUBLISH}")
    assert refused.status_code == 403
    assert "hank" not in refused.text
    refused = client.get(
        "/console/explain", query_string={"user": "hank", "permission": PUBLISH, "scope": CS50}
    )
    assert refused.status_code == 403
    assert "course_staff" not in refused.text
    # About someone else on her own org's course, the misses name no scope of another org.
    add(demo, "hank2")
    demo.assign("hank2", "course_staff", CS50)
    html = client.get(
        "/console/explain", query_string={"user": "hank2", "permission": PUBLISH, "scope": CIRCUITS}
    ).text
    assert "Denied" in html
    assert "HarvardX" not in html
    # Her filter on her own course lists no one of another org.
    found = rows(who_can_page(client, CIRCUITS))
    assert "hank" not in found
    assert "hank2" not in found
    # About herself she may ask anywhere.
    assert (
        client.get(
            "/console/explain",
            query_string={"user": "olivia", "permission": PUBLISH, "scope": CS50},
        ).status_code
        == 200
    )
