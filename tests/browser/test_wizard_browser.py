"""The assign wizard in Chromium (issue 19, points 2 to 4): end to end on the data set at scale
with the keyboard alone (Tab, arrows and Enter through the scope picker), many users pasted at
once, a viewer with limited rights offered only what they may give, unknown scopes answered
"did you mean" or created, and the 403 page; axe on every step and state."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from browser.axe_check import assert_accessible
from browser.conftest import scale_data
from browser.test_console_browser import sign_in

CIRCUITS = "course-v1:MITx+6.002x+2026_T1"
CALCULUS = "course-v1:MITx+18.01x+2026_T1"
CS50 = "course-v1:HarvardX+CS50+2026"


def tab_to(page: Any, selector: str, limit: int = 80) -> None:
    """Press Tab until the focused element matches ``selector``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(
            "s => !!document.activeElement && document.activeElement.matches(s)", selector
        ):
            return
    raise AssertionError(f"Tab never reached {selector}")


def options(page: Any) -> list[str]:
    page.wait_for_selector("#find-list:not([hidden])")
    return list(page.locator("#find-list [role=option]").all_inner_texts())


def test_the_wizard_end_to_end_at_scale_with_the_keyboard_alone(
    page: Any, scale_server: str
) -> None:
    data = scale_data()
    users = data.users[-3:]
    sign_in(page, scale_server, "admin")
    page.goto(f"{scale_server}/console/assign")
    assert_accessible(page)
    tab_to(page, "#users")
    page.keyboard.type(f"{users[0]}\n{users[1]}, {users[2]}")
    tab_to(page, "button[value=next]")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Which role?")
    assert_accessible(page)
    tab_to(page, "input[name=role]")  # the first radio: Course staff, the common roles first
    assert page.evaluate("document.activeElement.id") == "role-course_staff"
    for _ in range(3):
        page.keyboard.press("ArrowDown")  # staff, admin, editor, auditor
    expect(page.locator("#role-course_auditor")).to_be_checked()
    tab_to(page, "button[value=next]")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Where?")
    assert_accessible(page)
    # No checkbox per course: 2,000 courses are found by search.
    assert page.locator("input[type=checkbox]").count() < 5
    tab_to(page, "#find")
    assert page.get_attribute("#find", "role") == "combobox"
    page.keyboard.type("Org003x+C0")
    found = options(page)
    assert len(found) == 20
    expect(page.get_by_text("More places match")).to_be_visible()
    assert_accessible(page)  # the open list
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    active = page.get_attribute("#find", "aria-activedescendant")
    assert active == "find-list-1"
    chosen = page.locator(f"#{active}").inner_text()
    page.keyboard.press("Enter")
    first = chosen.rsplit("(", 1)[1].rstrip(")")
    expect(page.locator(f"#chosen-list input[value='{first}']")).to_be_checked()
    assert page.evaluate("document.activeElement.id") == "find"
    page.keyboard.type("Org004x")
    found = options(page)
    assert found[0].startswith("Every course and library of Org004x")
    page.keyboard.press("Enter")  # the first match when none is marked
    expect(page.locator("#chosen-list input[value='org:Org004x']")).to_be_checked()
    assert_accessible(page)
    tab_to(page, "#more_scopes")
    page.keyboard.type("course-v1:Org005x+*")  # the hint's own example, for another org
    tab_to(page, "button[value=next]")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Preview")
    assert_accessible(page)
    assert page.get_by_text("will be given").count() == 9  # 3 users x 3 places
    tab_to(page, "button[value=confirm]")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Roles assigned")
    assert_accessible(page)
    expect(page.get_by_text("9 assignment(s) for 3 user(s) on 3 scope(s)")).to_be_visible()
    for place in (first, "org:Org004x", "org:Org005x"):
        assert page.get_by_role("link", name=place).count() + page.get_by_text(place).count()


def test_many_users_pasted_at_once_are_reported_by_line(page: Any, scale_server: str) -> None:
    data = scale_data()
    names = list(data.users[1000:1300])
    pasted = "\n".join([", ".join(names[i : i + 3]) for i in range(0, 300, 3)])
    pasted += f"\nnobody-here\n{names[0]}"
    sign_in(page, scale_server, "admin")
    page.goto(f"{scale_server}/console/assign")
    page.get_by_label("Usernames or e-mail addresses").fill(pasted)
    page.get_by_role("button", name="Next: choose the role").click()
    assert_accessible(page)
    expect(page.get_by_text("Line 101: nobody-here: no user has this username")).to_be_visible()
    page.get_by_label("Usernames or e-mail addresses").fill(pasted.replace("\nnobody-here", ""))
    page.get_by_role("button", name="Next: choose the role").click()
    page.wait_for_selector("text=Which role?")
    assert_accessible(page)
    expect(
        page.get_by_text(f"Line 101: {names[0]} is listed again (first on line 1)")
    ).to_be_visible()
    page.get_by_label("Course beta tester course_beta_tester").check()
    page.get_by_role("button", name="Next: choose where").click()
    course = data.courses_by_org["Org007x"][0]
    page.get_by_label("Or type scope keys (optional)").fill(course)
    page.get_by_role("button", name="Next: preview").click()
    page.wait_for_selector("text=Preview")
    expect(page.get_by_text("Giving Course beta tester")).to_be_visible()
    expect(page.get_by_text("to 300 user(s) on 1 scope(s)")).to_be_visible()
    assert_accessible(page)


def test_a_viewer_with_limited_rights_sees_only_what_they_may_assign(
    page: Any, server: str
) -> None:
    sign_in(page, server, "ada")  # course admin of Circuits only
    page.goto(f"{server}/console/assign?users=bea")
    page.get_by_role("button", name="Next: choose the role").click()
    assert_accessible(page)
    offered = page.locator("input[name=role]").evaluate_all("els => els.map(e => e.value)")
    assert "course_staff" in offered
    for never in ("org_admin", "platform_admin", "course_creator", "library_admin"):
        assert never not in offered
    page.get_by_label("Course staff course_staff").check()
    page.get_by_role("button", name="Next: choose where").click()
    page.get_by_label("Find a place where you may give this role").fill("MITx")
    found = options(page)
    assert found == [f"Circuits and Electronics ({CIRCUITS})"]  # not Calculus, not the org
    assert_accessible(page)
    # Without the picker: a place she may not use is refused in the preview, nothing given.
    page.keyboard.press("Escape")
    page.get_by_label("Or type scope keys (optional)").fill(CS50)
    page.get_by_role("button", name="Next: preview").click()
    assert page.get_by_text("not allowed").count() == 1
    expect(page.get_by_text("no assignment here can be made")).to_be_visible()
    assert page.get_by_text("they already have these permissions").count() == 0
    assert_accessible(page)
    page.goto(f"{server}/console/scopes/{CIRCUITS}")
    assert page.get_by_role("button", name="Remove course_admin from ada").count() == 0
    assert page.get_by_role("button", name="Remove course_editor from eddie").count() == 1
    assert_accessible(page)


def test_text_typed_before_the_script_runs_is_searched(page: Any, server: str) -> None:
    """On a slow page the picker is typed into before console.js has run: the script, once it
    runs, searches for what the focused picker holds instead of waiting for more typing."""
    sign_in(page, server, "ada")
    page.goto(f"{server}/console/assign?users=bea")
    page.get_by_role("button", name="Next: choose the role").click()
    page.get_by_label("Course staff course_staff").check()
    held: list[Any] = []

    def hold(route: Any) -> None:
        held.append(route)

    page.route("**/console.js", hold)  # the next page's script waits for us
    page.get_by_role("button", name="Next: choose where").click()
    page.get_by_label("Find a place where you may give this role").fill("MITx")
    for _ in range(200):  # the request reaches the handler while Playwright is called
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the script was not requested"
    expect(page.locator("#find-list")).to_be_hidden()  # nothing ran yet to search
    for route in held:
        route.continue_()
    page.unroute("**/console.js")
    assert options(page) == [f"Circuits and Electronics ({CIRCUITS})"]


def test_unknown_scopes_did_you_mean_and_create(page: Any, server: str) -> None:
    sign_in(page, server, "olivia")  # org admin of MITx
    page.goto(f"{server}/console/assign?users=bea")
    page.get_by_role("button", name="Next: choose the role").click()
    page.get_by_label("Course auditor course_auditor").check()
    page.get_by_role("button", name="Next: choose where").click()
    new = "course-v1:MITx+8.01x+2027_T1"
    page.get_by_label("Or type scope keys (optional)").fill(f"{CIRCUITS.lower()}\n{new}")
    page.get_by_role("button", name="Next: preview").click()
    expect(page.get_by_text(f"did you mean {CIRCUITS}?").first).to_be_visible()
    assert_accessible(page)
    page.get_by_role("checkbox", name=CIRCUITS.lower()).uncheck()
    page.get_by_role("button", name=f"Create {new}").click()
    expect(page.get_by_text(f"{new} created: roles can now be given on it.")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Next: preview").click()
    assert page.get_by_text("will be given").count() == 1
    assert_accessible(page)


def test_the_403_page_says_why_and_who_can_help(page: Any, server: str) -> None:
    sign_in(page, server, "eddie")  # course editor of Circuits: its page lists the admins above
    response = page.goto(f"{server}/console/scopes/{CS50}")
    assert response.status == 403
    expect(page.get_by_text("Why:")).to_be_visible()
    expect(page.get_by_text(f"Seeing the team of {CS50} takes")).to_be_visible()
    expect(page.get_by_role("heading", name="Who can help")).to_be_visible()
    expect(page.locator(".helpers").get_by_text("admin", exact=True)).to_be_visible()
    assert_accessible(page)
