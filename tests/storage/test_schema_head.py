"""The schema head rolecall knows without importing Alembic is Alembic's real head."""

from rolecall.core.storage.database import SCHEMA_HEAD, head_revision


def test_schema_head_constant_matches_the_newest_migration() -> None:
    assert head_revision() == SCHEMA_HEAD
