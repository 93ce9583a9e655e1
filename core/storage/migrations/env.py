"""Alembic environment: migrations run on the connection rolecall hands over."""

from __future__ import annotations

from alembic import context

# All three are handed over by rolecall.core.storage.database, which knows the package layout.
connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=context.config.attributes.get("metadata"),
    version_table=context.config.attributes["version_table"],
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
