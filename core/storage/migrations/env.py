"""Alembic environment: migrations run on the connection rolecall hands over."""

from __future__ import annotations

from alembic import context

# Both are handed over by rolecall.core.storage.database, which knows the package layout.
connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=context.config.attributes.get("metadata"),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
