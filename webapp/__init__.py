"""The Flask console and REST API; they call the service API only.

``from rolecall.webapp import create_app`` builds the application (see ``app.py``). The import
is lazy so that loading the web application's plugin (for ``rolecall serve``) does not import
Flask's application machinery on every command.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
