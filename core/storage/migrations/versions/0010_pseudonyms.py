"""Pseudonyms: the audit chain names users by a random pseudonym and holds no personal data.

Each user row gets its pseudonym (``user/`` and 20 hex digits, unique). Then the chain is
re-anchored (:mod:`rolecall.core.storage.reanchor`): every event is rewritten with the
pseudonyms of the users it names and without e-mail addresses and display names, the hashes
are computed again with the audit key, and a keyed ``audit_reanchor`` event records the head
of the chain as it was and whether it verified. An empty chain (a new database) is left
alone.

The audit key comes from where the service finds it (``ROLECALL_SECRET_KEY``,
``ROLECALL_KEY_FILE``, the key file beside an SQLite database): a chain with keyed events
cannot be rewritten without it, and the upgrade stops, changing nothing.

The column is nullable (every row has a value): SQLite adds it without copying the table.

Downgrading drops the column; the rewritten events stay as they are (the personal data they
held is gone).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rolecall.core.storage.keys import KeyRing
from rolecall.core.storage.models import new_pseudonym
from rolecall.core.storage.reanchor import reanchor

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("rolecall_users", sa.Column("pseudonym", sa.String(40), nullable=True))
    bind = op.get_bind()
    users = sa.table("rolecall_users", sa.column("id", sa.Integer()), sa.column("pseudonym"))
    ids = bind.scalars(sa.select(users.c.id)).all()
    for start in range(0, len(ids), 10_000):
        bind.execute(
            users.update()
            .where(users.c.id == sa.bindparam("uid"))
            .values(pseudonym=sa.bindparam("value")),
            [{"uid": uid, "value": new_pseudonym()} for uid in ids[start : start + 10_000]],
        )
    op.create_index("uq_users_pseudonym", "rolecall_users", ["pseudonym"], unique=True)
    if bind.scalar(sa.text("SELECT COUNT(*) FROM rolecall_audit")):
        reanchor(bind, KeyRing.for_database(bind.engine), migration=revision)


def downgrade() -> None:
    op.drop_index("uq_users_pseudonym", table_name="rolecall_users")
    # ALTER TABLE ... DROP COLUMN everywhere (SQLite 3.35 and later): a copy of the users
    # table on SQLite would delete the rows that refer to it.
    op.drop_column("rolecall_users", "pseudonym")
