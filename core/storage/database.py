"""Opening the database: the URL, the engine, and the schema brought up to date by Alembic."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ..errors import BadInputError
from .models import Base, State

DEFAULT_URL = "sqlite:///rolecall.db"
"""The embedded default: an SQLite file in the working directory."""
GENESIS_HASH = "0" * 64
MIGRATIONS = Path(__file__).parent / "migrations"
SCHEMA_HEAD = "0003"
"""The newest migration; a test keeps it equal to Alembic's head. Knowing it here lets every
open skip importing Alembic (a fifth of the CLI's start-up) when the schema is current."""


def database_url(explicit: str | None = None) -> str:
    """``explicit``, else ``ROLECALL_DATABASE_URL``, else ``sqlite:///rolecall.db``."""
    url = explicit or os.environ.get("ROLECALL_DATABASE_URL") or DEFAULT_URL
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BadInputError(
            f"database URL {url!r} is not a URL; use for example sqlite:///rolecall.db or "
            "postgresql+psycopg://user:password@127.0.0.1/rolecall"
        ) from None
    if parsed.drivername == "postgresql":  # psycopg 3 is the PostgreSQL driver rolecall ships
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout."""
    try:
        engine = create_engine(url, future=True, pool_pre_ping=True)
    except Exception as exc:  # unknown dialect, missing driver...
        raise BadInputError(f"cannot use database URL {make_url(url)!r}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _alembic_config() -> Any:
    from alembic.config import Config  # imported only when a migration runs

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """Alembic's head, read from the migration scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return str(head)


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or ``None`` for an empty database."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        value = connection.scalar(text("SELECT version_num FROM alembic_version"))
        return None if value is None else str(value)


def upgrade(engine: Engine) -> bool:
    """Create or upgrade the schema to the newest migration; ``True`` if anything ran."""
    if current_revision(engine) == SCHEMA_HEAD:
        return False
    from alembic import command

    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["metadata"] = Base.metadata
        command.upgrade(config, "head")
        if connection.execute(select(State.id)).first() is None:
            connection.execute(insert(State).values(id=1, revision=0, last_hash=GENESIS_HASH))
    return True
