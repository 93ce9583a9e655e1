"""``POST /api/v1/check``'s fast path (``rolecall.webapp.api.fastpath``): the plain case is
answered without Flask's request machinery, with the status, headers and body Flask gives;
every other case (each error, each refusal) is answered by Flask exactly as before; and the
fast path steps aside while the application has request hooks of anyone else's (a rate
limiter's, say), so that they run on every request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask, Response, request, request_started

import rolecall.webapp.plugin
from rolecall.core import PluginSettings, Rolecall, load_plugins
from rolecall.webapp.api.fastpath import CheckFastPath
from rolecall.webapp.app import create_app

COURSE = "course-v1:MITx+6.002x+2026_T1"
HARVARD = "course-v1:HarvardX+CS50+2026"
PEOPLE = {
    "root": [("platform_admin", "platform")],
    "ada": [("course_admin", COURSE)],
    "eve": [("course_auditor", HARVARD)],
}


class Counting:
    """The Flask application's WSGI callable, counting the requests that reach it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.calls += 1
        return self.inner(environ, start_response)


@dataclass
class Site:
    app: Flask
    rc: Rolecall
    fast: CheckFastPath
    flask: Counting
    tokens: dict[str, str]

    def send(self, *, fast: bool, user: str | None = None, **kwargs: Any) -> Response:
        headers = kwargs.pop("headers", {})
        if user is not None:
            headers["Authorization"] = f"Bearer {self.tokens[user]}"
        self.app.wsgi_app = self.fast if fast else self.flask  # type: ignore[method-assign]
        try:
            kwargs.setdefault("method", "POST")
            path = kwargs.pop("path", "/api/v1/check")
            return self.app.test_client().open(path, headers=headers, **kwargs)
        finally:
            self.app.wsgi_app = self.fast  # type: ignore[method-assign]

    def compare(self, **kwargs: Any) -> tuple[Response, bool]:
        """The response through the fast path, after checking that Flask alone gives the same
        status, headers and body; and whether the fast path answered it itself."""
        plain = self.send(fast=False, **json_copy(kwargs))
        before = self.flask.calls
        got = self.send(fast=True, **kwargs)
        assert got.status_code == plain.status_code, got.get_data(as_text=True)
        assert list(got.headers) == list(plain.headers)
        assert got.get_data() == plain.get_data()
        return got, self.flask.calls == before


def json_copy(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The same request's arguments again (the headers dict is changed by ``send``)."""
    copy = dict(kwargs)
    if "headers" in copy:
        copy["headers"] = dict(copy["headers"])
    return copy


def make_site(database: str) -> Site:
    plugins = load_plugins(
        PluginSettings(), entry_points=[], extra={"console": rolecall.webapp.plugin}
    )
    rc = Rolecall.open(database, plugins=plugins, background_sync=False, staleness=0)
    rc.add_users(list(PEOPLE))
    rc.add_scopes([COURSE, HARVARD])
    rc.assign_many(
        [(user, role, scope) for user, grants in PEOPLE.items() for role, scope in grants],
        actor="setup",
    )
    app = create_app(rc, config={"TESTING": True, "SECRET_KEY": "test-only-key"})
    fast = app.wsgi_app
    assert isinstance(fast, CheckFastPath)
    flask = Counting(fast.inner)
    fast.inner = flask
    tokens = {name: rc.accounts.create_token(name)[1] for name in PEOPLE}
    return Site(app, rc, fast, flask, tokens)


@pytest.fixture
def site(sqlite_url: str) -> Iterator[Site]:
    made = make_site(sqlite_url)
    yield made
    made.rc.close()


def checks(*items: tuple[str, str, str], **extra: Any) -> dict[str, Any]:
    return {"checks": [{"user": u, "permission": p, "scope": s} for u, p, s in items], **extra}


ADA_EDITS = ("ada", "courses.edit_course_content", COURSE)
EVE_EDITS = ("eve", "courses.edit_course_content", HARVARD)


@pytest.mark.parametrize(
    ("user", "body"),
    [
        pytest.param("ada", checks(ADA_EDITS), id="about yourself"),
        pytest.param("root", checks(ADA_EDITS), id="about another, may view the team"),
        pytest.param(
            "root",
            checks(ADA_EDITS, EVE_EDITS, ("eve", "courses.view_course", HARVARD), at_least=0),
            id="a batch, at_least",
        ),
    ],
)
def test_the_plain_case_is_answered_by_the_fast_path_as_flask_answers_it(
    site: Site, user: str, body: dict[str, Any]
) -> None:
    got, fast = site.compare(user=user, json=body)
    assert fast
    assert got.status_code == 200
    answer = got.get_json()
    assert [r["allowed"] for r in answer["results"]] == [
        site.rc.check(c["user"], c["permission"], c["scope"]) for c in body["checks"]
    ]
    assert answer["revision"] == site.rc.revision
    assert got.headers["Cache-Control"] == "no-store"
    assert got.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("request_args", "status", "code"),
    [
        pytest.param({"json": checks(ADA_EDITS)}, 401, "unauthenticated", id="no token"),
        pytest.param(
            {"json": checks(ADA_EDITS), "headers": {"Authorization": "Basic cm9vdDp4"}},
            401,
            "unauthenticated",
            id="not a bearer token",
        ),
        pytest.param(
            {"json": checks(ADA_EDITS), "headers": {"Authorization": "Bearer rc_unknown"}},
            401,
            "invalid_token",
            id="unknown token",
        ),
        pytest.param(
            {"user": "ada", "json": checks(EVE_EDITS)}, 403, "forbidden", id="about another"
        ),
        pytest.param(
            {"user": "ada", "data": b'{"checks": [', "content_type": "application/json"},
            400,
            "malformed_json",
            id="malformed JSON",
        ),
        pytest.param(
            {"user": "ada", "data": b"  ", "content_type": "application/json"},
            400,
            "malformed_json",
            id="empty body",
        ),
        pytest.param({"user": "ada", "json": {"checks": []}}, 422, "invalid_request", id="none"),
        pytest.param(
            {"user": "ada", "json": checks(ADA_EDITS), "path": "/api/v1/check?x=1"},
            422,
            "invalid_request",
            id="a query string",
        ),
        pytest.param(
            {"user": "ada", "json": checks(("ada", "no.such_permission", COURSE))},
            400,
            "bad_input",
            id="unknown permission",
        ),
        pytest.param(
            {"user": "ada", "json": checks(ADA_EDITS), "method": "GET"},
            405,
            "method_not_allowed",
            id="GET",
        ),
    ],
)
def test_every_other_case_is_answered_by_flask_with_its_error_shape(
    site: Site, request_args: dict[str, Any], status: int, code: str
) -> None:
    got, fast = site.compare(**request_args)
    assert not fast
    assert got.status_code == status
    assert got.get_json()["error"]["code"] == code


def test_a_body_over_the_limit_is_refused_unread_by_flask(site: Site) -> None:
    site.app.config["MAX_CONTENT_LENGTH"] = 64
    got, fast = site.compare(user="root", json=checks(ADA_EDITS, EVE_EDITS))
    assert not fast
    assert got.status_code == 413
    assert got.get_json()["error"]["code"] == "too_large"
    site.app.config["MAX_CONTENT_LENGTH"] = 10_000
    got, fast = site.compare(user="root", json=checks(ADA_EDITS, EVE_EDITS))
    assert fast
    assert got.status_code == 200


def test_a_hook_of_anyone_else_runs_on_every_check(site: Site) -> None:
    """A rate limiter added as a ``before_request`` hook (after ``create_app``, as a plugin
    would) refuses checks: the fast path no longer answers them. An ``after_request`` hook's
    header is on every answer. Without them, the fast path answers again."""
    refused = {"on": True}

    @site.app.before_request
    def limit() -> Any:
        if refused["on"] and request.path.startswith("/api/"):
            return {"error": {"code": "too_many_requests", "message": "slow down"}}, 429
        return None

    @site.app.after_request
    def stamp(response: Response) -> Response:
        response.headers["X-Checked-By"] = "hook"
        return response

    got, fast = site.compare(user="ada", json=checks(ADA_EDITS))
    assert not fast
    assert got.status_code == 429
    refused["on"] = False
    got, fast = site.compare(user="ada", json=checks(ADA_EDITS))
    assert not fast
    assert got.status_code == 200
    assert got.headers["X-Checked-By"] == "hook"
    site.app.before_request_funcs[None].remove(limit)
    got, fast = site.compare(user="ada", json=checks(ADA_EDITS))
    assert not fast
    assert got.headers["X-Checked-By"] == "hook"
    site.app.after_request_funcs[None].remove(stamp)
    got, fast = site.compare(user="ada", json=checks(ADA_EDITS))
    assert fast
    assert "X-Checked-By" not in got.headers


def test_a_listener_of_flask_s_request_signals_hears_every_check(site: Site) -> None:
    """An instrumentation connected to ``request_started`` (after ``create_app``) hears every
    check: the fast path steps aside until it disconnects."""
    heard: list[str] = []

    def listen(sender: Flask, **_: Any) -> None:
        heard.append(request.path)

    request_started.connect(listen, site.app)
    try:
        got, fast = site.compare(user="ada", json=checks(ADA_EDITS))
        assert not fast
        assert got.status_code == 200
        assert heard == ["/api/v1/check", "/api/v1/check"]  # Flask alone, then "fast"
    finally:
        request_started.disconnect(listen, site.app)
    got, fast = site.compare(user="ada", json=checks(ADA_EDITS))
    assert fast
    assert len(heard) == 2


def test_a_revoked_token_stops_working_at_once(database_url: str) -> None:
    """On every backend: the fast path asks the accounts for the token on each request."""
    made = make_site(database_url)
    try:
        got, fast = made.compare(user="ada", json=checks(ADA_EDITS))
        assert (fast, got.status_code) == (True, 200)
        made.rc.accounts.revoke_token(made.rc.accounts.tokens("ada")[0].id)
        got, fast = made.compare(user="ada", json=checks(ADA_EDITS))
        assert not fast
        assert got.status_code == 401
        assert got.get_json()["error"]["code"] == "invalid_token"
    finally:
        made.rc.close()


def test_a_wrong_answer_would_be_seen(site: Site) -> None:
    """The comparison with Flask is not vacuous: the two paths' bodies differ once the data
    changes between them (the revision moves)."""
    plain = site.send(fast=False, user="root", json=checks(ADA_EDITS))
    site.rc.revoke("ada", "course_admin", COURSE, actor="root")
    got = site.send(fast=True, user="root", json=checks(ADA_EDITS))
    assert json.loads(plain.get_data())["results"][0]["allowed"] is True
    assert json.loads(got.get_data())["results"][0]["allowed"] is False
    assert got.get_data() != plain.get_data()
