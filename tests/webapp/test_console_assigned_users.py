"""The assignments list's role filter taking several roles at once, and its distinct users view
(``?view=users``: "which people" rather than "which assignments") with its CSV export, through
the Flask test client on the demo data: the same visibility as the list (an org admin sees
nothing of another org, in the page, its count and its export), paging by username."""

from __future__ import annotations

import csv
import io
import re

from console_support import client_of
from flask import Flask

from rolecall.core import Rolecall
from rolecall.core.reads import count_assigned_users, list_assigned_users, list_assignments

STAFF = ("course_staff", "course_admin", "course_editor")
USER = re.compile(r'<th scope="row">.*?<code>([^<]+)</code>', re.S)
HARVARD = {"hank", "carlos", "bea", "dara", "lin", "stu", "theo", "tom", "cora", "uma"}


def people(html: str) -> list[str]:
    start = html.index('aria-label="Distinct users"')
    return USER.findall(html[start:])


def test_the_read_layer_takes_several_roles(console_service: Rolecall) -> None:
    rows = list_assignments(console_service, role=list(STAFF), limit=100).items
    assert {r.role for r in rows} == set(STAFF)
    assert {r.user for r in rows} >= {"ada", "grace", "eddie", "hank", "priya"}
    single = list_assignments(console_service, role="course_staff", limit=100).items
    assert {r.role for r in single} == {"course_staff"}


def test_the_role_filter_takes_several_roles(console_app: Flask) -> None:
    client = client_of(console_app, "admin")
    query = "&".join(f"role={r}" for r in STAFF)
    html = client.get(f"/console/assignments?{query}").text
    listed = set(USER.findall(html))
    assert {"ada", "grace", "eddie", "hank", "priya"} <= listed
    assert "olivia" not in listed
    for role in STAFF:
        assert re.search(rf'<option value="{role}" selected>', html)
    # The export and the sort links keep every role.
    assert all(f"role={r}" in html for r in STAFF)
    rows = list(csv.DictReader(io.StringIO(client.get(f"/console/assignments.csv?{query}").text)))
    assert {r["role"] for r in rows} == set(STAFF)


def test_distinct_users_answer_which_people(console_app: Flask) -> None:
    client = client_of(console_app, "admin")
    query = "&".join(f"role={r}" for r in STAFF)
    html = client.get(f"/console/assignments?{query}&view=users").text
    listed = people(html)
    assert listed == sorted(set(listed))
    assert "eddie" in listed  # course editor on two courses: listed once
    row = html[html.index("<code>eddie</code>") :]
    assert re.search(r"<td>2</td>", row[: row.index("</tr>")])
    count = re.search(r'<p class="count" role="status">(\d+) users? hold', html)
    assert count is not None
    assert int(count.group(1)) == len(listed)
    # The CSV: one line per user, with how many assignments and which roles.
    response = client.get(f"/console/assignments.csv?{query}&view=users")
    assert response.status_code == 200
    assert "rolecall-users-" in response.headers["Content-Disposition"]
    lines = list(csv.DictReader(io.StringIO(response.text)))
    assert [line["user"] for line in lines] == listed
    eddie = next(line for line in lines if line["user"] == "eddie")
    assert eddie["assignments"] == "2"
    assert eddie["roles"] == "course_editor"


def test_distinct_users_are_paged_by_username(console_service: Rolecall) -> None:
    names = [f"staff{i:03d}" for i in range(120)]
    console_service.add_users([(n, f"{n}@example.org", None) for n in names], actor="admin")
    console_service.assign_many(
        [(n, "course_staff", "course-v1:MITx+6.002x+2026_T1") for n in names], actor="admin"
    )
    seen: list[str] = []
    cursor = None
    while True:
        page = list_assigned_users(console_service, role="course_staff", limit=50, cursor=cursor)
        seen += [u.user for u in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == sorted(set(seen))
    assert set(names) <= set(seen)
    assert count_assigned_users(console_service, role="course_staff") == (len(seen), False)


def test_another_orgs_admin_sees_no_one_of_it(console_app: Flask) -> None:
    client = client_of(console_app, "olivia")  # org admin of MITx
    query = "&".join(f"role={r}" for r in (*STAFF, "course_creator", "course_beta_tester"))
    html = client.get(f"/console/assignments?{query}&view=users").text
    listed = set(people(html))
    assert listed
    assert not listed & HARVARD
    assert "priya" not in listed  # BerkeleyX
    for page in (
        client.get("/console/assignments?view=users&who=hank").text,
        client.get("/console/assignments?view=users&org=HarvardX").text,
    ):
        assert "<code>hank</code>" not in page
        assert re.search(r'<p class="count" role="status">0 users', page)
    text = client.get("/console/assignments.csv?view=users").text
    exported = {line["user"] for line in csv.DictReader(io.StringIO(text))}
    assert exported
    assert not exported & HARVARD
    assert "priya" not in exported


PUBLISH = "courses.publish_course_content"
LOCKED = "course-v1:BerkeleyX+CS169.1x+2026_T1"


def row_of(html: str, user: str, scope: str) -> str:
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", html, re.S):
        if f"<code>{user}</code>" in row and scope in row:
            return row
    raise AssertionError(f"no row of {user} on {scope}")


def test_the_permission_filter_lists_the_grants_giving_it_with_explanations(
    console_app: Flask, console_service: Rolecall
) -> None:
    console_service.add_users([("zed", "zed@example.org", None)], actor="admin")
    console_service.assign("zed", "course_staff", LOCKED)
    client = client_of(console_app, "admin")
    html = client.get(f"/console/assignments?permission={PUBLISH}").text
    listed = set(USER.findall(html))
    assert {"ada", "grace", "priya", "zed", "olivia", "admin"} <= listed
    assert not listed & {"audrey", "bea", "carlos", "stu"}  # their roles do not give it
    # Each row: where it is held, whether it holds there now, and its explanation.
    assert "Explain" in row_of(html, "grace", "6.002x")
    assert "denied here" in row_of(html, "zed", LOCKED)  # the lock denies course staff
    assert "denied here" not in row_of(html, "priya", LOCKED)  # course admins are exempt
    assert "on what lies below it" in row_of(html, "olivia", "org:MITx")
    link = re.search(r'href="(/console/explain\?user=zed&amp;[^"]+)"', html)
    assert link is not None
    explained = client.get(link.group(1).replace("&amp;", "&")).text
    assert "Denied" in explained
    assert "course_admin" in explained  # the lock's exempt role
    # With roles chosen too: those of them that give it.
    html = client.get(f"/console/assignments?permission={PUBLISH}&role=course_auditor").text
    assert re.search(r'<p class="count" role="status">0 assignments', html)
    # Which people can publish somewhere: the distinct users view takes it too.
    html = client.get(f"/console/assignments?permission={PUBLISH}&view=users").text
    assert {"ada", "grace", "priya", "zed"} <= set(people(html))
    bad = client.get("/console/assignments?permission=courses.nothing")
    assert bad.status_code == 400
    assert "There is no permission" in bad.text


def test_another_orgs_admin_filtering_by_permission_sees_no_one_of_it(
    console_app: Flask,
) -> None:
    client = client_of(console_app, "olivia")
    for view in ("", "&view=users"):
        html = client.get(f"/console/assignments?permission={PUBLISH}{view}").text
        listed = set(USER.findall(html))
        assert listed
        assert not listed & (HARVARD | {"priya"})
        text = client.get(f"/console/assignments.csv?permission={PUBLISH}{view}").text
        exported = {line["user"] for line in csv.DictReader(io.StringIO(text))}
        assert exported == listed
