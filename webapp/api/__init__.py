"""The REST API, mounted at ``/api/v1``: bearer tokens, pydantic models in and out, one error
shape, cursor pagination, and an OpenAPI 3.1 document at ``/api/v1/openapi.json``.

Every endpoint is declared once in the route registry (:mod:`.routes`); the blueprint and the
OpenAPI document are both built from it. See docs/api.md.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, Response, json

from . import assignments, audit, catalogue, decisions, errors, governance, teams
from .openapi import document
from .routes import register, route
from .schemas import OpenApiDocument

__all__ = ["assignments", "audit", "blueprint", "catalogue", "decisions", "governance", "teams"]


@cache
def _document_json() -> str:
    return json.dumps(document())


@route(
    "GET",
    "/openapi.json",
    response=OpenApiDocument,
    summary="This API's OpenAPI 3.1 document",
    authorization="Public: it describes the API and holds no data.",
    tag="meta",
    public=True,
)
def openapi() -> Any:
    return Response(_document_json(), mimetype="application/json")


blueprint = Blueprint("api", __name__)
errors.install(blueprint)
register(blueprint)
