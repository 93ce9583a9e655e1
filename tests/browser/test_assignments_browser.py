"""The assignments list and the audit log in Chromium: on the data set at scale, filter (with
the keyboard alone), sort, page and export the list, and list an org's courses; on the demo
data, change a role and find it in the audit log by its org and a date range. axe on every
page and state."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from browser.axe_check import assert_accessible
from browser.test_console_browser import sign_in

CIRCUITS = "course-v1:MITx+6.002x+2026_T1"
BIG_ORG = "Org009x"
"""The data set's largest org at 100,000 assignments: hundreds of courses."""


def users_listed(page: Any) -> list[str]:
    return page.locator("table.assignments tbody th[scope=row] code").all_inner_texts()


def column(page: Any, index: int) -> list[str]:
    return page.locator(f"table.assignments tbody tr td:nth-child({index})").all_inner_texts()


def shown_count(page: Any) -> int:
    text = page.locator("p.count").inner_text()
    found = re.search(r"([\d,]+) assignment", text)
    assert found is not None, text
    return int(found.group(1).replace(",", ""))


def test_filter_with_the_keyboard_sort_page_and_export_at_scale(
    page: Any, scale_server: str, tmp_path: Path
) -> None:
    sign_in(page, scale_server, "admin")
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Assignments").click()
    page.wait_for_url(f"{scale_server}/console/assignments")
    assert_accessible(page)
    expect(page.locator("p.count")).to_contain_text("More than 10,000 assignments")
    assert len(users_listed(page)) == 50

    # The filter form from the keyboard alone: each field in turn, Enter submits.
    page.get_by_label("Organization").focus()
    page.select_option("#a-org", f"org:{BIG_ORG}")  # what arrow keys do on the focused list
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "a-type"
    page.select_option("#a-type", "course")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "a-scope"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "a-role"
    page.select_option("#a-role", "course_admin")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "a-permission"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "a-who"
    page.keyboard.type("user000")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert_accessible(page)
    total = shown_count(page)
    assert 50 < total < 10_000
    roles = column(page, 2)
    assert roles
    assert all("course_admin" in r for r in roles)
    assert all(f"course-v1:{BIG_ORG}+" in s for s in column(page, 3))
    assert all(u.startswith("user000") for u in users_listed(page))

    # Sort by role, then by user descending: the header links say how.
    header = page.get_by_role("columnheader", name="User")
    with page.expect_navigation():
        header.get_by_role("link").click()
    expect(page.get_by_role("columnheader", name="User")).to_have_attribute(
        "aria-sort", "ascending"
    )
    with page.expect_navigation():
        page.get_by_role("columnheader", name="User").get_by_role("link").click()
    expect(page.get_by_role("columnheader", name="User")).to_have_attribute(
        "aria-sort", "descending"
    )
    assert_accessible(page)
    first = users_listed(page)
    assert first == sorted(first, reverse=True)

    # The next page starts where the first ended, in the same sort and filters.
    with page.expect_navigation():
        page.get_by_role("link", name="Next 50").click()
    assert_accessible(page)
    second = users_listed(page)
    assert second
    assert second[0] <= first[-1]
    expect(page.get_by_role("link", name="First page")).to_be_visible()
    assert shown_count(page) == total

    # The export holds the whole filtered set, in the page's sort.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download as CSV").click()
    saved = tmp_path / "assignments.csv"
    download.value.save_as(saved)
    with saved.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == total
    assert {r["role"] for r in rows} == {"course_admin"}
    assert [r["user"] for r in rows] == sorted((r["user"] for r in rows), reverse=True)
    assert [r["user"] for r in rows[:50]] == first


def test_an_org_at_scale_lists_its_courses_and_libraries(page: Any, scale_server: str) -> None:
    sign_in(page, scale_server, "admin")
    page.goto(f"{scale_server}/console/scopes/org:{BIG_ORG}")
    contents = page.locator(
        "section", has=page.get_by_role("heading", name="Courses and libraries")
    )
    assert contents.locator("tbody tr").count() == 50
    page.get_by_role("searchbox", name="Find a course or library").fill("2026_T1")
    with page.expect_navigation():
        page.get_by_role("button", name="Find").click()
    keys = contents.locator("tbody tr td:first-child").all_inner_texts()
    assert keys
    assert all("2026_T1" in k for k in keys)
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile(r"^Next 50 courses")).click()
    more = contents.locator("tbody tr td:first-child").all_inner_texts()
    assert more
    assert more[0] > keys[-1]
    assert_accessible(page)
    with page.expect_navigation():
        contents.locator("tbody a").first.click()
    assert "/console/scopes/course-v1:" in page.url


def test_a_role_change_found_in_the_audit_by_org_and_date(page: Any, server: str) -> None:
    sign_in(page, server, "admin")
    page.goto(f"{server}/console/scopes/{CIRCUITS}")
    page.get_by_label("New role for grace instead of course_staff").select_option("course_editor")
    with page.expect_navigation():
        page.get_by_role("button", name="Change role of grace").click()
    expect(
        page.get_by_text("grace now holds course_editor instead of course_staff")
    ).to_be_visible()

    with page.expect_navigation():
        page.get_by_role("link", name="Audit log of this course").click()
    assert_accessible(page)
    today = datetime.now(UTC).date().isoformat()
    page.goto(f"{server}/console/audit")
    page.get_by_label("Organization").select_option("org:MITx")
    page.get_by_label("From (UTC)").fill(today)
    page.get_by_label("To (UTC, included)").fill(today)
    page.get_by_label("User").fill("grace")
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()
    assert_accessible(page)
    rows = page.locator("table.audit tbody tr")
    change = rows.filter(has_text="role change")
    assert change.count() == 1
    expect(change).to_contain_text("course_staff")
    expect(change).to_contain_text("course_editor")
    stamp = change.locator("time").get_attribute("datetime")
    assert stamp is not None
    assert stamp.startswith(today)
    # Another org's filter, or a range before today, leaves it out.
    page.goto(f"{server}/console/audit?user=grace&org=org:HarvardX")
    assert page.locator("table.audit").count() == 0
    assert_accessible(page)
    page.goto(f"{server}/console/audit?user=grace&to=2000-01-01")
    expect(page.get_by_text("No event matches these filters")).to_be_visible()
