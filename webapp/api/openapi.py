"""The OpenAPI 3.1 document, generated from the route registry and the pydantic models.

All models are given to pydantic at once (``models_json_schema``, the many-model form of
``model_json_schema``, with ``ref_template="#/components/schemas/{model}"``) so nested models
land once in ``components/schemas``; requests are described in validation mode and responses
in serialization mode.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from .routes import ROUTES, Route
from .schemas import ErrorResponse

REF = "#/components/schemas/{model}"
ERRORS: dict[int, str] = {
    400: "Bad input (an unknown role, a malformed scope key, malformed JSON...).",
    401: "No valid bearer token.",
    403: "Not allowed: the engine or the delegation rules refused.",
    404: "Nothing there.",
    405: "Method not allowed on this path.",
    413: "Request body too large.",
    422: "The request does not match the schema.",
}


def _parameters(spec: Route, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for name in _path_names(spec):
        is_int = f"<int:{name}>" in spec.path
        params.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1}
                if is_int
                else {"type": "string", "minLength": 1, "pattern": "^[^/]+$"},
            }
        )
    if spec.query is not None:
        schema = schemas[spec.query.__name__]
        required = set(schema.get("required", ()))
        for name, prop in schema.get("properties", {}).items():
            param: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": {k: v for k, v in prop.items() if k != "description"},
            }
            if "description" in prop:
                param["description"] = prop["description"]
            params.append(param)
    return params


def _path_names(spec: Route) -> list[str]:
    return re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", spec.path)


def _operation(spec: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    def ref(model: type[BaseModel]) -> dict[str, Any]:
        return {"$ref": REF.format(model=model.__name__)}

    error = {"application/json": {"schema": ref(ErrorResponse)}}
    responses: dict[str, Any] = {
        str(spec.status): {
            "description": spec.summary,
            "content": {"application/json": {"schema": ref(spec.response)}},
        }
    }
    if spec.status == 201:  # a write that changed nothing answers 200, same shape
        responses["200"] = {
            "description": "Nothing changed.",
            "content": {"application/json": {"schema": ref(spec.response)}},
        }
    for status, words in ERRORS.items():
        if spec.public and status in (401, 403):
            continue
        responses[str(status)] = {"description": words, "content": error}
    operation: dict[str, Any] = {
        "operationId": spec.endpoint,
        "summary": spec.summary,
        "description": f"Authorization: {spec.authorization}",
        "tags": [spec.tag],
        "parameters": _parameters(spec, schemas),
        "responses": responses,
    }
    if spec.body is not None:
        content: dict[str, Any] = {"schema": ref(spec.body)}
        if spec.example_body is not None:
            content["example"] = spec.example_body
        operation["requestBody"] = {"required": True, "content": {"application/json": content}}
    if spec.public:
        operation["security"] = []
    return operation


def _components() -> dict[str, Any]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorResponse, "serialization")]
    for spec in ROUTES:
        wanted.append((spec.response, "serialization"))
        if spec.query is not None:
            wanted.append((spec.query, "validation"))
        if spec.body is not None:
            wanted.append((spec.body, "validation"))
    unique = list(dict.fromkeys(wanted))
    _, top = models_json_schema(unique, ref_template=REF)
    schemas: dict[str, Any] = top.get("$defs", {})
    return schemas


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route in the registry."""
    schemas = _components()
    paths: dict[str, dict[str, Any]] = {}
    for spec in ROUTES:
        paths.setdefault("/api/v1" + spec.openapi_path, {})[spec.method.lower()] = _operation(
            spec, schemas
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "rolecall",
            "version": "1",
            "description": "Who may do what, where: roles, assignments, checks and their "
            "explanations, teams, audit. See docs/api.md.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "tags": [{"name": tag} for tag in dict.fromkeys(spec.tag for spec in ROUTES)],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `rolecall tokens create USER` (rc_...).",
                }
            },
        },
    }
