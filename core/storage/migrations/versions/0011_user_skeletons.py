"""Users' skeletons: each user row keeps the stored form of its name's skeleton, indexed.

``rolecall_users.skeleton`` holds :func:`~rolecall.core.storage.models.name_skeleton` of the
username (the SHA-256 of what the name looks like once case and Unicode compatibility forms are
set aside): a new name's look-alikes are then found by one indexed query, without reading
every name (``rolecall legacy import`` asks it a slice of users at a time). Existing rows are
filled here, 10,000 at a time.

The column is nullable (every row rolecall writes has a value): SQLite adds it without copying
the table.

Downgrading drops the index and the column.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rolecall.core.storage.models import name_skeleton

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BATCH = 10_000


def upgrade() -> None:
    op.add_column("rolecall_users", sa.Column("skeleton", sa.String(64), nullable=True))
    bind = op.get_bind()
    users = sa.table(
        "rolecall_users",
        sa.column("id", sa.Integer()),
        sa.column("username", sa.String()),
        sa.column("skeleton", sa.String()),
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(users.c.id, users.c.username)
            .where(users.c.id > last)
            .order_by(users.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        bind.execute(
            users.update()
            .where(users.c.id == sa.bindparam("uid"))
            .values(skeleton=sa.bindparam("value")),
            [{"uid": uid, "value": name_skeleton(name)} for uid, name in rows],
        )
        last = rows[-1][0]
    op.create_index("ix_users_skeleton", "rolecall_users", ["skeleton"])


def downgrade() -> None:
    op.drop_index("ix_users_skeleton", table_name="rolecall_users")
    # ALTER TABLE ... DROP COLUMN everywhere (SQLite 3.35 and later): a copy of the users
    # table on SQLite would delete the rows that refer to it.
    op.drop_column("rolecall_users", "skeleton")
