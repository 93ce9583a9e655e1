"""What the console offers, in Chromium on the data set at scale: "New custom role" only to
those who may define roles, the wizard's preview of an org wildcard in words, and the focus
moved to each new wizard step (docs/console.md)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from browser.axe_check import assert_accessible
from browser.conftest import scale_data
from browser.test_console_browser import sign_in
from browser.test_locks_browser import signed_in
from browser.test_wizard_browser import tab_to


def test_new_custom_role_is_offered_only_to_those_who_may_define_roles(
    page: Any, browser: Any, scale_server: str
) -> None:
    sign_in(page, scale_server, "ada")  # course admin: may not define roles
    page.goto(f"{scale_server}/console/roles")
    expect(page.get_by_role("heading", name="Roles", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Permission matrix")).to_be_visible()
    expect(page.get_by_role("link", name="New custom role")).to_have_count(0)
    response = page.goto(f"{scale_server}/console/roles/new")
    assert response.status == 403
    expect(page.get_by_text("platform.manage_custom_roles")).to_be_visible()
    assert_accessible(page)
    for user in ("olivia", "admin"):  # an org admin and the platform admin may
        tab = signed_in(browser, scale_server, user)
        tab.goto(f"{scale_server}/console/roles")
        with tab.expect_navigation():
            tab.get_by_role("link", name="New custom role").click()
        expect(tab.locator("main form")).to_be_visible()
        tab.context.close()


def test_each_wizard_step_takes_the_focus_and_the_wildcard_preview_says_what_it_becomes(
    page: Any, scale_server: str
) -> None:
    data = scale_data()
    org = data.orgs[5]
    courses = len(data.courses_by_org[org])
    sign_in(page, scale_server, "admin")
    page.goto(f"{scale_server}/console/assign")
    tab_to(page, "#users")
    page.keyboard.type(data.users[-4])
    tab_to(page, "button[value=next]")
    page.keyboard.press("Enter")
    heading = page.locator("#step-heading")
    expect(heading).to_have_text("Which role?")
    expect(heading).to_be_focused()  # not the top of the page
    page.keyboard.press("Tab")  # the next stop is in the step, not the site's header
    expect(page.locator("input[name=role]").first).to_be_focused()
    page.keyboard.press("Space")  # Course staff, the first of the common roles
    expect(page.locator("input[name=role]").first).to_be_checked()
    tab_to(page, "button[value=next]")
    page.keyboard.press("Enter")
    expect(heading).to_have_text("Where?")
    expect(heading).to_be_focused()
    tab_to(page, "#more_scopes")
    page.keyboard.type(f"course-v1:{org}+*")
    tab_to(page, "button[value=next]")
    page.keyboard.press("Enter")
    expect(heading).to_have_text("Preview")
    expect(heading).to_be_focused()
    expect(page.locator(".wildcard")).to_have_text(
        f"course-v1:{org}+* becomes one org-wide grant on org:{org}, covering {courses:,} "
        "courses, present and future: courses added to the organization later are covered too."
    )
    assert_accessible(page)
    tab_to(page, "button[value=back]")
    page.keyboard.press("Enter")  # back a step: the focus follows too
    expect(heading).to_have_text("Where?")
    expect(heading).to_be_focused()
