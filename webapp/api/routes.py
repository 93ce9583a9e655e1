"""The route registry: every endpoint is declared once, with its models, and both Flask and the
OpenAPI generator read the declaration, so the served API and its document cannot drift apart.

    @route("GET", "/roles/<role_id>", response=RoleDetail, summary="One role",
           authorization="Anyone holding a role somewhere.", tag="catalogue")
    def get_role(caller: str, role_id: str) -> RoleDetail: ...

A view receives the authenticated caller's username, the path's parameters, and ``query`` /
``body`` (already validated models) when the route declares them. It returns the response
model, or ``(model, status)``. Authentication happens here, before the view: an anonymous
request never reaches it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, request
from pydantic import BaseModel, ValidationError

from ..authz import public as mark_public
from .auth import authenticate
from .errors import ApiError, validation_details


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    """A Flask rule below ``/api/v1``: ``/roles/<role_id>``, ``/assignments/<int:grant_id>``."""
    view: Callable[..., Any]
    summary: str
    authorization: str
    """Who may call it, in words (shown in the OpenAPI document and docs/api.md)."""
    response: type[BaseModel]
    tag: str
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    status: int = 200
    public: bool = False
    """Served without a token (only the OpenAPI document is)."""
    example_path: dict[str, Any] = field(default_factory=dict)
    example_query: dict[str, Any] = field(default_factory=dict)
    example_body: dict[str, Any] | None = None
    """Examples for the OpenAPI document and docs (and the tests that call every route)."""

    @property
    def endpoint(self) -> str:
        return self.view.__name__

    @property
    def openapi_path(self) -> str:
        return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", self.path)

    def example_url(self, prefix: str = "/api/v1") -> str:
        def fill(match: re.Match[str]) -> str:
            return str(self.example_path[match.group(1)])

        return prefix + re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", fill, self.path)


ROUTES: list[Route] = []


def route(
    method: str,
    path: str,
    *,
    response: type[BaseModel],
    summary: str,
    authorization: str,
    tag: str,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    status: int = 200,
    public: bool = False,
    example_path: dict[str, Any] | None = None,
    example_query: dict[str, Any] | None = None,
    example_body: dict[str, Any] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare an endpoint (see the module's docstring)."""

    def declare(view: Callable[..., Any]) -> Callable[..., Any]:
        ROUTES.append(
            Route(
                method=method,
                path=path,
                view=view,
                summary=summary,
                authorization=authorization,
                response=response,
                tag=tag,
                query=query,
                body=body,
                status=status,
                public=public,
                example_path=example_path or {},
                example_query=example_query or {},
                example_body=example_body,
            )
        )
        return view

    return declare


def _list_field(model: type[BaseModel], name: str) -> bool:
    info = model.model_fields.get(name)
    return info is not None and "list" in str(info.annotation)


def parse_query(model: type[BaseModel]) -> BaseModel:
    """The query string as ``model`` (unknown parameters are refused by the model)."""
    data: dict[str, Any] = {}
    for name in request.args:
        values = request.args.getlist(name)
        data[name] = values if _list_field(model, name) or len(values) > 1 else values[0]
    return model.model_validate(data)


def parse_body(model: type[BaseModel]) -> BaseModel:
    """The JSON body as ``model``: malformed JSON is a 400, a wrong shape a 422."""
    raw = request.get_data(cache=True)  # raises 413 past MAX_CONTENT_LENGTH
    if not raw.strip():
        raise ApiError(400, "malformed_json", "the body is empty: send a JSON object")
    try:
        # One pass over the body: pydantic parses and validates (a batch of 1,000 checks
        # parsed twice cost a fifth of the request).
        return model.model_validate_json(raw)
    except ValidationError as exc:
        invalid = [e for e in exc.errors(include_url=False) if e["type"] == "json_invalid"]
        if invalid:
            message = f"the body is not valid JSON: {invalid[0]['msg']}"
            raise ApiError(400, "malformed_json", message) from exc
        details = validation_details(exc)
        where = ".".join(details[0]["loc"]) if details else ""
        message = f"{where or 'body'}: {details[0]['msg']}" if details else "invalid body"
        raise ApiError(422, "invalid_request", message, details) from exc


def _handler(spec: Route) -> Callable[..., Response]:
    def handle(**path: Any) -> Response:
        kwargs: dict[str, Any] = dict(path)
        if not spec.public:
            kwargs["caller"] = authenticate()
        if spec.query is not None:
            kwargs["query"] = parse_query(spec.query)
        elif request.args:
            raise ApiError(
                422,
                "invalid_request",
                f"{spec.method} {spec.path} takes no query parameters",
                [
                    {"loc": ["query", name], "msg": "unexpected", "type": "extra_forbidden"}
                    for name in request.args
                ],
            )
        if spec.body is not None:
            kwargs["body"] = parse_body(spec.body)
        result = spec.view(**kwargs)
        status = spec.status
        if isinstance(result, tuple):
            result, status = result
        if isinstance(result, Response):
            return result
        model: BaseModel = result
        return Response(model.model_dump_json(), status=status, mimetype="application/json")

    handle.__name__ = spec.endpoint
    handle.__doc__ = spec.summary
    return handle


def register(blueprint: Blueprint) -> None:
    """Add every declared route to ``blueprint``."""
    seen: set[tuple[str, str]] = set()
    for spec in ROUTES:
        if (spec.method, spec.path) in seen:
            raise RuntimeError(f"{spec.method} {spec.path} is declared twice")
        seen.add((spec.method, spec.path))
        handler = _handler(spec)
        if spec.public:
            handler = mark_public(handler)
        blueprint.add_url_rule(
            spec.path, endpoint=spec.endpoint, view_func=handler, methods=[spec.method]
        )
