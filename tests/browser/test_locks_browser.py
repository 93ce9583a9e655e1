"""Locks in Chromium on the data set at scale: "deny everything" leaves a course's team to its
admins and the lock to the platform admin, and "who can help" names only people who could
give the access (docs/governance.md, "Restrictions and governance")."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from browser.axe_check import assert_accessible
from browser.conftest import scale_data
from browser.test_console_browser import CIRCUITS, sign_in
from browser.test_layout_browser import PHONE, no_sideways_scroll


def signed_in(browser: Any, server: str, user: str) -> Any:
    """A tab of a new context signed in as ``user``."""
    tab = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(tab, server, user)
    return tab


def test_deny_everything_leaves_the_course_to_its_admins_and_the_lock_to_its_lifter(
    page: Any, browser: Any, scale_server: str
) -> None:
    data = scale_data()
    course = data.courses_by_org[data.orgs[1]][0]
    sign_in(page, scale_server, "admin")
    page.goto(f"{scale_server}/console/restrictions")
    for key in (CIRCUITS, course):
        page.get_by_label("Scope", exact=True).fill(key)
        page.get_by_label("Deny everything").check()
        page.get_by_label("Reason").fill("Frozen for the review " + "x" * 120)
        with page.expect_navigation():
            page.get_by_role("button", name="Lock", exact=True).click()
        expect(page.get_by_role("region", name="Restrictions in force")).to_contain_text(key)
    assert_accessible(page)

    # The platform admin still opens the locked courses' pages, teams and all.
    for key in (CIRCUITS, course):
        page.goto(f"{scale_server}/console/scopes/{key}")
        expect(page.locator("main")).to_contain_text(key)
        expect(page.get_by_role("heading", name="Team", exact=True)).to_be_visible()
    # So do the course's own admin and its org's admin: a lock takes actions, not governance.
    for user in ("ada", "olivia"):
        tab = signed_in(browser, scale_server, user)
        tab.goto(f"{scale_server}/console/scopes/{CIRCUITS}")
        expect(tab.locator("main")).to_contain_text(CIRCUITS)
        expect(tab.get_by_role("heading", name="Team", exact=True)).to_be_visible()
        assert_accessible(tab)
        tab.context.close()

    # The org admin may not lock: who can help are platform admins, nobody else.
    tab = signed_in(browser, scale_server, "olivia")
    for path in ("/console/restrictions", "/console/audit"):
        tab.goto(f"{scale_server}{path}")
        expect(tab.get_by_role("heading", name="Who can help")).to_be_visible()
        helpers = tab.locator(".helpers li")
        expect(helpers.first).to_be_visible()
        for text in helpers.all_inner_texts():
            assert "platform_admin on platform" in text, (path, text)
        assert_accessible(tab)
    tab.context.close()

    # The restrictions page reads at 390 px: its table scrolls inside its own region.
    page.set_viewport_size(PHONE)
    page.goto(f"{scale_server}/console/restrictions")
    expect(page.get_by_role("region", name="Restrictions in force")).to_be_visible()
    no_sideways_scroll(page)
    page.set_viewport_size({"width": 1280, "height": 900})

    # And the lifter lifts them.
    page.on("dialog", lambda dialog: dialog.accept())
    for key in (CIRCUITS, course):
        with page.expect_navigation():
            page.get_by_role("button", name=f"Unlock {key}", exact=True).click()
        expect(page.get_by_text(f"{key} is unlocked.")).to_be_visible()
