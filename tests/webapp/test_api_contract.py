"""The application as a whole: every route refuses the anonymous and the unprivileged, and the
API keeps the promises of its OpenAPI document (schemathesis, in process, as a platform admin).

The route walk reads ``app.url_map``, so routes added later (the console's, a plugin's) are
covered without changing this file: a route open to anonymous callers must be marked with
:func:`rolecall.webapp.authz.public` (or be listed in the console's ``PUBLIC``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from test_api import COURSE, Api, make_api
from werkzeug.routing import Rule

from rolecall.webapp import authz
from rolecall.webapp.api.openapi import document
from rolecall.webapp.api.routes import ROUTES, Route
from rolecall.webapp.console.common import SESSIONS

# Served to anyone on purpose: the health check, the redirect to the console, static files,
# the API's description. Everything else must be refused.
ALWAYS_PUBLIC = frozenset({"healthz", "root", "static", "console.static", "api.openapi"})

PLACEHOLDERS: dict[str, Any] = {
    "key": COURSE,
    "scope": COURSE,
    "user": "ada",
    "username": "ada",
    "role": "course_staff",
    "role_id": "course_staff",
    "page": "ccx",
    "page_id": "ccx",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The application on the real catalogue, with a custom role and a restriction in place
    so that routes about them reach their authorization rule rather than a 404."""
    made = make_api(f"sqlite:///{tmp_path_factory.mktemp('site') / 'rolecall.db'}")
    made.rc.create_role(
        "tutor",
        title="Tutor",
        description="Sees.",
        scope_types=["course"],
        permissions=["courses.view_course"],
    )
    made.rc.restrict(COURSE, ["courses.publish_course_content"])
    yield made
    made.rc.close()


def public_endpoints(app: Flask) -> set[str]:
    from rolecall.webapp import console

    marked = {name for name, view in app.view_functions.items() if authz.is_public(view)}
    return marked | set(ALWAYS_PUBLIC) | set(getattr(console, "PUBLIC", ()))


def api_route(rule: Rule) -> Route | None:
    for spec in ROUTES:
        if rule.endpoint == f"api.{spec.endpoint}":
            return spec
    return None


def example_url(rule: Rule) -> str:
    """The rule's path with each argument filled in (the API's own examples first)."""
    spec = api_route(rule)
    if spec is not None:
        return spec.example_url()

    def fill(match: re.Match[str]) -> str:
        converter, name = match.group(1), match.group(2)
        if converter == "int":
            return "1"
        return str(PLACEHOLDERS.get(name, "x"))

    return re.sub(r"<(?:([a-z]+)(?:\([^)]*\))?:)?([a-z_]+)>", fill, rule.rule)


def requests_of(app: Flask) -> list[tuple[str, str, str, Any]]:
    """(endpoint, method, url, json body) for every route and method of the application."""
    public = public_endpoints(app)
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in public:
            continue
        spec = api_route(rule)
        query = ""
        if spec is not None and spec.example_query:
            query = "?" + "&".join(
                f"{k}={str(v).replace('+', '%2B')}" for k, v in spec.example_query.items()
            )
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            body = spec.example_body if spec is not None else None
            found.append((rule.endpoint, method, example_url(rule) + query, body))
    return found


def refused(response: Any, endpoint: str, *, signed_in: bool = False) -> bool:
    """401/403, or (anonymous on the console) a redirect to sign-in; a signed-in caller's
    sign-out is the one console redirect that is not a sign-in page shown for want of one."""
    if endpoint.startswith("api."):
        return response.status_code in (401, 403)
    if response.status_code in (301, 302, 303, 307, 308):
        return "/login" in response.headers.get("Location", "") and (
            not signed_in or endpoint == "console.logout"
        )
    return response.status_code in (401, 403)


def test_the_walk_sees_every_api_route(site: Api) -> None:
    endpoints = {e for e, *_ in requests_of(site.app)}
    assert {f"api.{r.endpoint}" for r in ROUTES if not r.public} <= endpoints


def test_every_route_refuses_an_anonymous_caller(site: Api) -> None:
    client = site.app.test_client()
    with client.session_transaction() as session:
        session["csrf"] = "walk"  # a valid CSRF token: the refusal must be about who calls
    failures = []
    for endpoint, method, url, body in requests_of(site.app):
        response = client.open(
            url,
            method=method,
            json=body if endpoint.startswith("api.") else None,
            data=None if endpoint.startswith("api.") else {"csrf_token": "walk"},
        )
        if not refused(response, endpoint):
            failures.append((method, url, response.status_code))
    assert failures == []


def test_every_route_refuses_a_caller_with_no_role(site: Api) -> None:
    client = site.app.test_client()
    failures = []
    for endpoint, method, url, body in requests_of(site.app):
        # Signed in afresh each time: one of the routes may be the console's sign-out.
        with client.session_transaction() as session:
            session["sid"] = site.app.extensions[SESSIONS].start("carol", 3600)
            session["csrf"] = "walk"
        if endpoint.startswith("api."):
            response = client.open(url, method=method, json=body, headers=site.headers("carol"))
        else:
            response = client.open(url, method=method, data={"csrf_token": "walk"})
        if not refused(response, endpoint, signed_in=not endpoint.startswith("api.")):
            failures.append((method, url, response.status_code))
    assert failures == []


def _security_problems(response: Any, endpoint: str) -> list[str]:
    headers = response.headers
    problems = []
    csp = headers.get("Content-Security-Policy", "")
    for directive in ("script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"):
        if directive not in csp:
            problems.append(f"CSP without {directive}")
    if "unsafe-inline" in csp or "unsafe-eval" in csp:
        problems.append("CSP allows inline script or style")
    expected = {
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
    problems += [f"{k}: {headers.get(k)}" for k, v in expected.items() if headers.get(k) != v]
    if endpoint != "console.static" and "no-store" not in headers.get("Cache-Control", ""):
        problems.append(f"Cache-Control: {headers.get('Cache-Control')}")
    return problems


def test_every_response_carries_the_security_headers(site: Api) -> None:
    """Every route, by every method, as a platform admin and as an anonymous caller, answers
    with a CSP allowing no inline script, frame refusal, nosniff and a referrer policy, and
    (but for static files) Cache-Control: no-store; so do errors and redirects."""
    client = site.app.test_client()
    walk = [
        *requests_of(site.app),
        *[
            (rule.endpoint, "GET", example_url(rule), None)
            for rule in site.app.url_map.iter_rules()
            if rule.endpoint in public_endpoints(site.app) and "GET" in (rule.methods or ())
        ],
        ("console.static", "GET", "/console/static/console.css", None),
        ("api.nothing", "GET", "/api/v1/no-such-endpoint", None),
        ("nothing", "GET", "/no-such-page", None),
    ]
    failures = []
    for caller in ("root", None):
        for endpoint, method, url, body in walk:
            with client.session_transaction() as session:
                session.clear()
                session["csrf"] = "walk"
                if caller is not None:
                    session["user"] = caller
            if endpoint.startswith("api."):
                response = client.open(url, method=method, json=body, headers=site.headers(caller))
            else:
                response = client.open(url, method=method, data={"csrf_token": "walk"})
            problems = _security_problems(response, endpoint)
            response.close()
            if problems:
                failures.append((caller, method, url, response.status_code, problems))
    assert failures == []


# ---------------------------------------------------------------------- the OpenAPI document


def test_openapi_document_lists_every_route_once(site: Api) -> None:
    served = site.client.get("/api/v1/openapi.json")
    assert served.status_code == 200
    doc = served.get_json()
    assert doc == document()
    assert doc["openapi"].startswith("3.1")
    operations = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    flask_rules = {
        (method, re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule))
        for rule in site.app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert operations == flask_rules
    for ref in re.findall(
        r'"\$ref": "#/components/schemas/([^"]+)"', served.get_data(as_text=True)
    ):
        assert ref in doc["components"]["schemas"]


def test_request_models_refuse_unknown_fields() -> None:
    schemas = document()["components"]["schemas"]
    for spec in ROUTES:
        for model in (spec.body, spec.query):
            if model is not None:
                assert schemas[model.__name__].get("additionalProperties") is False, model


def test_every_example_body_is_valid() -> None:
    for spec in ROUTES:
        if spec.body is not None:
            assert spec.example_body is not None, spec.path
            spec.body.model_validate(spec.example_body)
        if spec.query is not None:
            spec.query.model_validate(spec.example_query)


# ---------------------------------------------------------------------- schemathesis


# The document itself is not among the operations schemathesis generates requests for.
OPERATIONS = [f"{r.method} /api/v1{r.openapi_path}" for r in ROUTES if not r.public]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_schema(site: Api) -> Any:
    """The served document, loaded by schemathesis, calling the application in process."""
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", site.app)


@pytest.mark.parametrize("label", OPERATIONS)
def test_api_keeps_its_openapi_promises(label: str, api_schema: Any, site: Api) -> None:
    """Generated requests (valid ones, as a platform admin): no 5xx, and every response's
    status, content type and body as documented."""
    operation = next(r.ok() for r in api_schema.get_all_operations() if r.ok().label == label)
    headers = site.headers("root")

    @given(case=operation.as_strategy())
    @settings(
        max_examples=10,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()
