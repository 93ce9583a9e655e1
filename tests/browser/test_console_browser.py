"""The console in Chromium: sign in, assign a role to three users on two courses with the
wizard, find them on the scope page and a user page, see an org-wide grant under "Other users
with access", remove one, find the change in the audit log; axe on every page; the keyboard
alone signs in and submits a form."""

from __future__ import annotations

from typing import Any

from console_support import PASSWORD
from playwright.sync_api import expect

from browser.axe_check import assert_accessible
from browser.conftest import csp_violations, scale_data

CIRCUITS = "course-v1:MITx+6.002x+2026_T1"
CALCULUS = "course-v1:MITx+18.01x+2026_T1"


def sign_in(page: Any, server: str, user: str = "admin") -> None:
    page.goto(f"{server}/console/")
    assert "/console/login" in page.url
    assert_accessible(page)
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server}/console/")


def test_assign_with_the_wizard_review_remove_and_audit(page: Any, server: str) -> None:
    sign_in(page, server, "admin")
    assert_accessible(page)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Assign roles").click()
    assert_accessible(page)
    page.get_by_label("Usernames or e-mail addresses").fill("bea\nstu, uma@example.org")
    page.get_by_role("button", name="Next: choose the role").click()
    assert_accessible(page)
    page.get_by_label("Course auditor course_auditor").check()
    page.get_by_role("button", name="Next: choose where").click()
    assert_accessible(page)
    page.get_by_label("Or type scope keys (optional)").fill(f"{CIRCUITS}\n{CALCULUS}")
    page.get_by_role("button", name="Next: preview").click()
    assert_accessible(page)
    assert page.get_by_text("will be given").count() == 6
    page.get_by_role("button", name="Assign 6 role(s)").click()
    assert_accessible(page)
    expect(page.get_by_text("6 assignment(s) for 3 user(s) on 2 scope(s)")).to_be_visible()

    page.goto(f"{server}/console/scopes/{CIRCUITS}")
    assert_accessible(page)
    team = page.locator("table.team")
    for user in ("bea", "stu", "uma"):
        assert (
            team.get_by_role("row").filter(has_text=user).filter(has_text="course_auditor").count()
            == 1
        )
    others = page.locator(
        "section", has=page.get_by_role("heading", name="Other users with access")
    )
    assert (
        others.get_by_role("row").filter(has_text="audrey").filter(has_text="org:MITx").count() == 1
    )

    page.goto(f"{server}/console/users/stu")
    assert_accessible(page)
    assert (
        page.get_by_role("row").filter(has_text=CALCULUS).filter(has_text="course_auditor").count()
        >= 1
    )

    page.goto(f"{server}/console/scopes/{CIRCUITS}")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove course_auditor from stu").click()
    expect(page.get_by_text(f"course_auditor removed from stu on {CIRCUITS}.")).to_be_visible()
    assert_accessible(page)
    assert team.get_by_role("row").filter(has_text="stu").count() == 0

    page.goto(f"{server}/console/audit?user=stu&action=revoke")
    assert_accessible(page)
    row = page.get_by_role("row").filter(has_text="revoke").filter(has_text="admin")
    assert row.count() == 1
    expect(row).to_contain_text(CIRCUITS)


def test_the_other_pages_pass_axe(page: Any, server: str) -> None:
    sign_in(page, server, "admin")
    for path in (
        "/console/?q=mit",
        "/console/roles",
        "/console/roles/matrix",
        "/console/roles/new",
        "/console/restrictions",
        "/console/plugins",
        "/console/plugins/ccx",
        "/console/scopes/org:MITx",
        "/console/scopes/nonsense",
    ):
        page.goto(server + path)
        assert_accessible(page)


def test_the_keyboard_alone_signs_in_and_adds_a_member(page: Any, server: str) -> None:
    page.goto(f"{server}/console/login")
    assert page.evaluate("document.activeElement.id") == "username"  # autofocus
    page.keyboard.type("ada")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server}/console/")

    page.goto(f"{server}/console/scopes/{CIRCUITS}")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    for _ in range(200):  # through the team table's controls
        if page.evaluate("document.activeElement.id") == "users":
            break
        page.keyboard.press("Tab")
    page.keyboard.type("bea")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "role"
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")
    page.select_option("#role", "course_beta_tester")  # the same as arrow keys on the focused list
    for _ in range(20):  # past the expiry date's fields and the reason
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Add members":
            break
    assert page.evaluate("document.activeElement.textContent") == "Add members"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(
        page.get_by_text("Course beta tester (course_beta_tester) given to bea.")
    ).to_be_visible()


def test_the_content_security_policy_refuses_inline_script(page: Any, server: str) -> None:
    """Chromium enforces the console's policy: a script put into the page as text does not
    run, and the violation is reported (the fixture fails any other test that reports one)."""
    sign_in(page, server, "admin")
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text) as report:
        ran = page.evaluate(
            """() => {
                const script = document.createElement("script");
                script.textContent = "window.rolecallInline = true";
                document.head.appendChild(script);
                return window.rolecallInline === true;
            }"""
        )
    assert ran is False
    assert "inline script" in report.value.text
    assert csp_violations(page) == [report.value.text]
    page.rolecall_csp.clear()  # expected here: the fixture checks that nothing else was


def test_the_console_at_scale_opens_an_org_and_a_course(page: Any, scale_server: str) -> None:
    data = scale_data()
    sign_in(page, scale_server, "admin")
    org = data.orgs[0]
    page.goto(f"{scale_server}/console/scopes/org:{org}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(org)
    assert_accessible(page)
    course = data.courses_by_org[org][0]
    page.goto(f"{scale_server}/console/scopes/{course}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(course)
    assert_accessible(page)
