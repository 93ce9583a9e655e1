"""A WSGI entry point for servers such as gunicorn: ``gunicorn rolecall.webapp.wsgi:app``.

The database comes from ``ROLECALL_DATABASE_URL`` (default ``sqlite:///rolecall.db``).
"""

from __future__ import annotations

from .app import create_app

app = create_app()
