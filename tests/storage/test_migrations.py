"""The Alembic migrations against the models, on SQLite, PostgreSQL and MariaDB: from an empty
database and from every earlier revision."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    Table,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)

from rolecall.core import Plugins, Rolecall
from rolecall.core.storage.database import (
    GENESIS_HASH,
    MIGRATIONS,
    SCHEMA_HEAD,
    SQLITE_PAGE_SIZE,
    VERSION_TABLE,
    _alembic_config,
    current_revision,
    head_revision,
    upgrade,
)
from rolecall.core.storage.models import Base, State


def differences(engine: Engine, metadata: MetaData) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "version_table": VERSION_TABLE,
            },
        )
        return list(compare_metadata(context, metadata))


def schema(engine: Engine) -> dict[str, Any]:
    """Tables, columns, indexes and constraints as the database reports them."""
    found: dict[str, Any] = {}
    inspector = inspect(engine)
    for table in sorted(inspector.get_table_names()):
        found[table] = (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            sorted(
                (i["name"] or "", tuple(i["column_names"])) for i in inspector.get_indexes(table)
            ),
            sorted(
                (u["name"] or "", tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            inspector.get_pk_constraint(table)["constrained_columns"],
            sorted(
                (f["referred_table"], tuple(f["constrained_columns"]))
                for f in inspector.get_foreign_keys(table)
            ),
        )
    return found


def test_the_migrated_schema_equals_the_models(engine: Engine) -> None:
    assert upgrade(engine)
    assert differences(engine, Base.metadata) == []


def test_the_comparison_notices_a_model_the_migrations_lack(engine: Engine) -> None:
    upgrade(engine)
    changed = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["rolecall_users"].append_column(Column("shoe_size", Integer(), nullable=True))
    found = differences(engine, changed)
    assert [(d[0], d[2], d[3].name) for d in found] == [
        ("add_column", "rolecall_users", "shoe_size")
    ]


def test_upgrade_twice_is_a_no_op_the_second_time(engine: Engine) -> None:
    assert current_revision(engine) is None
    assert upgrade(engine) is True
    before = schema(engine)
    with engine.begin() as connection:
        connection.execute(update(State).values(revision=7))
    assert upgrade(engine) is False
    assert schema(engine) == before
    with engine.connect() as connection:
        rows = connection.execute(select(State.id, State.revision, State.last_hash)).all()
    assert [tuple(r) for r in rows] == [(1, 7, GENESIS_HASH)]  # not reset, not duplicated


def test_the_head_revision_is_recorded(engine: Engine) -> None:
    upgrade(engine)
    script = ScriptDirectory(str(MIGRATIONS))
    assert len(script.get_heads()) == 1
    assert current_revision(engine) == head_revision() == script.get_current_head() == SCHEMA_HEAD
    with engine.connect() as connection:
        versions = connection.scalars(
            text(f"SELECT version_num FROM {VERSION_TABLE}")  # noqa: S608
        ).all()
        assert versions == [SCHEMA_HEAD]
        assert connection.scalar(select(func.count()).select_from(State)) == 1


def test_a_revision_in_alembic_version_moves_to_rolecalls_own_table(engine: Engine) -> None:
    # A database as rolecall made it before VERSION_TABLE: its revision in alembic_version.
    from alembic import command

    config = _alembic_config()
    config.attributes["version_table"] = "alembic_version"
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0008")
        connection.execute(
            text("INSERT INTO rolecall_state (id, revision, last_hash) VALUES (1, 0, :h)"),
            {"h": GENESIS_HASH},
        )
    assert current_revision(engine) == "0008"
    assert upgrade(engine) is True
    assert current_revision(engine) == SCHEMA_HEAD
    tables = inspect(engine).get_table_names()
    assert "alembic_version" not in tables
    assert all(name.startswith("rolecall_") for name in tables), tables
    with engine.connect() as connection:
        versions = connection.scalars(
            text(f"SELECT version_num FROM {VERSION_TABLE}")  # noqa: S608
        ).all()
    assert versions == [SCHEMA_HEAD]
    assert differences(engine, Base.metadata) == []
    assert upgrade(engine) is False


def test_another_applications_alembic_version_is_left_alone(engine: Engine) -> None:
    # A database shared with another user of Alembic, whose revision ids may look like ours.
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        )
        connection.execute(text("INSERT INTO alembic_version (version_num) VALUES ('0003')"))
    assert current_revision(engine) is None
    assert upgrade(engine) is True
    assert current_revision(engine) == SCHEMA_HEAD
    with engine.connect() as connection:
        assert connection.scalars(text("SELECT version_num FROM alembic_version")).all() == ["0003"]
        assert connection.scalar(select(func.count()).select_from(State)) == 1


def test_a_new_sqlite_database_gets_16_kib_pages_and_an_old_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as made:  # as an earlier version made it: SQLite's default
        made.execute("PRAGMA journal_mode=WAL")
        made.execute("CREATE TABLE t (x INTEGER)")
    for path in (tmp_path / "new.db", old):
        with Rolecall.open(f"sqlite:///{path}", background_sync=False) as rc:
            rc.add_users(["ada"])
    sizes = {}
    for path in (tmp_path / "new.db", old):
        with sqlite3.connect(path) as probe:
            sizes[path.name] = probe.execute("PRAGMA page_size").fetchone()[0]
    assert sizes == {"new.db": SQLITE_PAGE_SIZE, "old.db": 4096}
    assert SQLITE_PAGE_SIZE == 16384


OLD_TIME = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("start", ["0001", "0002", "0003", "0004", "0005", "0006"])
def test_upgrades_from_every_earlier_revision(
    engine: Engine, database_url: str, plugins: Plugins, start: str
) -> None:
    from alembic import command

    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, start)
    assert current_revision(engine) == start
    # Rows as that revision had them (the columns of 0001 are in every later one).
    old = MetaData()
    users = Table("rolecall_users", old, autoload_with=engine)
    assignments = Table("rolecall_assignments", old, autoload_with=engine)
    state = Table("rolecall_state", old, autoload_with=engine)
    with engine.begin() as connection:
        uid = connection.execute(
            insert(users).values(
                username="Ada", email=None, display_name="Ada", active=True, created_at=OLD_TIME
            )
        ).inserted_primary_key[0]
        gid = connection.execute(
            insert(assignments).values(
                user_id=uid,
                role="editor",
                scope="course-v1:MITx+X+1",
                granted_by=None,
                granted_at=OLD_TIME,
                expires_at=None,
                reason="before",
            )
        ).inserted_primary_key[0]
        counter = {"last_assignment_id": gid} if "last_assignment_id" in state.c else {}
        connection.execute(
            insert(state).values(id=1, revision=0, last_hash=GENESIS_HASH, **counter)
        )
    assert upgrade(engine) is True
    assert current_revision(engine) == SCHEMA_HEAD
    assert differences(engine, Base.metadata) == []
    with Rolecall.open(database_url, plugins=plugins, background_sync=False) as rc:
        (grant,) = rc.grants("Ada")
        assert (grant.id, grant.role, grant.granted_at) == (gid, "editor", OLD_TIME)
        # Another user on a key that differs only in case: keys compare exactly once upgraded
        # (a look-alike username is refused by the service itself: tests/engine/test_usernames.py).
        rc.add_users(["bob"])
        rc.assign("bob", "viewer", "course-v1:mitx+x+1")
        assert rc.grants("bob")[0].id == gid + 1  # the id counter is past the rows in place
        assert rc.grants("bob")[0].granted_at.microsecond == rc.audit()[-1].at.microsecond
        assert [g.role for g in rc.grants("Ada")] == ["editor"]
        assert rc.who("course-v1:mitx+x+1").members[0].user == "bob"
        assert rc.verify_audit().ok
