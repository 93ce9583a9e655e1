"""Unknown and mistyped scopes in Chromium on the data set at scale: the page of a course
nobody created says so, suggests near keys (another case, one character off) among those the
viewer may see, and offers creation only to those who may create it; the 403 page of a
mistyped key suggests too (docs/console.md, "Known scopes")."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from browser.axe_check import assert_accessible
from browser.conftest import scale_data
from browser.test_console_browser import CIRCUITS, sign_in
from browser.test_locks_browser import signed_in


def test_an_unknown_course_says_so_suggests_and_offers_creation_to_its_creators(
    page: Any, browser: Any, scale_server: str
) -> None:
    data = scale_data()
    course = data.courses_by_org[data.orgs[0]][0]
    typo = course[:-1] + ("X" if course[-1] != "X" else "Y")  # one character off
    sign_in(page, scale_server, "admin")
    response = page.goto(f"{scale_server}/console/scopes/{typo}")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Unknown course", exact=True)).to_be_visible()
    expect(page.locator("main")).to_contain_text(f"Nobody has created the course {typo}")
    suggestions = page.locator(".suggestions")
    expect(suggestions.get_by_role("link", name=course)).to_be_visible()
    expect(page.get_by_role("button", name=f"Create course {typo}")).to_be_visible()
    main = page.locator("main")
    for absent in ("Back to this course in Studio", "Add members", "Other users with access"):
        expect(main).not_to_contain_text(absent)
    assert_accessible(page)
    with page.expect_navigation():
        suggestions.get_by_role("link", name=course).click()
    expect(page.get_by_role("heading", name="Team", exact=True)).to_be_visible()
    expect(page.locator("main")).to_contain_text(course)


def test_did_you_mean_for_the_org_and_course_admins_within_what_they_see(
    browser: Any, scale_server: str
) -> None:
    data = scale_data()
    elsewhere = data.courses_by_org[data.orgs[0]][0]  # not MITx's
    wrong_case = CIRCUITS.replace("MITx", "mitx")
    near_miss = CIRCUITS[:-1] + "9"

    olivia = signed_in(browser, scale_server, "olivia")  # org admin of MITx
    response = olivia.goto(f"{scale_server}/console/scopes/{wrong_case}")
    assert response.status == 403  # org:mitx is not hers, but the key she meant is
    expect(olivia.get_by_role("heading", name="Did you mean")).to_be_visible()
    expect(olivia.locator(".suggestions").get_by_role("link", name=CIRCUITS)).to_be_visible()
    assert_accessible(olivia)
    response = olivia.goto(f"{scale_server}/console/scopes/{near_miss}")
    assert response.status == 404  # in her org: unknown, with a suggestion and creation
    expect(olivia.locator(".suggestions").get_by_role("link", name=CIRCUITS)).to_be_visible()
    expect(olivia.get_by_role("button", name=f"Create course {near_miss}")).to_be_visible()
    assert_accessible(olivia)
    response = olivia.goto(f"{scale_server}/console/scopes/{elsewhere.lower()}")
    assert response.status == 403  # another org's course is never suggested to her
    expect(olivia.get_by_role("heading", name="Who can help")).to_be_visible()
    expect(olivia.get_by_role("heading", name="Did you mean")).to_have_count(0)
    expect(olivia.locator("main")).not_to_contain_text(elsewhere)
    olivia.context.close()

    ada = signed_in(browser, scale_server, "ada")  # course admin of Circuits: no creation
    response = ada.goto(f"{scale_server}/console/scopes/{near_miss}")
    assert response.status == 403
    expect(ada.locator(".suggestions").get_by_role("link", name=CIRCUITS)).to_be_visible()
    expect(ada.get_by_role("button", name=f"Create course {near_miss}")).to_have_count(0)
    assert_accessible(ada)
    ada.context.close()
