"""The console through the Flask test client: sign-in, every page, authorization, CSRF,
throttling, the flows that change data (also on PostgreSQL) and their refusals in words."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import PASSWORD, demo_plugins, demo_service, post, sign_in, token
from flask import Flask
from flask.testing import FlaskClient

from rolecall.core import Rolecall
from rolecall.core.accounts import ACCOUNT_CEILING, MAX_LOCK
from rolecall.core.reads import managed_scopes, search
from rolecall.webapp.app import create_app
from rolecall.webapp.console.common import THROTTLE

CIRCUITS = "course-v1:MITx+6.002x+2026_T1"
CALCULUS = "course-v1:MITx+18.01x+2026_T1"
CS50 = "course-v1:HarvardX+CS50+2026"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Rolecall]:
    rc = demo_service(f"sqlite:///{tmp_path / 'console.db'}")
    yield rc
    rc.close()


@pytest.fixture
def app(service: Rolecall) -> Flask:
    return create_app(
        service, config={"TESTING": True, "ROLECALL_STUDIO_URL": "https://studio.test/course/{key}"}
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def admin(client: FlaskClient) -> FlaskClient:
    sign_in(client, "admin")
    return client


# ------------------------------------------------------------------ signing in


def test_anonymous_visitors_are_sent_to_the_sign_in_page(client: FlaskClient) -> None:
    response = client.get(f"/console/scopes/{CIRCUITS}")
    assert response.status_code == 302
    assert response.location.startswith("/console/login?next=/console/scopes/")


def test_sign_in_returns_to_the_page_asked_for(client: FlaskClient) -> None:
    page = client.get("/console/login")
    response = client.post(
        "/console/login",
        data={
            "username": "admin",
            "password": PASSWORD,
            "next": "/console/roles",
            "csrf_token": token(page.text),
        },
    )
    assert response.location == "/console/roles"


def test_sign_in_never_redirects_off_the_console(client: FlaskClient) -> None:
    page = client.get("/console/login")
    response = client.post(
        "/console/login",
        data={
            "username": "admin",
            "password": PASSWORD,
            "next": "//evil.test/",
            "csrf_token": token(page.text),
        },
    )
    assert response.location == "/console/"


def test_a_wrong_password_is_refused_and_keeps_the_username(client: FlaskClient) -> None:
    page = client.get("/console/login")
    response = client.post(
        "/console/login",
        data={"username": "admin", "password": "wrong", "csrf_token": token(page.text)},
    )
    assert response.status_code == 401
    assert "do not match an account" in response.text
    assert 'value="admin"' in response.text


def test_sign_in_without_the_csrf_token_is_refused(client: FlaskClient) -> None:
    response = client.post("/console/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 400
    assert "nothing was changed" in response.text


def test_a_user_with_no_role_sees_a_clear_403(client: FlaskClient) -> None:
    sign_in(client, "nobody")
    response = client.get("/console/")
    assert response.status_code == 403
    assert "you hold no role in rolecall" in response.text


def test_sign_out_ends_the_session(admin: FlaskClient) -> None:
    response = post(admin, "/console/logout", {})
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert admin.get("/console/").status_code == 302


def test_the_trusted_header_signs_in_the_user_it_names(service: Rolecall) -> None:
    app = create_app(service, config={"TESTING": True, "ROLECALL_TRUSTED_HEADER": "X-Remote-User"})
    client = app.test_client()
    assert client.get("/console/", headers={"X-Remote-User": "olivia"}).status_code == 200
    assert client.get("/console/", headers={"X-Remote-User": "ghost"}).status_code == 302


def test_the_trusted_header_is_ignored_unless_configured(client: FlaskClient) -> None:
    assert client.get("/console/", headers={"X-Remote-User": "admin"}).status_code == 302


# ------------------------------------------------------------------ throttling


def _attempt(client: FlaskClient, user: str, password: str) -> int:
    page = client.get("/console/login")
    return client.post(
        "/console/login",
        data={"username": user, "password": password, "csrf_token": token(page.text)},
    ).status_code


def test_five_failed_sign_ins_lock_the_account_with_429(
    service: Rolecall, app: Flask, client: FlaskClient
) -> None:
    now = [1000.0]
    app.extensions[THROTTLE] = service.accounts.sign_in_throttle(clock=lambda: now[0])
    assert [_attempt(client, "ada", "nope") for _ in range(5)] == [401] * 5
    page = client.get("/console/login")
    response = client.post(
        "/console/login",
        data={"username": "ada", "password": PASSWORD, "csrf_token": token(page.text)},
    )
    assert response.status_code == 429
    assert "try again in 30 seconds" in response.text
    assert response.headers["Retry-After"] == "30"
    now[0] += 31
    assert _attempt(client, "ada", PASSWORD) == 302


def test_the_lockout_grows_with_each_further_failure(
    service: Rolecall, app: Flask, client: FlaskClient
) -> None:
    now = [1000.0]
    app.extensions[THROTTLE] = service.accounts.sign_in_throttle(clock=lambda: now[0])
    for _ in range(5):
        _attempt(client, "ada", "nope")
    now[0] += 31
    assert _attempt(client, "ada", "nope") == 401  # the sixth failure: locked for 60 s
    now[0] += 31
    assert _attempt(client, "ada", PASSWORD) == 429
    now[0] += 30
    assert _attempt(client, "ada", PASSWORD) == 302


def test_failures_from_one_address_lock_it_for_every_username(
    service: Rolecall, app: Flask, client: FlaskClient
) -> None:
    app.extensions[THROTTLE] = service.accounts.sign_in_throttle(clock=lambda: 1000.0)
    for name in ("u1", "u2", "u3", "u4", "u5"):
        assert _attempt(client, name, "nope") == 401
    assert _attempt(client, "admin", PASSWORD) == 429


def _attempt_from(client: FlaskClient, address: str, user: str, password: str) -> int:
    environ = {"REMOTE_ADDR": address}
    page = client.get("/console/login", environ_base=environ)
    return client.post(
        "/console/login",
        data={"username": user, "password": password, "csrf_token": token(page.text)},
        environ_base=environ,
    ).status_code


def test_a_stranger_elsewhere_cannot_lock_the_owner_out(
    service: Rolecall, app: Flask, client: FlaskClient
) -> None:
    """Failures are counted per (account, address): a stranger who knows the username locks
    only their own address out, and the owner signs in from theirs."""
    now = [1000.0]
    app.extensions[THROTTLE] = service.accounts.sign_in_throttle(clock=lambda: now[0])
    stranger, owner = "203.0.113.5", "198.51.100.7"
    assert [_attempt_from(client, stranger, "ada", "nope") for _ in range(5)] == [401] * 5
    for _ in range(3):  # locked; then one more failure after each lock
        assert _attempt_from(client, stranger, "ada", PASSWORD) == 429
        now[0] += MAX_LOCK
        assert _attempt_from(client, stranger, "ada", "nope") == 401
    assert _attempt_from(client, owner, "ada", PASSWORD) == 302


def test_the_account_ceiling_stops_a_guess_spread_over_many_addresses(
    service: Rolecall, app: Flask
) -> None:
    """One failure from each of many addresses locks no address, but the account's failures
    from everywhere together reach its ceiling: then nobody signs in as it for a while."""
    now = [1000.0]
    app.extensions[THROTTLE] = service.accounts.sign_in_throttle(clock=lambda: now[0])
    guesser, owner = app.test_client(), app.test_client()
    addresses = [f"192.0.2.{n}" for n in range(1, ACCOUNT_CEILING + 1)]
    for address in addresses[:-1]:
        assert _attempt_from(guesser, address, "ada", "nope") == 401
    assert _attempt_from(owner, "198.51.100.7", "ada", PASSWORD) == 302
    assert _attempt_from(guesser, addresses[-1], "ada", "nope") == 401  # the ceiling: locked
    assert _attempt_from(guesser, "192.0.2.200", "ada", PASSWORD) == 429
    assert _attempt_from(app.test_client(), "198.51.100.7", "ada", PASSWORD) == 429
    now[0] += 31
    assert _attempt_from(app.test_client(), "198.51.100.7", "ada", PASSWORD) == 302


def test_every_web_process_counts_the_same_failures(database_url: str) -> None:
    """Two applications on two services of one database (as two gunicorn workers are): three
    failures at one and two at the other lock the account at both, and a success at one clears
    the account's count at both."""
    first = demo_service(database_url)
    second = Rolecall.open(database_url, plugins=demo_plugins(), background_sync=False)
    try:
        now = [1000.0]
        clients = []
        for rc in (first, second):
            app = create_app(rc, config={"TESTING": True})
            app.extensions[THROTTLE] = rc.accounts.sign_in_throttle(clock=lambda: now[0])
            clients.append(app.test_client())
        a, b = clients
        assert [_attempt(a, "ada", "nope") for _ in range(3)] == [401] * 3
        assert [_attempt(b, "ada", "nope") for _ in range(2)] == [401] * 2
        assert _attempt(a, "ada", PASSWORD) == 429
        assert _attempt(b, "ada", PASSWORD) == 429
        now[0] += 31
        assert _attempt(b, "ada", PASSWORD) == 302
        assert _attempt(a, "ada", "nope") == 401  # the account counts from one again
    finally:
        first.close()
        second.close()


# ------------------------------------------------------------------ pages


@pytest.mark.parametrize(
    "url",
    [
        "/console/",
        "/console/?q=mit&resource=courses&level=course",
        f"/console/scopes/{CIRCUITS}",
        "/console/scopes/org:MITx",
        "/console/scopes/platform",
        "/console/users/eddie",
        "/console/assign",
        "/console/roles",
        "/console/roles/matrix",
        "/console/roles/new",
        "/console/audit",
        "/console/audit?action=import&user=eddie",
        "/console/plugins",
        "/console/restrictions",
        "/console/plugins/ccx",
    ],
)
def test_every_page_opens_for_a_platform_admin(admin: FlaskClient, url: str) -> None:
    response = admin.get(url)
    assert response.status_code == 200, response.text
    assert '<a class="skip-link" href="#main">' in response.text
    assert '<main id="main"' in response.text


def test_home_lists_the_scopes_the_viewer_manages(client: FlaskClient) -> None:
    sign_in(client, "olivia")
    html = client.get("/console/").text
    assert "Circuits and Electronics" in html
    assert "inherited from <code>org:MITx</code>" in html
    assert "CS50" not in html


def test_home_search_filters_by_resource_type(admin: FlaskClient) -> None:
    html = admin.get("/console/?q=physics&resource=courses").text
    assert "Nothing matches" in html
    html = admin.get("/console/?q=physics&resource=libraries").text
    assert "lib:MITx:physics" in html


def test_search_finds_users_by_email_and_scopes_by_title(service: Rolecall) -> None:
    found = search(service, "eddie@example.org")
    assert [u.username for u in found.users] == ["eddie"]
    found = search(service, "calculus", level="course")
    assert [s.key for s in found.scopes] == [CALCULUS]
    assert search(service, "calculus", level="org").scopes == ()


def test_managed_scopes_filter_by_level(service: Rolecall) -> None:
    orgs = managed_scopes(service, "olivia", level="org")
    assert [m.scope.key for m in orgs] == ["org:MITx"]
    courses = managed_scopes(service, "olivia", resource="courses")
    assert CIRCUITS in [m.scope.key for m in courses]
    assert all(m.scope.type == "course" for m in courses)


def test_the_scope_page_shows_the_team_and_other_users_with_access(admin: FlaskClient) -> None:
    html = admin.get(f"/console/scopes/{CIRCUITS}").text
    team, others = html.split("Other users with access", 1)
    assert "ada" in team
    assert "course_admin" in team
    assert "audrey" in others
    assert "course_auditor" in others
    assert "org:MITx" in others
    assert "admin" in others
    assert "platform_admin" in others
    assert "https://studio.test/course/course-v1:MITx+6.002x+2026_T1" in html


def test_a_scope_key_that_does_not_parse_is_404(admin: FlaskClient) -> None:
    response = admin.get("/console/scopes/nonsense")
    assert response.status_code == 404
    assert "is not a scope key" in response.text


def test_a_course_admin_may_not_open_another_course(client: FlaskClient) -> None:
    sign_in(client, "ada")
    assert client.get(f"/console/scopes/{CIRCUITS}").status_code == 200
    response = client.get(f"/console/scopes/{CS50}")
    assert response.status_code == 403
    assert "do not have access" in response.text


def test_audit_and_restrictions_are_for_the_platform_team(client: FlaskClient) -> None:
    sign_in(client, "ada")
    assert client.get("/console/audit").status_code == 403
    assert client.get("/console/restrictions").status_code == 403
    assert "Audit log" not in client.get("/console/").text


def test_users_see_their_own_page_and_not_others(client: FlaskClient) -> None:
    sign_in(client, "eddie")
    assert client.get("/console/users/eddie").status_code == 200
    # lin holds roles only at HarvardX, whose teams eddie (an MITx course editor) cannot view.
    assert client.get("/console/users/lin").status_code == 403


def test_the_user_page_says_where_access_comes_from(admin: FlaskClient) -> None:
    html = admin.get("/console/users/audrey").text
    assert "inherited</span> from <code>org:MITx</code>" in html
    assert "assigned here" in html
    assert "Can and cannot" in html


def test_an_unknown_user_is_404(admin: FlaskClient) -> None:
    assert admin.get("/console/users/ghost").status_code == 404


def test_the_catalogue_shows_can_and_cannot(admin: FlaskClient) -> None:
    html = admin.get("/console/roles").text
    assert 'id="role-course_editor"' in html
    assert "Cannot" in html
    assert "Can" in html


def test_plugin_pages_are_escaped_and_need_their_permission(client: FlaskClient) -> None:
    sign_in(client, "admin")
    html = client.get("/console/plugins/ccx").text
    assert "Coaches" in html
    assert "demo_ccx_coach" in html
    other = client.application.test_client()
    sign_in(other, "eddie")
    assert other.get("/console/plugins/ccx").status_code == 403


def test_the_user_lookup_reports_unknown_names(admin: FlaskClient) -> None:
    found = admin.get("/console/users/lookup?names=eddie,grace@example.org,ghost").get_json()
    assert [(f["name"], f["username"]) for f in found] == [
        ("eddie", "eddie"),
        ("grace@example.org", "grace"),
        ("ghost", None),
    ]


# ------------------------------------------------------------------ changes


def test_every_change_needs_the_csrf_token(admin: FlaskClient) -> None:
    response = admin.post(
        f"/console/scopes/{CIRCUITS}/remove", data={"user": "eddie", "role": "course_editor"}
    )
    assert response.status_code == 400
    assert "eddie" in admin.get(f"/console/scopes/{CIRCUITS}").text.split("Other users")[0]


def test_the_plugins_page_lists_console_pages_and_commands(admin: FlaskClient) -> None:
    html = admin.get("/console/plugins").text
    assert "<strong>console pages:</strong> ccx" in html
    assert "<strong>commands:</strong> serve" in html
