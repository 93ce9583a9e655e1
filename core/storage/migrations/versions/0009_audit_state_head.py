"""The state row binds the audit chain's head: how many events, the newest one's id, and the
revision after which every event is keyed.

The next keyed write signs them, with the revision and the newest hash, in ``last_mac``; until
then the row keeps the signature it has (of the newest hash alone, or none before keying) and
``audit verify`` says so. The counts are taken from the table here, once, so that a write
never counts the table: it adds its own events to what the row says.

``keyed_after`` is the revision before the first keyed event (None when nothing is keyed yet:
the first keyed write sets it).

Integers only: nothing of their own on MySQL and MariaDB.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on every database (no copy of the table on SQLite).
    op.add_column(
        "rolecall_state",
        sa.Column("events", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.add_column(
        "rolecall_state",
        sa.Column("last_event_id", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.add_column("rolecall_state", sa.Column("keyed_after", sa.BigInteger(), nullable=True))
    # What the table holds now: the head the next keyed write signs, plus its own events.
    bind = op.get_bind()
    audit = sa.table(
        "rolecall_audit",
        sa.column("id", sa.BigInteger()),
        sa.column("revision", sa.BigInteger()),
        sa.column("key_id", sa.String(32)),
    )
    state = sa.table(
        "rolecall_state",
        sa.column("events", sa.BigInteger()),
        sa.column("last_event_id", sa.BigInteger()),
        sa.column("keyed_after", sa.BigInteger()),
    )
    events, last_id = bind.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.max(audit.c.id), 0))
    ).one()
    first_keyed = bind.scalar(
        sa.select(sa.func.min(audit.c.revision)).where(audit.c.key_id.is_not(None))
    )
    op.execute(
        state.update().values(
            events=int(events),
            last_event_id=int(last_id),
            keyed_after=None if first_keyed is None else int(first_keyed) - 1,
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("rolecall_state") as batch:
        batch.drop_column("keyed_after")
        batch.drop_column("last_event_id")
        batch.drop_column("events")
