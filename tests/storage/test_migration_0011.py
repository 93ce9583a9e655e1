"""Migration 0011: every user row gets its name's stored skeleton (indexed), which the
look-alike check of a loader reads; down and up again, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import Engine, MetaData, Table, insert, inspect, select

from rolecall.core import BadInputError, Plugins, Rolecall
from rolecall.core.reads.stored import stored_lookalikes
from rolecall.core.storage.database import (
    SCHEMA_HEAD,
    _alembic_config,
    current_revision,
    upgrade,
)
from rolecall.core.storage.models import name_skeleton
from rolecall.core.usernames import skeleton

OLD_TIME = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
# Plain, full-width, and one whose skeleton is longer than the name (NFKC of U+FDFA).
NAMES = ["Ada", "\uff42\uff4f\uff42", "x\ufdfa"] + [f"user{n}" for n in range(25)]


def _move(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def _skeletons(engine: Engine) -> dict[str, str | None]:
    users = Table("rolecall_users", MetaData(), autoload_with=engine)
    with engine.connect() as connection:
        return dict(connection.execute(select(users.c.username, users.c.skeleton)).all())


def test_the_migration_fills_every_users_skeleton(
    engine: Engine, database_url: str, plugins: Plugins
) -> None:
    _move(engine, "0010")
    users = Table("rolecall_users", MetaData(), autoload_with=engine)
    assert "skeleton" not in users.c
    with engine.begin() as connection:
        connection.execute(
            insert(users),
            [
                {"username": n, "active": True, "created_at": OLD_TIME, "pseudonym": f"user/{i}"}
                for i, n in enumerate(NAMES)
            ],
        )
    assert len(skeleton("x\ufdfa")) > len("x\ufdfa") * 5
    assert upgrade(engine) is True
    assert current_revision(engine) == SCHEMA_HEAD
    assert _skeletons(engine) == {n: name_skeleton(n) for n in NAMES}
    assert len({name_skeleton(n) for n in NAMES}) == len(NAMES)
    indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("rolecall_users")}
    assert indexes["ix_users_skeleton"] == ["skeleton"]
    with Rolecall.open(
        database_url, plugins=plugins, background_sync=False, keep_grants=False
    ) as loader:
        # A loader finds look-alikes through the stored skeletons only.
        assert stored_lookalikes(loader, ["ADA", "BOB", "Bob", "user7", "USER7", "eve"]) == {
            "ADA": "Ada",
            "BOB": "\uff42\uff4f\uff42",
            "Bob": "\uff42\uff4f\uff42",
            "USER7": "user7",
        }
        with pytest.raises(BadInputError, match="looks like the user 'Ada'"):
            loader.add_users(["ada"])
        loader.add_users(["eve"])
    assert _skeletons(engine)["eve"] == name_skeleton("eve")

    # Down: the column and its index go; the rows stay. Up again: filled again.
    _move(engine, "0010", down=True)
    assert current_revision(engine) == "0010"
    users = Table("rolecall_users", MetaData(), autoload_with=engine)
    assert "skeleton" not in users.c
    assert "ix_users_skeleton" not in {
        i["name"] for i in inspect(engine).get_indexes("rolecall_users")
    }
    with engine.connect() as connection:
        assert len(connection.execute(select(users.c.id)).all()) == len(NAMES) + 1
    assert upgrade(engine) is True
    assert _skeletons(engine) == {n: name_skeleton(n) for n in [*NAMES, "eve"]}
