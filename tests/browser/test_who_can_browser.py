"""Who can do X here, and why, in Chromium on the data set at scale: the scope page's permission
filter, the explanation one click away, a locked course's "still allowed", the user page under a
lock, and an org admin who sees nothing of another org."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from browser.axe_check import assert_accessible
from browser.conftest import scale_data
from browser.test_console_browser import CIRCUITS, sign_in
from browser.test_locks_browser import signed_in

PUBLISH = "courses.publish_course_content"
LOCKED = "course-v1:BerkeleyX+CS169.1x+2026_T1"  # the demo's lock: publishing, course admins exempt


def test_who_can_publish_a_course_and_why(page: Any, scale_server: str) -> None:
    sign_in(page, scale_server, "admin")
    page.goto(f"{scale_server}/console/scopes/{CIRCUITS}")
    page.get_by_label("Permission", exact=True).select_option(PUBLISH)
    with page.expect_navigation():
        page.get_by_role("button", name="Show who can").click()
    expect(page.get_by_role("heading", name="Who can publish course content here")).to_be_visible()
    expect(page.locator("#can-count")).to_contain_text(re.compile(r"[\d,]+ users? may publish"))
    table = page.get_by_role("region", name="Who can table")
    expect(table).to_contain_text("grace")
    expect(table).to_contain_text("platform_admin")
    assert_accessible(page)

    with page.expect_navigation():
        page.get_by_role("link", name=f"Explain why grace may {PUBLISH} here").click()
    expect(page.get_by_role("heading", name=re.compile("^Allowed"))).to_be_visible()
    expect(page.locator("main")).to_contain_text("course_staff")
    assert_accessible(page)


def test_a_locked_course_says_who_is_still_allowed(page: Any, scale_server: str) -> None:
    sign_in(page, scale_server, "admin")
    page.goto(f"{scale_server}/console/scopes/{LOCKED}")
    notice = page.locator(".notice")
    expect(notice).to_contain_text("Still allowed")
    expect(notice).to_contain_text("priya")
    with page.expect_navigation():
        notice.get_by_role("link", name=PUBLISH).click()
    table = page.get_by_role("region", name="Who can table")
    expect(table).to_contain_text("priya")
    expect(table).to_contain_text("exempt from the lock")
    expect(table).not_to_contain_text("platform_admin")
    assert_accessible(page)


def test_an_org_admin_sees_who_can_in_her_org_only(
    page: Any, browser: Any, scale_server: str
) -> None:
    data = scale_data()
    other = next(key for org in data.orgs for key in data.courses_by_org[org] if "MITx" not in key)
    tab = signed_in(browser, scale_server, "olivia")  # org admin of MITx
    tab.goto(f"{scale_server}/console/scopes/{CIRCUITS}?permission={PUBLISH}")
    expect(tab.get_by_role("region", name="Who can table")).to_contain_text("grace")
    tab.goto(f"{scale_server}/console/scopes/{other}?permission={PUBLISH}")
    expect(tab.locator("main")).to_contain_text("takes")
    expect(tab.get_by_role("region", name="Who can table")).to_have_count(0)
    tab.context.close()
