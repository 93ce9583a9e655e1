"""Open edX's own admin console (frontend-app-admin-console, built from its pinned source by
``scripts/build-admin-console.sh``) driven in Chromium against rolecall-openedx: an
administrator signs in as LMS signs micro-frontends in (JWT cookies from ``login_refresh``),
reads a library's and a course's team, filters, searches, sorts and pages, adds users with the
wizard on one course and on every course of an org, changes a role, removes a member, reads a
user's page; a viewer who may not manage a team meets the console's own refusal.

Each test checks what the console shows and rolecall's state after (grants, checks and the
audit log, through ``rolecall_openedx.service.get_rolecall()``). One host serves the module
(``admin_console_host``), on data seeded once; the tests that change it use users of their
own. ``ROLECALL_ADMIN_CONSOLE_SCREENSHOTS=DIR`` saves the team page, the wizard and a user's
page there as PNG files (docs/screenshots holds them).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _build() -> Path:
    """The console's build from scripts/build-admin-console.sh (``make admin-console``);
    the module is skipped, saying why, where it cannot be had."""
    script = REPO / "scripts" / "build-admin-console.sh"
    found = subprocess.run(
        ["bash", str(script), "--dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if not found:
        source = os.environ.get("ROLECALL_ADMIN_CONSOLE_SRC", "../shared/vendor/...")
        pytest.skip(
            f"the admin console's source is missing ({source}; set ROLECALL_ADMIN_CONSOLE_SRC)",
            allow_module_level=True,
        )
    if not (Path(found) / "index.html").is_file():
        why = "node and npm are missing" if shutil.which("npm") is None else "it is not built"
        pytest.skip(
            f"the admin console is not built ({why}): make admin-console", allow_module_level=True
        )
    return Path(found)


try:
    from playwright.sync_api import Browser, BrowserContext, Page, expect
except ImportError:  # .venv-django42 has no playwright
    pytest.skip("playwright is not installed in this environment", allow_module_level=True)
if not CHROMIUM.exists():
    pytest.skip(
        "Chromium is not installed at /usr/bin/chromium (make browser installs it)",
        allow_module_level=True,
    )
BUILD = _build()
# The console's first load parses 2 MB of script and asks a dozen questions: on a busy machine
# (two cores, the suite run twice over) that can take longer than Playwright's 5 s.
expect.set_options(timeout=15_000)

from admin_console_host.server import Host, hosting  # noqa: E402
from conftest import POSTGRES, _drop_postgres, _fresh_postgres  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import override_settings  # noqa: E402

from openedx_test_project.stubs.models import CourseOverview  # noqa: E402
from rolecall.core import Rolecall  # noqa: E402
from rolecall_openedx.service import get_rolecall, reset  # noqa: E402

# pytest-django sets the platform's test database up for the tests marked so; each test runs in
# a transaction of the main thread (the seeded data is committed before the first one).
pytestmark = pytest.mark.django_db

PASSWORD = "console tests only"  # noqa: S105
HOME = "/admin-console/authz"
SHOTS = os.environ.get("ROLECALL_ADMIN_CONSOLE_SCREENSHOTS")

ACME, GLOBE = "AcmeX", "GlobeX"
C1 = "course-v1:AcmeX+CS101+2026"
C2 = "course-v1:AcmeX+CS201+2026"
C3 = "course-v1:AcmeX+CS301+2026"
C4 = "course-v1:GlobeX+ART1+2026"
C5 = "course-v1:NorthX+BIO1+2026"
L1, L2 = "lib:AcmeX:math", "lib:GlobeX:poetry"
COURSES = {
    C1: "Intro to Computing",
    C2: "Data Structures",
    C3: "Algorithms",
    C4: "Art History",
    C5: "Biology",
}
LIBRARIES = {L1: "Mathematics", L2: "Poetry"}
LABEL = {
    "library_admin": "Library Admin",
    "library_author": "Library Author",
    "library_contributor": "Library Contributor",
    "library_user": "Library User",
    "course_admin": "Course Admin",
    "course_staff": "Course Staff",
}
"""The console's names of rolecall's roles (its MAP_ROLE_KEY_TO_LABEL)."""
STAFF = [f"staff{n:02}" for n in range(1, 12)]
PEOPLE = {
    # username: (full name, grants)
    # AcmeX's org admin, and admin of GlobeX's courses and libraries.
    "ada": (
        "Ada Lovelace",
        [
            ("org_admin", f"org:{ACME}"),
            ("course_admin", f"org:{GLOBE}"),
            ("library_admin", f"org:{GLOBE}"),
        ],
    ),
    "cora": ("Cora Diaz", [("course_admin", C1)]),
    "lena": ("Lena Park", [("library_admin", L1)]),
    "vic": ("Victor Hugo", [("library_author", L1), ("course_staff", C1)]),
    "leo": ("Leo Tolstoy", [("library_contributor", L1)]),
    "ivan": ("Ivan Petrov", [("course_admin", C4)]),
    "zoe": ("Zoe Quinn", [("library_user", L2)]),
    "rita": ("Rita Moreno", [("course_admin", C5)]),
    **{s: (f"Staff Member {s[-2:]}", [("course_staff", C2)]) for s in STAFF},
    "nina": ("Nina Simone", []),
    "omar": ("Omar Khayyam", []),
    "pia": ("Pia Zadora", []),
    "noel": ("Noel Coward", []),
}


# ------------------------------------------------------------------ the host, once per module


@pytest.fixture(scope="module")
def host(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[Host]:
    """The console and rolecall-openedx over HTTP, on the seeded data (platform users,
    course overviews, rolecall's users, scopes and grants), for the whole module."""
    # Playwright's sync API keeps an event loop in this thread: Django's ORM, asked here by the
    # seeding and by rolecall's checks, must not take that for async code.
    unsafe = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    name = None
    if POSTGRES:
        url, name = _fresh_postgres()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('admin-console') / 'rolecall.db'}"
    with django_db_blocker.unblock():
        try:
            with override_settings(ROLECALL_DATABASE_URL=url), hosting(BUILD) as served:
                _seed(get_rolecall())
                yield served
                reset()
        finally:
            call_command("flush", interactive=False, verbosity=0)
            # Playwright's greenlet has a context of its own, where Django opened another
            # connection: closed here, or PostgreSQL could not drop the test database.
            connections.close_all()
            if name is not None:
                _drop_postgres(name)
            if unsafe is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _seed(rc: Rolecall) -> None:
    for key, title in COURSES.items():
        CourseOverview.objects.create(
            id=key, org=key.split(":")[1].split("+")[0], display_name=title
        )
    rc.add_scopes(list(LIBRARIES.items()))
    for username, (full, grants) in PEOPLE.items():
        first, last = full.split(" ", 1)
        email = f"{username}@example.org"
        User.objects.create_user(
            username, email=email, password=PASSWORD, first_name=first, last_name=last
        )
        rc.add_user(username, email=email, display_name=full)
        for role, scope in grants:
            rc.assign(username, role, scope, actor="seed")


@pytest.fixture
def rc(host: Host) -> Rolecall:
    """The service the host's requests use (the conftest's per-test one is not wanted here)."""
    return get_rolecall()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def _context(browser: Browser, host: Host) -> BrowserContext:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=host.url)
    # Nothing leaves the machine (the build's monitoring snippet, fonts ...).
    context.route(lambda url: not url.startswith(host.url), lambda route: route.abort())
    return context


def sign_in(page: Page, username: str, path: str = HOME) -> None:
    """The console sends an anonymous visitor to LMS's sign-in page and back."""
    page.goto(path)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture(scope="module")
def contexts(browser: Browser, host: Host) -> Iterator[Callable[[str], BrowserContext]]:
    """A signed-in browser context per user, kept for the module (its JWT cookies)."""
    made: dict[str, BrowserContext] = {}

    def of(username: str) -> BrowserContext:
        if username not in made:
            context = made[username] = _context(browser, host)
            page = context.new_page()
            sign_in(page, username)
            expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
            page.close()
        return made[username]

    yield of
    for context in made.values():
        context.close()


TITLE = "Roles and Permissions Management"
TABLE_ROWS = "table.pgn__data-table tbody tr"
"""The rows of the page's data table (the roles tab's permission tables are other tables)."""
SEARCH = "Search by Name or Email"


class Console:
    """A tab of the console as one user, and what went wrong on the way (failed API answers,
    server exceptions), shown when a test fails."""

    def __init__(self, page: Page, host: Host) -> None:
        self.page = page
        self.host = host
        self.failed: list[str] = []
        page.on("response", self._answer)

    def _answer(self, response: Any) -> None:
        if response.status >= 400 and "/api/" in response.url:
            request = response.request
            body = (request.post_data or "")[:300]
            self.failed.append(f"{request.method} {response.url} {body} -> {response.status}")

    def open(self, path: str) -> Page:
        self.page.goto(path)
        return self.page

    def rows(self) -> Any:
        return self.page.locator(TABLE_ROWS)

    def shot(self, name: str) -> None:
        if SHOTS:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(SHOTS) / name))


@pytest.fixture
def console(
    contexts: Callable[[str], BrowserContext], host: Host
) -> Iterator[Callable[[str], Console]]:
    """``console("ada")``: a new tab signed in as ada."""
    opened: list[Console] = []
    errors = len(host.errors)

    def of(username: str) -> Console:
        made = Console(contexts(username).new_page(), host)
        opened.append(made)
        return made

    yield of
    for made in opened:
        if made.failed:
            print("failed API requests:", *made.failed, sep="\n  ")
        made.page.close()
    assert host.errors[errors:] == [], host.errors[errors:]


def team(rc: Rolecall, scope: str) -> set[tuple[str, str]]:
    """(full name, role label) of everyone holding a role at ``scope``, read from rolecall."""
    return {
        (PEOPLE[u][0], LABEL[g.role])
        for u, *_ in rc.users()
        for g in rc.grants(u)
        if g.scope == scope
    }


def expect_team(console: Console, expected: set[tuple[str, str]]) -> None:
    """The table lists exactly ``expected``, (name, role) a row (waiting for the console's
    answer: the list is replaced a moment after a page opens or a filter changes)."""
    rows = console.rows()
    expect(rows).to_have_count(len(expected))
    for name, role in expected:
        expect(rows.filter(has_text=name).filter(has_text=role)).to_have_count(1)


def open_user(console: Console, username: str) -> Page:
    """A user's page, reached as an administrator does: from the team list's View action."""
    page = console.page
    # The list is asked twice: for library roles only until the console knows whether the user
    # may view course teams, then for everything. A search typed before the second answer can
    # be lost.
    with page.expect_response(
        lambda r: "/authz/v1/assignments/" in r.url and "roles=" not in r.url
    ):
        page.goto(HOME)
    expect(console.rows().first).to_be_visible()
    page.get_by_placeholder(SEARCH).fill(username)
    email = f"{username}@example.org"
    # The search has answered (the list is replaced a moment after typing): only their rows.
    expect(console.rows().filter(has_not_text=email)).to_have_count(0)
    row = console.rows().filter(has_text=email).first
    row.get_by_role("button", name="View").click()
    expect(page).to_have_url(re.compile(f"/authz/user/{username}$"))
    expect(page.get_by_role("heading", name=username, exact=True)).to_be_visible()
    return page


def held(rc: Rolecall, username: str) -> set[tuple[str, str]]:
    return {(g.role, g.scope) for g in rc.grants(username)}


def events_since(rc: Rolecall, start: int) -> list[tuple[str, str | None, str | None, str | None]]:
    """(action, actor, user, scope) of the audit events after the first ``start``."""
    return [(e.action, e.actor, e.user, e.scope) for e in rc.audit()[start:]]


# ------------------------------------------------------------------ signing in


def test_an_administrator_signs_in_through_the_lms_jwt_cookies(
    browser: Browser, host: Host, rc: Rolecall
) -> None:
    start = len(rc.audit())
    context = _context(browser, host)
    try:
        page = context.new_page()
        sign_in(page, "ada")
        expect(page).to_have_url(re.compile(r"/admin-console/authz$"))
        expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
        expect(page.locator(TABLE_ROWS)).to_have_count(10)  # the first page of her teams
        cookies = {c["name"]: c for c in context.cookies()}
        # LMS's split JWT: the header and payload for the console's script, the signature not.
        assert cookies["edx-jwt-cookie-header-payload"]["httpOnly"] is False
        assert cookies["edx-jwt-cookie-signature"]["httpOnly"] is True
        script_sees = page.evaluate("document.cookie")
        assert "edx-jwt-cookie-header-payload=" in script_sees
        assert "edx-jwt-cookie-signature" not in script_sees
        # Without the session, the JWT alone (edx-drf-extensions' JwtAuthentication) serves.
        context.clear_cookies(name="sessionid")
        page.reload()
        expect(page.locator(TABLE_ROWS)).to_have_count(10)
        expect(page.get_by_role("button", name="Assign Role")).to_be_visible()
    finally:
        context.close()
    assert events_since(rc, start) == []


# ------------------------------------------------------------------ reading teams


def test_a_library_team_and_a_course_team(console: Callable[[str], Console], rc: Rolecall) -> None:
    start = len(rc.audit())
    ada = console("ada")
    page = ada.open(f"{HOME}?scope={L1}")
    expect(ada.rows().first).to_contain_text(L1)
    expect_team(ada, team(rc, L1))
    ada.shot("admin-console-team.png")
    page.goto(f"{HOME}?scope={C1}")
    expect(ada.rows().first).to_contain_text(C1)
    assert team(rc, C1) == {("Cora Diaz", "Course Admin"), ("Victor Hugo", "Course Staff")}
    expect_team(ada, team(rc, C1))
    # Studio's library metadata, through the signed-in context (its JWT cookies).
    answer = page.request.get(f"/api/libraries/v2/{L1}/")
    assert answer.ok
    assert answer.json()["title"] == "Mathematics"
    assert events_since(rc, start) == []


def test_filters_by_org_role_and_scope(console: Callable[[str], Console], rc: Rolecall) -> None:
    start = len(rc.audit())
    ada = console("ada")
    page = ada.open(HOME)
    expect(ada.rows()).to_have_count(10)
    # Organization: GlobeX's teams only.
    page.get_by_role("button", name="Organization", exact=True).click()
    page.get_by_role("checkbox", name=GLOBE).check()
    expect_team(ada, team(rc, C4) | team(rc, L2))
    page.get_by_role("checkbox", name=GLOBE).uncheck()
    page.keyboard.press("Escape")
    expect(ada.rows()).to_have_count(10)
    # Role: the library admins.
    page.get_by_role("button", name="Role", exact=True).click()
    page.get_by_role("checkbox", name="Library Admin").check()
    expect_team(ada, {("Lena Park", "Library Admin")})
    page.get_by_role("checkbox", name="Library Admin").uncheck()
    page.keyboard.press("Escape")
    expect(ada.rows()).to_have_count(10)
    # Scope: one course, chosen by its title.
    page.get_by_role("button", name="Scope", exact=True).click()
    page.get_by_role("checkbox", name=COURSES[C1]).check()
    expect_team(ada, team(rc, C1))
    assert events_since(rc, start) == []


def test_search_sort_and_page(console: Callable[[str], Console], rc: Rolecall) -> None:
    start = len(rc.audit())
    staff = [u for u in STAFF if held(rc, u)]
    ada = console("ada")
    page = ada.open(HOME)
    expect(ada.rows()).to_have_count(10)
    page.get_by_placeholder(SEARCH).fill("staff")
    expect(page.get_by_text(f"Showing 10 of {len(staff)}.")).to_be_visible()
    # Sorted by name, descending: the last staff member first.
    page.get_by_role("columnheader", name="Name").click()
    expect(ada.rows().first).to_contain_text(PEOPLE[staff[0]][0])
    page.get_by_role("columnheader", name="Name").click()
    expect(ada.rows().first).to_contain_text(PEOPLE[staff[-1]][0])
    # The second page holds the rest.
    page.get_by_role("button", name="Next, Page 2").click()
    expect(ada.rows()).to_have_count(len(staff) - 10)
    expect(ada.rows().first).to_contain_text(PEOPLE[staff[len(staff) - 11]][0])
    assert events_since(rc, start) == []


# ------------------------------------------------------------------ changing teams


def _wizard_step_one(page: Page, users: str | None, role: str) -> None:
    expect(page.get_by_role("heading", name="Assign Role").first).to_be_visible()
    if users is not None:
        page.get_by_label("Add users by username or email").fill(users)
    page.get_by_role("radio", name=re.compile(role)).check()
    page.get_by_role("button", name="Next").click()


def test_the_wizard_adds_users_on_one_course(
    console: Callable[[str], Console], rc: Rolecall
) -> None:
    start = len(rc.audit())
    ada = console("ada")
    page = ada.open(HOME)
    page.get_by_role("button", name="Assign Role").click()
    expect(page).to_have_url(re.compile(r"/authz/assign-role$"))
    _wizard_step_one(page, "nina, omar@example.org", "Course Staff")
    course = page.get_by_role("checkbox", name=COURSES[C1])
    expect(course).to_be_visible()
    expect(page.get_by_role("checkbox", name=COURSES[C4])).to_be_visible()  # GlobeX's too
    expect(page.get_by_role("checkbox", name=COURSES[C5])).to_have_count(0)  # not NorthX's
    course.check()
    ada.shot("admin-console-wizard-scope.png")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Role assigned successfully.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/admin-console/authz$"))
    assert held(rc, "nina") == {("course_staff", C1)}
    assert held(rc, "omar") == {("course_staff", C1)}
    assert sorted(events_since(rc, start)) == [
        ("assign", "ada", "nina", C1),
        ("assign", "ada", "omar", C1),
    ]
    page.goto(f"{HOME}?scope={C1}")
    assert {("Nina Simone", "Course Staff"), ("Omar Khayyam", "Course Staff")} <= team(rc, C1)
    expect_team(ada, team(rc, C1))


def test_the_wizard_adds_a_user_on_every_course_of_an_org(
    console: Callable[[str], Console], rc: Rolecall
) -> None:
    start = len(rc.audit())
    ada = console("ada")
    page = ada.open(f"{HOME}/assign-role")
    _wizard_step_one(page, "pia", "Course Staff")
    expect(page.get_by_text(f"Org: {ACME}")).to_be_visible()
    every = page.get_by_role("checkbox", name="All courses in this organization")
    # AcmeX only: ada manages every course team of GlobeX too, but a grant on a whole org is an
    # org admin's, and she is GlobeX's course admin, not its org admin (validate/me says so).
    expect(every).to_have_count(1)
    expect(page.get_by_role("checkbox", name=COURSES[C4])).to_be_visible()  # one by one: yes
    page.locator(".scope-org-group", has_text=f"Org: {ACME}").get_by_role(
        "checkbox", name="All courses in this organization"
    ).check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Role assigned successfully.")).to_be_visible()
    assert {role for role, _ in held(rc, "pia")} == {"course_staff"}
    for course in (C1, C2, C3):  # every course of the org, and only those
        assert rc.check("pia", "courses.publish_course_content", course)
    assert not rc.check("pia", "courses.publish_course_content", C4)
    events = events_since(rc, start)
    assert events
    assert {(action, actor, user) for action, actor, user, _scope in events} == {
        ("assign", "ada", "pia")
    }


def test_a_role_is_changed_on_the_users_page(
    console: Callable[[str], Console], rc: Rolecall
) -> None:
    start = len(rc.audit())
    ada = console("ada")
    page = open_user(ada, "leo")
    expect(ada.rows()).to_have_count(1)
    expect(ada.rows().first).to_contain_text("Library Contributor")
    # The console changes a role as two steps: the new one through the wizard ...
    page.get_by_role("button", name="Assign Role").click()
    expect(page.get_by_label("Add users by username or email")).to_have_value("leo")
    _wizard_step_one(page, None, "Library Author")
    page.get_by_role("checkbox", name=LIBRARIES[L1]).check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Role assigned successfully.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/authz/user/leo$"))
    expect(ada.rows()).to_have_count(2)
    # ... then the old one removed.
    ada.rows().filter(has_text="Library Contributor").get_by_role(
        "button", name="Delete role action"
    ).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Remove role?")
    dialog.get_by_role("button", name="Remove").click()
    expect(
        page.get_by_text("The Library Contributor role has been successfully removed.")
    ).to_be_visible()
    expect(ada.rows()).to_have_count(1)
    expect(ada.rows().first).to_contain_text("Library Author")
    assert held(rc, "leo") == {("library_author", L1)}
    assert events_since(rc, start) == [
        ("assign", "ada", "leo", L1),
        ("revoke", "ada", "leo", L1),
    ]


def test_a_member_is_removed(console: Callable[[str], Console], rc: Rolecall) -> None:
    start = len(rc.audit())
    ada = console("ada")
    page = open_user(ada, "staff11")
    expect(ada.rows()).to_have_count(1)
    ada.rows().first.get_by_role("button", name="Delete role action").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("This is the user's only role in this scope.")
    dialog.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("The Course Staff role has been successfully removed.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/admin-console/authz$"))  # no role left: back home
    assert held(rc, "staff11") == set()
    assert events_since(rc, start) == [("revoke", "ada", "staff11", C2)]
    page.goto(f"{HOME}?scope={C2}")
    expect_team(ada, team(rc, C2))
    expect(ada.rows().filter(has_text="Staff Member 11")).to_have_count(0)


def test_a_users_page_lists_their_assignments(
    console: Callable[[str], Console], rc: Rolecall
) -> None:
    start = len(rc.audit())
    ada = console("ada")
    page = open_user(ada, "vic")
    expect(page.get_by_role("heading", name="vic@example.org")).to_be_visible()
    grants = rc.grants("vic")
    expect(ada.rows()).to_have_count(len(grants))
    for grant in grants:
        row = ada.rows().filter(has_text=grant.scope)
        expect(row).to_contain_text(LABEL[grant.role])
        expect(row).to_contain_text(re.compile(r"\d+ permissions available"))
    library = ada.rows().filter(has_text=L1)
    # Once ada's right to manage each scope is known the rows are final (a change of the table's
    # data closes an open row): then the remove action is offered.
    expect(library.get_by_role("button", name="Delete role action")).to_be_enabled()
    library.get_by_text("View all permissions").click()
    expect(page.get_by_text("Hide all permissions")).to_be_visible()
    ada.shot("admin-console-user.png")
    assert events_since(rc, start) == []


# ------------------------------------------------------------------ refusals


def test_a_viewer_who_may_not_manage_the_team_is_refused_by_the_console(
    console: Callable[[str], Console], rc: Rolecall
) -> None:
    start = len(rc.audit())
    assert rc.check("vic", "content_libraries.view_library_team", L1)
    assert not rc.check("vic", "content_libraries.manage_library_team", L1)
    vic = console("vic")
    page = vic.page
    page.goto(HOME)
    expect_team(vic, team(rc, L1) | team(rc, C1))
    page.wait_for_load_state("networkidle")  # the console has asked what vic may do
    expect(page.get_by_role("button", name="Assign Role")).to_have_count(0)
    # A member's page: their roles shown, the remove action disabled.
    page = open_user(vic, "lena")
    expect(vic.rows()).to_have_count(1)
    page.wait_for_load_state("networkidle")  # the console has asked whether vic may manage it
    expect(vic.rows().first.get_by_role("button", name="Delete role action")).to_be_disabled()
    # The wizard, opened by its address, offers no role to give.
    page.goto(f"{HOME}/assign-role")
    expect(page.get_by_label("Add users by username or email")).to_be_visible()
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("radio")).to_have_count(0)
    expect(page.get_by_role("button", name="Next")).to_be_disabled()
    # Someone who may view no team at all is shown the console's error, and no row.
    noel = console("noel")
    noel.open(HOME)
    expect(noel.page.get_by_text("Something went wrong on our end.").first).to_be_visible()
    expect(noel.rows().filter(has_text="@example.org")).to_have_count(0)
    assert events_since(rc, start) == []
    assert held(rc, "lena") == {("library_admin", L1)}
