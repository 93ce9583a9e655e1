"""The assignments list's role filter with several roles and its distinct users view, in
Chromium on the data set at scale: every staff role at once, which people hold them, their CSV
export, and an org admin who sees no one of another org. axe on every page state."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from browser.axe_check import assert_accessible
from browser.conftest import scale_data
from browser.test_console_browser import sign_in
from browser.test_locks_browser import signed_in

STAFF = ["course_staff", "course_admin", "course_editor"]


def test_every_staff_role_and_which_people_hold_them_at_scale(
    page: Any, scale_server: str, tmp_path: Path
) -> None:
    sign_in(page, scale_server, "admin")
    page.goto(f"{scale_server}/console/assignments")
    expect(page.locator("p.count")).to_contain_text("assignments")
    page.get_by_label("Roles").select_option(STAFF)
    with page.expect_navigation():
        page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("p.count")).to_contain_text("match these filters")
    roles = page.locator("table.assignments tbody tr td:nth-child(2) code")
    expect(roles.first).to_be_visible()
    assert set(roles.all_inner_texts()) <= set(STAFF)
    assert_accessible(page)

    with page.expect_navigation():
        page.get_by_role("link", name="Distinct users").click()
    expect(page.get_by_role("link", name="Distinct users")).to_have_attribute(
        "aria-current", "page"
    )
    table = page.get_by_role("region", name="Distinct users")
    expect(table).to_be_visible()
    expect(page.locator("p.count")).to_contain_text(re.compile(r"[\d,]+ users hold"))
    names = page.locator("table.assigned-users tbody th[scope=row] code").all_inner_texts()
    assert len(names) == 50
    assert names == sorted(set(names))
    # The roles chosen are kept: the form still has them.
    for role in STAFF:
        expect(page.locator(f'#a-role option[value="{role}"]')).to_have_js_property(
            "selected", True
        )
    assert_accessible(page)

    with page.expect_navigation():
        page.get_by_role("link", name="Next 50").click()
    expect(table).to_be_visible()
    following = page.locator("table.assigned-users tbody th[scope=row] code")
    expect(following.first).to_be_visible()
    assert following.all_inner_texts()[0] > names[-1]

    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("^Download as CSV")).click()
    path = tmp_path / "users.csv"
    info.value.save_as(path)
    with path.open(newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert list(lines[0]) == ["user", "email", "display_name", "assignments", "roles"]
    users = [line["user"] for line in lines]
    assert len(users) == len(set(users)) > 50
    assert all(set(line["roles"].split()) <= set(STAFF) for line in lines)


def test_an_org_admin_sees_no_one_of_another_org(browser: Any, scale_server: str) -> None:
    data = scale_data()
    tab = signed_in(browser, scale_server, "olivia")  # org admin of MITx
    tab.goto(f"{scale_server}/console/assignments?view=users&org=org:{data.orgs[0]}")
    expect(tab.locator("p.count")).to_contain_text("0 users hold")
    expect(tab.get_by_role("region", name="Distinct users")).to_have_count(0)
    # Its export is empty too, past its header.
    other = f"org:{data.orgs[0]}"
    text = tab.evaluate(
        "url => fetch(url).then(r => r.text())",
        f"{scale_server}/console/assignments.csv?view=users&org={other}",
    )
    assert text.strip().splitlines() == ["user,email,display_name,assignments,roles"]
    tab.goto(f"{scale_server}/console/assignments?view=users")
    expect(tab.get_by_role("region", name="Distinct users")).to_contain_text("olivia")
    assert_accessible(tab)
    tab.context.close()


def test_who_can_publish_across_the_courses_at_scale(page: Any, scale_server: str) -> None:
    sign_in(page, scale_server, "admin")
    page.goto(f"{scale_server}/console/assignments")
    expect(page.locator("p.count")).to_contain_text("assignments")
    page.get_by_label("Permission").select_option("courses.publish_course_content")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("p.count")).to_contain_text("match these filters")
    explain = page.get_by_role("link", name=re.compile("^Explain whether"))
    expect(explain.first).to_be_visible()
    assert_accessible(page)
    with page.expect_navigation():
        explain.first.click()
    expect(page.get_by_role("heading", name=re.compile("^(Allowed|Denied)"))).to_be_visible()
    assert_accessible(page)
