"""Alembic migrations of rolecall's schema, run by ``rolecall db upgrade`` and on open."""
