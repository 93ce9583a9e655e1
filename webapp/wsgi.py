"""A WSGI entry point for servers such as gunicorn: ``gunicorn rolecall.webapp.wsgi:app``.

The database comes from ``ROLECALL_DATABASE_URL`` (default ``sqlite:///rolecall.db``).
"""

from __future__ import annotations

from rolecall.core import Rolecall

from .app import create_app

# A process of rolecall's own: the index may be frozen out of the cyclic collector.
app = create_app(Rolecall.open(freeze_index=True))
