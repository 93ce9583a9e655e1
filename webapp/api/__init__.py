"""The REST API, mounted at ``/api/v1``."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("api", __name__)
