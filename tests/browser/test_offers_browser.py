"""What the console offers, in Chromium on the data set at scale: "New custom role" only to
those who may define roles, the wizard's preview of an org wildcard in words, and the focus
moved to each new wizard step (docs/console.md)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from browser.axe_check import assert_accessible
from browser.test_console_browser import sign_in
from browser.test_locks_browser import signed_in


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
