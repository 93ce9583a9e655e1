"""What the blueprints share: the service of the running application."""

from __future__ import annotations

from flask import current_app

from rolecall.core import Rolecall

EXTENSION = "rolecall"


def service() -> Rolecall:
    """The application's service object."""
    rc: Rolecall = current_app.extensions[EXTENSION]
    return rc
