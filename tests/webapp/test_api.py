"""The REST API through Flask's test client, on the real catalogue (every built-in plugin and
the web application's own): each endpoint, its authorization rule and each error class.
Tests that change data run on SQLite and on PostgreSQL (the ``database_url`` fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import rolecall.webapp.plugin
from rolecall.core import PluginSettings, Rolecall, load_plugins
from rolecall.webapp.app import create_app

COURSE = "course-v1:MITx+6.002x+2026_T1"
OTHER_COURSE = "course-v1:MITx+8.01x+2026_T1"
HARVARD = "course-v1:HarvardX+CS50+2026"
LIB = "lib:MITx:physics"

PEOPLE = {
    # username: grants
    "root": [("platform_admin", "platform")],
    "ada": [("course_admin", COURSE)],
    "bob": [("course_staff", COURSE)],
    "dan": [("org_admin", "org:MITx")],
    "eve": [("course_auditor", HARVARD)],
    "carol": [],
}


@dataclass
class Api:
    """A test client that calls as a named user (or anonymously) and returns the response."""

    app: Flask
    rc: Rolecall
    client: FlaskClient
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, user: str | None) -> dict[str, str]:
        return {} if user is None else {"Authorization": f"Bearer {self.tokens[user]}"}

    def call(
        self, method: str, path: str, user: str | None, *, json: Any = None, **kwargs: Any
    ) -> Any:
        url = path if path.startswith("/") else f"/api/v1/{path}"
        # A "+" in a query string means a space: scope keys' pluses are sent escaped.
        base, mark, query = url.partition("?")
        url = base + mark + query.replace("+", "%2B")
        return self.client.open(url, method=method, headers=self.headers(user), json=json, **kwargs)

    def get(self, path: str, user: str | None, **kwargs: Any) -> Any:
        return self.call("GET", path, user, **kwargs)

    def post(self, path: str, user: str | None, json: Any = None, **kwargs: Any) -> Any:
        return self.call("POST", path, user, json=json, **kwargs)

    def delete(self, path: str, user: str | None, **kwargs: Any) -> Any:
        return self.call("DELETE", path, user, **kwargs)


def full_plugins() -> Any:
    return load_plugins(
        PluginSettings(), entry_points=[], extra={"console": rolecall.webapp.plugin}
    )


def make_api(database: str) -> Api:
    """A service on ``database`` with the real catalogue, PEOPLE and their grants, a token
    for each, and the web application around it."""
    rc = Rolecall.open(database, plugins=full_plugins(), background_sync=False, staleness=0)
    rc.add_users([(name, f"{name}@example.org", name.title()) for name in PEOPLE])
    rc.add_scopes([COURSE, OTHER_COURSE, HARVARD, LIB])
    rc.assign_many(
        [(user, role, scope) for user, grants in PEOPLE.items() for role, scope in grants],
        actor="setup",
    )
    app = create_app(rc, config={"TESTING": True, "SECRET_KEY": "test-only-key"})
    api = Api(app, rc, app.test_client())
    for name in PEOPLE:
        api.tokens[name] = rc.accounts.create_token(name)[1]
    return api


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    """On SQLite, then on PostgreSQL."""
    made = make_api(database_url)
    yield made
    made.rc.close()


@pytest.fixture
def lite(sqlite_url: str) -> Iterator[Api]:
    """On SQLite only: for tests that read."""
    made = make_api(sqlite_url)
    yield made
    made.rc.close()


def error_of(response: Any, status: int) -> dict[str, Any]:
    """The error body, after checking the status and the one error shape."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["message"]
    return dict(body["error"])


# ---------------------------------------------------------------------- authentication


def test_no_token_is_401_with_a_bearer_challenge(lite: Api) -> None:
    response = lite.get("roles", None)
    assert error_of(response, 401)["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_or_revoked_token_is_401(lite: Api) -> None:
    response = lite.client.get("/api/v1/roles", headers={"Authorization": "Bearer rc_nope"})
    assert error_of(response, 401)["code"] == "invalid_token"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    info = lite.rc.accounts.tokens("bob")[0]
    lite.rc.accounts.revoke_token(info.id)
    assert lite.get("roles", "bob").status_code == 401


def test_a_console_session_does_not_reach_the_api(lite: Api) -> None:
    """The API reads no cookie (no cross-site request can use a signed-in browser), and sets
    none."""
    lite.rc.accounts.set_password("root", "a long password")
    page = lite.client.get("/console/login")
    token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    signed_in = lite.client.post(
        "/console/login",
        data={"username": "root", "password": "a long password", "csrf_token": token},
    )
    assert signed_in.status_code == 302
    assert lite.client.get("/console/").status_code == 200  # the cookie works in the console
    response = lite.get("roles", None)
    assert error_of(response, 401)["code"] == "unauthenticated"
    assert "Set-Cookie" not in response.headers
    assert "Set-Cookie" not in lite.get("roles", "root").headers


def test_a_basic_authorization_header_is_401(lite: Api) -> None:
    response = lite.client.get("/api/v1/roles", headers={"Authorization": "Basic Ym9iOng="})
    assert error_of(response, 401)["code"] == "unauthenticated"


def test_a_retired_users_token_stops_working(lite: Api) -> None:
    from rolecall.core.governance.lifecycle import retire_user

    assert lite.get("users/eve/access", "eve").status_code == 200
    retire_user(lite.rc, "eve")
    assert lite.get("users/eve/access", "eve").status_code == 401


# ---------------------------------------------------------------------- error classes


def test_unknown_path_is_404_in_the_error_shape(lite: Api) -> None:
    assert error_of(lite.get("nothing-here", "root"), 404)["code"] == "not_found"


def test_wrong_method_is_405_with_allow(lite: Api) -> None:
    response = lite.call("PUT", "roles", "root")
    assert error_of(response, 405)["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


def test_body_too_large_is_413(lite: Api) -> None:
    lite.app.config["MAX_CONTENT_LENGTH"] = 1000
    big = {"checks": [{"user": "root", "permission": "x.y", "scope": "platform"}] * 100}
    assert error_of(lite.post("check", "root", big), 413)["code"] == "too_large"


def test_malformed_json_is_400(lite: Api) -> None:
    response = lite.client.post(
        "/api/v1/check",
        data="{not json",
        headers={**lite.headers("root"), "Content-Type": "application/json"},
    )
    assert error_of(response, 400)["code"] == "malformed_json"


def test_an_unknown_field_is_422_naming_it(lite: Api) -> None:
    body = {"checks": [{"user": "root", "permission": "a.b", "scope": "platform", "x": 1}]}
    error = error_of(lite.post("check", "root", body), 422)
    assert error["code"] == "invalid_request"
    assert error["details"][0]["loc"] == ["checks", "0", "x"]
    assert error["details"][0]["type"] == "extra_forbidden"


def test_an_unknown_query_parameter_is_422(lite: Api) -> None:
    error = error_of(lite.get("roles?colour=red", "root"), 422)
    assert error["details"][0]["type"] == "extra_forbidden"


def test_a_limit_above_the_maximum_is_422(lite: Api) -> None:
    assert error_of(lite.get("roles?limit=501", "root"), 422)["code"] == "invalid_request"


def test_bad_input_from_the_service_is_400(lite: Api) -> None:
    error = error_of(lite.get(f"explain?user=root&permission=no.such&scope={COURSE}", "root"), 400)
    assert error["code"] == "bad_input"
    assert "unknown permission" in error["message"]


def test_a_malformed_scope_key_is_400(lite: Api) -> None:
    error = error_of(lite.get("scopes/course-v1:MITx/team", "root"), 400)
    assert "course" in error["message"]


def test_an_unexpected_error_is_500_in_the_error_shape(
    lite: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Rolecall, "who", broken)
    error = error_of(lite.get(f"scopes/{COURSE}/team", "root"), 500)
    assert error["code"] == "internal_error"
    assert "disk on fire" not in error["message"]
    assert "disk on fire" in caplog.text


# ---------------------------------------------------------------------- catalogue


def test_catalogue_lists_plugins_permissions_roles_and_scope_types(lite: Api) -> None:
    plugins = lite.get("plugins?limit=500", "bob").get_json()["items"]
    assert {"platform", "console"} <= {p["name"] for p in plugins}
    perms = lite.get("permissions?plugin=console", "bob").get_json()["items"]
    assert {p["id"] for p in perms} == {
        "console.view_platform_team",
        "console.view_audit_log",
    }
    roles = lite.get("roles?limit=500", "bob").get_json()["items"]
    assert "course_staff" in {r["id"] for r in roles}
    types = lite.get("scope-types", "bob").get_json()["items"]
    assert {t["id"] for t in types} == {"platform", "org", "course", "library"}


def test_one_role_by_legacy_name_with_its_closed_permissions(lite: Api) -> None:
    role = lite.get("roles/course_staff", "bob").get_json()
    assert role["id"] == "course_staff"
    assert role["plugin"] is not None
    assert "courses.view_course_team" in role["closed_permissions"]
    assert error_of(lite.get("roles/no_such_role", "bob"), 404)["code"] == "not_found"


def test_catalogue_needs_a_role_somewhere(lite: Api) -> None:
    assert error_of(lite.get("roles", "carol"), 403)["code"] == "forbidden"
    assert lite.get("permissions", "carol").status_code == 403


def test_unknown_plugin_filter_is_404(lite: Api) -> None:
    assert lite.get("permissions?plugin=nope", "bob").status_code == 404


def test_pages_follow_the_cursor_to_the_end(lite: Api) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        url = "permissions?limit=7" + (f"&cursor={cursor}" if cursor else "")
        body = lite.get(url, "bob").get_json()
        seen += [p["id"] for p in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(lite.rc.registry.permissions)


def test_a_cursor_of_another_list_is_400(lite: Api) -> None:
    cursor = lite.get("roles?limit=1", "bob").get_json()["next_cursor"]
    assert error_of(lite.get(f"permissions?cursor={cursor}", "bob"), 400)["code"] == "bad_input"
    assert lite.get("roles?cursor=%%%garbage", "bob").status_code == 400


# ---------------------------------------------------------------------- assignments


def test_list_assignments_of_a_scope_sorted_by_user(lite: Api) -> None:
    body = lite.get(f"assignments?scope={COURSE}&sort=user", "ada").get_json()
    assert [(a["user"], a["role"]) for a in body["items"]] == [
        ("ada", "course_admin"),
        ("bob", "course_staff"),
    ]
    assert body["items"][0]["email"] == "ada@example.org"
    assert body["next_cursor"] is None
    assert body["revision"] == lite.rc.revision


def test_list_assignments_filters(lite: Api) -> None:
    def users(query: str) -> list[str]:
        response = lite.get(f"assignments?{query}&sort=user", "root")
        assert response.status_code == 200, response.get_json()
        return [a["user"] for a in response.get_json()["items"]]

    assert users("org=MITx") == ["ada", "bob", "dan"]
    assert users("org=org:HarvardX") == ["eve"]
    assert users("scope_type=platform") == ["root"]
    assert users("scope_type=course") == ["ada", "bob", "eve"]
    assert users("role=course_staff") == ["bob"]
    assert users("user=dan") == ["dan"]
    assert users("q=EVE") == ["eve"]
    assert users("q=6.002") == ["ada", "bob"]
    assert users("q=%25") == []  # a LIKE wildcard is searched for, not expanded
    assert error_of(lite.get("assignments?scope_type=galaxy", "root"), 400)


def walked(api: Api, sort: str) -> list[int]:
    """The ids of every assignment, two a page, following the cursor of ``sort`` to the end."""
    seen: list[int] = []
    cursor = None
    while True:
        url = f"assignments?sort={sort}&limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = api.get(url, "root").get_json()
        seen += [a["id"] for a in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


def test_list_assignments_pages_in_every_sort(lite: Api) -> None:
    for sort in ("id", "-id", "user", "-user", "scope", "-scope"):
        seen = walked(lite, sort)
        assert len(seen) == len(set(seen)) == 5, sort
    everything = lite.get("assignments?sort=-id", "root").get_json()["items"]
    assert [a["id"] for a in everything] == sorted((a["id"] for a in everything), reverse=True)


def test_list_assignments_holds_only_what_the_caller_may_see(lite: Api) -> None:
    def listed(caller: str, query: str = "") -> list[tuple[str, str]]:
        response = lite.get(f"assignments?sort=user&{query}", caller)
        assert response.status_code == 200, response.get_json()
        return [(a["user"], a["scope"]) for a in response.get_json()["items"]]

    assert len(listed("root")) == 5
    assert listed("ada") == [("ada", COURSE), ("bob", COURSE)]
    assert listed("dan") == [("ada", COURSE), ("bob", COURSE), ("dan", "org:MITx")]
    # A course auditor may not view the team: its own grant, and nothing of anyone else's.
    assert listed("eve") == [("eve", HARVARD)]
    assert listed("ada", f"scope={HARVARD}") == []
    assert listed("ada", "org=HarvardX") == []
    assert listed("ada", "q=eve") == []
    # A user holding no role is refused, as on every route.
    assert error_of(lite.get("assignments", "carol"), 403)["code"] == "forbidden"


def test_list_assignments_by_granter_user_text_and_scope_text(lite: Api) -> None:
    def users(query: str) -> list[str]:
        response = lite.get(f"assignments?{query}&sort=user", "root")
        assert response.status_code == 200, response.get_json()
        return [a["user"] for a in response.get_json()["items"]]

    lite.rc.assign("carol", "course_staff", OTHER_COURSE, actor="dan")
    assert users("granted_by=dan") == ["carol"]
    assert users("who=CAROL@example") == ["carol"]
    assert users("who=course") == []  # a user's name, username or e-mail only
    assert users("scope_text=8.01X") == ["carol"]
    assert users("scope_text=mitx&who=d") == ["ada", "dan"]


def test_list_assignments_pages_in_every_column_sort(lite: Api) -> None:
    lite.rc.assign(
        "carol",
        "course_staff",
        OTHER_COURSE,
        actor="dan",
        expires_at=datetime.now(UTC) + timedelta(days=9),
    )
    sorts = ("role", "granted_by", "granted_at", "expires_at")
    for sort in (*sorts, *(f"-{s}" for s in sorts)):
        seen = walked(lite, sort)
        everything = lite.get(f"assignments?sort={sort}", "root").get_json()["items"]
        assert seen == [a["id"] for a in everything], sort
        assert len(seen) == len(set(seen)) == 6, sort


def test_assign_as_the_caller_then_read_your_write(api: Api) -> None:
    response = api.post(
        "assignments", "ada", {"user": "carol", "role": "course_staff", "scope": COURSE}
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["changed"] is True
    assert body["assignment"]["granted_by"] == "ada"
    revision = body["revision"]
    listed = api.get(f"assignments?user=carol&at_least={revision}", "carol").get_json()
    assert [a["role"] for a in listed["items"]] == ["course_staff"]
    again = api.post(
        "assignments", "ada", {"user": "carol", "role": "course_staff", "scope": COURSE}
    )
    assert again.status_code == 200
    assert again.get_json()["changed"] is False


def test_assign_with_an_expiry_and_a_reason(api: Api) -> None:
    expires = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    response = api.post(
        "assignments",
        "root",
        {
            "user": "carol",
            "role": "course_auditor",
            "scope": COURSE,
            "expires_at": expires,
            "reason": "visiting",
        },
    )
    assignment = response.get_json()["assignment"]
    assert assignment["expires_at"] is not None
    assert assignment["reason"] == "visiting"
    assert assignment["expired"] is False


def test_assign_refused_by_the_delegation_rules_is_403_with_the_refusal(api: Api) -> None:
    response = api.post(
        "assignments", "bob", {"user": "carol", "role": "course_staff", "scope": COURSE}
    )
    error = error_of(response, 403)
    assert error["code"] == "not_allowed"
    assert error["details"]["rule"]
    assert (
        error["message"].endswith(f"{', '.join(error['details']['could'])}")
        or error["details"]["reason"] in error["message"]
    )
    assert "ada" in error["details"]["could"]
    assert api.get("assignments?user=carol", "ada").get_json()["items"] == []


def test_assign_unknown_user_or_role_is_400(api: Api) -> None:
    bad_role = api.post("assignments", "root", {"user": "carol", "role": "nope", "scope": COURSE})
    assert error_of(bad_role, 400)["code"] == "bad_input"
    bad_user = api.post(
        "assignments", "root", {"user": "zed", "role": "course_staff", "scope": COURSE}
    )
    assert error_of(bad_user, 400)["code"] == "bad_input"


def test_assign_with_a_naive_expiry_is_422(api: Api) -> None:
    body = {
        "user": "carol",
        "role": "course_staff",
        "scope": COURSE,
        "expires_at": "2099-01-01T00:00:00",
    }
    assert error_of(api.post("assignments", "root", body), 422)["code"] == "invalid_request"


def test_revoke_by_id(api: Api) -> None:
    staff = api.get("assignments?user=bob", "root").get_json()["items"][0]
    response = api.delete(f"assignments/{staff['id']}?reason=left", "ada")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["id"] == staff["id"]
    assert api.get("assignments?user=bob", "root").get_json()["items"] == []
    assert error_of(api.delete(f"assignments/{staff['id']}", "ada"), 404)["code"] == "not_found"


def test_revoke_refusals(api: Api) -> None:
    ada = api.get("assignments?user=ada", "root").get_json()["items"][0]
    eve = api.get("assignments?user=eve", "root").get_json()["items"][0]
    # the last admin of the course, removing herself
    assert error_of(api.delete(f"assignments/{ada['id']}", "ada"), 403)["code"] == "not_allowed"
    # a scope whose team the caller cannot see: nothing said about the assignment
    error = error_of(api.delete(f"assignments/{eve['id']}", "ada"), 403)
    assert HARVARD not in error["message"]


def test_anyone_may_leave_a_role_of_their_own(api: Api) -> None:
    eve = api.get("assignments?user=eve", "eve").get_json()["items"][0]
    assert api.delete(f"assignments/{eve['id']}", "eve").status_code == 200


def test_bulk_dry_run_then_partial(api: Api) -> None:
    body = {
        "action": "assign",
        "role": "course_auditor",
        "users": ["carol", "eve@example.org", "nobody"],
        "scopes": [COURSE],
        "dry_run": True,
    }
    dry = api.post("assignments/bulk", "ada", body).get_json()
    assert dry["applied"] is False
    assert {r["status"] for r in dry["rows"]} == {"ok", "unknown_user"}
    assert dry["impact"]["changes"]
    partial = api.post("assignments/bulk", "ada", {**body, "dry_run": False, "partial": True})
    result = partial.get_json()
    assert result["applied"] is True
    assert result["revision"] > dry["revision"]
    users = api.get(f"assignments?role=course_auditor&scope={COURSE}", "ada").get_json()
    assert sorted(a["user"] for a in users["items"]) == ["carol", "eve"]


def test_bulk_rows_outside_the_callers_rules_are_not_allowed(api: Api) -> None:
    body = {
        "action": "assign",
        "role": "course_auditor",
        "users": ["carol"],
        "scopes": [COURSE, HARVARD],
    }
    result = api.post("assignments/bulk", "ada", body).get_json()
    assert result["applied"] is False
    statuses = {r["scope"]: r["status"] for r in result["rows"]}
    assert statuses == {COURSE: "ok", HARVARD: "not_allowed"}


def test_bulk_needs_a_role_somewhere(api: Api) -> None:
    body = {"action": "assign", "role": "course_auditor", "users": ["carol"], "scopes": [COURSE]}
    assert api.post("assignments/bulk", "carol", body).status_code == 403


# ---------------------------------------------------------------------- checks and explain


def test_check_many_for_yourself(lite: Api) -> None:
    body = {
        "checks": [
            {"user": "bob", "permission": "courses.view_course_team", "scope": COURSE},
            {"user": "bob", "permission": "courses.view_course_team", "scope": HARVARD},
        ]
    }
    out = lite.post("check", "bob", body).get_json()
    assert [r["allowed"] for r in out["results"]] == [True, False]
    assert out["revision"] == lite.rc.revision


def test_check_about_others_needs_view_team_on_each_scope(lite: Api) -> None:
    mine = {"checks": [{"user": "eve", "permission": "courses.view_course", "scope": COURSE}]}
    assert lite.post("check", "bob", mine).status_code == 200
    theirs = {
        "checks": [
            {"user": "bob", "permission": "courses.view_course", "scope": COURSE},
            {"user": "root", "permission": "courses.view_course", "scope": HARVARD},
        ]
    }
    error = error_of(lite.post("check", "bob", theirs), 403)
    assert error["details"] == {"refused": [1]}


def test_a_batch_about_others_is_authorized_scope_by_scope_as_one_check_would_be(
    lite: Api,
) -> None:
    """The batch decides each distinct scope's view-team permission at once: the refusals
    must be those of asking about each scope alone, for callers holding nothing, a course
    role, an org role and every permission."""
    scopes = [COURSE, OTHER_COURSE, HARVARD, LIB, "org:MITx", "org:HarvardX", "platform"]
    checks = [
        {"user": "eve", "permission": "courses.view_course", "scope": s}
        for s in scopes
        for _ in range(2)  # each scope twice: decided once, refused at both places
    ]
    refusals = {}
    for caller in ("root", "ada", "dan", "carol"):
        alone = [
            i
            for i, c in enumerate(checks)
            if lite.post("check", caller, {"checks": [c]}).status_code == 403
        ]
        response = lite.post("check", caller, {"checks": checks})
        if alone:
            assert error_of(response, 403)["details"] == {"refused": alone}
        else:
            answers = [r["allowed"] for r in response.get_json()["results"]]
            assert answers == [
                lite.rc.check(c["user"], c["permission"], c["scope"]) for c in checks
            ]
        refusals[caller] = {checks[i]["scope"] for i in alone}
    assert refusals["root"] == set()
    assert refusals["carol"] == set(scopes)
    # an org admin of MITx sees MITx's courses, libraries and org, nothing of Harvard's
    assert refusals["dan"] == {HARVARD, "org:HarvardX", "platform"}
    assert COURSE not in refusals["ada"]
    assert HARVARD in refusals["ada"]


def test_a_malformed_key_in_a_batch_about_others_is_400(lite: Api) -> None:
    body = {
        "checks": [
            {"user": "eve", "permission": "courses.view_course", "scope": COURSE},
            {"user": "eve", "permission": "courses.view_course", "scope": "course-v1:nope"},
        ]
    }
    assert error_of(lite.post("check", "root", body), 400)["code"] == "bad_input"


def test_check_with_a_token_from_the_future_is_400(lite: Api) -> None:
    body = {
        "checks": [{"user": "bob", "permission": "courses.view_course", "scope": COURSE}],
        "at_least": lite.rc.revision + 100,
    }
    assert error_of(lite.post("check", "bob", body), 400)["code"] == "bad_input"


def test_explain(lite: Api) -> None:
    url = f"explain?user=bob&permission=courses.view_course_team&scope={COURSE}"
    decision = lite.get(url, "bob").get_json()
    assert decision["allowed"] is True
    assert decision["contributions"][0]["grant"]["role"] == "course_staff"
    assert lite.get(url, "ada").status_code == 200
    assert error_of(lite.get(url, "eve"), 403)["code"] == "forbidden"


# ---------------------------------------------------------------------- teams and access


def test_team_of_a_course_and_access_from_above(lite: Api) -> None:
    team = lite.get(f"scopes/{COURSE}/team", "bob").get_json()
    assert [m["user"] for m in team["members"]] == ["ada", "bob"]
    assert {m["user"] for m in team["inherited"]} == {"dan", "root"}
    first = lite.get(f"scopes/{COURSE}/team?limit=3", "bob").get_json()
    assert len(first["members"]) + len(first["inherited"]) == 3
    rest = lite.get(f"scopes/{COURSE}/team?cursor={first['next_cursor']}", "bob").get_json()
    assert rest["members"] == []
    assert len(rest["inherited"]) == 1
    assert rest["next_cursor"] is None


def test_team_needs_view_team_there(lite: Api) -> None:
    assert lite.get(f"scopes/{HARVARD}/team", "bob").status_code == 403
    assert lite.get("scopes/platform/team", "bob").status_code == 403
    assert lite.get("scopes/platform/team", "root").status_code == 200
    assert lite.get("scopes/org:MITx/team", "dan").status_code == 200


def test_access_of_a_user(lite: Api) -> None:
    mine = lite.get("users/bob/access", "bob").get_json()
    assert [(e["role"], e["scope"]) for e in mine["items"]] == [("course_staff", COURSE)]
    assert lite.get("users/bob/access", "root").status_code == 200
    # ada sees bob's roles where she may view the team (her course), as on its team page.
    seen = lite.get("users/bob/access", "ada").get_json()
    assert {e["scope"] for e in seen["items"]} == {COURSE}
    assert lite.get("users/bob/access", "eve").status_code == 403
    assert error_of(lite.get("users/zed/access", "root"), 404)["code"] == "not_found"


# ---------------------------------------------------------------------- audit and history


def test_audit_newest_first_with_filters_and_pages(api: Api) -> None:
    api.post("assignments", "ada", {"user": "carol", "role": "course_staff", "scope": COURSE})
    events = api.get(f"audit?scope={COURSE}&action=assign", "root").get_json()["items"]
    assert events[0]["user"] == "carol"
    assert events[0]["actor"] == "ada"
    assert [e["id"] for e in events] == sorted((e["id"] for e in events), reverse=True)
    first = api.get("audit?limit=2&sort=id", "root").get_json()
    second = api.get(f"audit?limit=2&sort=id&cursor={first['next_cursor']}", "root").get_json()
    assert first["items"][-1]["id"] < second["items"][0]["id"]
    since = datetime.now(UTC) + timedelta(seconds=1)
    later = api.get("audit", "root", query_string={"since": since.isoformat()}).get_json()
    assert later["items"] == []


def test_audit_authorization(lite: Api) -> None:
    assert lite.get("audit", "ada").status_code == 403
    assert lite.get(f"audit?scope={COURSE}", "ada").status_code == 200
    assert lite.get(f"audit?scope={HARVARD}", "ada").status_code == 403


def test_history_of_a_scope_and_of_a_user(api: Api) -> None:
    before = datetime.now(UTC)
    staff = api.get("assignments?user=bob", "root").get_json()["items"][0]
    api.delete(f"assignments/{staff['id']}", "ada")
    query = {"scope": COURSE, "at": before.isoformat()}
    then = api.get("history", "ada", query_string=query).get_json()
    assert [m["user"] for m in then["members"]] == ["ada", "bob"]
    now = api.get(f"scopes/{COURSE}/team", "ada").get_json()
    assert [m["user"] for m in now["members"]] == ["ada"]
    mine = api.get("history", "bob", query_string={"user": "bob", "at": before.isoformat()})
    assert [e["role"] for e in mine.get_json()["items"]] == ["course_staff"]
    assert (
        api.get(
            "history", "bob", query_string={"user": "ada", "at": before.isoformat()}
        ).status_code
        == 403
    )
    both = {"user": "bob", "scope": COURSE, "at": before.isoformat()}
    assert error_of(api.get("history", "root", query_string=both), 400)["code"] == "bad_input"
    future = {"user": "bob", "at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}
    assert api.get("history", "root", query_string=future).status_code == 400


# ---------------------------------------------------------------------- governance


def test_custom_role_lifecycle(api: Api) -> None:
    create = {
        "id": "tutor",
        "title": "Tutor",
        "description": "Sees the course team.",
        "scope_types": ["course"],
        "permissions": ["courses.view_course_team"],
    }
    assert error_of(api.post("custom-roles", "bob", create), 403)["code"] == "not_allowed"
    made = api.post("custom-roles", "root", create)
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["role"]["custom"] is True
    listed = api.get("custom-roles", "bob").get_json()["items"]
    assert [r["id"] for r in listed] == ["tutor"]
    assert api.get("roles/tutor", "bob").get_json()["closed_permissions"]
    api.post("assignments", "root", {"user": "carol", "role": "tutor", "scope": COURSE})
    edit = {"add": ["courses.view_files"], "dry_run": True}
    edited = api.call("PATCH", "custom-roles/tutor", "root", json=edit).get_json()
    assert edited["dry_run"] is True
    assert edited["impact"]["changes"][0]["user"] == "carol"
    assert "courses.view_files" not in edited["role"]["permissions"]
    applied = api.call("PATCH", "custom-roles/tutor", "root", json={"add": ["courses.view_files"]})
    assert "courses.view_files" in applied.get_json()["role"]["permissions"]
    # in use: deleting is refused, retiring is fine
    assert error_of(api.delete("custom-roles/tutor", "root"), 400)["code"] == "bad_input"
    retired = api.post("custom-roles/tutor/retire", "root").get_json()
    assert retired["role"]["retired"] is True
    carol = api.get("assignments?user=carol", "root").get_json()["items"][0]
    api.delete(f"assignments/{carol['id']}", "root")
    assert api.delete("custom-roles/tutor", "root").status_code == 200
    assert error_of(api.delete("custom-roles/tutor", "root"), 404)["code"] == "not_found"


def test_restrictions(api: Api) -> None:
    body = {
        "scope": COURSE,
        "permissions": ["courses.edit_course_content"],
        "exempt_roles": ["course_admin"],
        "reason": "exam week",
    }
    assert error_of(api.post("restrictions", "ada", body), 403)["code"] == "forbidden"
    made = api.post("restrictions", "root", body)
    assert made.status_code == 201, made.get_json()
    revision = made.get_json()["revision"]
    assert made.get_json()["restriction"]["exempt_roles"] == ["course_admin"]
    listed = api.get("restrictions", "root").get_json()["items"]
    assert [r["scope"] for r in listed] == [COURSE]
    check = {
        "checks": [{"user": "bob", "permission": "courses.edit_course_content", "scope": COURSE}],
        "at_least": revision,
    }
    assert api.post("check", "bob", check).get_json()["results"][0]["allowed"] is False
    assert api.get("restrictions", "ada").status_code == 403
    assert api.delete(f"restrictions/{COURSE}", "ada").status_code == 403
    assert api.delete(f"restrictions/{COURSE}", "root").status_code == 200
    assert error_of(api.delete(f"restrictions/{COURSE}", "root"), 404)["code"] == "not_found"


def test_delegation_rules(api: Api) -> None:
    rules = api.get("rules?limit=500", "bob").get_json()["items"]
    assert "course_admins_manage_course_team" in {r["id"] for r in rules}
    rule = {
        "description": "Auditors only.",
        "holders": ["course_staff"],
        "assign": ["course_auditor"],
        "revoke": ["course_auditor"],
        "scope_types": ["course"],
    }
    assert error_of(api.call("PUT", "rules/staff_add_auditors", "ada", json=rule), 403)
    put = api.call("PUT", "rules/staff_add_auditors", "root", json=rule)
    assert put.status_code == 200, put.get_json()
    assert put.get_json()["rule"]["source"] == "stored"
    granted = api.post(
        "assignments", "bob", {"user": "carol", "role": "course_auditor", "scope": COURSE}
    )
    assert granted.status_code == 201
    off = api.post("rules/course_admins_manage_course_team/disable", "root").get_json()
    assert off["rule"]["enabled"] is False
    refused = api.post(
        "assignments", "ada", {"user": "carol", "role": "course_staff", "scope": COURSE}
    )
    assert refused.status_code == 403
    assert api.post("rules/no_such_rule/disable", "root").status_code == 404
    bad = api.call("PUT", "rules/Bad-Id", "root", json=rule)
    assert error_of(bad, 422)["code"] == "invalid_request"


OLD_STYLE = "MITx/6.002x/2012_Fall"


@pytest.mark.parametrize("spelled", [OLD_STYLE, OLD_STYLE.replace("/", "%2F")])
def test_an_old_style_course_key_routes_in_paths(api: Api, spelled: str) -> None:
    """Open edX's old-style course keys hold slashes: the routes taking a key in their path
    reach them written plainly or percent-encoded, and answer for that course alone."""
    api.rc.add_scopes([OLD_STYLE])
    made = api.post(
        "assignments", "root", {"user": "carol", "role": "course_staff", "scope": OLD_STYLE}
    )
    assert made.status_code == 201, made.get_json()

    team = api.get(f"scopes/{spelled}/team", "root")
    assert team.status_code == 200, team.get_json()
    assert team.get_json()["scope"] == OLD_STYLE
    assert [m["user"] for m in team.get_json()["members"]] == ["carol"]
    # Its org's admin sees it; a course admin of another MITx course does not.
    assert api.get(f"scopes/{spelled}/team", "dan").status_code == 200
    assert error_of(api.get(f"scopes/{spelled}/team", "ada"), 403)["code"] == "forbidden"

    body = {"scope": OLD_STYLE, "permissions": ["courses.edit_course_content"], "reason": "exam"}
    assert api.post("restrictions", "root", body).status_code == 201
    assert api.delete(f"restrictions/{spelled}", "ada").status_code == 403
    assert [r["scope"] for r in api.get("restrictions", "root").get_json()["items"]] == [OLD_STYLE]
    assert api.delete(f"restrictions/{spelled}", "root").status_code == 200
    assert error_of(api.delete(f"restrictions/{spelled}", "root"), 404)["code"] == "not_found"
