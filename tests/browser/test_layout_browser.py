"""The console's layout in Chromium: no horizontal scrolling at 390 px on the home, scope, user
and matrix pages (on the demo data, with long unbroken input, and at scale); the matrix keeps
its header row and first column in view while it scrolls and filters by area without script;
"Other users with access" leaves out those whose roles give nothing there; the team and the
other users are paged at scale; the user page changes and removes a role. axe on every page
and state visited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_support import PASSWORD, demo_service
from playwright.sync_api import expect

from browser.axe_check import assert_accessible
from browser.conftest import scale_data, serving
from browser.test_console_browser import sign_in

CIRCUITS = "course-v1:MITx+6.002x+2026_T1"
CALCULUS = "course-v1:MITx+18.01x+2026_T1"
CS50 = "course-v1:HarvardX+CS50+2026"
PHONE = {"width": 390, "height": 844}
LONG_NAME = "p" + "q" * 139
LONG_COURSE = "course-v1:MITx+" + "L" * 180 + "+2026_T1"
WIDTH = "document.documentElement.scrollWidth"


def no_sideways_scroll(page: Any) -> None:
    assert page.evaluate(WIDTH) <= PHONE["width"], page.url
    assert_accessible(page)


def others(page: Any) -> Any:
    return page.locator("section", has=page.get_by_role("heading", name="Other users with access"))


def test_no_sideways_scrolling_at_390_px_on_the_demo_data(page: Any, server: str) -> None:
    page.set_viewport_size(PHONE)
    sign_in(page, server, "admin")
    # Long unbroken input: a username, a reason and a search.
    page.goto(f"{server}/console/scopes/{CIRCUITS}")
    page.get_by_label("Usernames or e-mail addresses").fill(LONG_NAME)
    page.get_by_label("Role", exact=True).select_option("course_beta_tester")
    page.get_by_label("Reason (optional)").fill("r" * 400)
    page.get_by_role("button", name="Add members").click()
    expect(page.get_by_text(f"{LONG_NAME}:")).to_be_visible()  # no such user: the error says so
    no_sideways_scroll(page)
    for path in (
        "/console/",
        f"/console/?q={'x' * 200}",
        f"/console/scopes/{CIRCUITS}",
        "/console/scopes/org:MITx",
        "/console/scopes/platform",
        "/console/users/eddie",
        "/console/users/admin",
        "/console/roles/matrix",
        "/console/roles/matrix?plugin=discussion",
    ):
        page.goto(f"{server}{path}")
        no_sideways_scroll(page)


@pytest.fixture
def long_server(tmp_path: Path) -> Iterator[str]:
    """The demo data plus a user, a course and a title made of long unbroken words."""
    rc = demo_service(f"sqlite:///{tmp_path / 'long.db'}")
    rc.add_user(LONG_NAME, email=f"{'e' * 120}@example.org", display_name="D" * 160)
    rc.add_scopes([(LONG_COURSE, "T" * 200)], actor="admin")
    rc.assign(LONG_NAME, "course_staff", LONG_COURSE, actor="admin", reason="r" * 500)
    rc.assign(LONG_NAME, "course_auditor", "org:MITx", actor="admin")
    with serving(rc) as url:
        yield url
    rc.close()


def test_long_unbroken_names_and_keys_wrap_at_390_px(page: Any, long_server: str) -> None:
    page.set_viewport_size(PHONE)
    sign_in(page, long_server, "admin")
    for path in (
        f"/console/?q={LONG_NAME[:40]}",
        f"/console/scopes/{LONG_COURSE}",
        f"/console/scopes/{CIRCUITS}",
        f"/console/users/{LONG_NAME}",
    ):
        page.goto(f"{long_server}{path}")
        no_sideways_scroll(page)
    # A flash message naming them wraps too.
    page.goto(f"{long_server}/console/users/{LONG_NAME}")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Remove course_staff on {LONG_COURSE}").click()
    expect(page.get_by_text(f"course_staff removed from {LONG_NAME}")).to_be_visible()
    no_sideways_scroll(page)


def test_tables_scroll_inside_their_own_labelled_region(page: Any, server: str) -> None:
    page.set_viewport_size(PHONE)
    sign_in(page, server, "admin")
    page.goto(f"{server}/console/scopes/{CIRCUITS}")
    team = page.get_by_role("region", name="Team table")
    assert team.evaluate("e => e.scrollWidth > e.clientWidth")  # the table is wider: it scrolls
    team.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    # The keys scroll it (smoothly, so the position is awaited rather than read at once).
    page.wait_for_function("e => e.scrollLeft > 0", arg=team.element_handle(), timeout=10_000)
    assert page.evaluate(WIDTH) <= PHONE["width"]
    assert_accessible(page)


def test_the_matrix_keeps_its_headers_in_view_and_filters_by_area(page: Any, server: str) -> None:
    sign_in(page, server, "admin")
    page.goto(f"{server}/console/roles/matrix")
    assert_accessible(page)
    matrix = page.get_by_role("region", name="Permission matrix")
    header = page.get_by_role("columnheader", name="Course auditor course_auditor")
    corner = page.get_by_role("columnheader", name="Permission", exact=True)
    first = page.get_by_role("rowheader").filter(has_text="courses.view_course").first
    top, left = header.bounding_box()["y"], first.bounding_box()["x"]
    matrix.evaluate("e => { e.scrollTop = 900; e.scrollLeft = 600; }")
    assert matrix.evaluate("e => e.scrollTop") > 0
    assert matrix.evaluate("e => e.scrollLeft") > 0
    assert header.bounding_box()["y"] == top  # the header row stays
    assert corner.bounding_box()["x"] == left  # and so does the first column
    row = page.get_by_role("rowheader").filter(has_text="discussion.create_thread").first
    assert row.bounding_box()["x"] == left
    assert_accessible(page)
    # The filter is a plain GET form.
    page.get_by_label("Permissions of").select_option("discussion")
    page.get_by_role("button", name="Show", exact=True).click()
    page.wait_for_url("**/roles/matrix?plugin=discussion*")
    assert page.get_by_role("columnheader", name="Discussion moderator discussion_moderator")
    assert page.get_by_role("columnheader", name="Course auditor course_auditor").count() == 0
    assert page.get_by_role("rowheader").filter(has_text="courses.").count() == 0
    assert_accessible(page)
    page.get_by_label("Functional area").select_option("Grading")
    page.get_by_label("Permissions of").select_option("")
    page.get_by_role("button", name="Show", exact=True).click()
    page.wait_for_url("**/roles/matrix?plugin=&area=Grading")
    groups = page.locator("tr.area th")
    assert groups.all_inner_texts() == ["Grading"]
    assert_accessible(page)


def test_the_matrix_works_without_script(browser: Any, server: str) -> None:
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    tab = context.new_page()
    try:
        tab.goto(f"{server}/console/login")  # axe needs script: this test signs in by hand
        tab.get_by_label("Username").fill("admin")
        tab.get_by_label("Password").fill(PASSWORD)
        tab.get_by_role("button", name="Sign in").click()
        tab.wait_for_url(f"{server}/console/")
        tab.goto(f"{server}/console/roles/matrix")
        tab.get_by_label("Functional area").select_option("Discussions")
        tab.get_by_role("button", name="Show", exact=True).click()
        tab.wait_for_url("**area=Discussions")
        assert tab.locator("tr.area th").all_inner_texts() == ["Discussions"]
        assert tab.evaluate(WIDTH) <= PHONE["width"]
    finally:
        context.close()


def test_other_users_with_access_leaves_out_a_course_creator(page: Any, server: str) -> None:
    sign_in(page, server, "admin")
    page.goto(f"{server}/console/scopes/{CS50}")
    assert_accessible(page)
    assert others(page).get_by_role("row").filter(has_text="hank").count() == 1
    assert others(page).get_by_role("row").filter(has_text="carlos").count() == 0
    page.goto(f"{server}/console/scopes/org:HarvardX")
    team = page.locator("table.team")
    assert team.get_by_role("row").filter(has_text="carlos").count() == 1


def test_the_user_page_changes_and_removes_a_role(page: Any, server: str) -> None:
    sign_in(page, server, "olivia")
    page.goto(f"{server}/console/users/eddie")
    assert_accessible(page)
    page.get_by_label(f"New role instead of course_editor on {CALCULUS}").select_option(
        "course_staff"
    )
    page.get_by_role("button", name=f"Change course_editor on {CALCULUS}").click()
    expect(
        page.get_by_text(f"eddie now holds course_staff instead of course_editor on {CALCULUS}.")
    ).to_be_visible()
    assert_accessible(page)
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Remove course_editor on {CIRCUITS}").click()
    expect(page.get_by_text(f"course_editor removed from eddie on {CIRCUITS}.")).to_be_visible()
    assert page.get_by_role("button", name=f"Remove course_editor on {CIRCUITS}").count() == 0
    assert_accessible(page)
    # A course admin sees only what she may do: eddie's new role on Calculus is not hers.
    page.goto(f"{server}/console/")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, server, "ada")
    page.goto(f"{server}/console/users/eddie")
    assert page.get_by_role("button", name=f"Remove course_staff on {CALCULUS}").count() == 0
    assert_accessible(page)


def test_big_org_and_course_pages_are_paged_at_scale(page: Any, scale_server: str) -> None:
    data = scale_data()
    org = data.orgs[0]
    course = data.courses_by_org[org][0]
    page.set_viewport_size(PHONE)
    sign_in(page, scale_server, "admin")
    page.goto(f"{scale_server}/console/scopes/org:{org}")
    team = page.locator("section", has=page.get_by_role("heading", name="Team"))
    expect(team.get_by_role("navigation")).to_contain_text("page 1 of")
    assert page.locator("table.team tbody tr th").count() >= 50  # 50 users, each 1+ rows
    no_sideways_scroll(page)
    team.get_by_role("link", name="Next page of the team").click()
    expect(team.get_by_role("navigation")).to_contain_text("page 2 of")
    no_sideways_scroll(page)
    page.goto(f"{scale_server}/console/scopes/{course}")
    assert others(page).get_by_role("navigation").count() == 1
    no_sideways_scroll(page)
    for path in ("/console/", "/console/roles/matrix", f"/console/users/{data.users[0]}"):
        page.goto(f"{scale_server}{path}")
        no_sideways_scroll(page)
    # The org page is one page of each list, not the whole org.
    page.goto(f"{scale_server}/console/scopes/org:{org}")
    assert len(page.content()) < 400_000


def test_the_org_page_names_each_landmark_once(page: Any, scale_server: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    org = scale_data().orgs[0]
    sign_in(page, scale_server, "admin")
    page.goto(f"{scale_server}/console/scopes/org:{org}")
    expect(page.get_by_role("region", name="Courses and libraries table")).to_be_visible()
    violations = Axe().run(page).response["violations"]
    assert [v["id"] for v in violations if v["id"] == "landmark-unique"] == []
