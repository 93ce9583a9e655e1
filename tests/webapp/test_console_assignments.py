"""The console's assignments list (``/console/assignments``) and its CSV export, through the
Flask test client on the demo data: what each viewer may see (page, count and export alike),
the filters, the sort links, the cursor pages, formula-safe cells."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import parse_qs, quote, urlsplit

from console_support import client_of
from flask import Flask
from flask.testing import FlaskClient

from rolecall.core import Rolecall
from rolecall.core.reads import iter_assignments
from rolecall.webapp import authz

CIRCUITS = "course-v1:MITx+6.002x+2026_T1"
CALCULUS = "course-v1:MITx+18.01x+2026_T1"
CS50 = "course-v1:HarvardX+CS50+2026"
ROW = re.compile(r'<th scope="row">.*?<code>([^<]+)</code>')


def exported(client: FlaskClient, query: str = "") -> list[dict[str, str]]:
    response = client.get(f"/console/assignments.csv?{query}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.DictReader(io.StringIO(response.text)))


def listed_users(html: str) -> list[str]:
    return ROW.findall(html)


def count_of(html: str) -> int:
    found = re.search(r'<p class="count" role="status">(?:More than )?([\d,]+) assignment', html)
    assert found is not None, html
    return int(found.group(1).replace(",", ""))


def test_the_list_is_linked_from_the_navigation_and_the_home_page(console_app: Flask) -> None:
    admin = client_of(console_app, "admin")
    home = admin.get("/console/").text
    assert home.count('href="/console/assignments"') == 2
    page = admin.get("/console/assignments")
    assert page.status_code == 200
    assert '<a href="/console/assignments" aria-current="page">Assignments</a>' in page.text


def test_a_course_admin_sees_nothing_of_another_orgs_courses(
    console_app: Flask, console_service: Rolecall
) -> None:
    ada = client_of(console_app, "ada")  # course_admin of Circuits, at MITx
    page = ada.get("/console/assignments?sort=user").text
    users = listed_users(page)
    team = {m.user for m in console_service.who(CIRCUITS).members}
    assert set(users) == team
    assert count_of(page) == len(users)
    assert "HarvardX" not in page
    assert "CS50" not in page
    # Not by filtering for it, nor in the export, nor in the count.
    for query in (
        "org=org:HarvardX",
        f"scope={CS50}",
        "scope=HarvardX",
        "who=lin",
        "role=course_limited_staff",
    ):
        filtered = ada.get(f"/console/assignments?{query}").text
        assert listed_users(filtered) == [], query
        assert count_of(filtered) == 0, query
        assert exported(ada, query) == [], query
    rows = exported(ada)
    assert {r["scope"] for r in rows} == {CIRCUITS}
    assert sorted(r["user"] for r in rows) == sorted(users)
    # The org filter offers only the orgs it may see something in.
    assert 'value="org:HarvardX"' not in page
    assert 'value="org:MITx"' in page


def test_a_role_without_the_team_gives_its_own_grant_only(console_app: Flask) -> None:
    stu = client_of(console_app, "stu")  # discussion_student of CS50: may not view its team
    page = stu.get("/console/assignments").text
    assert listed_users(page) == ["stu"]
    assert [(r["user"], r["scope"]) for r in exported(stu)] == [("stu", CS50)]
    # Its own grant names the course without linking a page it may not open.
    assert f'href="/console/scopes/{CS50}"' not in page


def test_each_viewer_sees_exactly_the_teams_it_may_view_and_its_own(
    console_service: Rolecall,
) -> None:
    console_service.restrict(CALCULUS, ["courses.view_course_team"], reason="sealed")
    everything = list(iter_assignments(console_service))
    for viewer, *_ in console_service.users():
        seen = authz.assignments_seen_by(console_service, viewer)
        shown = {r.id for r in iter_assignments(console_service, seen=seen)}
        expected = {
            r.id
            for r in everything
            if r.user == viewer or authz.can_view_team(console_service, viewer, r.scope)
        }
        assert shown == expected, viewer
    # The restriction is obeyed: the MITx org admin no longer sees Calculus's team.
    olivia = authz.assignments_seen_by(console_service, "olivia")
    assert CALCULUS not in {r.scope for r in iter_assignments(console_service, seen=olivia)}
    assert CIRCUITS in {r.scope for r in iter_assignments(console_service, seen=olivia)}


def test_the_filters(console_app: Flask) -> None:
    admin = client_of(console_app, "admin")

    def users(query: str) -> list[str]:
        response = admin.get(f"/console/assignments?sort=user&{query}")
        assert response.status_code == 200, response.text
        return listed_users(response.text)

    assert users("org=org:HarvardX") == sorted(users("org=HarvardX"))
    assert set(users("org=org:HarvardX")) >= {"carlos", "hank", "lin", "dara"}
    assert "olivia" not in users("org=org:HarvardX")
    assert set(users("scope_type=library")) == {"cora", "leo", "lia", "uma"}
    assert users("scope_type=platform") == ["admin", "sam_support"]
    assert users(f"scope={quote(CIRCUITS)}&role=course_staff") == ["grace"]
    assert users("scope=org:MITx") == ["audrey", "olivia"]  # a key: exactly that scope
    assert set(users("scope=6.002x")) >= {"ada", "grace", "eddie"}  # text: in the key
    assert users("who=LOVELACE") == ["ada"]
    assert users("who=grace@example") == ["grace"]
    assert users("granted_by=nobody-at-all") == []
    assert len(users("granted_by=admin")) == count_of(admin.get("/console/assignments").text)


def test_sorting_by_a_column_link_with_aria_sort(console_app: Flask) -> None:
    admin = client_of(console_app, "admin")
    page = admin.get("/console/assignments?sort=user&role=course_staff").text
    assert (
        '<th scope="col" aria-sort="ascending">'
        '<a href="/console/assignments?role=course_staff&amp;sort=-user">User' in page
    )
    assert (
        '<th scope="col"><a href="/console/assignments?role=course_staff&amp;sort=role">Role'
        in page
    )
    assert listed_users(page) == sorted(listed_users(page))
    down = admin.get("/console/assignments?sort=-user&role=course_staff").text
    assert 'aria-sort="descending"' in down
    assert listed_users(down) == sorted(listed_users(page), reverse=True)
    by_expiry = admin.get("/console/assignments?sort=expires_at").text
    assert (
        'aria-sort="ascending"><a href="/console/assignments?sort=-expires_at">Expires' in by_expiry
    )
    # The sort survives a filter: the form carries it.
    assert '<input type="hidden" name="sort" value="expires_at">' in by_expiry


def test_pages_follow_the_cursor_to_the_end(console_app: Flask, console_service: Rolecall) -> None:
    console_service.add_users([f"p{n:02}" for n in range(60)])
    console_service.assign_many([(f"p{n:02}", "course_auditor", CIRCUITS) for n in range(60)])
    admin = client_of(console_app, "admin")
    url: str | None = "/console/assignments?sort=user"
    seen: list[str] = []
    while url:
        page = admin.get(url).text
        seen += listed_users(page)
        found = re.search(r'<a class="button" href="([^"]+)" rel="next">', page)
        url = found.group(1).replace("&amp;", "&") if found else None
        if url:
            assert parse_qs(urlsplit(url).query)["sort"] == ["user"]
            assert "First page" in admin.get(url).text
    total = len(list(iter_assignments(console_service)))
    assert len(seen) == total
    assert seen == sorted(seen)
    assert count_of(admin.get("/console/assignments").text) == total


def test_the_export_is_every_matching_row_with_formula_safe_cells(
    console_app: Flask, console_service: Rolecall
) -> None:
    console_service.add_user(
        "mallory", email="m@example.org", display_name='=HYPERLINK("http://x")'
    )
    console_service.assign("mallory", "course_auditor", CIRCUITS, reason="+1 for me", actor="admin")
    admin = client_of(console_app, "admin")
    rows = exported(admin, "sort=user")
    assert len(rows) == len(list(iter_assignments(console_service)))
    assert [r["user"] for r in rows] == sorted(r["user"] for r in rows)
    mallory = next(r for r in rows if r["user"] == "mallory")
    assert mallory["display_name"] == '\'=HYPERLINK("http://x")'
    assert mallory["reason"] == "'+1 for me"
    assert mallory["scope_type"] == "course"
    assert mallory["granted_by"] == "admin"
    assert mallory["expired"] == "no"
    assert mallory["granted_at"].endswith("+00:00")
    assert [r["user"] for r in exported(admin, "who=mallory")] == ["mallory"]


def test_bad_input_is_said_in_words(console_app: Flask) -> None:
    admin = client_of(console_app, "admin")
    bad = admin.get("/console/assignments?cursor=garbage")
    assert bad.status_code == 400
    assert "The cursor is not one this listing gave out." in bad.text
    assert admin.get("/console/assignments.csv?scope_type=galaxy").status_code == 400
    # An unknown sort falls back to the default rather than failing.
    assert admin.get("/console/assignments?sort=password").status_code == 200


def test_anonymous_visitors_and_users_without_a_role_are_refused(console_app: Flask) -> None:
    anonymous = console_app.test_client()
    for url in ("/console/assignments", "/console/assignments.csv"):
        assert anonymous.get(url).status_code == 302
    nobody = client_of(console_app, "nobody")
    for url in ("/console/assignments", "/console/assignments.csv"):
        response = nobody.get(url)
        assert response.status_code == 403
        assert "ada" not in response.text


# ------------------------------------------------------------------ an org's courses and libraries


def contents_of(html: str) -> list[str]:
    section = html.split('<h2 id="contents-heading">', 1)[1]
    cells = re.findall(r"<tr><td>(.*?)</td><td>", section)
    return [re.findall(r"<code[^>]*>([^<]+)</code>", cell)[-1] for cell in cells]


def test_an_org_page_lists_its_courses_and_libraries_each_linking_to_its_page(
    console_app: Flask, console_service: Rolecall
) -> None:
    console_service.restrict(CALCULUS, ["courses.view_course_team"], reason="sealed")
    olivia = client_of(console_app, "olivia")  # org_admin of MITx
    page = olivia.get("/console/scopes/org:MITx").text
    assert contents_of(page) == [CALCULUS, CIRCUITS, "lib:MITx:physics"]
    assert f'<a href="/console/scopes/{CIRCUITS}">Circuits and Electronics</a>' in page
    assert '<a href="/console/scopes/lib:MITx:physics">' in page
    # A course whose team she may not view is named, not linked.
    assert f'href="/console/scopes/{CALCULUS}"' not in page
    assert contents_of(olivia.get("/console/scopes/org:MITx?find=physics").text) == [
        "lib:MITx:physics"
    ]
    assert contents_of(olivia.get("/console/scopes/org:MITx?find=CIRCUITS").text) == [CIRCUITS]
    nothing = olivia.get("/console/scopes/org:MITx?find=zzz").text
    assert "No course or library of this org matches" in nothing
    # Another org's page is not hers to open; a course page lists no contents.
    assert olivia.get("/console/scopes/org:HarvardX").status_code == 403
    assert 'id="contents-heading"' not in olivia.get(f"/console/scopes/{CIRCUITS}").text


def test_an_org_with_hundreds_of_courses_lists_them_a_page_at_a_time(
    console_app: Flask, console_service: Rolecall
) -> None:
    console_service.add_scopes([f"course-v1:MITx+C{n:03}+2026_T1" for n in range(120)])
    olivia = client_of(console_app, "olivia")
    url: str | None = "/console/scopes/org:MITx?find=%2BC"
    seen: list[str] = []
    while url:
        page = olivia.get(url).text
        seen += contents_of(page)
        found = re.search(r'<a class="button" href="([^"]+)" rel="next">', page)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert seen == [f"course-v1:MITx+C{n:03}+2026_T1" for n in range(120)]
