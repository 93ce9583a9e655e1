"""The administrative console, mounted at ``/console``."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("console", __name__, template_folder="templates", static_folder="static")


@blueprint.get("/")
def home() -> str:
    return "rolecall console"
